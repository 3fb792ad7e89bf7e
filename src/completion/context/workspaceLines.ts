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
   * first word and last character); between the line above and the line below (`between`), or
   * right before the line below (`before-next`); after the previous line at the cursor line's
   * indentation, with deeper lines between (`sibling`).
   */
  readonly context: MatchContext;
  /** The next commonest line and its count, when another line matched. */
  readonly runnerUp?: { readonly line: string; readonly count: number };
  /** For `aligned`: how many lines around the match agree with the cursor's (the line above counted). */
  readonly agreement?: number;
}

export type MatchContext = 'typed' | 'two-lines' | 'line' | 'shape' | 'between' | 'before-next' | 'sibling' | 'aligned';

/** How many of the lines above and below the cursor `aligned` compares. */
export const ALIGN_ABOVE = 8;
export const ALIGN_BELOW = 4;
/** The newest occurrences of the line above that `aligned` reads (a `}` occurs thousands of times). */
const ALIGN_OCCURRENCES = 4096;

/** Per extra text (the live document) and weight, counted at query time. */
export interface ExtraLines {
  readonly lines: readonly string[];
  readonly weight: number;
  /** For each line, how many lines on its next sibling is (siblingSteps; 0: none); without it, the text has no sibling pairs. */
  readonly siblingSteps?: readonly number[];
}

/** A position that is no line: before each file, and at an over-long line (it breaks the chain of followers). */
const BREAK = -1;
/** A position of a replaced or removed file. */
const DEAD = -2;
/** No line / no position. */
const NONE = -1;

/**
 * The indexed files' lines as line ids in one growing array of positions (each file's lines in a
 * span, a BREAK before it), with each distinct line stored once. Nothing is kept per context: the
 * lines after a context are found by walking the positions of its last line (a chain: for each
 * position the previous one of the same line, as the token store does for token pairs), so the
 * line above, the two lines above (the same walk, checking the line before) and a shape (the walks
 * of every line of that shape) all come from the same 8 bytes a line, and are exact (no hashes of
 * context text). A query's walk is as long as its context line is common: a table per context
 * would hold as many entries, at several times the memory.
 * A replaced or removed file's span is marked DEAD and skipped; when dead positions are half the
 * array, everything is rebuilt from the live spans (which also drops lines no file has any more).
 */
export class WorkspaceLines {
  private readonly spans = new Map<string, { start: number; end: number }>();
  /** Line id at each position, or BREAK / DEAD. */
  private occ = new Int32Array(1024);
  /** For each position, the previous position of the same line (NONE: the first). */
  private prevOcc = new Int32Array(1024);
  /** For each position, how many positions on its next sibling is (siblingSteps; 0: none). */
  private siblingStep = new Int32Array(1024);
  private size = 0;
  private deadPositions = 0;

  /**
   * Distinct lines by id (a line keeps its id while it is in no file, until the next rebuild). A
   * line's text is a range of a chunk: the lines first seen in one file, joined by line breaks, so
   * that a line costs its characters and 10 bytes, not a string of its own (32 bytes, and a slice
   * would keep its whole file's text alive). Lines of the file being added wait in `pending`.
   */
  private lineCount = 0;
  private chunks: string[] = [];
  private chunkOf = new Int32Array(256);
  private offsetOf = new Int32Array(256);
  private lengthOf = new Uint16Array(256);
  private pending: string[] = [];
  /** Live positions of each line. */
  private count = new Int32Array(256);
  /** Each line's newest position (the head of its chain). */
  private lastOcc = new Int32Array(256);
  /**
   * The next line with the same first two code units (lists for `complete`: a line that goes on past
   * what is typed has two at least), and with the same shape (for the shape back-off).
   */
  private nextByPrefix = new Int32Array(256);
  private nextByShape = new Int32Array(256);
  /** Per line, a count during one query (zero between queries). */
  private scratch = new Int32Array(256);
  /** Open addressing (linear probing) from a line's text to its id + 1 (0: empty). */
  private slots = new Int32Array(512);
  private readonly prefixHeads = new Map<number, number>();
  private readonly shapeIds = new Map<string, number>();
  private shapeHeads: number[] = [];

  get fileCount(): number {
    return this.spans.size;
  }

  has(id: string): boolean {
    return this.spans.has(id);
  }

  /** Adds or replaces a file's text. */
  setFile(id: string, text: string): void {
    this.removeFile(id);
    const lines = indexedLines(text);
    this.append(id, lines, siblingSteps(text));
  }

  removeFile(id: string): void {
    const span = this.spans.get(id);
    if (span === undefined) return;
    this.spans.delete(id);
    for (let p = span.start; p < span.end; p++) {
      const line = this.occ[p];
      if (line >= 0) this.count[line]--;
      this.occ[p] = DEAD;
    }
    this.deadPositions += span.end - span.start + 1;
    if (this.deadPositions > this.size / 2 && this.size > 4096) this.rebuild();
  }

  /** Whether a line (trimmed, as indexed) is in an indexed file other than `exclude`. */
  occursElsewhere(line: string, exclude?: string): boolean {
    const id = this.idOf(line);
    if (id === NONE || this.count[id] === 0) return false;
    const span = exclude === undefined ? undefined : this.spans.get(exclude);
    if (span === undefined) return true;
    // Newest first: a position outside the excluded file's span ends the walk (usually the first).
    for (let p = this.lastOcc[id]; p !== NONE; p = this.prevOcc[p]) if ((p < span.start || p >= span.end) && this.occ[p] === id) return true;
    return false;
  }

  /**
   * The most frequent line starting with `typed` (trimmed at the start, non-empty) that goes on
   * past it, over the indexed files except `exclude` plus `extra` (weighted); null when none does.
   * Ties go to the line first in code-unit order.
   */
  complete(typed: string, exclude?: string, extra: readonly ExtraLines[] = []): LineMatch | null {
    if (typed === '') return null;
    const span = exclude === undefined ? undefined : this.spans.get(exclude);
    // The excluded file's own occurrences, subtracted below.
    if (span !== undefined) for (let p = span.start; p < span.end; p++) if (this.occ[p] >= 0) this.scratch[this.occ[p]]++;
    const counts = new Map<string, number>();
    const scan = (head: number): void => {
      for (let id = head; id !== NONE; id = this.nextByPrefix[id]) {
        if (!this.goesOnPast(id, typed)) continue;
        const c = this.count[id] - this.scratch[id];
        if (c > 0) counts.set(this.lineText(id), c);
      }
    };
    if (typed.length >= 2) {
      scan(this.prefixHeads.get(prefixKey(typed)) ?? NONE);
    } else {
      const first = typed.charCodeAt(0);
      for (const [key, head] of this.prefixHeads) if (Math.floor(key / 65536) === first) scan(head);
    }
    if (span !== undefined) for (let p = span.start; p < span.end; p++) if (this.occ[p] >= 0) this.scratch[this.occ[p]] = 0;
    for (const { lines, weight } of extra) {
      for (const line of lines) {
        if (goesOnPast(line, typed)) counts.set(line, (counts.get(line) ?? 0) + weight);
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
    const span = exclude === undefined ? undefined : this.spans.get(exclude);
    const gather = (context: string[], shape = false): Map<string, number> => {
      const touched: number[] = [];
      if (shape) {
        const s = this.shapeIds.get(shapeKey(context[0]));
        if (s !== undefined) for (let id = this.shapeHeads[s]; id !== NONE; id = this.nextByShape[id]) this.followers(id, NONE, span, touched);
      } else {
        const last = this.idOf(context[context.length - 1]);
        const first = context.length === 2 ? this.idOf(context[0]) : NONE;
        if (last !== NONE && (context.length === 1 || first !== NONE)) this.followers(last, first, span, touched);
      }
      const counts = this.drain(touched);
      const n = context.length;
      const key = shape ? shapeKey(context[0]) : '';
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

  /**
   * What goes between the line above and the line below (fill in the middle, a line at a time): the
   * commonest line that starts with `typed` and goes on past it, seen as `previous`, it, `next` in
   * the indexed files except `exclude` plus `extra` (weighted); when that never occurred (or there is
   * no line above), the commonest such line right before `next`. Null when nothing matched.
   */
  fill(previous: string | null, next: string, typed: string, exclude?: string, extra: readonly ExtraLines[] = []): LineMatch | null {
    const span = exclude === undefined ? undefined : this.spans.get(exclude);
    const nextId = this.idOf(next);
    const gather = (above: string | null): Map<string, number> => {
      const aboveId = above === null ? NONE : this.idOf(above);
      const touched: number[] = [];
      if (nextId !== NONE && (above === null || aboveId !== NONE)) this.neighbours(nextId, -1, aboveId, -2, span, touched);
      const counts = this.drain(touched, (id) => this.goesOnPast(id, typed));
      for (const { lines, weight } of extra) {
        for (let i = 0; i + 1 < lines.length; i++) {
          // A line at a run's start has nothing above it: it counts only without the line above.
          if (lines[i + 1] !== next || !goesOnPast(lines[i], typed) || (above !== null && (i === 0 || lines[i - 1] !== above))) continue;
          counts.set(lines[i], (counts.get(lines[i]) ?? 0) + weight);
        }
      }
      return counts;
    };
    if (previous !== null && previous !== '') {
      const two = gather(previous);
      if (two.size > 0) return best(two, 'between');
    }
    return best(gather(null), 'before-next');
  }

  /**
   * After the end of a block: the commonest line that starts with `typed` and goes on past it, seen
   * as the next sibling of `sibling` (the next line at its indentation, with deeper lines between:
   * `def stop(self):` after the body of `def start(self):`, `case "b":` after the body of
   * `case "a":`, the closer after a block's opener) in the indexed files except `exclude` plus
   * `extra` (weighted). Null when nothing matched.
   */
  siblingAfter(sibling: string, typed: string, exclude?: string, extra: readonly ExtraLines[] = []): LineMatch | null {
    const span = exclude === undefined ? undefined : this.spans.get(exclude);
    const id = this.idOf(sibling);
    const touched: number[] = [];
    if (id !== NONE) {
      for (let p = this.lastOcc[id]; p !== NONE; p = this.prevOcc[p]) {
        if (this.occ[p] !== id || (span !== undefined && p >= span.start && p < span.end) || this.siblingStep[p] === 0) continue;
        const next = this.occ[p + this.siblingStep[p]];
        if (next >= 0 && this.scratch[next]++ === 0) touched.push(next);
      }
    }
    const counts = this.drain(touched, (line) => this.goesOnPast(line, typed));
    for (const { lines, weight, siblingSteps: steps } of extra) {
      if (steps === undefined) continue;
      for (let i = 0; i < lines.length; i++) {
        const step = steps[i] ?? 0;
        const next = step === 0 ? '' : lines[i + step];
        if (lines[i] === sibling && next !== '' && goesOnPast(next, typed)) counts.set(next, (counts.get(next) ?? 0) + weight);
      }
    }
    return best(counts, 'sibling');
  }

  /**
   * The line whose surroundings agree longest with the cursor's: after each occurrence of the line
   * above (`above`'s last; the document's non-blank lines above the cursor, oldest first), the line
   * that starts with `typed` and goes on past it, scored by how many lines agree going up (the line
   * above itself included, up to ALIGN_ABOVE) and going down against `below` (the lines below the
   * cursor's, up to ALIGN_BELOW). The highest score wins, then the most occurrences at that score.
   * Parallel files (a test per version, a locale per language, a handler per route) repeat whole
   * runs of lines, and there the longest agreement finds the line that the commonest follower of
   * one or two lines (`follow`, `fill`) does not. `count` is the winner's occurrences at its
   * agreement; `total` every occurrence read with a follower that fits. Null when none fits.
   */
  aligned(above: readonly string[], below: readonly string[], typed: string, exclude?: string): LineMatch | null {
    const ids = (lines: readonly string[]) => lines.map((l) => (l === '' ? NONE : this.idOf(l)));
    const up = ids(above.slice(-ALIGN_ABOVE)).reverse();
    const down = ids(below.slice(0, ALIGN_BELOW));
    if (up.length === 0 || up[0] === NONE) return null;
    const span = exclude === undefined ? undefined : this.spans.get(exclude);
    const agreementOf = new Map<number, { agreement: number; count: number }>();
    let total = 0, read = 0;
    for (let p = this.lastOcc[up[0]]; p !== NONE && read < ALIGN_OCCURRENCES; p = this.prevOcc[p]) {
      if (this.occ[p] !== up[0] || (span !== undefined && p >= span.start && p < span.end)) continue;
      read++;
      const q = p + 1;
      const line = q < this.size ? this.occ[q] : NONE;
      if (line < 0 || !this.goesOnPast(line, typed)) continue;
      total++;
      const agreement = agreementAround(this.occ, this.size, p, q + 1, up, down, NONE);
      const seen = agreementOf.get(line);
      if (seen === undefined || agreement > seen.agreement) agreementOf.set(line, { agreement, count: 1 });
      else if (agreement === seen.agreement) seen.count++;
    }
    let winner: { line: number; agreement: number; count: number } | undefined;
    for (const [line, { agreement, count }] of agreementOf) {
      // A line's text is sliced only to break a tie (after a `}` hundreds of lines may follow).
      if (winner === undefined || agreement > winner.agreement || (agreement === winner.agreement && (count > winner.count || (count === winner.count && this.lineText(line) < this.lineText(winner.line))))) {
        winner = { line, agreement, count };
      }
    }
    return winner === undefined ? null : { line: this.lineText(winner.line), count: winner.count, total, distinct: agreementOf.size, context: 'aligned', agreement: winner.agreement };
  }

  /** The lines after each live position of `line` outside `skip` (after `before` there, when it is a line): see neighbours. */
  private followers(line: number, before: number, skip: { start: number; end: number } | undefined, touched: number[]): void {
    this.neighbours(line, 1, before, -1, skip, touched);
  }

  /**
   * Counts into `scratch` the line `step` positions from each live position of `line` outside `skip`
   * (where the line `contextStep` positions away is `context`, when that is a line), noting each line
   * counted first in `touched`: the lines after a line (1, with the line before it, −1) or before it
   * (−1, with the line before that, −2).
   */
  private neighbours(line: number, step: number, context: number, contextStep: number, skip: { start: number; end: number } | undefined, touched: number[]): void {
    const lo = skip?.start ?? 0;
    const hi = skip?.end ?? 0;
    for (let p = this.lastOcc[line]; p !== NONE; p = this.prevOcc[p]) {
      const q = p + step;
      if (this.occ[p] !== line || (p >= lo && p < hi) || q < 0 || q >= this.size) continue;
      const neighbour = this.occ[q];
      const c = p + contextStep;
      if (neighbour < 0 || (context !== NONE && (c < 0 || this.occ[c] !== context))) continue;
      if (this.scratch[neighbour]++ === 0) touched.push(neighbour);
    }
  }

  /** The lines counted in `scratch` (those `keep` accepts) with their counts; `scratch` back to zero. */
  private drain(touched: readonly number[], keep: (id: number) => boolean = () => true): Map<string, number> {
    const counts = new Map<string, number>();
    for (const id of touched) {
      if (keep(id)) counts.set(this.lineText(id), this.scratch[id]);
      this.scratch[id] = 0;
    }
    return counts;
  }

  /** Line `id` starts with `typed` and goes on past it (goesOnPast, without making its string). */
  private goesOnPast(id: number, typed: string): boolean {
    return this.lengthOf[id] > typed.length && this.chunks[this.chunkOf[id]].startsWith(typed, this.offsetOf[id]);
  }

  /** Appends a file's indexed lines (indexedLines: '' for an over-long line) and their siblingSteps as a new span. */
  private append(id: string, lines: readonly string[], steps: ArrayLike<number>): void {
    this.ensurePositions(this.size + lines.length + 1);
    this.occ[this.size] = BREAK;
    this.siblingStep[this.size] = 0;
    this.prevOcc[this.size++] = NONE;
    const start = this.size;
    for (const [i, text] of lines.entries()) {
      const p = this.size++;
      this.siblingStep[p] = steps[i];
      if (text === '') {
        this.occ[p] = BREAK;
        this.prevOcc[p] = NONE;
        continue;
      }
      const line = this.intern(text);
      this.occ[p] = line;
      this.prevOcc[p] = this.lastOcc[line];
      this.lastOcc[line] = p;
      this.count[line]++;
    }
    this.spans.set(id, { start, end: this.size });
    if (this.pending.length > 0) {
      this.chunks.push(this.pending.join('\n'));
      this.pending = [];
    }
  }

  private lineText(id: number): string {
    const from = this.offsetOf[id];
    return this.chunkOf[id] < this.chunks.length ? this.chunks[this.chunkOf[id]].slice(from, from + this.lengthOf[id]) : this.pending[id - (this.lineCount - this.pending.length)];
  }

  private isLine(id: number, line: string): boolean {
    if (this.lengthOf[id] !== line.length) return false;
    return this.chunkOf[id] < this.chunks.length ? this.chunks[this.chunkOf[id]].startsWith(line, this.offsetOf[id]) : this.pending[id - (this.lineCount - this.pending.length)] === line;
  }

  /** The id of a line, or NONE when no file had it. */
  private idOf(line: string): number {
    const mask = this.slots.length - 1;
    for (let h = hashLine(line) & mask; ; h = (h + 1) & mask) {
      const slot = this.slots[h];
      if (slot === 0) return NONE;
      if (this.isLine(slot - 1, line)) return slot - 1;
    }
  }

  /** The id of a line, a new one when no file had it. */
  private intern(line: string): number {
    const mask = this.slots.length - 1;
    let h = hashLine(line) & mask;
    for (; ; h = (h + 1) & mask) {
      const slot = this.slots[h];
      if (slot === 0) break;
      if (this.isLine(slot - 1, line)) return slot - 1;
    }
    const id = this.lineCount;
    this.ensureLines(id + 1);
    const last = this.pending.length - 1;
    this.chunkOf[id] = this.chunks.length;
    this.offsetOf[id] = last < 0 ? 0 : this.offsetOf[id - 1] + this.pending[last].length + 1;
    this.lengthOf[id] = line.length;
    this.pending.push(line);
    this.lineCount++;
    this.slots[h] = id + 1;
    if (this.lineCount * 2 > this.slots.length) this.rehash(this.slots.length * 2);
    this.count[id] = 0;
    this.lastOcc[id] = NONE;
    if (line.length >= 2) {
      this.nextByPrefix[id] = this.prefixHeads.get(prefixKey(line)) ?? NONE;
      this.prefixHeads.set(prefixKey(line), id);
    }
    const key = shapeKey(line);
    let s = this.shapeIds.get(key);
    if (s === undefined) {
      s = this.shapeHeads.length;
      this.shapeIds.set(key, s);
      this.shapeHeads.push(NONE);
    }
    this.nextByShape[id] = this.shapeHeads[s];
    this.shapeHeads[s] = id;
    return id;
  }

  private rehash(size: number): void {
    this.slots = new Int32Array(size);
    const mask = size - 1;
    for (let id = 0; id < this.lineCount; id++) {
      const sealed = this.chunkOf[id] < this.chunks.length;
      let h = (sealed ? hashLine(this.chunks[this.chunkOf[id]], this.offsetOf[id], this.lengthOf[id]) : hashLine(this.lineText(id))) & mask;
      while (this.slots[h] !== 0) h = (h + 1) & mask;
      this.slots[h] = id + 1;
    }
  }

  /** Everything again from the live spans, in their order: no dead positions, no lines in no file. */
  private rebuild(): void {
    const live = [...this.spans.entries()].sort((a, b) => a[1].start - b[1].start);
    const files = live.map(([id, { start, end }]) => {
      const lines: string[] = [];
      for (let p = start; p < end; p++) lines.push(this.occ[p] >= 0 ? this.lineText(this.occ[p]) : '');
      return [id, lines, this.siblingStep.slice(start, end)] as const;
    });
    let positions = 1024;
    for (const [, lines] of files) positions += lines.length + 1;
    this.spans.clear();
    this.occ = new Int32Array(positions);
    this.prevOcc = new Int32Array(positions);
    this.siblingStep = new Int32Array(positions);
    this.size = 0;
    this.deadPositions = 0;
    this.lineCount = 0;
    this.chunks = [];
    for (const a of ['count', 'lastOcc', 'nextByPrefix', 'nextByShape', 'scratch', 'chunkOf', 'offsetOf'] as const) this[a] = new Int32Array(256);
    this.lengthOf = new Uint16Array(256);
    this.slots = new Int32Array(512);
    this.prefixHeads.clear();
    this.shapeIds.clear();
    this.shapeHeads = [];
    for (const [id, lines, steps] of files) this.append(id, lines, steps);
  }

  private ensurePositions(capacity: number): void {
    if (capacity <= this.occ.length) return;
    const size = Math.max(capacity, Math.ceil(this.occ.length * 1.5));
    this.occ = grown(this.occ, size, this.size);
    this.prevOcc = grown(this.prevOcc, size, this.size);
    this.siblingStep = grown(this.siblingStep, size, this.size);
  }

  private ensureLines(capacity: number): void {
    if (capacity <= this.count.length) return;
    const size = Math.max(capacity, Math.ceil(this.count.length * 1.5));
    const n = this.lineCount;
    for (const a of ['count', 'lastOcc', 'nextByPrefix', 'nextByShape', 'scratch', 'chunkOf', 'offsetOf'] as const) this[a] = grown(this[a], size, n);
    const lengths = new Uint16Array(size);
    lengths.set(this.lengthOf.subarray(0, n));
    this.lengthOf = lengths;
  }
}

function grown(a: Int32Array, size: number, used: number): Int32Array<ArrayBuffer> {
  const b = new Int32Array(size);
  b.set(a.subarray(0, used));
  return b;
}

/**
 * How many lines agree around a place in `lines` (its first `length`): `up` (nearest first) against
 * the lines going back from `from`, then `down` against the lines going on from `to`, each run
 * stopping at its first disagreement, at the ends of `lines`, or at `none` (a line no file has).
 * What `aligned` scores a workspace line by, and the choice rule a place in the document by.
 */
export function agreementAround<T>(lines: ArrayLike<T>, length: number, from: number, to: number, up: readonly T[], down: readonly T[], none: T): number {
  let a = 0;
  while (a < up.length && up[a] !== none && from - a >= 0 && lines[from - a] === up[a]) a++;
  let b = 0;
  while (b < down.length && down[b] !== none && to + b < length && lines[to + b] === down[b]) b++;
  return a + b;
}

/** A line's first two UTF-16 code units as one number. */
function prefixKey(line: string): number {
  return line.charCodeAt(0) * 65536 + line.charCodeAt(1);
}

/** 32-bit FNV-1a over the UTF-16 code units of `text` from `from`, `length` of them (a line). */
function hashLine(text: string, from = 0, length = text.length): number {
  let h = 0x811c9dc5;
  for (let i = from; i < from + length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619);
  return h >>> 0;
}

/** `line` starts with `typed` and goes on past it: a completion of what is typed. */
function goesOnPast(line: string, typed: string): boolean {
  return line.length > typed.length && line.startsWith(typed);
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

/**
 * For each of indexedLines(text)'s lines, how many lines on its next sibling is: the next line at
 * the same indentation when only deeper lines come between (one at least; blank lines do not count),
 * 0 when the next line at that indentation or shallower comes right after it or is shallower. What
 * follows a block at its own level (the next method, case or statement, or the block's closer) is
 * keyed on the line that opened it, not on the block's last line.
 */
export function siblingSteps(text: string): number[] {
  const indents: number[] = [];
  for (const raw of text.split('\n')) {
    const trimmed = raw.trimStart();
    if (trimmed.trimEnd() !== '') indents.push(raw.length - trimmed.length);
  }
  const steps = new Array<number>(indents.length).fill(0);
  // Lines whose next sibling is still open, shallowest first (each deeper than the one below it).
  const open: number[] = [];
  for (let j = 0; j < indents.length; j++) {
    while (open.length > 0 && indents[open[open.length - 1]] > indents[j]) open.pop();
    const top = open.length > 0 ? open[open.length - 1] : -1;
    if (top >= 0 && indents[top] === indents[j]) {
      open.pop();
      if (j > top + 1) steps[top] = j - top;
    }
    open.push(j);
  }
  return steps;
}

/**
 * The previous sibling of a line indented by `indent` after `textAbove`: the nearest non-blank line
 * above at that indentation when only deeper lines come between it and the line (one at least);
 * null when the line right above is at that indentation or shallower, when a shallower line comes
 * first, or when the sibling is too long to index.
 */
export function previousSibling(textAbove: string, indent: number): string | null {
  let deeper = false;
  // Backwards a line at a time, without splitting the whole text: the answer is usually near.
  for (let end = textAbove.length; end > 0; ) {
    const start = textAbove.lastIndexOf('\n', end - 1) + 1;
    const raw = textAbove.slice(start, end);
    end = start - 1;
    const trimmed = raw.trimStart();
    if (trimmed.trimEnd() === '') continue;
    const k = raw.length - trimmed.length;
    if (k > indent) {
      deeper = true;
      continue;
    }
    const line = trimmed.trimEnd();
    return k === indent && deeper && line.length <= MAX_LINE ? line : null;
  }
  return null;
}

/**
 * A line's shape: its first word (with what precedes it: `* @see`, `return`, `self`) and last
 * character, behind a line break so that it never equals a line.
 */
export function shapeKey(line: string): string {
  const first = /^\W*\w*/.exec(line)?.[0] ?? '';
  return `\n${first}\n${line.slice(-1)}`;
}

function best(counts: Map<string, number>, context: MatchContext): LineMatch | null {
  let line: string | undefined, second: string | undefined;
  let count = 0, secondCount = 0;
  let total = 0;
  const before = (l: string, c: number, than: string | undefined, thanCount: number) => than === undefined || c > thanCount || (c === thanCount && l < than);
  for (const [l, c] of counts) {
    total += c;
    if (before(l, c, line, count)) [second, secondCount, line, count] = [line, count, l, c];
    else if (before(l, c, second, secondCount)) [second, secondCount] = [l, c];
  }
  if (line === undefined) return null;
  return { line, count, total, distinct: counts.size, context, ...(second !== undefined ? { runnerUp: { line: second, count: secondCount } } : {}) };
}
