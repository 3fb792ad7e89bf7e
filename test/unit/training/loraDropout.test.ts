/**
 * LoRA dropout: the masks (reproducible from the step's seed, the right drop rate and scale), the
 * graph wiring (x·mask feeds the adapter only, training graph only), and the gradient under a fixed
 * mask against finite differences of the training step's own L3.
 */
import assert from 'node:assert/strict';
import * as ort from 'onnxruntime-node';
import { parameterShapes, type GPT2Config } from '../../../src/engine/config';
import { serializeModel } from '../../../src/engine/onnx/protoWriter';
import { Rng } from '../../../src/engine/random';
import { randomWeights } from '../../../src/engine/randomCheckpoint';
import { InMemoryWeights } from '../../../src/engine/weights';
import { initLoraValues, loraModules, type LoraConfig } from '../../../src/training/lora';
import { dropoutMaskName, fillDropoutMask } from '../../../src/training/loraDropout';
import { makeBatch, type TokenExample } from '../../../src/training/objective';
import { buildTrainingGraph } from '../../../src/training/trainingGraph';
import { TrainingSession, padBatch } from '../../../src/training/trainingSession';

const CONFIG: GPT2Config = { vocabSize: 97, nPositions: 16, nEmbd: 32, nLayer: 2, nHead: 2, layerNormEpsilon: 1e-5 };
const ROWS = 3;
const T = 8;
const EXAMPLES: TokenExample[] = [
  { contextIds: [5, 17, 42, 17, 8], continuationIds: [63, 2] },
  { contextIds: [90, 3], continuationIds: [17, 33, 33] },
];
const LORA: LoraConfig = { rank: 2, alpha: 4, dropout: 0.3, targets: ['attn.c_attn', 'attn.c_proj', 'mlp.c_fc', 'mlp.c_proj'] };

function weights(): InMemoryWeights {
  const base = randomWeights(CONFIG, 4, { biasStd: 0.1, lnStd: 0.2 });
  return new InMemoryWeights(CONFIG, new Map([...parameterShapes(CONFIG).keys()].map((n) => [n, base.tensor(n).map((v) => v * (/^w[tp]e\./.test(n) ? 5 : 1))])));
}

/** LoRA values with B non-zero, so the adapter (and its dropout) changes the output. */
function loraValues(): Map<string, Float32Array> {
  const values = initLoraValues(CONFIG, LORA, 3);
  const rng = new Rng(9);
  for (const [name, v] of values) if (name.includes('lora_B')) values.set(name, Float32Array.from(v, () => 0.3 * rng.normal()));
  return values;
}

describe('LoRA dropout', function () {
  this.timeout(120_000);

  describe('masks', () => {
    it('drop a share p and scale the rest by 1/(1 − p)', () => {
      const m = new Float32Array(200_000);
      fillDropoutMask(m, 0.1, 7, 'lora_dropout.h.0.attn.c_attn');
      const dropped = m.filter((x) => x === 0).length;
      // Binomial(200000, 0.1): σ ≈ 134.
      assert.ok(Math.abs(dropped - 20_000) < 600, `dropped ${dropped}`);
      assert.ok(m.every((x) => x === 0 || x === Math.fround(1 / 0.9)));
      fillDropoutMask(m, 0, 7, 'x');
      assert.ok(m.every((x) => x === 1));
    });

    it('are a function of (seed, layer): the same again, different for another seed or layer', () => {
      const draw = (seed: number, stream: string) => {
        const m = new Float32Array(4096);
        fillDropoutMask(m, 0.5, seed, stream);
        return m;
      };
      assert.deepEqual(draw(11, 'a'), draw(11, 'a'));
      assert.notDeepEqual(draw(11, 'a'), draw(12, 'a'));
      assert.notDeepEqual(draw(11, 'a'), draw(11, 'b'));
    });
  });

  describe('graph', () => {
    it('has one mask input per adapted layer in the gradient graph, none for evaluation or p = 0', () => {
      const w = weights();
      const train = buildTrainingGraph(w, { method: 'lora', lora: LORA, batch: ROWS, seqLen: T });
      const names = loraModules(CONFIG, LORA).map((m) => dropoutMaskName(`h.${m.layer}.${m.target}`));
      assert.deepEqual(train.dropoutMasks.map((m) => m.name), names);
      assert.deepEqual(train.dropoutMasks.find((m) => m.name.endsWith('mlp.c_proj'))?.shape, [ROWS * T, 4 * CONFIG.nEmbd]);
      for (const n of names) assert.ok(train.graph.inputs.some((i) => i.name === n), n);
      const evalGraph = buildTrainingGraph(w, { method: 'lora', lora: LORA, batch: ROWS, seqLen: T, gradients: false });
      assert.deepEqual(evalGraph.dropoutMasks, []);
      assert.ok(!evalGraph.graph.inputs.some((i) => i.name.startsWith('lora_dropout.')));
      assert.deepEqual(buildTrainingGraph(w, { method: 'lora', lora: { ...LORA, dropout: 0 }, batch: ROWS, seqLen: T }).dropoutMasks, []);
    });

    it('multiplies the adapter input only: a constant mask c equals A scaled by c without dropout', async () => {
      const w = weights();
      const batch = makeBatch(EXAMPLES, [0, 1], { rows: ROWS, seqLen: T });
      const values = loraValues();
      const run = async (lora: LoraConfig, vals: Map<string, Float32Array>, maskValue: number) => {
        const built = buildTrainingGraph(w, { method: 'lora', lora, batch: ROWS, seqLen: T });
        const session = await ort.InferenceSession.create(serializeModel(built.graph), { intraOpNumThreads: 1 });
        const padded = padBatch(batch, ROWS, T, CONFIG.vocabSize);
        const feeds: Record<string, ort.Tensor> = {
          input_ids: new ort.Tensor('int64', padded.ids, [ROWS, T]),
          l1_mask: new ort.Tensor('float32', padded.l1, [ROWS, T]),
          l2_mask: new ort.Tensor('float32', padded.l2, [ROWS, T]),
          lambda: new ort.Tensor('float32', Float32Array.of(0.5), []),
        };
        for (const p of built.params) feeds[p.name] = new ort.Tensor('float32', vals.get(p.name)!, p.shape);
        for (const m of built.dropoutMasks) feeds[m.name] = new ort.Tensor('float32', new Float32Array(m.shape[0] * m.shape[1]).fill(maskValue), m.shape);
        const out = await session.run(feeds);
        await session.release();
        return (out.l3.data as Float32Array)[0];
      };
      const c = 1.7;
      const scaledA = new Map([...values].map(([k, v]) => [k, k.includes('lora_A') ? v.map((x) => x * c) : v]));
      const withMask = await run(LORA, values, c);
      const plain = await run({ ...LORA, dropout: 0 }, scaledA, 0);
      assert.ok(Math.abs(withMask - plain) < 1e-5, `${withMask} vs ${plain}`);
      assert.ok(Math.abs(withMask - (await run({ ...LORA, dropout: 0 }, values, 0))) > 1e-3, 'the mask matters');
    });
  });

  describe('session', () => {
    const w = weights();
    const batch = makeBatch(EXAMPLES, [0, 1], { rows: ROWS, seqLen: T });
    let session: TrainingSession;
    let noDropout: TrainingSession;
    before(async () => {
      session = await TrainingSession.create({ weights: w, method: 'lora', lora: LORA, batch: ROWS, seqLen: T, device: 'cpu', threads: 1 });
      noDropout = await TrainingSession.create({ weights: w, method: 'lora', lora: { ...LORA, dropout: 0 }, batch: ROWS, seqLen: T, device: 'cpu', threads: 1 });
    });
    after(async () => {
      await session?.dispose();
      await noDropout?.dispose();
    });

    it('draws the same masks for the same seed and others for another; evaluation has no dropout', async () => {
      const values = loraValues();
      const a = await session.step(batch, values, 0.5, { seed: 1 });
      const b = await session.step(batch, values, 0.5, { seed: 1 });
      const c = await session.step(batch, values, 0.5, { seed: 2 });
      assert.equal(a.l3, b.l3);
      for (const [name, g] of a.grads) assert.deepEqual(b.grads.get(name), g, name);
      assert.notEqual(a.l3, c.l3);
      const plain = await noDropout.step(batch, values, 0.5);
      assert.notEqual(a.l3, plain.l3);
      assert.deepEqual(await session.losses(batch, values, 0.5), await noDropout.losses(batch, values, 0.5));
    });

    it('gradient under a fixed mask matches finite differences of the step loss', async () => {
      const values = loraValues();
      const seed = 5;
      const { grads } = await session.step(batch, values, 0.5, { seed });
      const l3 = async () => (await session.step(batch, values, 0.5, { seed })).l3;
      const rng = new Rng(13);
      let worst = 0;
      for (const [name, g] of grads) {
        // Along d = ĝ + r̂ over the whole tensor: a change in L3 far above its float32 rounding.
        const r = Array.from(g, () => rng.normal());
        const norm = (v: ArrayLike<number>) => Math.sqrt(Array.from(v).reduce((s, x) => s + x * x, 0));
        const gn = norm(g), rn = norm(r);
        const dir = Array.from(g, (gi, i) => gi / gn + r[i] / rn);
        const analytic = dir.reduce((s, d, i) => s + d * g[i], 0);
        const h = Math.min(0.05, 2e-3 / Math.abs(analytic));
        const x = values.get(name)!;
        const saved = Float32Array.from(x);
        const at = async (s: number) => {
          for (let i = 0; i < x.length; i++) x[i] = saved[i] + s * dir[i];
          const v = await l3();
          x.set(saved);
          return v;
        };
        const central = async (step: number) => ((await at(step)) - (await at(-step))) / (2 * step);
        const numeric = (4 * (await central(h)) - (await central(2 * h))) / 3;
        worst = Math.max(worst, Math.abs(analytic - numeric) / Math.abs(numeric));
      }
      assert.ok(worst <= 5e-3, `worst relative error ${worst}`);
    });
  });
});
