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

  it('with the head, an adapter that shows more new wrong suggestions than new right ones stays off', () => {
    const judged = (exact: [number, number], shown: [number, number]): QualityJson => ({
      before: { cuts: 500, exact: exact[0], shown: shown[0], edit_similarity: 0.5 },
      after: { cuts: 500, exact: exact[1], shown: shown[1], edit_similarity: 0.5 },
      best_baseline: { cuts: 500, exact: 49, shown: 480, edit_similarity: 0.4 },
      head: true,
    });
    // werkzeug's default fine-tune: exact unchanged, the gate let 25 more wrong lines through, loss fell.
    const junk = judgeAdapter(ev(4.19, 8), ev(3.38, 12), judged([71, 71], [186, 211]));
    assert.equal(junk.improved, false);
    assert.equal(
      junk.reason,
      'next-line exact match stayed at 71 of 500 held-out cuts, by the completion pipeline with its acceptance head, but wrong suggestions shown went from 115 to 140: more new wrong suggestions than new right ones (held-out loss 4.19 → 3.38)',
    );
    // A gain paid for with more junk than it brings.
    const costly = judgeAdapter(ev(4, 8), ev(3, 12), judged([60, 62], [100, 120]));
    assert.equal(costly.improved, false);
    assert.match(costly.reason, /rose from 60 to 62 of 500 .* but wrong suggestions shown went from 40 to 58/);
    // rich's: 8 more right lines for 4 more wrong ones.
    assert.equal(judgeAdapter(ev(3.97, 5), ev(2.88, 14), judged([194, 202], [309, 321])).improved, true);
    // The same right lines with less junk is a gain even when the loss rose.
    const cleaner = judgeAdapter(ev(4, 8), ev(4.1, 8), judged([71, 71], [186, 170]));
    assert.equal(cleaner.improved, true);
    assert.match(cleaner.reason, /stayed at 71 of 500 .*, and wrong suggestions shown went from 115 to 99/);
    // Same right, same wrong: the loss decides, as before.
    assert.equal(judgeAdapter(ev(4, 8), ev(3.9, 8), judged([71, 71], [186, 186])).improved, true);
    assert.equal(judgeAdapter(ev(4, 8), ev(4.1, 8), judged([71, 71], [186, 186])).improved, false);
  });

  it('compares rates when an older result has no counts', () => {
    const old = (l2: number, rate: number): EvalJson => ({ l1: 3, l2, perplexity: Math.exp(l2), exact_match: rate });
    assert.equal(judgeAdapter(old(5.7, 0.025), old(5.38, 0.015)).improved, false);
    assert.equal(judgeAdapter(old(5.7, 0.025), old(5.38, 0.025)).improved, true);
  });
});
