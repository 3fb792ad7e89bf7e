/**
 * Training the acceptance head from pipeline examples: labels (exact, or a correct prefix of at
 * least N characters), a head that learns a signal carried by the states, and a saved head whose
 * prompt part and skip level come from validation.
 */
import { strict as assert } from 'node:assert';
import { isExact, label, trainAcceptanceHead, type HeadExample } from '../../../../src/cli/headTraining';
import { Rng } from '../../../../src/engine/random';
import { auc } from '../../../../src/training/head/headMetrics';

const E = 6;

/** Examples whose state's first entry says (noisily) whether the suggestion is right. */
function examples(n: number, seed: number): HeadExample[] {
  const rng = new Rng(seed);
  return Array.from({ length: n }, (_, i) => {
    const right = rng.next() < 0.3;
    const h = Float32Array.from({ length: E }, (_, j) => (j === 0 ? (right ? 1.5 : -1.5) + rng.normal() : rng.normal()));
    const p = Float32Array.from({ length: E }, (_, j) => (j === 1 ? (right ? 1 : -1) + rng.normal() : rng.normal()));
    return { file: `f${i % 17}.py`, kind: 'mid-line', expected: 'return x + 1', shown: right ? 'return x + 1' : 'return y', state: h, promptState: p };
  });
}

describe('acceptance head training', () => {
  it('labels: exact rest of line, or a correct prefix of at least N characters', () => {
    const e = (shown: string): HeadExample => ({ file: 'a.py', kind: 'mid-line', expected: 'foo(bar, baz)', shown });
    assert.equal(label(e('foo(bar, baz)'), 'exact'), 1);
    assert.equal(label(e('foo(bar, baz)  \nmore'), 'exact'), 1, 'judged on its first line, trailing blanks trimmed');
    assert.equal(label(e('foo(bar'), 'exact'), 0);
    assert.equal(label(e('foo(bar'), { prefix: 5 }), 1);
    assert.equal(label(e('foo'), { prefix: 5 }), 0, 'too short a prefix');
    assert.equal(label(e('foo(baz'), { prefix: 5 }), 0, 'not a prefix');
    assert.equal(isExact(e('')), false);
  });

  it('learns the signal in the states: held-out AUC well above chance, threshold and skip from validation', () => {
    const trained = trainAcceptanceHead(examples(1200, 1), E, { trainedOn: 'synthetic' });
    const test = examples(300, 2);
    const scores = test.map((x) => trained.head.suggestion(x.state!));
    assert.ok(auc(scores, test.map(isExact))! > 0.85);
    const promptScores = test.map((x) => trained.head.prompt(x.promptState!)!);
    assert.ok(auc(promptScores, test.map(isExact))! > 0.75);
    assert.ok(trained.validation.threshold > 0, 'a threshold that raises precision');
    assert.ok(trained.validation.gatedPrecision! > trained.validation.ungatedPrecision!);
    assert.ok(trained.head.meta.skipBelow > 0 && trained.head.meta.skipBelow < 0.5, `skipBelow ${trained.head.meta.skipBelow}`);
    assert.equal(trained.head.meta.examples, 1200);
    assert.equal(trained.head.meta.lambda, 0);
  });
});
