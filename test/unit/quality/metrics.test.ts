import { strict as assert } from 'node:assert';
import { editSimilarity, judgedText, levenshtein, percentile, score, type Outcome } from '../../../src/quality/metrics';

describe('quality: metrics', () => {
  it('levenshtein and edit similarity, by hand', () => {
    const table: [string, string, number, number][] = [
      ['', '', 0, 1],
      ['abc', '', 3, 0],
      ['kitten', 'sitting', 3, 1 - 3 / 7],
      ['foo(bar)', 'foo(baz)', 1, 1 - 1 / 8],
      ['return x;', 'return x;', 0, 1],
      ['ab', 'ba', 2, 0],
      ['flaw', 'lawn', 2, 0.5],
    ];
    for (const [a, b, distance, similarity] of table) {
      assert.equal(levenshtein(a, b), distance, `${a} / ${b}`);
      assert.equal(levenshtein(b, a), distance, `${b} / ${a}`);
      assert.ok(Math.abs(editSimilarity(a, b) - similarity) < 1e-12, `${a} / ${b}`);
    }
  });

  it('judges the first line of a suggestion without trailing whitespace', () => {
    assert.equal(judgedText('x + 1;  \n  more'), 'x + 1;');
    assert.equal(judgedText('\n  body'), '');
    assert.equal(judgedText('done \t'), 'done');
  });

  it('nearest-rank percentiles', () => {
    const table: [number[], number, number | null][] = [
      [[], 50, null],
      [[7], 90, 7],
      [[4, 1, 3, 2], 50, 2],
      [[4, 1, 3, 2], 90, 4],
      [[10, 20, 30, 40, 50, 60, 70, 80, 90, 100], 90, 90],
      [[10, 20, 30, 40, 50, 60, 70, 80, 90, 100], 50, 50],
    ];
    for (const [values, p, expected] of table) assert.equal(percentile(values, p), expected, `${values} p${p}`);
  });

  it('scores a set of outcomes', () => {
    const o = (expected: string, suggestion: string, latencyMs: number): Outcome => ({ expected, suggestion, latencyMs });
    const outcomes = [
      o('return x;', 'return x;', 10), // exact (and a prefix of itself)
      o('return x;', 'return x;  \nfoo', 20), // exact: first line, trailing space trimmed
      o('items.map(f)', 'items.', 30), // prefix-correct, not exact: sim 6/12
      o('items.map(f)', 'items.filter(g)', 40), // wrong: filter→map is 6 edits, g→f 1: lev 7, max 15 → sim 8/15
      o('a = 1', '', 50), // not shown
      o('a = 1', '   ', 60), // whitespace: not shown
      o('b = 2', '\nb = 2', 70), // shown, judged on an empty first line: sim 0, not a prefix
      o('c', '', 80), // not shown
    ];
    const s = score(outcomes);
    assert.equal(s.cuts, 8);
    assert.equal(s.shown, 5);
    assert.equal(s.exact, 2);
    assert.equal(s.exactRate, 2 / 8);
    assert.equal(s.shownRate, 5 / 8);
    assert.equal(s.precision, 2 / 5);
    assert.ok(Math.abs(s.editSimilarity! - (1 + 1 + 6 / 12 + 8 / 15 + 0) / 5) < 1e-12);
    assert.equal(s.prefixCorrect, 3 / 5);
    assert.equal(s.latencyP50Ms, 40);
    assert.equal(s.latencyP90Ms, 80);
  });

  it('has no precision, similarity or prefix rate when nothing is shown', () => {
    const s = score([{ expected: 'x', suggestion: '', latencyMs: 1 }]);
    assert.deepEqual([s.exactRate, s.shownRate, s.precision, s.editSimilarity, s.prefixCorrect], [0, 0, null, null, null]);
    const empty = score([]);
    assert.deepEqual([empty.cuts, empty.exactRate, empty.latencyP50Ms], [0, 0, null]);
  });
});
