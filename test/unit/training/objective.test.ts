import { strict as assert } from 'node:assert';
import { Rng } from '../../../src/engine/random';
import {
  chooseBatchShape, combineLosses, fitLengths, makeBatch, microBatchWeights, planBatches,
  type CountedLosses, type TokenExample,
} from '../../../src/training/objective';
import { BigramSession, bigramValues, markovExamples, W, B } from './bigramSession';

const ex = (contextIds: number[], continuationIds: number[]): TokenExample => ({ contextIds, continuationIds });

describe('objective: batches', () => {
  it('lays out x ++ y with L1 targets inside the context and L2 targets on the continuation', () => {
    const b = makeBatch([ex([1, 2, 3], [4, 5])], [0], { rows: 2, seqLen: 8 });
    assert.deepEqual([...b.inputIds], [1, 2, 3, 4, 5, 0, 0, 0, ...new Array(8).fill(0)]);
    // Target at t predicts token t + 1: 2 and 3 are context (L1), 4 and 5 continuation (L2).
    assert.deepEqual([...b.l1Mask.subarray(0, 8)], [1, 1, 0, 0, 0, 0, 0, 0]);
    assert.deepEqual([...b.l2Mask.subarray(0, 8)], [0, 0, 1, 1, 0, 0, 0, 0]);
    assert.ok(b.l1Mask.subarray(8).every((m) => m === 0) && b.l2Mask.subarray(8).every((m) => m === 0), 'padding row has no targets');
    assert.deepEqual([b.tokens, b.l1Targets, b.l2Targets, b.examples], [5, 2, 2, [0]]);
  });

  it('gives a one-token context no L1 target', () => {
    const b = makeBatch([ex([7], [8, 9])], [0], { rows: 1, seqLen: 4 });
    assert.deepEqual([...b.l1Mask], [0, 0, 0, 0]);
    assert.deepEqual([...b.l2Mask], [1, 1, 0, 0]);
    assert.equal(b.l1Targets, 0);
  });

  it('truncates the context from the left, and an over-long continuation from the right keeping one context token', () => {
    const ctx = Array.from({ length: 10 }, (_, i) => i + 1);
    const b = makeBatch([ex(ctx, [11, 12])], [0], { rows: 1, seqLen: 6 });
    assert.deepEqual([...b.inputIds], [7, 8, 9, 10, 11, 12]);
    assert.deepEqual([...b.l1Mask], [1, 1, 1, 0, 0, 0]);
    assert.deepEqual([...b.l2Mask], [0, 0, 0, 1, 1, 0]);
    assert.deepEqual(fitLengths(ex(ctx, [20, 21, 22, 23, 24, 25, 26]), 6), { context: 1, continuation: 5 });
    const long = makeBatch([ex(ctx, [20, 21, 22, 23, 24, 25, 26])], [0], { rows: 1, seqLen: 6 });
    assert.deepEqual([...long.inputIds], [10, 20, 21, 22, 23, 24]);
    assert.equal(long.l2Targets, 5);
  });

  it('chooses seqLen from the longest example and rows from the token budget', () => {
    const examples = [ex([1, 2, 3], [4]), ex(new Array(30).fill(1), new Array(10).fill(2))];
    assert.deepEqual(chooseBatchShape(examples, { batchTokens: 1024, maxSeqLen: 256 }), { rows: 21, seqLen: 48 });
    assert.deepEqual(chooseBatchShape(examples, { batchTokens: 1024, maxSeqLen: 32 }), { rows: 32, seqLen: 32 });
    assert.deepEqual(chooseBatchShape(examples, { batchTokens: 10, maxSeqLen: 256 }), { rows: 1, seqLen: 48 });
  });

  it('plans fixed-shape batches in the given order', () => {
    const examples = markovExamples(10, 7, 1);
    const plans = planBatches(examples, [6, 5, 4, 3, 2, 1, 0], { rows: 3, seqLen: 16 });
    assert.deepEqual(plans.map((p) => p.group), [[6, 5, 4], [3, 2, 1], [0]]);
    assert.ok(plans.every((p) => p.seqLen === 16));
  });

  it('buckets by length when batches may be shorter: every example once, less padding', () => {
    const rng = new Rng(3);
    const examples = Array.from({ length: 200 }, () => ex(new Array(1 + Math.floor(rng.next() * 100)).fill(1), new Array(1 + Math.floor(rng.next() * 20)).fill(2)));
    const order = examples.map((_, i) => i).reverse();
    const shape = { rows: 4, seqLen: 128 };
    const fixed = planBatches(examples, order, shape);
    const trimmed = planBatches(examples, order, shape, { trimToLongest: true, quantum: 8, bucketBatches: 8 });
    assert.equal(trimmed.length, fixed.length);
    assert.deepEqual(trimmed.flatMap((p) => p.group).sort((a, b) => a - b), order.slice().sort((a, b) => a - b));
    for (const p of trimmed) {
      assert.ok(p.seqLen % 8 === 0 && p.seqLen <= 128);
      for (const i of p.group) assert.ok(fitLengths(examples[i], 128).context + fitLengths(examples[i], 128).continuation <= p.seqLen);
    }
    const slots = (plans: { group: number[]; seqLen: number }[]) => plans.reduce((n, p) => n + p.seqLen * shape.rows, 0);
    assert.ok(slots(trimmed) < 0.75 * slots(fixed), `${slots(trimmed)} vs ${slots(fixed)} slots`);
  });
});

describe('objective: losses', () => {
  it('combines batch means into token-level means over all targets', () => {
    const rng = new Rng(5);
    const all1: number[] = [];
    const all2: number[] = [];
    const parts: CountedLosses[] = [];
    for (let b = 0; b < 5; b++) {
      const n1 = b === 2 ? 0 : 1 + Math.floor(rng.next() * 50);
      const n2 = 1 + Math.floor(rng.next() * 10);
      const x1 = Array.from({ length: n1 }, () => 3 * rng.next());
      const x2 = Array.from({ length: n2 }, () => 3 * rng.next());
      all1.push(...x1);
      all2.push(...x2);
      const mean = (xs: number[]) => (xs.length ? xs.reduce((a, c) => a + c, 0) / xs.length : 0);
      parts.push({ l1: mean(x1), l2: mean(x2), l3: NaN, l1Targets: n1, l2Targets: n2 });
    }
    const c = combineLosses(parts, 0.3);
    const l1 = all1.reduce((a, x) => a + x, 0) / all1.length;
    const l2 = all2.reduce((a, x) => a + x, 0) / all2.length;
    assert.ok(Math.abs(c.l1 - l1) < 1e-12 && Math.abs(c.l2 - l2) < 1e-12);
    assert.ok(Math.abs(c.l3 - (l2 + 0.3 * l1)) < 1e-12);
    assert.deepEqual([c.l1Targets, c.l2Targets], [all1.length, all2.length]);
    assert.deepEqual(combineLosses([{ l1: 0, l2: 1.5, l3: 1.5, l1Targets: 0, l2Targets: 4 }], 0.5), { l1: 0, l2: 1.5, l3: 1.5, l1Targets: 0, l2Targets: 4 });
  });

  it('weights micro-batches so every target gets the weight it has in one big batch', () => {
    const counts = [
      { l1Targets: 30, l2Targets: 4 },
      { l1Targets: 0, l2Targets: 9 },
      { l1Targets: 12, l2Targets: 0 },
      { l1Targets: 5, l2Targets: 1 },
    ];
    const lambda = 0.4;
    const N1 = 47;
    const N2 = 14;
    const w = microBatchWeights(counts, lambda);
    counts.forEach((c, i) => {
      // Within micro-batch i the session weights an L2 target 1/n2ᵢ and an L1 target λᵢ/n1ᵢ.
      if (c.l2Targets > 0) assert.ok(Math.abs((w[i].gradScale * 1) / c.l2Targets - 1 / N2) < 1e-15);
      if (c.l1Targets > 0) assert.ok(Math.abs((w[i].gradScale * w[i].lambda) / c.l1Targets - lambda / N1) < 1e-15);
    });
    assert.deepEqual(microBatchWeights([{ l1Targets: 0, l2Targets: 0 }], 0.5), [{ gradScale: 0, lambda: 0.5 }]);
  });

  it('accumulated micro-batch gradients equal the big batch gradient (bigram stand-in)', () => {
    const V = 9;
    const examples = markovExamples(V, 6, 11);
    const values = bigramValues(V, 2, 0.5);
    const lambda = 0.5;
    const big = new BigramSession(V, 6, 16).compute(makeBatch(examples, [0, 1, 2, 3, 4, 5], { rows: 6, seqLen: 16 }), values, lambda, true);
    const session = new BigramSession(V, 2, 16);
    const micro = [[0, 1], [2, 3], [4, 5]].map((g) => makeBatch(examples, g, { rows: 2, seqLen: 16 }));
    const weights = microBatchWeights(micro, lambda);
    const sum = { w: new Float64Array(V * V), b: new Float64Array(V) };
    micro.forEach((m, i) => {
      const r = session.compute(m, values, weights[i].lambda, true);
      r.grads!.get(W)!.forEach((g, j) => (sum.w[j] += weights[i].gradScale * g));
      r.grads!.get(B)!.forEach((g, j) => (sum.b[j] += weights[i].gradScale * g));
    });
    big.grads!.get(W)!.forEach((g, j) => assert.ok(Math.abs(g - sum.w[j]) < 1e-6, `dW[${j}] ${g} vs ${sum.w[j]}`));
    big.grads!.get(B)!.forEach((g, j) => assert.ok(Math.abs(g - sum.b[j]) < 1e-6));
    const parts = micro.map((m) => ({ ...session.compute(m, values, lambda, false), l1Targets: m.l1Targets, l2Targets: m.l2Targets }));
    const c = combineLosses(parts, lambda);
    assert.ok(Math.abs(c.l1 - big.l1) < 1e-9 && Math.abs(c.l2 - big.l2) < 1e-9 && Math.abs(c.l3 - big.l3) < 1e-9);
  });

  it('the stand-in session computes L3 = L2 + λ·L1 with gradients matching finite differences', () => {
    const V = 5;
    const examples = markovExamples(V, 3, 4);
    const batch = makeBatch(examples, [0, 1, 2], { rows: 3, seqLen: 16 });
    const values = bigramValues(V, 9, 0.3);
    const s = new BigramSession(V, 3, 16);
    const r = s.compute(batch, values, 0.7, true);
    assert.ok(Math.abs(r.l3 - (r.l2 + 0.7 * r.l1)) < 1e-12);
    const w = values.get(W)!;
    for (const j of [0, 7, 13, 24]) {
      const keep = w[j];
      const h = 1e-2;
      w[j] = keep + h;
      const up = s.compute(batch, values, 0.7, false).l3;
      w[j] = keep - h;
      const down = s.compute(batch, values, 0.7, false).l3;
      w[j] = keep;
      assert.ok(Math.abs((up - down) / (2 * h) - r.grads!.get(W)![j]) < 1e-4);
    }
  });
});
