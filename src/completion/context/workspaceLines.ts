/**
 * The workspace's lines, for whole-line candidates beside the model's suggestion: code repeats
 * whole lines across a project (imports, decorators, guard clauses, a module's idioms), and the
 * quality benchmark's line-lookup baseline, which copies the commonest workspace line that starts
 * with what is typed, is right at cuts where the model is not (bench/QUALITY.md, "Workspace
 * candidates").
 *
 * Lines are compared trimmed (indentation never decides a match); blank lines are skipped, and so
 * are lines longer than MAX_LINE (data, not code people retype). Kept per file, so a file's lines
 * can be replaced or removed as it is edited, and one file (the document being completed, whose
 * copy on disk is stale or, in the benchmark, holds the very line being predicted) can be left out
 * of a query.
 */

/** Longer trimmed lines are not indexed. */
export const MAX_LINE = 200;

/** A line and how often it was seen, with the evidence a choice rule weighs. */
export interface LineMatch {
  /** The whole trimmed line. */
  readonly line: string;
  /** Weighted occurrences of this line (after the line above, at a line start). */
  readonly count: number;
  /** Weighted occurrences of every line that matched (the count's denominator). */
  readonly total: number;
  /** Distinct lines that matched. */
  readonly distinct: number;
  /**
   * What the match is conditioned on: what is typed on the line (`typed`); at a line start, the two
   * lines above (`two-lines`), the line above (`line`), or only the line above's shape (`shape`: its
   * first word and last character).
   */
  readonly context: MatchContext;
}

interface FileLines {
  readonly lines: readonly string[];
}

export type MatchContext = 'typed' | 'two-lines' | 'line' | 'shape';

/** Per extra text (the live document) and weight, counted at query time. */
export interface ExtraLines {
  readonly lines: readonly string[];
  readonly weight: number;
}

export class WorkspaceLines {
  private readonly files = new Map<string, FileLines>();
  /** First character of a trimmed line → line → count. */
  private readonly buckets = new Map<string, Map<string, number>>();
  /**
   * Context → the lines after it (blank lines skipped) with counts. The context is the line above
   * (the line itself is the key), the two lines above (a 52-bit hash of them: no second copy of the
   * text), or the line above's shape (shapeKey). Most contexts are followed by one line once, kept
   * as that line alone.
   */
  private readonly followers = new Map<ContextKey, Slot>();
  /** The last file's own counts, for leaving it out of queries. */
  private excluded: { id: string; lines: readonly string[]; counts: Map<string, number>; pairs: Map<ContextKey, Map<string, number>> } | undefined;

  get fileCount(): number {
    return this.files.size;
  }

  has(id: string): boolean {
    return this.files.has(id);
  }

  /** Adds or replaces a file's text. */
  setFile(id: string, text: string): void {
    this.removeFile(id);
    const lines = indexedLines(text);
    this.files.set(id, { lines });
    this.add(lines, +1);
  }

  removeFile(id: string): void {
    const file = this.files.get(id);
    if (file === undefined) return;
    this.files.delete(id);
    this.add(file.lines, -1);
    if (this.excluded?.id === id) this.excluded = undefined;
  }

  /**
   * The most frequent line starting with `typed` (trimmed at the start, non-empty) that goes on
   * past it, over the indexed files except `exclude` plus `extra` (weighted); null when none does.
   * Ties go to the line first in code-unit order.
   */
  complete(typed: string, exclude?: string, extra: readonly ExtraLines[] = []): LineMatch | null {
    if (typed === '') return null;
    const own = this.ownCounts(exclude);
    const counts = new Map<string, number>();
    const bucket = this.buckets.get(typed[0]);
    if (bucket !== undefined) {
      for (const [line, count] of bucket) {
        if (line.length <= typed.length || !line.startsWith(typed)) continue;
        const c = count - (own?.counts.get(line) ?? 0);
        if (c > 0) counts.set(line, c);
      }
    }
    for (const { lines, weight } of extra) {
      for (const line of lines) {
        if (line.length > typed.length && line.startsWith(typed)) counts.set(line, (counts.get(line) ?? 0) + weight);
      }
    }
    return best(counts, 'typed');
  }

  /**
   * At a line start: the line that most often follows the two lines above (`before`, then
   * `previous`; trimmed, non-blank) in the indexed files except `exclude`, plus `extra` (weighted);
   * when those two never occurred together with a line after them, the line that most often
   * follows `previous` alone; when `previous` was never followed either, the line that most often
   * follows a line of its shape (first word, last character: `* @see …}`, `return …;`). A back-off,
   * as in an n-gram model of lines. Null when nothing matched.
   */
  follow(previous: string, exclude?: string, extra: readonly ExtraLines[] = [], before?: string | null): LineMatch | null {
    const own = this.ownCounts(exclude);
    const gather = (context: string[], shape = false): Map<string, number> => {
      const key = shape ? shapeKey(context[0]) : context.length === 1 ? context[0] : pairKey(context[0], context[1]);
      const mine = own?.pairs.get(key);
      const counts = new Map<string, number>();
      for (const [line, count] of slotEntries(this.followers.get(key))) {
        const c = count - (mine?.get(line) ?? 0);
        if (c > 0) counts.set(line, c);
      }
      const n = context.length;
      for (const { lines, weight } of extra) {
        for (let i = n; i < lines.length; i++) {
          if (lines[i] === '' || lines[i - 1] === '') continue;
          if (shape ? shapeKey(lines[i - 1]) !== key : lines[i - 1] !== context[n - 1] || (n === 2 && lines[i - 2] !== context[0])) continue;
          counts.set(lines[i], (counts.get(lines[i]) ?? 0) + weight);
        }
      }
      return counts;
    };
    if (before !== undefined && before !== null && before !== '') {
      const two = gather([before, previous]);
      if (two.size > 0) return best(two, 'two-lines');
    }
    const one = gather([previous]);
    return one.size > 0 ? best(one, 'line') : best(gather([previous], true), 'shape');
  }

  private ownCounts(id: string | undefined) {
    if (id === undefined) return undefined;
    const file = this.files.get(id);
    if (file === undefined) return undefined;
    if (this.excluded?.id === id && this.excluded.lines === file.lines) return this.excluded;
    const counts = new Map<string, number>();
    const pairs = new Map<ContextKey, Map<string, number>>();
    countLines(file.lines, 1, (line, d) => counts.set(line, (counts.get(line) ?? 0) + d), (a, b, d) => {
      let m = pairs.get(a);
      if (m === undefined) pairs.set(a, (m = new Map()));
      m.set(b, (m.get(b) ?? 0) + d);
    });
    this.excluded = { id, lines: file.lines, counts, pairs };
    return this.excluded;
  }

  private add(lines: readonly string[], delta: number): void {
    countLines(lines, delta, (line, d) => {
      let bucket = this.buckets.get(line[0]);
      if (bucket === undefined) this.buckets.set(line[0], (bucket = new Map()));
      bump(bucket, line, d);
    }, (a, b, d) => {
      bumpSlot(this.followers, a, b, d);
    });
  }
}

/** A text's trimmed non-blank lines, in order; lines over MAX_LINE break the chain of followers as '' would not. */
export function indexedLines(text: string): string[] {
  const out: string[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line !== '') out.push(line.length > MAX_LINE ? '' : line);
  }
  return out;
}

/** Each line, and each line after its one- and two-line contexts (blank lines skipped, over-long ones break them). */
function countLines(lines: readonly string[], delta: number, line: (l: string, d: number) => void, pair: (context: ContextKey, next: string, d: number) => void): void {
  for (let i = 0; i < lines.length; i++) {
    if (lines[i] === '') continue;
    line(lines[i], delta);
    if (i > 0 && lines[i - 1] !== '') {
      pair(lines[i - 1], lines[i], delta);
      pair(shapeKey(lines[i - 1]), lines[i], delta);
      if (i > 1 && lines[i - 2] !== '') pair(pairKey(lines[i - 2], lines[i - 1]), lines[i], delta);
    }
  }
}

/**
 * A line's shape: its first word (with what precedes it: `* @see`, `return`, `self`) and last
 * character, behind a line break so that it never equals a line.
 */
export function shapeKey(line: string): string {
  const first = /^\W*\w*/.exec(line)?.[0] ?? '';
  return `\n${first}\n${line.slice(-1)}`;
}

/** A line (one line of context), a shape (shapeKey) or the hash of two lines (pairKey). */
type ContextKey = string | number;
/** The lines after a context: one line seen once, or counts. */
type Slot = string | Map<string, number>;

/** Two lines of context as a 52-bit integer (two 32-bit FNV-1a hashes with different seeds, 20 + 32 bits). */
export function pairKey(a: string, b: string): number {
  let h1 = 0x811c9dc5, h2 = 0x01000193 ^ 0x5bd1e995;
  const mix = (text: string) => {
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      h1 = Math.imul(h1 ^ c, 16777619) >>> 0;
      h2 = Math.imul(h2 ^ c, 2246822519) >>> 0;
    }
  };
  mix(a);
  h1 = Math.imul(h1 ^ 10, 16777619) >>> 0;
  h2 = Math.imul(h2 ^ 10, 2246822519) >>> 0;
  mix(b);
  return (h1 & 0xfffff) * 4294967296 + h2;
}

function slotEntries(slot: Slot | undefined): Iterable<[string, number]> {
  return slot === undefined ? [] : typeof slot === 'string' ? [[slot, 1]] : slot;
}

function bumpSlot(map: Map<ContextKey, Slot>, key: ContextKey, line: string, delta: number): void {
  const slot = map.get(key);
  if (slot === undefined) {
    if (delta === 1) map.set(key, line);
    else if (delta > 0) map.set(key, new Map([[line, delta]]));
    return;
  }
  if (typeof slot === 'string') {
    if (delta < 0) {
      if (slot === line && delta === -1) map.delete(key);
      return;
    }
    map.set(key, slot === line ? new Map([[line, 1 + delta]]) : new Map([[slot, 1], [line, delta]]));
    return;
  }
  bump(slot, line, delta);
  if (slot.size === 0) map.delete(key);
  else if (slot.size === 1 && slot.get(line) === 1) map.set(key, line);
}

function bump(map: Map<string, number>, key: string, delta: number): void {
  const n = (map.get(key) ?? 0) + delta;
  if (n > 0) map.set(key, n);
  else map.delete(key);
}

function best(counts: Map<string, number>, context: MatchContext): LineMatch | null {
  let line: string | undefined;
  let count = 0;
  let total = 0;
  for (const [l, c] of counts) {
    total += c;
    if (c > count || (c === count && line !== undefined && l < line)) [line, count] = [l, c];
  }
  return line === undefined ? null : { line, count, total, distinct: counts.size, context };
}
