import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { NAMED_CONFIGS } from '../../src/engine/config';
import { GPT2_GRAPH_VERSION } from '../../src/engine/gpt2Graph';
import { loadEngine } from '../../src/engine/loadModel';
import type { OrtModel } from '../../src/engine/ortModel';
import { writeRandomCheckpoint } from '../../src/engine/randomCheckpoint';
import { adapterOverlay } from '../../src/training/adapterOverlay';
import {
  checkpointContentHash, cleanGraphCache, DEFAULT_GRAPH_CACHE_POLICY, listGraphCache, planCleanup, type GraphCacheEntry,
} from '../../src/engine/graphCacheCleanup';
import { openCheckpoint } from '../../src/engine/checkpoint';

const MIN = 60_000;
const NOW = Date.UTC(2026, 0, 1);

function entry(name: string, hash: string, ageMs: number, graphVersion = GPT2_GRAPH_VERSION): GraphCacheEntry {
  return { name, checkpointHash: hash, graphVersion, files: [`${name}.json`, `${name}.onnx`, `${name}.onnx.data`], bytes: 100, lastUsedMs: NOW - ageMs };
}

/** A cache entry as graphCache writes one: manifest + graph (+ data), with its manifest's mtime set. */
function writeEntry(dir: string, hash: string, ageMs: number, withData = false, graphVersion = GPT2_GRAPH_VERSION): string {
  const name = `${hash}-${graphVersion}-fp32`;
  const files = [{ file: `${name}.onnx`, bytes: 10, crc32: 0 }];
  fs.writeFileSync(path.join(dir, `${name}.onnx`), Buffer.alloc(10));
  if (withData) {
    fs.writeFileSync(path.join(dir, `${name}.onnx.data`), Buffer.alloc(1000));
    files.push({ file: `${name}.onnx.data`, bytes: 1000, crc32: 0 });
  }
  const manifest = path.join(dir, `${name}.json`);
  fs.writeFileSync(manifest, JSON.stringify({ format: 1, checkpointHash: hash, graphVersion, precision: 'fp32', files }));
  const t = new Date(NOW - ageMs);
  for (const f of [manifest, ...files.map((x) => path.join(dir, x.file))]) fs.utimesSync(f, t, t);
  return name;
}

function stray(dir: string, file: string, ageMs: number): void {
  fs.writeFileSync(path.join(dir, file), 'x');
  const t = new Date(NOW - ageMs);
  fs.utimesSync(path.join(dir, file), t, t);
}

describe('graph cache cleanup', () => {
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gpt2c-graph-cleanup-'))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('plan: keeps what is in use and what is recent, then the most recently used unused ones', () => {
    const entries = [
      entry('old-in-use', 'base', 90 * 24 * 60 * MIN),
      entry('adapter1', 'a1', 60 * MIN),
      entry('adapter2', 'a2', 50 * MIN),
      entry('adapter3', 'a3', 40 * MIN),
      entry('adapter4', 'a4', 30 * MIN),
      entry('fresh', 'f', 5 * MIN), // another window or a fine-tuning run wrote it just now
    ];
    const plan = planCleanup(entries, new Set(['base']), NOW, { ...DEFAULT_GRAPH_CACHE_POLICY, keepUnused: 2 });
    assert.deepEqual(plan.keep.map((e) => e.name).sort(), ['adapter3', 'adapter4', 'fresh', 'old-in-use']);
    assert.deepEqual(plan.remove.map((e) => e.name).sort(), ['adapter1', 'adapter2']);
    const none = planCleanup(entries, new Set(), NOW, { ...DEFAULT_GRAPH_CACHE_POLICY, keepUnused: 0, minAgeMs: 0 });
    assert.equal(none.keep.length, 0);
  });

  it('plan: a graph of another graph version goes even for the weights in use, and takes no spare slot', () => {
    const entries = [
      entry('base-now', 'base', 60 * MIN),
      entry('base-before-update', 'base', 60 * MIN, GPT2_GRAPH_VERSION - 1),
      entry('adapter-before-update', 'a1', 30 * MIN, GPT2_GRAPH_VERSION - 1),
      entry('adapter-now', 'a2', 40 * MIN),
      entry('written-just-now-by-an-older-window', 'a3', 2 * MIN, GPT2_GRAPH_VERSION - 1),
    ];
    const plan = planCleanup(entries, new Set(['base']), NOW, { ...DEFAULT_GRAPH_CACHE_POLICY, keepUnused: 1 });
    assert.deepEqual(plan.keep.map((e) => e.name).sort(), ['adapter-now', 'base-now', 'written-just-now-by-an-older-window']);
    assert.deepEqual(plan.remove.map((e) => e.name).sort(), ['adapter-before-update', 'base-before-update']);
  });

  it('on disk: removes whole old entries and stale strays, marks the entry in use as used now', async () => {
    const inUse = writeEntry(dir, 'base', 30 * 24 * 60 * MIN, true);
    const superseded = writeEntry(dir, 'base', 30 * 24 * 60 * MIN, true, GPT2_GRAPH_VERSION - 1);
    const kept = writeEntry(dir, 'newer', 20 * MIN);
    const gone1 = writeEntry(dir, 'older', 40 * MIN, true);
    const gone2 = writeEntry(dir, 'oldest', 80 * MIN);
    stray(dir, `${gone2}.onnx.tmp-123-abc-def`, 2 * 60 * MIN); // an interrupted write, long ago
    stray(dir, 'x-2-fp32.onnx.tmp-456-abc-def', 1 * MIN); // a write in progress elsewhere
    stray(dir, 'orphan-2-fp32.onnx', 3 * 60 * MIN); // a graph whose manifest was never written
    stray(dir, 'broken-2-fp32.json', 3 * 60 * MIN); // an unreadable manifest
    stray(dir, 'notes.txt', 3 * 60 * MIN); // not the cache's: never touched

    const result = await cleanGraphCache(dir, ['base'], { nowMs: NOW, policy: { ...DEFAULT_GRAPH_CACHE_POLICY, keepUnused: 1 } });
    const left = fs.readdirSync(dir).sort();
    assert.deepEqual(left, [`${inUse}.json`, `${inUse}.onnx`, `${inUse}.onnx.data`, `${kept}.json`, `${kept}.onnx`, 'notes.txt', 'x-2-fp32.onnx.tmp-456-abc-def'].sort());
    assert.ok(result.removed.includes(gone1) && result.removed.includes(gone2));
    assert.ok(result.removed.includes(superseded), 'the graph of the weights in use built by an older version goes');
    assert.equal(result.kept, 2);
    assert.ok(result.freedBytes >= 1010 + 10 + 1010, `freed ${result.freedBytes}`);
    assert.equal(fs.statSync(path.join(dir, `${inUse}.json`)).mtimeMs, NOW, 'the entry in use is marked as used now');

    // Next time, the base graph counts as recently used: an adapter entry used a day ago goes first.
    writeEntry(dir, 'adapter', 24 * 60 * MIN);
    await cleanGraphCache(dir, [], { nowMs: NOW + 60 * MIN, policy: { ...DEFAULT_GRAPH_CACHE_POLICY, keepUnused: 2 } });
    assert.deepEqual((await listGraphCache(dir)).entries.map((e) => e.checkpointHash).sort(), ['base', 'newer']);
  });

  it('an empty or missing cache folder is fine', async () => {
    assert.deepEqual(await cleanGraphCache(path.join(dir, 'missing'), ['x']), { removed: [], freedBytes: 0, kept: 0 });
  });

  it('names the entries the engine really writes, for a base model and with an adapter, and keeps the one in use', async function () {
    this.timeout(120_000);
    const base = path.join(dir, 'base');
    const tuned = path.join(dir, 'tuned'); // a whole fine-tuned checkpoint of the same shape, as an adapter
    writeRandomCheckpoint(base, NAMED_CONFIGS.tiny, 1);
    writeRandomCheckpoint(tuned, NAMED_CONFIGS.tiny, 2);
    const cache = path.join(dir, 'graphs');
    const reported: string[] = [];
    for (const overlay of [undefined, adapterOverlay(tuned)]) {
      const loaded = await loadEngine({ model: base, modelsRoot: dir, graphCacheDir: cache, device: 'cpu', threads: 1, overlay });
      reported.push(loaded.graphHash);
      await loaded.engine.model.dispose();
    }
    // What the engine reports as the key of the graph it runs (the extension keeps that one).
    const [baseHash, tunedHash] = reported;
    assert.equal(baseHash, openCheckpoint(base).contentHash());
    assert.notEqual(tunedHash, baseHash);
    const hashes = (await listGraphCache(cache)).entries.map((e) => e.checkpointHash).sort();
    assert.deepEqual(hashes, [baseHash, tunedHash].sort());

    // Without the memo file the hash is computed from the files, to the same value.
    fs.rmSync(path.join(base, '.gpt2-complete-hash.json'), { force: true });
    assert.equal(await checkpointContentHash(base), baseHash);

    // The adapter is in use: the base graph goes when nothing unused may stay, the adapter's stays usable.
    const later = Date.now() + 24 * 60 * MIN;
    const result = await cleanGraphCache(cache, [tunedHash], { nowMs: later, policy: { ...DEFAULT_GRAPH_CACHE_POLICY, keepUnused: 0 } });
    assert.equal(result.removed.length, 1);
    assert.deepEqual((await listGraphCache(cache)).entries.map((e) => e.checkpointHash), [tunedHash]);
    const again = await loadEngine({ model: base, modelsRoot: dir, graphCacheDir: cache, device: 'cpu', threads: 1, overlay: adapterOverlay(tuned) });
    try {
      assert.equal((again.engine.model as OrtModel).graphSource.fromCache, true, 'the kept graph is still a valid cache entry');
    } finally {
      await again.engine.model.dispose();
    }
  });
});
