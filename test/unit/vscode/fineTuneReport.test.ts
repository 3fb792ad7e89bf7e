import { strict as assert } from 'node:assert';
import type { FineTuneResultJson } from '../../../src/training/fineTuneProtocol';
import { resultLine } from '../../../src/vscode/fineTune/fineTuneText';
import { renderReportHtml, type ReportData } from '../../../src/vscode/fineTune/reportHtml';

const ev = (l2: number, exact: number) => ({ l1: 3, l2, perplexity: Math.exp(l2), exact_match: exact / 200, exact_matches: exact, cases: 200 });
const result = (improved: boolean): FineTuneResultJson => ({
  method: 'full',
  steps: 590,
  tokens: 500_000,
  tokens_per_s: 700,
  train: { l1: 3, l2: 4, l3: 5.5 },
  eval: { before: ev(4.85, 2), after: ev(3.96, 4) },
  quality: {
    before: { cuts: 200, exact: 46, shown: 192, edit_similarity: 0.42 },
    after: { cuts: 200, exact: improved ? 47 : 45, shown: 191, edit_similarity: 0.43 },
    best_baseline: { cuts: 200, exact: 51, shown: 199, edit_similarity: 0.4 },
  },
  verdict: improved
    ? { improved: true, reason: 'next-line exact match rose from 46 to 47 of 200 held-out cuts, by the completion pipeline without the acceptance head (held-out loss 4.85 → 3.96)' }
    : { improved: false, reason: 'next-line exact match fell from 46 to 45 of 200 held-out cuts, by the completion pipeline without the acceptance head (held-out loss 4.85 → 3.96)' },
  out: '/tmp/adapter',
});
const data = (improved: boolean): ReportData => ({
  modelLabel: 'embedded',
  folder: '/w',
  adapterDir: '/tmp/adapter',
  finishedAt: new Date(0),
  durationSeconds: 840,
  result: result(improved),
  lossCurve: [{ step: 1, l3: 7 }, { step: 2, l3: 6, validationL2: 4.5 }],
  report: undefined,
});
const assets = { scriptUri: 's.js', styleUri: 's.css', cspSource: 'vscode-resource:', nonce: 'abc' };

describe('fine-tune report page', () => {
  it('says in plain words when the adapter did not help, and offers Use It Anyway', () => {
    const html = renderReportHtml(data(false), assets);
    assert.match(html, /did <strong>not<\/strong> improve suggestions on the held-out files: next-line exact match fell from 46 to 45 of 200/);
    assert.match(html, /but not switched on: suggestions still come from the base model/);
    assert.match(html, /<button id="use-anyway" type="button">Use It Anyway<\/button>/);
  });

  it('says so when it helped, without the button; exact match as counts with the change', () => {
    const html = renderReportHtml(data(true), assets);
    assert.match(html, /The adapter improved suggestions on the held-out files: next-line exact match rose from 46 to 47 of 200/);
    assert.ok(!html.includes('use-anyway'));
    assert.match(html, /Suggestions exactly right.*?<td class="num">46 of 200<\/td><td class="num">47 of 200<\/td><td class="num better">\+1<\/td>/s);
    assert.match(html, /Next-line exact match.*?<td class="num">2 of 200<\/td><td class="num">4 of 200<\/td><td class="num better">\+2<\/td>/s);
    // The chart gets the validation points and the held-out L2 before and after.
    assert.match(html, /"validationL2":4\.5/);
    assert.match(html, /"heldOut":\{"before":4\.85,"after":3\.96,"step":2\}/);
  });

  it('describes the adapter\'s acceptance head in a sentence when the job trained one', () => {
    const head = {
      out: '/tmp/adapter', examples: 412, exact: 97, fromSuggestionLog: 12, skipBelow: 0.04, seconds: 60,
      validation: { auc: 0.81, threshold: 0.15, ungatedPrecision: 0.24, gatedPrecision: 0.52, gatedShownRate: 0.41 },
    };
    const html = renderReportHtml({ ...data(true), result: { ...result(true), head } }, assets);
    assert.match(html, /<h2>What is worth showing<\/h2>\n<p>Acceptance head: 412 shown suggestions \(97 exactly right, 12 from your accepts and rejects in the editor\); on its validation files AUC 0\.81, precision 24% ungated and 52% at confidence 0\.15, where it shows 41% of suggestions\.<\/p>/);
    assert.ok(!renderReportHtml(data(true), assets).includes('What is worth showing'), 'no head, no section');
    // Judged with the heads, the exact-match row says it counts what the editor shows.
    const judgedWithHeads = renderReportHtml({ ...data(true), result: { ...result(true), head, quality: { ...result(true).quality!, head: true } } }, assets);
    assert.match(judgedWithHeads, /by the completion pipeline as the editor shows it \(the acceptance head deciding\)/);
    assert.match(html, /by the completion pipeline without the acceptance head/);
  });

  it("the notification's line uses the pipeline's counts", () => {
    assert.equal(resultLine(result(true)), 'held-out loss 4.85 → 3.96, next-line exact match 46 → 47 of 200');
    assert.equal(resultLine({ eval: result(true).eval }), 'held-out loss 4.85 → 3.96, next-line exact match 2 of 200 → 4 of 200');
  });
});
