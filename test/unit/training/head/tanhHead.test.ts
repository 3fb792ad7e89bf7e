/**
 * The hidden-layer head (the candidate-choice rule's model): its loss gradient against central
 * differences for every kind of parameter, training that learns an interaction no linear head can
 * (XOR of two inputs), and a seeded, repeatable start.
 */
import { strict as assert } from 'node:assert';
import { Rng } from '../../../../src/engine/random';
import { headLoss, trainLinearHead, type LabelledState } from '../../../../src/training/head/logistic';
import { tanhHeadLoss, tanhLogit, trainTanhHead, type TanhHead } from '../../../../src/training/head/tanhHead';

function xorData(n: number, seed: number): LabelledState[] {
  const rng = new Rng(seed);
  return Array.from({ length: n }, () => {
    const a = rng.next() < 0.5 ? 1 : -1, b = rng.next() < 0.5 ? 1 : -1;
    // Two informative inputs whose product decides the label, and a noise input.
    return { h: Float32Array.from([a + 0.1 * rng.normal(), b + 0.1 * rng.normal(), rng.normal()]), label: a * b > 0 ? 1 as const : 0 as const };
  });
}

describe('tanh head', () => {
  for (const withPrior of [false, true]) it(`the loss gradient (linear term, hidden weights and biases, output weights, bias; with the L2 penalty${withPrior ? ' toward a prior rule' : ''}) matches central differences`, () => {
    const E = 4, H = 3;
    const rng = new Rng(7);
    const examples = Array.from({ length: 30 }, () => ({ h: Float32Array.from({ length: E }, () => rng.normal()), label: rng.next() < 0.4 ? 1 as const : 0 as const }));
    const head: TanhHead = {
      weight: Float64Array.from({ length: E }, () => rng.normal()), bias: 0.2,
      hiddenWeight: Float64Array.from({ length: H * E }, () => rng.normal()), hiddenBias: Float64Array.from({ length: H }, () => rng.normal()),
      outWeight: Float64Array.from({ length: H }, () => rng.normal()),
    };
    const decay = 0.03;
    const prior = withPrior ? {
      weight: Array.from({ length: E }, () => rng.normal()), bias: 0, hiddenWeight: Array.from({ length: H * E }, () => rng.normal()),
      hiddenBias: Array.from({ length: H }, () => rng.normal()), outWeight: Array.from({ length: H }, () => rng.normal()),
    } : undefined;
    const g = tanhHeadLoss(head, examples, decay, prior);
    const eps = 1e-5;
    const groups = ['weight', 'hiddenWeight', 'hiddenBias', 'outWeight'] as const;
    for (const name of groups) {
      for (let i = 0; i < head[name].length; i++) {
        const bump = (d: number) => {
          head[name][i] += d;
          const loss = tanhHeadLoss(head, examples, decay, prior).loss;
          head[name][i] -= d;
          return loss;
        };
        const numeric = (bump(eps) - bump(-eps)) / (2 * eps);
        assert.ok(Math.abs(numeric - g[name][i]) < 1e-6 * Math.max(1, Math.abs(numeric)), `${name}[${i}]: ${g[name][i]} vs ${numeric}`);
      }
    }
    const at = (d: number) => tanhHeadLoss({ ...head, bias: head.bias + d }, examples, decay, prior).loss;
    assert.ok(Math.abs((at(eps) - at(-eps)) / (2 * eps) - g.bias) < 1e-6);
  });

  it('learns an interaction (XOR) that a linear head cannot, from a seeded start that repeats', () => {
    const train = xorData(400, 1), test = xorData(400, 2);
    const accuracy = (p: (x: Float32Array) => number) => test.filter((d) => (p(d.h) > 0) === (d.label === 1)).length / test.length;
    const linear = trainLinearHead(train, 3, { decay: 1e-4, steps: 400 });
    const tanh = trainTanhHead(train, 3, { hidden: 4, decay: 1e-4, steps: 600, learningRate: 0.05, seed: 3 });
    const linearAccuracy = accuracy((x) => linear.bias + x.reduce((z, v, i) => z + v * linear.weight[i], 0));
    const tanhAccuracy = accuracy((x) => tanhLogit(tanh, x));
    assert.ok(linearAccuracy < 0.65, `linear ${linearAccuracy}`);
    assert.ok(tanhAccuracy > 0.95, `tanh ${tanhAccuracy}`);
    assert.ok(tanhHeadLoss(tanh, train, 0).loss < 0.5 * headLoss(linear, train, 0).loss);
    const again = trainTanhHead(train, 3, { hidden: 4, decay: 1e-4, steps: 600, learningRate: 0.05, seed: 3 });
    assert.deepEqual(Array.from(again.hiddenWeight), Array.from(tanh.hiddenWeight));
    assert.equal(again.bias, tanh.bias);
  });

  it('adapting a prior rule starts from it, stays there under a strong pull, and moves toward data that disagree under a weak one', () => {
    const train = xorData(400, 1);
    const prior = trainTanhHead(train, 3, { hidden: 4, decay: 1e-4, steps: 600, learningRate: 0.05, seed: 3 });
    // Data where the label is the opposite: a workspace where the shipped rule is wrong.
    const flipped = train.map((d) => ({ h: d.h, label: (1 - d.label) as 0 | 1 }));
    const held = trainTanhHead(flipped, 3, { prior, decay: 1e3, steps: 200, learningRate: 0.05 });
    const moved = trainTanhHead(flipped, 3, { prior, decay: 1e-4, steps: 200, learningRate: 0.05 });
    const distance = (h: TanhHead) => h.weight.reduce((s, w, i) => s + (w - prior.weight[i]) ** 2, 0) + h.outWeight.reduce((s, w, i) => s + (w - prior.outWeight[i]) ** 2, 0);
    assert.ok(distance(held) < 1e-3, `a strong pull moved it by ${distance(held)}`);
    assert.ok(tanhHeadLoss(moved, flipped, 0).loss < 0.5 * tanhHeadLoss(prior, flipped, 0).loss, 'a weak pull did not follow the data');
    assert.throws(() => trainTanhHead(train, 5, { prior }), /prior has 3 inputs, not 5/);
  });
});
