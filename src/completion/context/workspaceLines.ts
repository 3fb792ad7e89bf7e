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
}

interface FileLines {
  readonly lines: readonly string[];
}

/** Per extra text (the live document) and weight, counted at query time. */
export interface ExtraLines {
  readonly lines: readonly string[];
  readonly weight: number;
}

export class WorkspaceLines {
  private readonly files = new Map<string, FileLines>();
  /** First character of a trimmed line → line → count. */
  private readonly buckets = new Map<string, Map<string, number>>();
  /** Line → the line after it (blank lines skipped) → count. */
  private readonly followers = new Map<string, Map<string, number>>();
  /** The last file's own counts, for leaving it out of queries. */
  private excluded: { id: string; lines: readonly string[]; counts: Map<string, number>; pairs: Map<string, Map<string, number>> } | undefined;

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
    return best(counts);
  }

  /**
   * At a line start: the line that most often follows `previous` (trimmed, non-blank) in the
   * indexed files except `exclude`, plus `extra` (weighted); null when `previous` was never
   * followed by anything.
   */
  follow(previous: string, exclude?: string, extra: readonly ExtraLines[] = []): LineMatch | null {
    const own = this.ownCounts(exclude)?.pairs.get(previous);
    const counts = new Map<string, number>();
    for (const [line, count] of this.followers.get(previous) ?? []) {
      const c = count - (own?.get(line) ?? 0);
      if (c > 0) counts.set(line, c);
    }
    for (const { lines, weight } of extra) {
      for (let i = 0; i + 1 < lines.length; i++) {
        if (lines[i] === previous && lines[i + 1] !== '') counts.set(lines[i + 1], (counts.get(lines[i + 1]) ?? 0) + weight);
      }
    }
    return best(counts);
  }

  private ownCounts(id: string | undefined) {
    if (id === undefined) return undefined;
    const file = this.files.get(id);
    if (file === undefined) return undefined;
    if (this.excluded?.id === id && this.excluded.lines === file.lines) return this.excluded;
    const counts = new Map<string, number>();
    const pairs = new Map<string, Map<string, number>>();
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
      let m = this.followers.get(a);
      if (m === undefined) this.followers.set(a, (m = new Map()));
      bump(m, b, d);
      if (m.size === 0) this.followers.delete(a);
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

function countLines(lines: readonly string[], delta: number, line: (l: string, d: number) => void, pair: (a: string, b: string, d: number) => void): void {
  for (let i = 0; i < lines.length; i++) {
    if (lines[i] === '') continue;
    line(lines[i], delta);
    if (i > 0 && lines[i - 1] !== '') pair(lines[i - 1], lines[i], delta);
  }
}

function bump(map: Map<string, number>, key: string, delta: number): void {
  const n = (map.get(key) ?? 0) + delta;
  if (n > 0) map.set(key, n);
  else map.delete(key);
}

function best(counts: Map<string, number>): LineMatch | null {
  let line: string | undefined;
  let count = 0;
  let total = 0;
  for (const [l, c] of counts) {
    total += c;
    if (c > count || (c === count && line !== undefined && l < line)) [line, count] = [l, c];
  }
  return line === undefined ? null : { line, count, total, distinct: counts.size };
}
