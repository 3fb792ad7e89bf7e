// The workspace lines index against counting over the files' lines directly, through sets,
// replacements and removals (enough of them to rebuild the index), and what the compact layout
// keeps: exact two-line contexts, nothing of a removed file.
import { strict as assert } from 'node:assert';
import { ALIGN_ABOVE, ALIGN_BELOW, indexedLines, previousSibling, shapeKey, siblingSteps, WorkspaceLines, type ExtraLines, type LineMatch, type MatchContext } from '../../../src/completion/context/workspaceLines';

/**
 * Each non-blank line's next sibling by definition, as a step in indexedLines' numbering (0: none):
 * the first later line at its indentation or shallower, when it is at its indentation and not the
 * next line.
 */
function naiveSiblingSteps(text: string): number[] {
  const indents = text.split('\n').filter((l) => l.trim() !== '').map((l) => l.length - l.trimStart().length);
  return indents.map((d, i) => {
    for (let j = i + 1; j < indents.length; j++) if (indents[j] <= d) return indents[j] === d && j > i + 1 ? j - i : 0;
    return 0;
  });
}

/** The index's answers by definition: every file's lines (but `exclude`) counted at query time. */
class Reference {
  readonly files = new Map<string, string[]>();
  readonly steps = new Map<string, number[]>();

  siblingAfter(sibling: string, typed: string, exclude?: string, extra: readonly ExtraLines[] = []): LineMatch | null {
    const counts = new Map<string, number>();
    const sources = [...[...this.files].filter(([id]) => id !== exclude).map(([id, lines]) => ({ lines, weight: 1, siblingSteps: this.steps.get(id) })), ...extra];
    for (const { lines, weight, siblingSteps: steps } of sources) {
      for (let i = 0; i < lines.length; i++) {
        const next = steps && steps[i] > 0 ? lines[i + steps[i]] : '';
        if (lines[i] === sibling && next !== '' && next.length > typed.length && next.startsWith(typed)) counts.set(next, (counts.get(next) ?? 0) + weight);
      }
    }
    return pick(counts, 'sibling');
  }

  aligned(above: readonly string[], below: readonly string[], typed: string, exclude?: string): LineMatch | null {
    const up = above.slice(-ALIGN_ABOVE).reverse();
    const down = below.slice(0, ALIGN_BELOW);
    if (up.length === 0 || up[0] === '') return null;
    const best = new Map<string, { agreement: number; count: number }>();
    let total = 0;
    for (const [id, lines] of this.files) {
      if (id === exclude) continue;
      for (let i = 0; i + 1 < lines.length; i++) {
        const next = lines[i + 1];
        if (lines[i] !== up[0] || next === '' || !(next.length > typed.length && next.startsWith(typed))) continue;
        total++;
        let agreement = 1;
        while (agreement < up.length && up[agreement] !== '' && lines[i - agreement] === up[agreement]) agreement++;
        for (let k = 0; k < down.length && down[k] !== '' && lines[i + 2 + k] === down[k]; k++) agreement++;
        const seen = best.get(next);
        if (seen === undefined || agreement > seen.agreement) best.set(next, { agreement, count: 1 });
        else if (agreement === seen.agreement) seen.count++;
      }
    }
    if (best.size === 0) return null;
    const [line, { agreement, count }] = [...best].sort((a, b) => b[1].agreement - a[1].agreement || b[1].count - a[1].count || (a[0] < b[0] ? -1 : 1))[0];
    return { line, count, total, distinct: best.size, context: 'aligned', agreement };
  }

  complete(typed: string, exclude?: string, extra: readonly ExtraLines[] = []): LineMatch | null {
    if (typed === '') return null;
    const counts = new Map<string, number>();
    for (const { lines, weight } of this.sources(exclude, extra)) {
      for (const l of lines) if (l.length > typed.length && l.startsWith(typed)) counts.set(l, (counts.get(l) ?? 0) + weight);
    }
    return pick(counts, 'typed');
  }

  follow(previous: string, exclude?: string, extra: readonly ExtraLines[] = [], before?: string | null): LineMatch | null {
    const after = (test: (lines: readonly string[], i: number) => boolean): Map<string, number> => {
      const counts = new Map<string, number>();
      for (const { lines, weight } of this.sources(exclude, extra)) {
        for (let i = 1; i < lines.length; i++) {
          if (lines[i] !== '' && lines[i - 1] !== '' && test(lines, i)) counts.set(lines[i], (counts.get(lines[i]) ?? 0) + weight);
        }
      }
      return counts;
    };
    if (before) {
      const two = after((l, i) => i >= 2 && l[i - 2] === before && l[i - 1] === previous);
      if (two.size > 0) return pick(two, 'two-lines');
    }
    const one = after((l, i) => l[i - 1] === previous);
    if (one.size > 0) return pick(one, 'line');
    return pick(after((l, i) => shapeKey(l[i - 1]) === shapeKey(previous)), 'shape');
  }

  private sources(exclude: string | undefined, extra: readonly ExtraLines[]): { lines: readonly string[]; weight: number }[] {
    return [...[...this.files].filter(([id]) => id !== exclude).map(([, lines]) => ({ lines, weight: 1 })), ...extra];
  }
}

function pick(counts: Map<string, number>, context: MatchContext): LineMatch | null {
  if (counts.size === 0) return null;
  const sorted = [...counts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
  let total = 0;
  for (const c of counts.values()) total += c;
  return { line: sorted[0][0], count: sorted[0][1], total, distinct: counts.size, context, ...(sorted.length > 1 ? { runnerUp: { line: sorted[1][0], count: sorted[1][1] } } : {}) };
}

/** A seeded generator of small texts over few distinct lines, so that contexts repeat. */
function texts(seed: number): { text: () => string; line: () => string; pick: (n: number) => number } {
  let x = seed >>> 0;
  const pickN = (n: number): number => (x = (Math.imul(x, 1103515245) + 12345) >>> 0) % n;
  const vocabulary = ['import os', 'import sys', 'return x', 'return y;', '}', 'x = 1', 'x = 2', 'self.a = a', 'self.b = b', '* @see {@link m}', 'é = 1', '𝒳 = 2'];
  const line = (): string => {
    const r = pickN(20);
    if (r === 0) return 'q'.repeat(201); // over-long: breaks the chain
    if (r === 1) return '';
    if (r === 2) return `return z${pickN(50)}`; // rarer lines, some new on each edit
    return vocabulary[pickN(vocabulary.length)];
  };
  const text = (): string => Array.from({ length: 1 + pickN(30) }, () => `${' '.repeat(pickN(3) * 2)}${line()}`).join(pickN(2) === 0 ? '\n' : '\r\n');
  return { text, line: () => line().trim(), pick: pickN };
}

describe('workspace lines index (compact layout)', () => {
  it('answers as counting over the files does, through sets, replacements and removals (and rebuilds)', () => {
    const g = texts(3);
    const index = new WorkspaceLines();
    const ref = new Reference();
    const ids = Array.from({ length: 40 }, (_, i) => `/w/f${i}.py`);
    let queries = 0, siblingAnswers = 0, alignedAnswers = 0, elsewhereAnswers = 0;
    for (let step = 0; step < 1500; step++) {
      const id = ids[g.pick(ids.length)];
      if (g.pick(5) === 0) {
        index.removeFile(id);
        ref.files.delete(id);
        ref.steps.delete(id);
      } else {
        const text = g.text();
        index.setFile(id, text);
        ref.files.set(id, indexedLines(text));
        ref.steps.set(id, naiveSiblingSteps(text));
      }
      assert.equal(index.fileCount, ref.files.size);
      if (step % 5 !== 0) continue;
      const exclude = g.pick(3) === 0 ? ids[g.pick(ids.length)] : undefined;
      const extraText = g.text();
      const extra: ExtraLines[] = g.pick(2) === 0 ? [{ lines: indexedLines(extraText), weight: 4, siblingSteps: naiveSiblingSteps(extraText) }] : [];
      const previous = g.line() || 'x = 1';
      const before = g.pick(3) === 0 ? null : g.line();
      const typed = g.line().slice(0, 1 + g.pick(6));
      assert.deepEqual(index.follow(previous, exclude, extra, before), ref.follow(previous, exclude, extra, before), `follow ${JSON.stringify([previous, before, exclude])} at step ${step}`);
      assert.deepEqual(index.complete(typed, exclude, extra), ref.complete(typed, exclude, extra), `complete ${JSON.stringify([typed, exclude])} at step ${step}`);
      const siblingTyped = typed.slice(0, g.pick(3));
      assert.deepEqual(index.siblingAfter(previous, siblingTyped, exclude, extra), ref.siblingAfter(previous, siblingTyped, exclude, extra), `siblingAfter ${JSON.stringify([previous, siblingTyped, exclude])} at step ${step}`);
      if (index.siblingAfter(previous, siblingTyped, exclude, extra) !== null) siblingAnswers++;
      const above = indexedLines(g.text()), below = indexedLines(g.text());
      const aligned = index.aligned(above, below, siblingTyped, exclude);
      assert.deepEqual(aligned, ref.aligned(above, below, siblingTyped, exclude), `aligned ${JSON.stringify([above, below, siblingTyped, exclude])} at step ${step}`);
      if ((aligned?.agreement ?? 0) >= 3) alignedAnswers++;
      const probe = g.line().trim();
      if (probe !== '') {
        const elsewhere = [...ref.files].some(([id, ls]) => id !== exclude && ls.includes(probe));
        assert.equal(index.occursElsewhere(probe, exclude), elsewhere, `occursElsewhere ${JSON.stringify([probe, exclude])} at step ${step}`);
        if (elsewhere) elsewhereAnswers++;
      }
      queries++;
    }
    assert.ok(queries >= 300);
    assert.ok(siblingAnswers >= 30, `siblingAfter answered ${siblingAnswers} times`);
    assert.ok(alignedAnswers >= 30, `aligned agreed on 3 lines or more ${alignedAnswers} times`);
    assert.ok(elsewhereAnswers >= 30 && elsewhereAnswers <= queries - 30, `occursElsewhere said yes ${elsewhereAnswers} of ${queries} times`);
  });

  it('aligned: the line a parallel file has where the lines around it agree longest, not the commonest follower', () => {
    const index = new WorkspaceLines();
    // `expect(r.ok).toBe(false);` is followed by `.length).toBe(2)` in two files, by `.length).toBe(1)`
    // in the one whose test has the same name: the follower of one line says 2, the alignment 1.
    const test = (name: string, n: number) => `test("${name}", () => {\n  const r = check();\n  expect(r.ok).toBe(false);\n  expect(r.issues.length).toBe(${n});\n});\n`;
    index.setFile('v3/set.test.ts', test('fails when set is small', 1) + test('other', 2));
    index.setFile('v3/map.test.ts', test('fails when map is small', 2));
    index.setFile('v4/set.test.ts', 'stale copy of the document');
    const above = ['test("fails when set is small", () => {', 'const r = check();', 'expect(r.ok).toBe(false);'];
    assert.equal(index.follow(above[2])!.line, 'expect(r.issues.length).toBe(2);');
    const m = index.aligned(above, ['});'], '', 'v4/set.test.ts')!;
    assert.deepEqual([m.line, m.agreement, m.count, m.total, m.distinct, m.context], ['expect(r.issues.length).toBe(1);', 4, 1, 3, 2, 'aligned']);
    // What is typed filters the followers; no line above, or one no file has, finds nothing.
    assert.equal(index.aligned(above, [], 'expect(r.issues.length).toBe(2', 'v4/set.test.ts')!.agreement, 2);
    assert.equal(index.aligned([], ['});'], ''), null);
    assert.equal(index.aligned(['never seen'], [], ''), null);
  });

  it('siblings: the next line at a line\'s indentation after deeper ones, and the previous one of the cursor line', () => {
    const text = 'class A:\n    def start(self):\n        x = 1\n\n        y = 2\n    def stop(self):\n        pass\n    z = 3\nw = 4\n';
    // Lines: class A, def start, x, y, def stop, pass, z, w. `def start` -> `def stop` (over x, y);
    // `def stop` -> `z = 3`; `class A` -> `w = 4`; x -> y and pass -> nothing are adjacent or end a block.
    assert.deepEqual(siblingSteps(text), [7, 3, 0, 0, 2, 0, 0, 0]);
    assert.deepEqual(siblingSteps(text), naiveSiblingSteps(text));
    assert.equal(previousSibling('class A:\n    def start(self):\n        x = 1\n\n', 4), 'def start(self):');
    assert.equal(previousSibling('class A:\n    def start(self):\n', 4), null, 'the line right above is a parent');
    assert.equal(previousSibling('    a = 1\n    b = 2\n', 4), null, 'the line right above is at the same indentation: the lookups\' line above');
    assert.equal(previousSibling('  if x:\n      y\n', 4), null, 'a shallower line comes first');
    assert.equal(previousSibling('', 0), null);
    const lines = new WorkspaceLines();
    lines.setFile('f', text);
    lines.setFile('g', 'class B:\n    def start(self):\n        return\n    def stop(self, now):\n');
    assert.deepEqual(lines.siblingAfter('def start(self):', ''), { line: 'def stop(self):', count: 1, total: 2, distinct: 2, context: 'sibling', runnerUp: { line: 'def stop(self, now):', count: 1 } });
    assert.equal(lines.siblingAfter('def start(self):', 'def stop(self, ')?.line, 'def stop(self, now):');
    assert.equal(lines.siblingAfter('def start(self):', '', 'g')?.distinct, 1, 'the excluded file is not counted');
    assert.equal(lines.siblingAfter('x = 1', ''), null, 'x = 1 ends its block');
    const doc = 'def start(self):\n    go()\ndef halt(self):\n';
    assert.equal(lines.siblingAfter('def start(self):', '', undefined, [{ lines: indexedLines(doc), weight: 4, siblingSteps: siblingSteps(doc) }])?.line, 'def halt(self):');
    assert.equal(lines.siblingAfter('def start(self):', '', undefined, [{ lines: indexedLines(doc), weight: 4 }])?.count, 1, 'extra lines without steps have no sibling pairs');
  });

  it('two lines of context are matched exactly, not by a hash of their text', () => {
    const lines = new WorkspaceLines();
    lines.setFile('f', 'ab\nc\nX\n');
    lines.setFile('g', 'a\nbc\nY\n');
    assert.deepEqual(lines.follow('c', undefined, [], 'ab'), { line: 'X', count: 1, total: 1, distinct: 1, context: 'two-lines' });
    assert.deepEqual(lines.follow('bc', undefined, [], 'a'), { line: 'Y', count: 1, total: 1, distinct: 1, context: 'two-lines' });
    assert.equal(lines.follow('bc', undefined, [], 'ab')?.context, 'line');
  });

  it('a file edited many times keeps only its last text, and the index stays small', () => {
    const lines = new WorkspaceLines();
    lines.setFile('other', 'x = 1\ny = 2\n');
    for (let v = 0; v < 2000; v++) lines.setFile('doc', `x = 1\nline ${v}\n${'z = 0\n'.repeat(5)}`);
    assert.equal(lines.complete('line ')?.line, 'line 1999');
    assert.equal(lines.complete('line ')?.total, 1, 'the older versions are gone');
    assert.deepEqual(lines.follow('x = 1'), { line: 'line 1999', count: 1, total: 2, distinct: 2, context: 'line', runnerUp: { line: 'y = 2', count: 1 } });
    assert.equal(lines.complete('z = ')?.count, 5);
    lines.removeFile('doc');
    assert.deepEqual(lines.follow('x = 1'), { line: 'y = 2', count: 1, total: 1, distinct: 1, context: 'line' });
    assert.equal(lines.complete('line '), null);
    assert.equal(lines.fileCount, 1);
  });

  it('lines are compared by their UTF-16 code units (non-ASCII and astral lines)', () => {
    const lines = new WorkspaceLines();
    lines.setFile('f', '𝒳 = 1\n𝒳 = 2\n𝒳 = 2\né\n');
    assert.deepEqual(lines.complete('𝒳'), { line: '𝒳 = 2', count: 2, total: 3, distinct: 2, context: 'typed', runnerUp: { line: '𝒳 = 1', count: 1 } });
    assert.equal(lines.follow('𝒳 = 1')?.line, '𝒳 = 2');
    assert.equal(lines.follow('𝒳 = 2', undefined, [], '𝒳 = 1')?.line, '𝒳 = 2');
  });
});
