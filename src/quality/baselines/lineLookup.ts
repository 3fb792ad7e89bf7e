/**
 * Baseline (b), line lookup: the most frequent line of the training files that starts with what
 * is typed (lines compared without indentation or trailing whitespace), minus what is typed. At a
 * line start, the line that most often follows the line above the cursor in the training files.
 * Ties go to the line first in code-unit order, so the result never depends on file order.
 */
import { cursorLine, previousLine } from './cursorLine';

interface Best {
  line: string;
  count: number;
}

const better = (line: string, count: number, best: Best | undefined): boolean =>
  best === undefined || count > best.count || (count === best.count && line < best.line);

export class LineLookup {
  /** Distinct trimmed lines, sorted by code unit (a typed prefix is a contiguous range). */
  private readonly lines: string[];
  private readonly counts = new Map<string, number>();
  /** Trimmed line → the trimmed non-blank line most often after it. */
  private readonly followers = new Map<string, Best>();

  constructor(texts: Iterable<string>) {
    const pairs = new Map<string, number>();
    for (const text of texts) {
      let previous: string | null = null;
      for (const raw of text.split('\n')) {
        const line = raw.trim();
        if (line === '') continue;
        this.counts.set(line, (this.counts.get(line) ?? 0) + 1);
        if (previous !== null) {
          const key = `${previous}\n${line}`;
          pairs.set(key, (pairs.get(key) ?? 0) + 1);
        }
        previous = line;
      }
    }
    for (const [key, count] of pairs) {
      const split = key.indexOf('\n');
      const before = key.slice(0, split);
      const after = key.slice(split + 1);
      if (better(after, count, this.followers.get(before))) this.followers.set(before, { line: after, count });
    }
    this.lines = [...this.counts.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  }

  suggest(document: string, offset: number): string {
    const { lineStart, typed } = cursorLine(document, offset);
    if (typed === '') {
      const previous = previousLine(document, lineStart);
      return previous === null ? '' : (this.followers.get(previous)?.line ?? '');
    }
    let best: Best | undefined;
    for (let i = this.lowerBound(typed); i < this.lines.length && this.lines[i].startsWith(typed); i++) {
      const line = this.lines[i];
      if (line.length === typed.length) continue; // nothing left to suggest
      const count = this.counts.get(line)!;
      if (better(line, count, best)) best = { line, count };
    }
    return best === undefined ? '' : best.line.slice(typed.length);
  }

  private lowerBound(key: string): number {
    let lo = 0;
    let hi = this.lines.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.lines[mid] < key) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
