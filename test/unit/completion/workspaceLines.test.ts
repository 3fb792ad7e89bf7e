// The workspace lines index against counting over the files' lines directly, through sets,
// replacements and removals (enough of them to rebuild the index), and what the compact layout
// keeps: exact two-line contexts, nothing of a removed file.
import { strict as assert } from 'node:assert';
import { indexedLines, shapeKey, WorkspaceLines, type ExtraLines, type LineMatch, type MatchContext } from '../../../src/completion/context/workspaceLines';

/** The index's answers by definition: every file's lines (but `exclude`) counted at query time. */
class Reference {
  readonly files = new Map<string, string[]>();

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
    let queries = 0;
    for (let step = 0; step < 1500; step++) {
      const id = ids[g.pick(ids.length)];
      if (g.pick(5) === 0) {
        index.removeFile(id);
        ref.files.delete(id);
      } else {
        const text = g.text();
        index.setFile(id, text);
        ref.files.set(id, indexedLines(text));
      }
      assert.equal(index.fileCount, ref.files.size);
      if (step % 5 !== 0) continue;
      const exclude = g.pick(3) === 0 ? ids[g.pick(ids.length)] : undefined;
      const extra: ExtraLines[] = g.pick(2) === 0 ? [{ lines: indexedLines(g.text()), weight: 4 }] : [];
      const previous = g.line() || 'x = 1';
      const before = g.pick(3) === 0 ? null : g.line();
      const typed = g.line().slice(0, 1 + g.pick(6));
      assert.deepEqual(index.follow(previous, exclude, extra, before), ref.follow(previous, exclude, extra, before), `follow ${JSON.stringify([previous, before, exclude])} at step ${step}`);
      assert.deepEqual(index.complete(typed, exclude, extra), ref.complete(typed, exclude, extra), `complete ${JSON.stringify([typed, exclude])} at step ${step}`);
      queries++;
    }
    assert.ok(queries >= 300);
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
