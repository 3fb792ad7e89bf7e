/**
 * Token ids of many texts (workspace files, the current document) in one growing array, with an
 * index from each token pair to the positions that follow it, so that "what came after these
 * tokens before?" is a short scan of recent occurrences instead of a table of every n-gram (which
 * for a 10 MB workspace would take gigabytes in JavaScript maps). Memory: 2 bytes a token plus
 * 4 bytes a position in the index.
 *
 * A text is replaced by appending its new version and marking the old one's span dead; dead spans
 * are skipped by queries and dropped by `compact` once they are half the store.
 */

/** Token pairs are keyed as a · VOCAB_KEY + b: below 2^32 for GPT-2's 50,257 ids. */
const VOCAB_KEY = 65536;
/** GPT-2's end-of-text id. */
const SEPARATOR = 50256;

interface Span {
  start: number;
  end: number;
}

/** A growable Int32Array (the positions after one token pair). */
class Positions {
  data = new Int32Array(4);
  length = 0;

  push(p: number): void {
    if (this.length === this.data.length) {
      const grown = new Int32Array(this.data.length * 2);
      grown.set(this.data);
      this.data = grown;
    }
    this.data[this.length++] = p;
  }
}

export class TokenStore {
  private tokens = new Uint16Array(1024);
  private size = 0;
  private readonly pairs = new Map<number, Positions>();
  private readonly spans = new Map<string, Span>();
  /** 1 where the token belongs to a replaced or removed text, 2 where its text is hidden for now. */
  private deadMask = new Uint8Array(1024);
  private deadTokens = 0;

  /** Tokens held, dead ones included. */
  get length(): number {
    return this.size;
  }

  /** Tokens of live texts. */
  get liveTokens(): number {
    return this.size - this.deadTokens;
  }

  /** Bytes held by the arrays (approximate; the map's own overhead not counted). */
  get bytes(): number {
    let positions = 0;
    for (const p of this.pairs.values()) positions += p.data.byteLength;
    return this.tokens.byteLength + this.deadMask.byteLength + positions;
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
    const list = this.pairs.get(a * VOCAB_KEY + b);
    if (list === undefined) return;
    let yielded = 0;
    for (let i = list.length - 1; i >= 0 && yielded < limit; i--) {
      const p = list.data[i];
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
    this.pairs.clear();
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
    let list = this.pairs.get(key);
    if (list === undefined) this.pairs.set(key, (list = new Positions()));
    list.push(p);
  }

  private ensure(capacity: number): void {
    if (capacity <= this.tokens.length) return;
    const grown = new Uint16Array(Math.max(capacity, this.tokens.length * 2));
    grown.set(this.tokens.subarray(0, this.size));
    this.tokens = grown;
    const mask = new Uint8Array(grown.length);
    mask.set(this.deadMask.subarray(0, this.size));
    this.deadMask = mask;
  }
}
