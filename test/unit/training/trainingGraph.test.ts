/**
 * The GPT-2 training graph on a tiny random model: its losses against the plain-TS reference
 * forward (test/reference/gpt2Reference.ts), and the whole model's gradient against finite
 * differences of its own losses, for every parameter (full) and the LoRA tensors.
 */
import assert from 'node:assert/strict';
import { parameterShapes, type GPT2Config } from '../../../src/engine/config';
import { Rng } from '../../../src/engine/random';
import { randomWeights } from '../../../src/engine/randomCheckpoint';
import { InMemoryWeights } from '../../../src/engine/weights';
import { initLoraValues, loraParams, type LoraConfig } from '../../../src/training/lora';
import { makeBatch, type TokenExample } from '../../../src/training/objective';
import { globalGradNorm } from '../../../src/training/optimizer';
import { buildTrainingGraph } from '../../../src/training/trainingGraph';
import { TrainingSession, type TrainBatch } from '../../../src/training/trainingSession';
import { referenceLogits } from '../../reference/gpt2Reference';

const CONFIG: GPT2Config = { vocabSize: 97, nPositions: 16, nEmbd: 32, nLayer: 2, nHead: 2, layerNormEpsilon: 1e-5 };

/**
 * GPT-2's init with noisy biases and layer norms (so every parameter matters) and embeddings and
 * Q/K/V scaled up (so attention and the softmax are far from uniform and gradients are not tiny).
 */
function tinyWeights(seed: number): InMemoryWeights {
  const base = randomWeights(CONFIG, seed, { biasStd: 0.1, lnStd: 0.2 });
  const scale = (name: string) => (/^w[tp]e\./.test(name) ? 5 : name.endsWith('attn.c_attn.weight') ? 5 : 1);
  return new InMemoryWeights(CONFIG, new Map([...parameterShapes(CONFIG).keys()].map((n) => [n, base.tensor(n).map((v) => v * scale(n))])));
}

const EXAMPLES: TokenExample[] = [
  { contextIds: [5, 17, 42, 17, 8], continuationIds: [63, 2] },
  { contextIds: [90], continuationIds: [17, 33, 33] }, // one-token context: no L1 target
  { contextIds: [8, 8, 71], continuationIds: [96] }, // 96 occurs only as a target
];
const ROWS = 4; // the last row is padding
const T = 8;

/** Token-level NLL means from reference logits, in float64: what the graph must compute. */
function referenceLosses(weights: InMemoryWeights, batch: TrainBatch & { inputIds: Int32Array }, rows: number, lambda: number) {
  const V = CONFIG.vocabSize;
  let s1 = 0, s2 = 0, n1 = 0, n2 = 0;
  for (let r = 0; r < rows; r++) {
    const tokens = Array.from(batch.inputIds.subarray(r * T, (r + 1) * T));
    const logits = referenceLogits(weights, tokens);
    for (let t = 0; t < T - 1; t++) {
      const m1 = batch.l1Mask[r * T + t], m2 = batch.l2Mask[r * T + t];
      if (m1 === 0 && m2 === 0) continue;
      let max = -Infinity;
      for (let v = 0; v < V; v++) max = Math.max(max, logits[t * V + v]);
      let z = 0;
      for (let v = 0; v < V; v++) z += Math.exp(logits[t * V + v] - max);
      const nll = max + Math.log(z) - logits[t * V + tokens[t + 1]];
      s1 += m1 * nll; n1 += m1;
      s2 += m2 * nll; n2 += m2;
    }
  }
  const l1 = n1 > 0 ? s1 / n1 : 0, l2 = n2 > 0 ? s2 / n2 : 0;
  return { l1, l2, l3: l2 + lambda * l1 };
}

function close(got: number, want: number, what: string, tol = 2e-5): void {
  assert.ok(Math.abs(got - want) <= tol * Math.max(1, Math.abs(want)), `${what}: ${got} vs ${want}`);
}

function cloneValues(values: Map<string, Float32Array>): Map<string, Float32Array> {
  return new Map([...values].map(([k, v]) => [k, Float32Array.from(v)]));
}

interface FdResult { what: string; analytic: number; numeric: number; err: number }

/**
 * The float32 loss (L3 ≈ 4.6, one unit in the last place ≈ 5e-7) limits single-entry finite
 * differences: an entry's numeric derivative carries ~1.5·5e-7/h of rounding. So the step is large
 * (h = 0.05) with Richardson extrapolation, (4·D(h) − D(2h))/3, to cancel the O(h²) error, and an
 * entry's error is relative to max(|numeric|, ENTRY_FLOOR). Tensors whose entries all have tiny
 * gradients are checked tightly along a random direction over the whole tensor, where the change
 * in L3 is large against its rounding.
 */
const FD_STEP = 0.05;
const ENTRY_FLOOR = 1e-3;

/** d L3 / d s of L3(values + s·dir) at s = 0, dir over tensor `name` (index → component). */
async function numericSlope(
  session: TrainingSession, batch: TrainBatch, values: Map<string, Float32Array>, lambda: number, name: string, dir: Map<number, number>,
  h = FD_STEP,
): Promise<number> {
  const x = values.get(name)!;
  const saved = new Map([...dir.keys()].map((i) => [i, x[i]]));
  const at = async (s: number): Promise<number> => {
    for (const [i, d] of dir) x[i] = saved.get(i)! + s * d;
    const l = (await session.losses(batch, values, lambda)).l3;
    for (const [i, v] of saved) x[i] = v;
    return l;
  };
  const central = async (h: number) => ((await at(h)) - (await at(-h))) / (2 * h);
  return (4 * (await central(h)) - (await central(2 * h))) / 3;
}

/** Chosen entries of each tensor: analytic vs numeric. */
async function entryChecks(
  session: TrainingSession, batch: TrainBatch, values: Map<string, Float32Array>, grads: Map<string, Float32Array>,
  picks: Map<string, number[]>, lambda: number,
): Promise<FdResult[]> {
  const out: FdResult[] = [];
  for (const [name, indices] of picks) {
    for (const index of indices) {
      const numeric = await numericSlope(session, batch, values, lambda, name, new Map([[index, 1]]));
      const analytic = grads.get(name)![index];
      out.push({ what: `${name}[${index}]`, analytic, numeric, err: Math.abs(analytic - numeric) / Math.max(Math.abs(numeric), ENTRY_FLOOR) });
    }
  }
  return out;
}

/**
 * Each whole tensor along d = ĝ + r̂ (its unit gradient plus a unit random direction): g·d vs the
 * numeric slope. Along ĝ the change in L3 is as large as it gets, and a wrong g would not satisfy
 * g·d = (true g)·d but by accident; r̂ adds a component the gradient did not choose.
 */
async function directionChecks(
  session: TrainingSession, batch: TrainBatch, values: Map<string, Float32Array>, grads: Map<string, Float32Array>, lambda: number, rng: Rng,
): Promise<FdResult[]> {
  const out: FdResult[] = [];
  for (const [name, g] of grads) {
    const r = Array.from(g, () => rng.normal());
    const norm = (v: ArrayLike<number>) => Math.sqrt(Array.from(v).reduce((a, x) => a + x * x, 0));
    const gn = norm(g), rn = norm(r);
    const dir = new Map(Array.from(g, (gi, i) => [i, gi / gn + r[i] / rn] as [number, number]));
    let analytic = 0;
    for (const [i, d] of dir) analytic += g[i] * d;
    // A step that changes L3 by ~2e-3: far above its rounding, small against its curvature.
    const numeric = await numericSlope(session, batch, values, lambda, name, dir, Math.min(FD_STEP, 2e-3 / Math.abs(analytic)));
    out.push({ what: `${name} along ĝ + r̂`, analytic, numeric, err: Math.abs(analytic - numeric) / Math.abs(numeric) });
  }
  return out;
}

/** A few entries of each tensor: its largest-gradient entry and random ones. */
function samplePicks(grads: Map<string, Float32Array>, perTensor: number, rng: Rng): Map<string, number[]> {
  const picks = new Map<string, number[]>();
  for (const [name, g] of grads) {
    let arg = 0;
    for (let i = 1; i < g.length; i++) if (Math.abs(g[i]) > Math.abs(g[arg])) arg = i;
    const list = [arg];
    while (list.length < Math.min(perTensor, g.length)) list.push(Math.floor(rng.next() * g.length));
    picks.set(name, list);
  }
  return picks;
}

function report(label: string, results: FdResult[]): number {
  const worst = results.reduce((a, b) => (b.err > a.err ? b : a));
  console.log(`      ${label}: ${results.length} checks, worst relative error ${worst.err.toExponential(2)} (${worst.what}: ${worst.analytic.toExponential(4)} vs FD ${worst.numeric.toExponential(4)})`);
  return worst.err;
}

describe('GPT-2 training graph', function () {
  this.timeout(300_000);
  const weights = tinyWeights(11);
  const batch = makeBatch(EXAMPLES, [0, 1, 2], { rows: ROWS, seqLen: T });
  const fullValues = () => new Map([...parameterShapes(CONFIG).keys()].map((n) => [n, Float32Array.from(weights.tensor(n))]));
  let full: TrainingSession;
  before(async () => {
    full = await TrainingSession.create({ weights, method: 'full', batch: ROWS, seqLen: T, device: 'cpu', threads: 1 });
  });
  after(async () => {
    await full?.dispose();
  });

  describe('losses', () => {
    it('has the documented inputs and outputs', () => {
      const { graph, params } = buildTrainingGraph(weights, { method: 'full', batch: ROWS, seqLen: T });
      assert.deepEqual(graph.inputs.slice(0, 4).map((v) => [v.name, v.dtype, v.shape]), [
        ['input_ids', 'int64', [ROWS, T]], ['l1_mask', 'float32', [ROWS, T]], ['l2_mask', 'float32', [ROWS, T]], ['lambda', 'float32', []],
      ]);
      assert.deepEqual(params.map((p) => p.name), [...parameterShapes(CONFIG).keys()]);
      assert.deepEqual(graph.outputs.map((v) => v.name), ['l1', 'l2', 'l3', 'grad_sq_norm', ...params.map((p) => `grad.${p.name}`)]);
      for (const p of params) assert.deepEqual(graph.outputs.find((o) => o.name === `grad.${p.name}`)?.shape, p.shape);
      assert.deepEqual(graph.initializers.filter((i) => parameterShapes(CONFIG).has(i.name)), [], 'no weight is frozen in full fine-tuning');
    });

    it('equals token-level NLL means from the reference logits; L3 = L2 + λ·L1', async () => {
      assert.equal(batch.l1Targets, 4 + 0 + 2);
      assert.equal(batch.l2Targets, 2 + 3 + 1);
      for (const lambda of [0, 0.5, 1.7]) {
        const want = referenceLosses(weights, batch, 3, lambda);
        const got = await full.step(batch, fullValues(), lambda);
        close(got.l1, want.l1, `l1 (λ ${lambda})`);
        close(got.l2, want.l2, `l2 (λ ${lambda})`);
        close(got.l3, want.l3, `l3 (λ ${lambda})`);
        close(got.l3, got.l2 + lambda * got.l1, `l3 = l2 + λ·l1 (λ ${lambda})`, 1e-6);
        const fwd = await full.losses(batch, fullValues(), lambda);
        close(fwd.l3, got.l3, 'forward-only session', 1e-6);
      }
    });

    it("gives Σ of the gradients' squares beside them (what clipping reads), as the JS norm computes it", async () => {
      const got = await full.step(batch, fullValues(), 0.5);
      const norm = globalGradNorm(got.grads.values());
      assert.ok(norm > 0);
      close(Math.sqrt(got.gradSqNorm), norm, 'gradient norm', 1e-5);
    });

    it('gives L1 = 0 for a batch without L1 targets (one-token contexts)', async () => {
      const b = makeBatch([EXAMPLES[1], { contextIds: [4], continuationIds: [9, 10] }], [0, 1], { rows: ROWS, seqLen: T });
      assert.equal(b.l1Targets, 0);
      const got = await full.step(b, fullValues(), 0.5);
      assert.equal(got.l1, 0);
      close(got.l2, referenceLosses(weights, b, 2, 0.5).l2, 'l2');
      assert.equal(got.l3, got.l2);
    });

    it('ignores a weight on the last position, which has no target', async () => {
      const b = makeBatch(EXAMPLES, [0, 1, 2], { rows: ROWS, seqLen: T });
      const withLast = { ...b, l1Mask: Float32Array.from(b.l1Mask), l2Mask: Float32Array.from(b.l2Mask) };
      for (let r = 0; r < ROWS; r++) withLast.l1Mask[r * T + T - 1] = withLast.l2Mask[r * T + T - 1] = 1;
      const a = await full.losses(b, fullValues(), 0.5);
      const c = await full.losses(withLast, fullValues(), 0.5);
      assert.deepEqual(c, a);
    });

    it('pads a smaller batch (fewer rows, shorter T) without changing losses or gradients', async () => {
      const small = makeBatch(EXAMPLES, [0, 2], { rows: 2, seqLen: 7 });
      const exact = await TrainingSession.create({ weights, method: 'full', batch: 2, seqLen: 7, device: 'cpu', threads: 1 });
      try {
        const want = await exact.step(small, fullValues(), 0.5);
        const got = await full.step(small, fullValues(), 0.5);
        close(got.l3, want.l3, 'l3', 1e-6);
        for (const [name, g] of want.grads) {
          const h = got.grads.get(name)!;
          for (let i = 0; i < g.length; i++) assert.ok(Math.abs(g[i] - h[i]) <= 1e-5 + 1e-4 * Math.abs(g[i]), `${name}[${i}]`);
        }
        const rows = await full.losses({ inputIds: [[5, 17, 42, 17, 8, 63, 2]], l1Mask: small.l1Mask.subarray(0, 7), l2Mask: small.l2Mask.subarray(0, 7) }, fullValues(), 0.5);
        close(rows.l3, referenceLosses(weights, makeBatch(EXAMPLES, [0], { rows: 1, seqLen: T }), 1, 0.5).l3, 'ids as rows');
      } finally {
        await exact.dispose();
      }
    });
  });

  describe('gradients vs finite differences', () => {
    const lambda = 0.5;

    it('full fine-tuning: entries of every parameter, and each whole tensor along a direction', async () => {
      const values = fullValues();
      const { grads } = await full.step(batch, values, lambda);
      const entries = await entryChecks(full, batch, values, grads, samplePicks(grads, 3, new Rng(5)), lambda);
      assert.equal(new Set(entries.map((r) => r.what.split('[')[0])).size, parameterShapes(CONFIG).size);
      assert.ok(report('full, entries', entries) <= 2e-2);
      assert.ok(report('full, whole tensors', await directionChecks(full, batch, values, grads, lambda, new Rng(7))) <= 5e-3);
    });

    it('the tied wte gets the embedding and the output-head contributions', async () => {
      const values = fullValues();
      const { grads } = await full.step(batch, values, lambda);
      const E = CONFIG.nEmbd;
      // 17 and 8 are read as inputs (and are targets), 96 is only a target, 50 occurs nowhere
      // (its row gets only the softmax's share of the head gradient).
      const rows = [17, 8, 96, 50];
      const picks = new Map([['wte.weight', rows.flatMap((tok) => [0, 7, 19].map((e) => tok * E + e))]]);
      assert.ok(report('wte rows 17, 8, 96, 50', await entryChecks(full, batch, values, grads, picks, lambda)) <= 2e-2);
    });

    it('LoRA: entries of every A and B (B non-zero), and each whole tensor along a direction', async () => {
      const lora: LoraConfig = { rank: 2, alpha: 4, dropout: 0, targets: ['attn.c_attn', 'attn.c_proj', 'mlp.c_fc', 'mlp.c_proj'] };
      const session = await TrainingSession.create({ weights, method: 'lora', lora, batch: ROWS, seqLen: T, device: 'cpu', threads: 1 });
      try {
        assert.deepEqual(session.params, loraParams(CONFIG, lora));
        const values = initLoraValues(CONFIG, lora, 3);
        const rng = new Rng(9);
        for (const p of session.params) {
          if (p.name.includes('lora_B')) values.set(p.name, Float32Array.from(values.get(p.name)!, () => 0.2 * rng.normal()));
        }
        const { grads, l3 } = await session.step(batch, values, lambda);
        // With B = 0 the adapter is off: the LoRA graph's losses equal the base model's.
        const zeroB = cloneValues(values);
        for (const p of session.params) if (p.name.includes('lora_B')) zeroB.get(p.name)!.fill(0);
        close((await session.losses(batch, zeroB, lambda)).l3, (await full.losses(batch, fullValues(), lambda)).l3, 'B = 0 gives the base model', 1e-5);
        assert.notEqual(l3, (await full.losses(batch, fullValues(), lambda)).l3);
        const entries = await entryChecks(session, batch, values, grads, samplePicks(grads, 3, new Rng(6)), lambda);
        assert.equal(new Set(entries.map((r) => r.what.split('[')[0])).size, session.params.length);
        assert.ok(report('lora, entries', entries) <= 2e-2);
        assert.ok(report('lora, whole tensors', await directionChecks(session, batch, values, grads, lambda, new Rng(8))) <= 5e-3);
      } finally {
        await session.dispose();
      }
    });
  });
});
