import { strict as assert } from 'node:assert';
import type { EvalJson, QualityJson } from '../../../src/training/fineTuneProtocol';
import { judgeAdapter } from '../../../src/training/verdict';

const ev = (l2: number, exact: number, cases = 200): EvalJson => ({ l1: 3, l2, perplexity: Math.exp(l2), exact_match: exact / cases, exact_matches: exact, cases });
const q = (before: number, after: number): QualityJson => ({
  before: { cuts: 200, exact: before, shown: 190, edit_similarity: 0.4 },
  after: { cuts: 200, exact: after, shown: 190, edit_similarity: 0.4 },
  best_baseline: { cuts: 200, exact: 50, shown: 195, edit_similarity: 0.4 },
});

describe('fine-tune verdict: switched on only when held-out quality improved', () => {
  it('exact match decides first; lower loss with exact match worse is not an improvement', () => {
    // The run the issue describes: L2 5.70 → 5.38, exact match 5 → 3 of 200.
    const worse = judgeAdapter(ev(5.7, 5), ev(5.38, 3));
    assert.equal(worse.improved, false);
    assert.equal(worse.reason, 'next-line exact match fell from 5 to 3 of 200 held-out cuts (held-out loss 5.70 → 5.38)');
    assert.equal(judgeAdapter(ev(5.7, 5), ev(5.9, 6)).improved, true);
  });

  it('with exact match unchanged, lower held-out loss counts; equal or higher does not', () => {
    const lower = judgeAdapter(ev(5.7, 4), ev(5.5, 4));
    assert.equal(lower.improved, true);
    assert.match(lower.reason, /stayed at 4 of 200 held-out cuts, and held-out loss 5\.70 → 5\.50 fell/);
    const same = judgeAdapter(ev(5.7, 4), ev(5.7, 4));
    assert.equal(same.improved, false);
    assert.match(same.reason, /did not fall/);
  });

  it("the quality judge's counts (the editor's pipeline) win over the evaluation's", () => {
    const v = judgeAdapter(ev(5.7, 5), ev(5.3, 9), q(43, 40));
    assert.equal(v.improved, false);
    assert.equal(v.reason, 'next-line exact match fell from 43 to 40 of 200 held-out cuts, by the completion pipeline without the acceptance head (held-out loss 5.70 → 5.30)');
    assert.equal(judgeAdapter(ev(5.7, 5), ev(5.9, 1), q(43, 60)).improved, true);
  });

  it('compares rates when an older result has no counts', () => {
    const old = (l2: number, rate: number): EvalJson => ({ l1: 3, l2, perplexity: Math.exp(l2), exact_match: rate });
    assert.equal(judgeAdapter(old(5.7, 0.025), old(5.38, 0.015)).improved, false);
    assert.equal(judgeAdapter(old(5.7, 0.025), old(5.38, 0.025)).improved, true);
  });
});
