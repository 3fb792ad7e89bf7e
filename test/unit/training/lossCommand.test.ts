/**
 * `gpt2-complete loss`, run in-process through lossCommand (the function src/cli.ts registers):
 * the printed losses, --grad-out against finite differences of the printed l3 (perturbed
 * checkpoints on disk, as a user outside would check it), names as the checkpoint stores them,
 * --adapter, and one-line errors.
 */
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { writeCheckpoint } from '../../../src/engine/checkpoint';
import { parameterShapes, type GPT2Config } from '../../../src/engine/config';
import { UserError } from '../../../src/engine/errors';
import { randomWeights } from '../../../src/engine/randomCheckpoint';
import { openSafetensors } from '../../../src/engine/safetensors';
import { getTokenizer } from '../../../src/engine/tokenizer';
import { InMemoryWeights } from '../../../src/engine/weights';
import { lossCommand } from '../../../src/cli/lossCommand';
import { batchLoss } from '../../../src/training/batchLoss';
import { initLoraValues, mergedWeights, saveAdapter, type LoraConfig } from '../../../src/training/lora';
import { captureStdout } from '../../helpers/captureStdout';

const CONFIG: GPT2Config = { vocabSize: 80, nPositions: 16, nEmbd: 16, nLayer: 1, nHead: 2, layerNormEpsilon: 1e-5 };

interface Printed { l1: number; l2: number; l3: number }

/** Runs the command and returns what it printed on stdout. */
async function run(argv: string[]): Promise<string> {
  return captureStdout(() => lossCommand([...argv, '--device', 'cpu', '--threads', '1']));
}

async function losses(model: string, examples: string, extra: string[] = []): Promise<Printed> {
  return JSON.parse(await run(['--model', model, '--examples', examples, '--json', ...extra])) as Printed;
}

function weightsOf(seed: number): Map<string, Float32Array> {
  const w = randomWeights(CONFIG, seed, { biasStd: 0.1, lnStd: 0.2 });
  return new Map([...parameterShapes(CONFIG).keys()].map((n) => [n, n.startsWith('w') && n.endsWith('te.weight') ? w.tensor(n).map((v) => 5 * v) : w.tensor(n)]));
}

describe('loss command', function () {
  this.timeout(120_000);
  let dir: string;
  let model: string;
  let examples: string;
  const values = weightsOf(3);

  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'loss-cmd-'));
    model = path.join(dir, 'model');
    // Stored as GPT2LMHeadModel does: `transformer.` names, buffers and an lm_head copy beside them.
    writeCheckpoint(model, CONFIG, values, { prefix: true, extraBuffers: true, lmHead: true });
    examples = path.join(dir, 'examples.jsonl');
    fs.writeFileSync(examples, [
      JSON.stringify({ context_ids: [5, 17, 42, 17, 8], continuation_ids: [63, 2] }),
      '',
      JSON.stringify({ context_ids: [70], continuation_ids: [17, 33, 33] }),
      JSON.stringify({ context_ids: [8, 8, 71], continuation_ids: [79] }),
    ].join('\n') + '\n');
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('prints L1, L2 and L3 = L2 + λ·L1 (default λ 0.5)', async () => {
    const a = await losses(model, examples);
    assert.ok(a.l1 > 0 && a.l2 > 0);
    assert.ok(Math.abs(a.l3 - (a.l2 + 0.5 * a.l1)) < 1e-5);
    const b = await losses(model, examples, ['--lambda', '2']);
    assert.ok(Math.abs(b.l3 - (b.l2 + 2 * b.l1)) < 1e-5);
    assert.ok(Math.abs(b.l1 - a.l1) < 1e-6 && Math.abs(b.l2 - a.l2) < 1e-6);
    assert.match(await run(['--model', model, '--examples', examples]), /^L1 [\d.]+ \(6 context targets\), L2 [\d.]+ \(6 continuation targets\), L3 = L2 \+ 0\.5·L1 = [\d.]+\n$/);
  });

  it('--grad-out writes dL3/dθ of every parameter under the stored names, matching finite differences of l3', async () => {
    const gradFile = path.join(dir, 'grads.safetensors');
    const printed = JSON.parse(await run(['--model', model, '--examples', examples, '--json', '--grad-out', gradFile])) as Printed;
    assert.ok(Math.abs(printed.l3 - (await losses(model, examples)).l3) < 1e-5, 'same losses with and without --grad-out');
    const file = openSafetensors(gradFile);
    const grads = new Map<string, Float32Array>();
    try {
      for (const [name, info] of file.tensors) {
        assert.deepEqual(info.shape, parameterShapes(CONFIG).get(name.replace(/^transformer\./, '')), name);
        grads.set(name, file.readFloat32(name));
      }
    } finally {
      file.close();
    }
    assert.deepEqual([...grads.keys()].sort(), [...parameterShapes(CONFIG).keys()].map((n) => `transformer.${n}`).sort());

    // Entries: an input token's and a target-only token's wte row, a position, a block weight, ln_f.
    const E = CONFIG.nEmbd;
    const picks: [string, number][] = [
      ['wte.weight', 17 * E + 3], ['wte.weight', 79 * E + 5], ['wpe.weight', 2 * E + 1],
      ['h.0.attn.c_attn.weight', 37], ['h.0.mlp.c_fc.bias', 9], ['ln_f.weight', 4],
    ];
    const h = 0.05;
    const l3With = async (name: string, index: number, delta: number): Promise<number> => {
      const moved = new Map(values);
      const t = Float32Array.from(values.get(name)!);
      t[index] += delta;
      moved.set(name, t);
      const m = path.join(dir, `fd-${name}-${index}-${delta}`);
      writeCheckpoint(m, CONFIG, new InMemoryWeights(CONFIG, moved), { prefix: true });
      return (await losses(m, examples)).l3;
    };
    let worst = 0;
    for (const [name, index] of picks) {
      const central = async (s: number) => ((await l3With(name, index, s)) - (await l3With(name, index, -s))) / (2 * s);
      const numeric = (4 * (await central(h)) - (await central(2 * h))) / 3;
      const analytic = grads.get(`transformer.${name}`)![index];
      const err = Math.abs(analytic - numeric) / Math.max(Math.abs(numeric), 1e-3);
      worst = Math.max(worst, err);
      assert.ok(err <= 2e-2, `${name}[${index}]: ${analytic} vs FD ${numeric}`);
    }
    console.log(`      --grad-out vs finite differences of l3: worst relative error ${worst.toExponential(2)}`);
  });

  it('reads {"context", "continuation"} and {"prompt", "completion"} text through the GPT-2 tokenizer', async () => {
    const big: GPT2Config = { ...CONFIG, vocabSize: 50257 };
    const m = path.join(dir, 'gpt2-vocab');
    writeCheckpoint(m, big, randomWeights(big, 5, { biasStd: 0.1 }));
    const tok = getTokenizer();
    const pairs = [['function add(a, b) {', '\n  return a + b;'], ['x', ' = 1']];
    const asText = path.join(dir, 'text.jsonl');
    fs.writeFileSync(asText, `${JSON.stringify({ context: pairs[0][0], continuation: pairs[0][1] })}\n${JSON.stringify({ prompt: pairs[1][0], completion: pairs[1][1], split: 'train', file: 'a.js' })}\n`);
    const asIds = path.join(dir, 'ids.jsonl');
    fs.writeFileSync(asIds, pairs.map(([c, y]) => JSON.stringify({ context_ids: tok.encode(c), continuation_ids: tok.encode(y) })).join('\n'));
    assert.deepEqual(await losses(m, asText), await losses(m, asIds));
    assert.equal((await losses(m, asText)).l1 > 0, true);
  });

  it('--adapter merges a PEFT LoRA adapter into the model', async () => {
    const lora: LoraConfig = { rank: 2, alpha: 4, dropout: 0, targets: ['attn.c_attn', 'mlp.c_proj'] };
    const adapter = initLoraValues(CONFIG, lora, 1);
    for (const [name, v] of adapter) if (name.includes('lora_B')) v.forEach((_, i) => { v[i] = 0.3 * Math.sin(i + 1); });
    const adapterDir = path.join(dir, 'adapter');
    saveAdapter(adapterDir, lora, adapter, { model: CONFIG });
    const merged = path.join(dir, 'merged');
    writeCheckpoint(merged, CONFIG, mergedWeights(new InMemoryWeights(CONFIG, values), { config: lora, values: adapter }));
    const withAdapter = await losses(model, examples, ['--adapter', adapterDir]);
    assert.deepEqual(withAdapter, await losses(merged, examples));
    assert.notEqual(withAdapter.l3, (await losses(model, examples)).l3);
  });

  it('computes the one batch in chunks without changing it (losses and gradients)', async () => {
    const weights = new InMemoryWeights(CONFIG, values);
    const examples = [
      { contextIds: [5, 17, 42, 17, 8], continuationIds: [63, 2] },
      { contextIds: [70], continuationIds: [17, 33, 33] },
      { contextIds: [8, 8, 71, 3], continuationIds: [] }, // a chunk of its own with no L2 target
      { contextIds: [8, 8, 71], continuationIds: [79] },
    ];
    const opts = { lambda: 0.7, gradients: true, device: 'cpu', threads: 1 };
    const whole = await batchLoss(weights, examples, opts);
    const chunked = await batchLoss(weights, examples, { ...opts, chunkTokens: 7 }); // one row per chunk
    assert.deepEqual([whole.losses.l1Targets, whole.losses.l2Targets], [9, 6]);
    for (const k of ['l1', 'l2', 'l3'] as const) assert.ok(Math.abs(whole.losses[k] - chunked.losses[k]) < 1e-5, k);
    for (const [name, g] of whole.grads!) {
      const c = chunked.grads!.get(name)!;
      for (let i = 0; i < g.length; i++) assert.ok(Math.abs(g[i] - c[i]) <= 1e-6 + 1e-4 * Math.abs(g[i]), `${name}[${i}]: ${g[i]} vs ${c[i]}`);
    }
  });

  it('gives L1 = 0 when every context is one token', async () => {
    const f = path.join(dir, 'short.jsonl');
    fs.writeFileSync(f, `${JSON.stringify({ context_ids: [3], continuation_ids: [4, 5] })}\n${JSON.stringify({ context_ids: [9], continuation_ids: [1] })}\n`);
    const r = await losses(model, f);
    assert.equal(r.l1, 0);
    assert.equal(r.l3, r.l2);
  });

  it('fails with one-line errors', async () => {
    const bad = path.join(dir, 'bad.jsonl');
    const cases: [string[], RegExp][] = [
      [['--model', model], /--examples F\.jsonl is required/],
      [['--examples', examples], /--model is required/],
      [['--model', model, '--examples', path.join(dir, 'nope.jsonl')], /cannot read .*nope\.jsonl: ENOENT/],
      [['--model', model, '--examples', examples, '--lambda=-1'], /--lambda must be a number/],
      [['--model', model, '--examples', examples, '--grad-out', path.join(dir, 'no', 'g.safetensors')], /--grad-out .* its folder does not exist/],
    ];
    for (const [argv, re] of cases) await assert.rejects(run(argv), (e: unknown) => e instanceof UserError && re.test(e.message) && !e.message.includes('\n'));
    for (const [line, re] of [
      ['{"context_ids": [1], "continuation_ids": [2]}\n{oops', /bad\.jsonl:2: not valid JSON/],
      ['{"text": "x"}', /bad\.jsonl:1: expected \{"context": str/],
      ['{"context_ids": [], "continuation_ids": [2]}', /bad\.jsonl:1: the context is empty/],
      ['{"context_ids": [1, 2.5], "continuation_ids": [2]}', /"context_ids" must be a list of token ids/],
      ['{"context_ids": [1, 80], "continuation_ids": [2]}', /token 80 is outside the model's vocabulary \(0\.\.79\)/],
    ] as const) {
      fs.writeFileSync(bad, line);
      await assert.rejects(run(['--model', model, '--examples', bad]), (e: unknown) => e instanceof UserError && re.test(e.message));
    }
  });
});
