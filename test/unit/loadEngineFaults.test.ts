/**
 * Faults met while loading a model for completion, each one line (a UserError) or a warning, never
 * an internal error: weights that are not numbers, a vocabulary that is not the tokenizer's, a graph
 * cache that cannot be written, thread counts past the machine.
 */
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { writeCheckpoint } from '../../src/engine/checkpoint';
import { NAMED_CONFIGS, parameterShapes, type GPT2Config } from '../../src/engine/config';
import { UserError } from '../../src/engine/errors';
import { maxThreads, parseThreads } from '../../src/engine/executionProvider';
import { loadEngine, type LoadedEngine } from '../../src/engine/loadModel';
import { randomWeights, writeRandomCheckpoint } from '../../src/engine/randomCheckpoint';
import { InMemoryWeights } from '../../src/engine/weights';
import { useTmpDir } from '../helpers/tmpdir';

const TINY: GPT2Config = NAMED_CONFIGS.tiny;

async function load(dir: string, graphCacheDir: string, threads = 1): Promise<LoadedEngine> {
  return loadEngine({ model: dir, modelsRoot: path.dirname(dir), graphCacheDir, device: 'cpu', threads });
}

async function oneLine(p: Promise<unknown>, re: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof UserError, `expected a UserError, got ${(e as Error)?.stack ?? String(e)}`);
    assert.match(e.message, re);
    assert.ok(!/[\r\n]/.test(e.message), e.message);
    return true;
  });
}

describe('loading a model: faults', function () {
  this.timeout(120_000);
  const tmp = useTmpDir('gpt2c-load-');

  it('a NaN weight is refused at load, naming the tensor, even when the graph cache cannot be written', async () => {
    const dir = path.join(tmp(), 'nan');
    const w = randomWeights(TINY, 1);
    const values = new Map([...parameterShapes(TINY).keys()].map((n) => [n, w.tensor(n)]));
    values.get('h.1.attn.c_proj.weight')![5] = NaN;
    writeCheckpoint(dir, TINY, new InMemoryWeights(TINY, values));
    await oneLine(load(dir, path.join(tmp(), 'graphs')), /tensor "h.1.attn.c_proj.weight" holds NaN at element 5/);
    fs.writeFileSync(path.join(tmp(), 'file'), '');
    await oneLine(load(dir, path.join(tmp(), 'file', 'graphs')), /tensor "h.1.attn.c_proj.weight" holds NaN/);
  });

  it('a vocabulary padded past 50257 runs as the tokenizer\'s 50257: same logits, same completion', async () => {
    const base = path.join(tmp(), 'base');
    const padded = path.join(tmp(), 'padded');
    writeRandomCheckpoint(base, TINY, 2);
    const w = randomWeights(TINY, 2);
    const E = TINY.nEmbd;
    const wte = new Float32Array(50304 * E);
    wte.set(w.tensor('wte.weight'));
    wte.fill(3, 50257 * E); // rows no token uses, large enough to win every argmax if they were logits
    const paddedConfig = { ...TINY, vocabSize: 50304 };
    const values = new Map([...parameterShapes(TINY).keys()].map((n) => [n, n === 'wte.weight' ? wte : w.tensor(n)]));
    writeCheckpoint(padded, paddedConfig, new InMemoryWeights(paddedConfig, values));
    const a = await load(base, path.join(tmp(), 'graphs'));
    const b = await load(padded, path.join(tmp(), 'graphs'));
    try {
      assert.equal(b.engine.model.config.vocabSize, 50257);
      const prompt = [464, 2068, 7586, 21831];
      const la = (await a.engine.model.forward([prompt], null)).logits;
      const lb = (await b.engine.model.forward([prompt], null)).logits;
      assert.equal(lb.length, 50257);
      assert.deepEqual(lb, la);
      const ca = await a.engine.complete({ prompt: 'def main():', maxTokens: 12, raw: true });
      const cb = await b.engine.complete({ prompt: 'def main():', maxTokens: 12, raw: true });
      assert.deepEqual(cb.candidates[0].tokens, ca.candidates[0].tokens);
      assert.ok(cb.candidates[0].tokens.every((t) => t < 50257));
    } finally {
      await a.engine.model.dispose();
      await b.engine.model.dispose();
    }
  });

  it('a vocabulary smaller than the tokenizer\'s is refused in one line', async () => {
    const dir = path.join(tmp(), 'small');
    writeRandomCheckpoint(dir, { ...TINY, vocabSize: 1000 }, 3);
    await oneLine(load(dir, path.join(tmp(), 'graphs')), /config.json: vocab_size is 1000, but the GPT-2 tokenizer has 50257 tokens/);
  });

  it('a graph cache that cannot be written (ENOSPC): a warning, and completion still works', async () => {
    const dir = path.join(tmp(), 'ok');
    writeRandomCheckpoint(dir, TINY, 4);
    const graphs = path.join(tmp(), 'graphs');
    const rename = fs.promises.rename;
    fs.promises.rename = async () => {
      throw Object.assign(new Error('ENOSPC: no space left on device, rename'), { code: 'ENOSPC' });
    };
    let loaded: LoadedEngine;
    try {
      loaded = await load(dir, graphs);
    } finally {
      fs.promises.rename = rename;
    }
    try {
      assert.equal(loaded.warnings.length, 1);
      assert.match(loaded.warnings[0], /^the graph cache in .*graphs cannot be written \(ENOSPC: no space left on device, rename\); built the model in memory instead/);
      const r = await loaded.engine.complete({ prompt: 'x = ', maxTokens: 4, raw: true });
      assert.equal(r.candidates[0].tokens.length, 4);
      assert.deepEqual(fs.readdirSync(graphs).filter((f) => !f.startsWith('.')), [], 'no entry left that looks whole');
    } finally {
      await loaded.engine.model.dispose();
    }
  });

  it('a graph cache folder that cannot exist (a file in its path): the same', async () => {
    const dir = path.join(tmp(), 'ok');
    writeRandomCheckpoint(dir, TINY, 5);
    fs.writeFileSync(path.join(tmp(), 'file'), '');
    const loaded = await load(dir, path.join(tmp(), 'file', 'graphs'));
    try {
      assert.match(loaded.warnings[0], /cannot be written \(ENOTDIR/);
      assert.equal((await loaded.engine.complete({ prompt: 'x', maxTokens: 2, raw: true })).candidates[0].tokens.length, 2);
    } finally {
      await loaded.engine.model.dispose();
    }
  });

  it('threads past 4 per core are refused in one line (the editor\'s setting goes through here)', async () => {
    const dir = path.join(tmp(), 'ok');
    writeRandomCheckpoint(dir, TINY, 6);
    const max = maxThreads();
    assert.equal(max, 4 * os.availableParallelism());
    for (const threads of [100000, 1e9, max + 1, 0, 1.5]) {
      await oneLine(load(dir, path.join(tmp(), 'graphs'), threads), new RegExp(`threads must be an integer from 1 to ${max} \\(4 × this machine's \\d+ cores\\); found ${threads}`));
    }
    assert.equal(parseThreads(max), max);
  });
});
