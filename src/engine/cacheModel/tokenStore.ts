/**
 * Token ids of many texts (workspace files, the current document) in one growing array, with an
 * index from each token pair to the positions that follow it, so that "what came after these
 * tokens before?" is a short walk over recent occurrences instead of a table of every n-gram (which
 * for a 10 MB workspace would take gigabytes in JavaScript maps). The index is a chain: for each
 * position, the previous position after the same pair (an Int32Array beside the tokens), and per
 * pair only its newest position (one number in a Map). Memory: 7 bytes a token plus ~50 per
 * distinct pair.
 *
 * A text is replaced by appending its new version and marking the old one's span dead; dead spans
 * are skipped by queries and dropped by `compact` once they are half the store.
 */

/** Token pairs are keyed as a · VOCAB_KEY + b: below 2^32 for GPT-2's 50,257 ids. */
const VOCAB_KEY = 65536;
/** GPT-2's end-of-text id, which the store puts before each text: no match or continuation crosses it. */
export const SEPARATOR = 50256;

interface Span {
  start: number;
  end: number;
}

export class TokenStore {
  private tokens = new Uint16Array(1024);
  private size = 0;
  /** For each token pair, the newest position that follows it. */
  private readonly heads = new Map<number, number>();
  /** For each position, the previous position after the same pair (−1: none). */
  private previous = new Int32Array(1024);
  private readonly spans = new Map<string, Span>();
  /** 1 where the token belongs to a replaced or removed text, 2 where its text is hidden for now. */
  private deadMask = new Uint8Array(1024);
  private deadTokens = 0;
  /** Texts hidden from queries, by id: a text set again while hidden stays hidden. */
  private readonly hiddenIds = new Set<string>();

  /** Tokens held, dead ones included. */
  get length(): number {
    return this.size;
  }

  /** Tokens of live texts. */
  get liveTokens(): number {
    return this.size - this.deadTokens;
  }

  has(id: string): boolean {
    return this.spans.has(id);
  }

  /** Adds (or replaces) the text `id`'s tokens. Ids above 65535 cannot be stored and end the text there. */
  set(id: string, ids: ArrayLike<number>): void {
    this.remove(id);
    this.ensure(this.size + ids.length + 1);
    // End-of-text before each text: a backward match stops there instead of running into another text.
    this.tokens[this.size++] = SEPARATOR;
    const start = this.size;
    for (let i = 0; i < ids.length; i++) {
      const t = ids[i];
      if (!(t >= 0 && t < VOCAB_KEY)) break;
      this.tokens[this.size] = t;
      if (this.size - start >= 2) this.pairAt(this.size);
      this.size++;
    }
    this.spans.set(id, { start, end: this.size });
    if (this.hiddenIds.has(id)) this.deadMask.fill(2, start, this.size);
  }

  remove(id: string): void {
    const span = this.spans.get(id);
    if (span === undefined) return;
    this.spans.delete(id);
    this.deadMask.fill(1, span.start, span.end);
    this.deadTokens += span.end - span.start;
    if (this.deadTokens > this.size / 2 && this.size > 4096) this.compact();
  }

  /** Hides a text from queries (or shows it again) without removing it. */
  setHidden(id: string, hidden: boolean): void {
    if (hidden) this.hiddenIds.add(id);
    else this.hiddenIds.delete(id);
    const span = this.spans.get(id);
    if (span !== undefined) this.deadMask.fill(hidden ? 2 : 0, span.start, span.end);
  }

  /** Ids of the live texts, oldest first. */
  ids(): string[] {
    return [...this.spans.entries()].sort((a, b) => a[1].start - b[1].start).map(([id]) => id);
  }

  token(position: number): number {
    return this.tokens[position];
  }

  /**
   * Positions p (newest first, at most `limit`) whose two preceding tokens are `a`, `b`: the token
   * at p followed them. Positions in dead or hidden texts are skipped.
   */
  *after(a: number, b: number, limit: number): Generator<number> {
    let p = this.heads.get(a * VOCAB_KEY + b) ?? -1;
    // Dead and hidden positions are walked over too; bound the walk, not only what it yields.
    for (let yielded = 0, steps = 0; p >= 0 && yielded < limit && steps < limit * 16; p = this.previous[p], steps++) {
      if (this.deadMask[p] !== 0) continue;
      yielded++;
      yield p;
    }
  }

  /** Rebuilds the arrays without the dead spans. */
  compact(): void {
    const live = [...this.spans.entries()].sort((a, b) => a[1].start - b[1].start);
    const old = this.tokens;
    const oldMask = this.deadMask;
    this.tokens = new Uint16Array(Math.max(1024, this.liveTokens + live.length + 1));
    this.deadMask = new Uint8Array(this.tokens.length);
    this.size = 0;
    this.heads.clear();
    this.previous = new Int32Array(this.tokens.length);
    this.deadTokens = 0;
    for (const [id, span] of live) {
      this.tokens[this.size++] = SEPARATOR;
      const start = this.size;
      for (let p = span.start; p < span.end; p++) {
        this.tokens[this.size] = old[p];
        this.deadMask[this.size] = oldMask[p]; // a hidden text stays hidden
        if (this.size - start >= 2) this.pairAt(this.size);
        this.size++;
      }
      this.spans.set(id, { start, end: this.size });
    }
  }

  private pairAt(p: number): void {
    const key = this.tokens[p - 2] * VOCAB_KEY + this.tokens[p - 1];
    this.previous[p] = this.heads.get(key) ?? -1;
    this.heads.set(key, p);
  }

  private ensure(capacity: number): void {
    if (capacity <= this.tokens.length) return;
    const grown = new Uint16Array(Math.max(capacity, this.tokens.length * 2));
    grown.set(this.tokens.subarray(0, this.size));
    this.tokens = grown;
    const mask = new Uint8Array(grown.length);
    mask.set(this.deadMask.subarray(0, this.size));
    this.deadMask = mask;
    const previous = new Int32Array(grown.length);
    previous.set(this.previous.subarray(0, this.size));
    this.previous = previous;
  }
}
