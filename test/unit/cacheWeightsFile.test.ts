// The cache model's weights kept beside a model (cache-weights.json): written and read back, found
// for an adapter before its base, refused with a clear error when broken, and used by the CLI's pipeline.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { openPipelineRunner } from '../../src/cli/pipelineRunner';
import { CACHE_WEIGHTS_FILE, cacheWeightsFor, readCacheWeights, writeCacheWeights } from '../../src/engine/cacheModel/cacheWeightsFile';
import { UserError } from '../../src/engine/errors';
import { writeRandomCheckpoint } from '../../src/engine/randomCheckpoint';
import { CONFIG } from './training/fineTuneFixtures';

describe('cache weights beside a model', function () {
  this.timeout(60_000);
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cache-weights-'))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('round-trips, and a folder without the file has none', () => {
    assert.equal(readCacheWeights(dir), undefined);
    writeCacheWeights(dir, { beta: [100, 8, 0.5], maxWeight: 0.9 }, 'a test', { modelAlone: 3, mixture: 2, tokens: 10 });
    assert.deepEqual(readCacheWeights(dir), { beta: [100, 8, 0.5], maxWeight: 0.9 });
    const stored = JSON.parse(fs.readFileSync(path.join(dir, CACHE_WEIGHTS_FILE), 'utf8'));
    assert.equal(stored.fittedOn, 'a test');
  });

  it('round-trips a gate (version 2), and reads version 1 files without one', () => {
    const gate = { bias: [-20, 1, 2], logCount: 0.5, cacheTop: 0.3 };
    writeCacheWeights(dir, { beta: [100, 8], maxWeight: 0.95, gate }, 'a test');
    const stored = JSON.parse(fs.readFileSync(path.join(dir, CACHE_WEIGHTS_FILE), 'utf8'));
    assert.equal(stored.version, 2);
    assert.deepEqual(readCacheWeights(dir), { beta: [100, 8], maxWeight: 0.95, gate });
    fs.writeFileSync(path.join(dir, CACHE_WEIGHTS_FILE), JSON.stringify({ ...stored, version: 1 }));
    assert.deepEqual(readCacheWeights(dir), { beta: [100, 8], maxWeight: 0.95 }, 'version 1 has no gate');
  });

  it("an adapter's own weights come first, else its base's", () => {
    const base = path.join(dir, 'base'), adapter = path.join(dir, 'adapter');
    fs.mkdirSync(base);
    fs.mkdirSync(adapter);
    writeCacheWeights(base, { beta: [1], maxWeight: 0.5 }, 'base');
    assert.deepEqual(cacheWeightsFor([adapter, base]), { beta: [1], maxWeight: 0.5 });
    writeCacheWeights(adapter, { beta: [2], maxWeight: 0.5 }, 'adapter');
    assert.deepEqual(cacheWeightsFor([adapter, base]), { beta: [2], maxWeight: 0.5 });
    assert.equal(cacheWeightsFor([undefined, path.join(dir, 'none')]), undefined);
  });

  it('a broken file is a one-line error naming it and what to do', () => {
    const file = path.join(dir, CACHE_WEIGHTS_FILE);
    const broken: [string, RegExp][] = [
      ['{"format": "gpt2-complete-cache-weights", "version": 1, "beta": [1, 2', /not readable JSON/],
      ['{"format": "something-else", "version": 1, "beta": [1], "maxWeight": 0.9}', /not cache weights of a version/],
      ['{"format": "gpt2-complete-cache-weights", "version": 1, "beta": [1, -2], "maxWeight": 0.9}', /beta must be a list of positive numbers/],
      ['{"format": "gpt2-complete-cache-weights", "version": 1, "beta": [1], "maxWeight": 1}', /maxWeight must be between 0 and 1/],
      ['{"format": "gpt2-complete-cache-weights", "version": 2, "beta": [1], "maxWeight": 0.9, "gate": {"bias": [1], "logCount": 1, "cacheTop": "x"}}', /gate must hold a list of biases and two numbers/],
      ['{"format": "gpt2-complete-cache-weights", "version": 2, "beta": [1], "maxWeight": 0.9, "gate": {"bias": [], "logCount": 1, "cacheTop": 1}}', /gate must hold a list of biases/],
      ['{"format": "gpt2-complete-cache-weights", "version": 3, "beta": [1], "maxWeight": 0.9}', /not cache weights of a version/],
    ];
    for (const [text, why] of broken) {
      fs.writeFileSync(file, text);
      assert.throws(() => readCacheWeights(dir), (e: Error) => e instanceof UserError && why.test(e.message) && e.message.includes(file) && /fitCache\.ts --save/.test(e.message) && !e.message.includes('\n'));
    }
  });

  it("the CLI's pipeline mixes with the weights beside its model, and without them with the built-in ones", async () => {
    const model = path.join(dir, 'model');
    writeRandomCheckpoint(model, CONFIG, 5);
    const plain = await openPipelineRunner('complete', { model, threads: '1' });
    try {
      assert.equal(plain.context.cacheWeights, undefined, 'no file: the default weights');
    } finally {
      await plain.dispose();
    }
    writeCacheWeights(model, { beta: [7, 3], maxWeight: 0.8 }, 'a test');
    const fitted = await openPipelineRunner('complete', { model, threads: '1' });
    try {
      assert.deepEqual(fitted.context.cacheWeights, { beta: [7, 3], maxWeight: 0.8 });
    } finally {
      await fitted.dispose();
    }
    const off = await openPipelineRunner('complete', { model, threads: '1', 'no-cache-model': true });
    try {
      assert.equal(off.context.cacheWeights, undefined, 'no cache model, no weights');
    } finally {
      await off.dispose();
    }
  });
});
