import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { GPT2_GRAPH_VERSION, buildGpt2Graph } from '../../src/engine/gpt2Graph';
import { cacheEntryName, crc32, crc32Portable, findCachedGraph, loadOrBuildGraph, type GraphCacheKey } from '../../src/engine/graphCache';
import { OrtModel } from '../../src/engine/ortModel';
import { Rng } from '../../src/engine/random';
import { SMALL_CONFIG, testWeights } from '../helpers/randomWeights';

const weights = testWeights(SMALL_CONFIG, 5);
const HASH = 'abc123';
const KEY: GraphCacheKey = { checkpointHash: HASH, graphVersion: GPT2_GRAPH_VERSION, precision: 'fp32' };
const NAME = `${HASH}-${GPT2_GRAPH_VERSION}-fp32`;
const PROMPT = [3, 1, 4, 1, 5, 9, 2, 6];

async function loadAndRun(cacheDir: string, externalData?: boolean): Promise<{ logits: Float32Array; fromCache: boolean }> {
  const model = await OrtModel.load({ weights, cacheDir, checkpointHash: HASH, device: 'cpu', threads: 1, externalData });
  try {
    const { logits } = await model.forward([PROMPT], null, [0, 7]);
    return { logits, fromCache: model.graphSource.fromCache };
  } finally {
    await model.dispose();
  }
}

describe('graphCache', () => {
  let dir: string;
  let reference: Float32Array;
  before(async () => {
    const model = await OrtModel.load({ weights, device: 'cpu', threads: 1 });
    reference = (await model.forward([PROMPT], null, [0, 7])).logits;
    await model.dispose();
  });
  beforeEach(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'graphcache-')); });
  afterEach(() => { fs.rmSync(dir, { recursive: true, force: true }); });

  const files = () => fs.readdirSync(dir).sort();

  it('names entries <checkpoint hash>-<graph version>-<precision>', () => {
    assert.equal(cacheEntryName(KEY), NAME);
    // A hash that is not filename-safe is hashed again rather than trusted as a path.
    assert.match(cacheEntryName({ ...KEY, checkpointHash: '../x' }), /^[0-9a-f]{64}-\d+-fp32$/);
  });

  it('the second load hits the cache and gives the same logits', async () => {
    const first = await loadAndRun(dir);
    assert.equal(first.fromCache, false);
    assert.deepEqual(files(), [`${NAME}.json`, `${NAME}.onnx`]);
    const long = new Date(Date.now() - 24 * 3600_000);
    fs.utimesSync(path.join(dir, `${NAME}.json`), long, long);
    const second = await loadAndRun(dir);
    assert.equal(second.fromCache, true);
    // A hit marks the entry used, so another process's cleanup keeps it while it loads.
    assert.ok(Date.now() - fs.statSync(path.join(dir, `${NAME}.json`)).mtimeMs < 60_000, 'the hit marked the entry used');
    assert.deepEqual(second.logits, reference);
    assert.deepEqual(first.logits, reference);
    const manifest = JSON.parse(fs.readFileSync(path.join(dir, `${NAME}.json`), 'utf8'));
    assert.equal(manifest.graphVersion, GPT2_GRAPH_VERSION);
    assert.equal(manifest.files[0].bytes, fs.statSync(path.join(dir, `${NAME}.onnx`)).size);
  });

  for (const [label, damage] of [
    ['a byte-flipped', (p: string) => {
      const fd = fs.openSync(p, 'r+');
      const at = Math.floor(fs.statSync(p).size / 2);
      const b = Buffer.alloc(1);
      fs.readSync(fd, b, 0, 1, at);
      b[0] ^= 0x10;
      fs.writeSync(fd, b, 0, 1, at);
      fs.closeSync(fd);
    }],
    ['a truncated', (p: string) => fs.truncateSync(p, Math.floor(fs.statSync(p).size * 0.9))],
  ] as const) {
    it(`${label} .onnx is rebuilt, not trusted`, async () => {
      await loadAndRun(dir);
      damage(path.join(dir, `${NAME}.onnx`));
      assert.equal(await findCachedGraph(dir, KEY), undefined);
      assert.deepEqual(files(), [], 'the damaged entry is removed');
      const again = await loadAndRun(dir);
      assert.equal(again.fromCache, false);
      assert.deepEqual(again.logits, reference);
      assert.equal((await loadAndRun(dir)).fromCache, true);
    });

    it(`${label} external data file is rebuilt`, async () => {
      await loadAndRun(dir, true);
      damage(path.join(dir, `${NAME}.onnx.data`));
      const again = await loadAndRun(dir, true);
      assert.equal(again.fromCache, false);
      assert.deepEqual(again.logits, reference);
    });
  }

  it('external-data mode (forced for a tiny model) loads the same logits', async () => {
    const first = await loadAndRun(dir, true);
    assert.deepEqual(files(), [`${NAME}.json`, `${NAME}.onnx`, `${NAME}.onnx.data`]);
    assert.ok(fs.statSync(path.join(dir, `${NAME}.onnx`)).size < 100_000, 'weights live in the data file');
    assert.deepEqual(first.logits, reference);
    const second = await loadAndRun(dir, true);
    assert.equal(second.fromCache, true);
    assert.deepEqual(second.logits, reference);
  });

  it('an entry without its manifest (a crash mid-write) is rebuilt', async () => {
    await loadAndRun(dir);
    fs.rmSync(path.join(dir, `${NAME}.json`));
    assert.equal((await loadAndRun(dir)).fromCache, false);
    assert.deepEqual(files(), [`${NAME}.json`, `${NAME}.onnx`]);
  });

  it('a different graph version is simply not found', async () => {
    let builds = 0;
    const build = () => (builds++, buildGpt2Graph(weights));
    await loadOrBuildGraph(dir, KEY, build);
    assert.equal((await loadOrBuildGraph(dir, KEY, build)).hit, true);
    assert.equal(await findCachedGraph(dir, { ...KEY, graphVersion: KEY.graphVersion + 1 }), undefined);
    assert.equal((await loadOrBuildGraph(dir, { ...KEY, graphVersion: KEY.graphVersion + 1 }, build)).hit, false);
    assert.equal(builds, 2);
    assert.ok(files().includes(`${NAME}.onnx`), 'the other version is left alone');
  });

  it('each precision is its own entry; a quantized graph comes back from the cache with the same logits', async () => {
    const run = async (precision: string) => {
      const model = await OrtModel.load({ weights, cacheDir: dir, checkpointHash: HASH, device: 'cpu', threads: 1, precision });
      try {
        return { logits: (await model.forward([PROMPT], null, [0, 7])).logits, fromCache: model.graphSource.fromCache, path: model.graphSource.path };
      } finally {
        await model.dispose();
      }
    };
    const fp32 = await run('fp32');
    const int8 = await run('int8');
    const int4 = await run('int4');
    assert.deepEqual([fp32.fromCache, int8.fromCache, int4.fromCache], [false, false, false]);
    assert.deepEqual(new Set([fp32.path, int8.path, int4.path]).size, 3);
    assert.deepEqual(files(), [`${HASH}-${GPT2_GRAPH_VERSION}-fp32`, `${HASH}-${GPT2_GRAPH_VERSION}-int4`, `${HASH}-${GPT2_GRAPH_VERSION}-int8`]
      .flatMap((n) => [`${n}.json`, `${n}.onnx`]));
    const size = (p?: string) => fs.statSync(p!).size;
    assert.ok(size(int4.path) < size(int8.path) && size(int8.path) < size(fp32.path), 'fewer bits, smaller files');
    const again = await run('int8');
    assert.equal(again.fromCache, true);
    assert.deepEqual(again.logits, int8.logits);
    assert.notDeepEqual(int8.logits, fp32.logits);
  });

  it('leaves no temporary files behind', async () => {
    await loadAndRun(dir, true);
    await loadAndRun(dir);
    assert.ok(files().every((f) => !f.includes('.tmp')), files().join(', '));
  });

  it('CRC-32: the portable version equals zlib, also when chained', () => {
    const rng = new Rng(1);
    const data = Uint8Array.from({ length: 100_000 }, () => rng.nextUint32() & 0xff);
    const native = (zlib as { crc32?: (d: Uint8Array, v?: number) => number }).crc32;
    assert.equal(crc32Portable(Buffer.from('123456789')), 0xcbf43926);
    assert.equal(crc32Portable(data.subarray(500), crc32Portable(data.subarray(0, 500))), crc32Portable(data));
    if (native) assert.equal(crc32(data), crc32Portable(data));
  });
});
