import assert from 'node:assert/strict';
import { Rng } from '../../src/engine/random';
import { argmax, logSumExp, sampleToken, topKIndices, type SamplingOptions } from '../../src/engine/sampling';

const V = 50257;

function randomRow(seed: number, width = V): Float32Array {
  const rng = new Rng(seed);
  const row = new Float32Array(width);
  for (let i = 0; i < width; i++) row[i] = 3 * rng.normal();
  return row;
}

/** A full-vocabulary row whose softmax puts `probs` on ids 0.. and a negligible rest elsewhere. */
function rowWithProbs(probs: number[]): Float32Array {
  const row = new Float32Array(V).fill(-1e4);
  probs.forEach((p, i) => (row[i] = Math.log(p)));
  return row;
}

function draw(row: Float32Array, options: SamplingOptions, times: number, seed = 1, suppress?: Set<number>): Map<number, number> {
  const rng = new Rng(seed);
  const counts = new Map<number, number>();
  for (let i = 0; i < times; i++) {
    const t = sampleToken(row, options, rng, suppress);
    counts.set(t, (counts.get(t) ?? 0) + 1);
  }
  return counts;
}

describe('sampling', () => {
  describe('argmax', () => {
    const cases: { name: string; row: number[]; suppress?: number[]; want: number }[] = [
      { name: 'largest', row: [1, 3, 2], want: 1 },
      { name: 'lowest index on ties', row: [0, 5, 5, 1], want: 1 },
      { name: 'skips suppressed', row: [1, 3, 2], suppress: [1], want: 2 },
      { name: 'skips NaN and -Infinity', row: [NaN, -Infinity, -7], want: 2 },
      { name: 'negative values', row: [-3, -1, -2], want: 1 },
    ];
    for (const c of cases) {
      it(c.name, () => assert.equal(argmax(c.row, c.suppress && new Set(c.suppress)), c.want));
    }
    it('throws when nothing can be chosen', () => {
      assert.throws(() => argmax([1, 2], new Set([0, 1])), /suppressed/);
    });
  });

  it('temperature 0 and top-k 1 are greedy on full rows', () => {
    for (let seed = 0; seed < 5; seed++) {
      const row = randomRow(seed);
      const best = argmax(row);
      assert.equal(sampleToken(row, { temperature: 0 }, new Rng(seed)), best);
      assert.equal(sampleToken(row, { temperature: 1, topK: 1 }, new Rng(seed)), best);
    }
  });

  it('topKIndices equals the head of a full sort', () => {
    for (const [seed, k] of [[1, 1], [2, 5], [3, 40], [4, 1000]] as const) {
      const row = randomRow(seed, 5000);
      const sorted = Array.from(row.keys()).sort((a, b) => row[b] - row[a] || a - b);
      assert.deepEqual(topKIndices(row, k), sorted.slice(0, k));
    }
    assert.deepEqual(topKIndices([1, 2, 2, 0], 3), [1, 2, 0]);
    assert.deepEqual(topKIndices([1, 2, 3], 10, new Set([2])), [1, 0]);
  });

  it('seeded sampling is reproducible and seeds differ', () => {
    const row = randomRow(7);
    const options = { temperature: 1.5, topP: 0.99 };
    const run = (seed: number) => {
      const rng = new Rng(seed);
      return Array.from({ length: 30 }, () => sampleToken(row, options, rng));
    };
    assert.deepEqual(run(3), run(3));
    assert.notDeepEqual(run(3), run(4));
  });

  it('draws exactly one random number per token, so row streams stay aligned', () => {
    const row = randomRow(8);
    const cases: SamplingOptions[] = [{ temperature: 1 }, { temperature: 0.7, topK: 40 }, { temperature: 1, topP: 0.9 }, { temperature: 1, topK: 50, topP: 0.5 }];
    for (const options of cases) {
      const a = new Rng(11);
      const b = new Rng(11);
      sampleToken(row, options, a);
      b.next();
      assert.equal(a.next(), b.next(), JSON.stringify(options));
    }
  });

  it('top-k picks only among the k most likely, and all of them', () => {
    const row = randomRow(9);
    const allowed = new Set(topKIndices(row, 5));
    const counts = draw(row, { temperature: 3, topK: 5 }, 1000);
    for (const t of counts.keys()) assert.ok(allowed.has(t), `token ${t} is outside the top 5`);
    assert.equal(counts.size, 5);
  });

  it('top-p picks only the nucleus, in proportion', () => {
    const probs = [0.5, 0.3, 0.15, 0.05];
    const cases: { topP: number; allowed: number[] }[] = [
      { topP: 0.4, allowed: [0] },
      { topP: 0.79, allowed: [0, 1] },
      { topP: 0.9, allowed: [0, 1, 2] },
    ];
    for (const c of cases) {
      const counts = draw(rowWithProbs(probs), { temperature: 1, topP: c.topP }, 2000);
      assert.deepEqual([...counts.keys()].sort(), c.allowed, `topP ${c.topP}`);
      const mass = c.allowed.reduce((s, i) => s + probs[i], 0);
      for (const i of c.allowed) assert.ok(Math.abs(counts.get(i)! / 2000 - probs[i] / mass) < 0.04, `topP ${c.topP}, token ${i}`);
    }
  });

  it('top-p alone keeps exactly the sorted definition of the nucleus', () => {
    for (const [seed, topP] of [[21, 0.5], [22, 0.9], [23, 0.99]] as const) {
      const row = randomRow(seed);
      const sorted = Array.from(row.keys()).sort((a, b) => row[b] - row[a] || a - b);
      const z = sorted.reduce((s, i) => s + Math.exp(row[i] - row[sorted[0]]), 0);
      let cum = 0;
      let size = 0;
      while (cum < topP * z) cum += Math.exp(row[sorted[size++]] - row[sorted[0]]);
      const allowed = new Set(sorted.slice(0, size));
      const counts = draw(row, { temperature: 1, topP }, 300, seed);
      for (const t of counts.keys()) assert.ok(allowed.has(t), `topP ${topP}: token ${t} is outside the nucleus of ${size}`);
      // the least likely member of the nucleus is reachable: the cut is not one short
      if (size <= 3) assert.ok(counts.has(sorted[size - 1]));
    }
  });

  it('top-p on a flat row keeps the 90% nucleus (most of the vocabulary)', () => {
    // 50257 equal logits: the 90% nucleus is ~45k tokens, far beyond the first partial selection.
    const counts = draw(new Float32Array(V), { temperature: 1, topP: 0.9 }, 500);
    const max = Math.max(...counts.keys());
    assert.ok(max > 30000 && max < Math.ceil(0.9 * V) + 1, `largest id ${max}`);
  });

  it('top-k then top-p: the nucleus is taken within the top k', () => {
    const probs = [0.4, 0.3, 0.2, 0.1];
    // Within the top 2 (renormalised 4/7, 3/7), p = 0.5 keeps only token 0.
    assert.deepEqual([...draw(rowWithProbs(probs), { temperature: 1, topK: 2, topP: 0.5 }, 500).keys()], [0]);
    assert.deepEqual([...draw(rowWithProbs(probs), { temperature: 1, topK: 2, topP: 0.6 }, 500).keys()].sort(), [0, 1]);
  });

  it('plain sampling follows softmax(logits / T)', () => {
    const probs = [0.6, 0.3, 0.1];
    for (const T of [1, 0.5]) {
      const p = probs.map((q) => q ** (1 / T));
      const z = p.reduce((a, b) => a + b, 0);
      const counts = draw(rowWithProbs(probs), { temperature: T }, 2000, 2);
      p.forEach((q, i) => assert.ok(Math.abs((counts.get(i) ?? 0) / 2000 - q / z) < 0.04, `T ${T}, token ${i}`));
    }
  });

  it('never picks a suppressed token', () => {
    const row = rowWithProbs([0.9, 0.05, 0.05]);
    for (const options of [{ temperature: 0 }, { temperature: 1 }, { temperature: 1, topK: 2 }, { temperature: 1, topP: 0.5 }]) {
      const counts = draw(row, options, 200, 1, new Set([0]));
      assert.ok(!counts.has(0), JSON.stringify(options));
    }
  });

  it('logSumExp is stable for large logits', () => {
    assert.ok(Math.abs(logSumExp([1000, 1000]) - (1000 + Math.log(2))) < 1e-9);
    assert.ok(Math.abs(logSumExp([-1000, -1000]) - (-1000 + Math.log(2))) < 1e-9);
    assert.equal(logSumExp([-Infinity]), -Infinity);
  });
});
