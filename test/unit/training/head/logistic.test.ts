/**
 * The acceptance head's own maths: the loss gradient against central differences, training that
 * separates what is separable, AUC and the threshold gate on hand-checked cases, and the saved
 * files round-tripping (a head for another width is refused with one line).
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { UserError } from '../../../../src/engine/errors';
import { Rng } from '../../../../src/engine/random';
import { AcceptanceHead, hasHead, loadAcceptanceHead, type HeadMeta } from '../../../../src/training/head/acceptanceHead';
import { auc, chooseThreshold, gate } from '../../../../src/training/head/headMetrics';
import { headLoss, logit, sigmoid, trainLinearHead, type LabelledState, type LinearHead } from '../../../../src/training/head/logistic';

function data(n: number, E: number, seed: number, separable = false): LabelledState[] {
  const rng = new Rng(seed);
  const truth = Float64Array.from({ length: E }, () => rng.normal());
  return Array.from({ length: n }, () => {
    const h = Float32Array.from({ length: E }, () => rng.normal());
    const z = logit({ weight: truth, bias: 0.3 }, h);
    const label = (separable ? z > 0 : rng.next() < sigmoid(z)) ? 1 as const : 0 as const;
    return { h, label };
  });
}

const meta = (nEmbd: number): HeadMeta => ({
  format: 'gpt2-complete-acceptance-head', version: 1, nEmbd, skipBelow: 0.1, labelling: 'exact', lambda: 0, decay: 1e-3,
  trainedOn: 'test', examples: 1, positives: 1,
});

describe('acceptance head', () => {
  it('the loss gradient (w and b, with the L2 penalty) matches central differences', () => {
    const E = 6;
    const rng = new Rng(3);
    const examples = data(40, E, 5);
    const head: LinearHead = { weight: Float64Array.from({ length: E }, () => rng.normal()), bias: 0.4 };
    const decay = 0.05;
    const { gradWeight, gradBias } = headLoss(head, examples, decay);
    const eps = 1e-5;
    for (let i = 0; i <= E; i++) {
      const bump = (d: number): number => {
        const h: LinearHead = { weight: head.weight.slice(), bias: head.bias };
        if (i < E) h.weight[i] += d;
        else h.bias += d;
        return headLoss(h, examples, decay).loss;
      };
      const numeric = (bump(eps) - bump(-eps)) / (2 * eps);
      const analytic = i < E ? gradWeight[i] : gradBias;
      assert.ok(Math.abs(numeric - analytic) < 1e-6 * Math.max(1, Math.abs(numeric)), `parameter ${i}: ${analytic} vs ${numeric}`);
    }
  });

  it('training lowers the loss from a zero start and ranks separable training data almost perfectly', () => {
    const E = 8;
    const train = data(300, E, 11, true);
    const head = trainLinearHead(train, E, { decay: 1e-4, steps: 300 });
    const start: LinearHead = { weight: new Float64Array(E), bias: 0 };
    assert.ok(headLoss(head, train, 0).loss < 0.5 * headLoss(start, train, 0).loss);
    const scores = train.map((d) => logit(head, d.h));
    assert.ok(auc(scores, train.map((d) => d.label === 1))! > 0.95);
  });

  it('auc: hand-checked cases, ties count half, one class gives null', () => {
    assert.equal(auc([0.1, 0.2, 0.8, 0.9], [false, false, true, true]), 1);
    assert.equal(auc([0.9, 0.8, 0.2, 0.1], [false, false, true, true]), 0);
    assert.equal(auc([0.5, 0.5], [true, false]), 0.5);
    assert.equal(auc([0.1, 0.4, 0.35, 0.8], [false, true, false, true]), 1);
    assert.equal(auc([0.3, 0.6, 0.5], [true, false, true]), 0);
    assert.equal(auc([0.3, 0.6], [true, true]), null);
  });

  it('gate and chooseThreshold: precision, shown rate and recall of what a threshold keeps', () => {
    const o = [
      { shown: true, exact: true, confidence: 0.9 },
      { shown: true, exact: false, confidence: 0.8 },
      { shown: true, exact: true, confidence: 0.6 },
      { shown: true, exact: false, confidence: 0.2 },
      { shown: false, exact: false, confidence: undefined },
    ];
    assert.deepEqual(gate(o, 0), { threshold: 0, requests: 5, shown: 4, exact: 2, shownRate: 0.8, precision: 0.5, recall: 1 });
    assert.deepEqual(gate(o, 0.85), { threshold: 0.85, requests: 5, shown: 1, exact: 1, shownRate: 0.2, precision: 1, recall: 0.5 });
    // Showing at least 40% of the requests: 0.6 keeps three (2 exact) and beats ungated 2/4.
    assert.equal(chooseThreshold(o, 0.4), 0.6);
    assert.equal(chooseThreshold(o, 0.9), 0);
  });

  it('saves as head.safetensors + head.json and loads back; another width or a broken file is one clear line', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'head-'));
    try {
      assert.equal(loadAcceptanceHead(dir, 4), undefined, 'no head: nothing to load');
      const head = new AcceptanceHead({ weight: Float64Array.of(1, -2, 0.5, 0), bias: -1 }, { weight: Float64Array.of(0, 0, 1, 1), bias: 0.5 }, meta(4));
      head.save(dir);
      assert.ok(hasHead(dir));
      const back = loadAcceptanceHead(dir, 4)!;
      const h = Float32Array.of(0.5, 0.25, -1, 2);
      assert.ok(Math.abs(back.suggestion(h) - head.suggestion(h)) < 1e-6);
      assert.ok(Math.abs(back.suggestion(h) - sigmoid(0.5 - 0.5 - 0.5 - 1)) < 1e-6);
      assert.ok(Math.abs(back.prompt(h)! - sigmoid(-1 + 2 + 0.5)) < 1e-6);
      assert.equal(back.skipBelow, 0.1);
      assert.throws(() => loadAcceptanceHead(dir, 8), (e: unknown) => e instanceof UserError && /4-wide states but the model is 8 wide/.test(e.message));
      fs.writeFileSync(path.join(dir, 'head.json'), '{');
      assert.throws(() => loadAcceptanceHead(dir, 4), (e: unknown) => e instanceof UserError && /head\.json: not readable JSON/.test(e.message));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
