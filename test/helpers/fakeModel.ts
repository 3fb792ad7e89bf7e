/**
 * A deterministic toy LanguageModel for unit tests. Its logits are a pseudo-random function of the
 * whole token history of a row (prompt and cache included), so a generator that feeds a wrong or
 * stale cache gets different output. The cache really stores each row's history, and every forward
 * is logged so tests can assert what ran.
 */
import type { GPT2Config } from '../../src/engine/config';
import type { DeviceInfo, ForwardResult, KVCache, LanguageModel } from '../../src/engine/model';
import { Rng } from '../../src/engine/random';

export const EOT = 50256;

/** Token 300 is a two-character token; ids 0..255 are single bytes, as in GPT-2's byte level. */
export const TWO_CHARS = 300;

/** Tokens the fake model favours: letters, space, newline, '.', the two halves of 'é', a pair, EOT. */
export const DEFAULT_ALPHABET: readonly number[] = [
  ...'abcdefgh .\n'.split('').map((c) => c.charCodeAt(0)),
  0xc3,
  0xa9,
  TWO_CHARS,
  EOT,
];

export class FakeCache implements KVCache {
  constructor(readonly rows: readonly (readonly number[])[]) {}
  get length(): number {
    return this.rows[0]?.length ?? 0;
  }
  get batch(): number {
    return this.rows.length;
  }
}

export interface ForwardCall {
  batch: number;
  pastLength: number;
  newTokens: number;
  logitPositions: number;
}

export interface FakeModelOptions {
  vocabSize?: number;
  nPositions?: number;
  seed?: number;
  /** Milliseconds each forward waits (for cancellation and deadline tests). */
  stepDelayMs?: number;
  alphabet?: readonly number[];
  /** A token to make overwhelmingly likely after this history (scripted outputs); undefined: none. */
  forced?: (history: readonly number[]) => number | undefined;
}

export class FakeModel implements LanguageModel {
  readonly precision = 'fp32' as const;
  readonly config: GPT2Config;
  readonly device: DeviceInfo = { provider: 'cpu', reason: 'fake model for tests', threads: 1 };
  readonly calls: ForwardCall[] = [];
  private readonly alphabet: readonly number[];

  constructor(private readonly options: FakeModelOptions = {}) {
    this.config = {
      vocabSize: options.vocabSize ?? 50257,
      nPositions: options.nPositions ?? 64,
      nEmbd: 8,
      nLayer: 1,
      nHead: 1,
      layerNormEpsilon: 1e-5,
    };
    this.alphabet = (options.alphabet ?? DEFAULT_ALPHABET).filter((t) => t < this.config.vocabSize);
  }

  /** Token positions run by all forwards so far (batch rows counted separately). */
  get tokensRun(): number {
    return this.calls.reduce((sum, c) => sum + c.batch * c.newTokens, 0);
  }

  /** The logits after `history` (its last token at the last position). */
  logitsAfter(history: readonly number[]): Float32Array {
    const out = new Float32Array(this.config.vocabSize).fill(-30);
    const rng = new Rng(hashTokens(history) ^ (this.options.seed ?? 0));
    for (const t of this.alphabet) out[t] = 2 * rng.normal() - (t === EOT ? 1.5 : 0);
    const forced = this.options.forced?.(history);
    if (forced !== undefined) out[forced] = 100;
    return out;
  }

  async forward(tokens: number[][], past: KVCache | null, logitPositions?: number[]): Promise<ForwardResult> {
    const pastRows = past === null ? null : asFake(past).rows;
    const batch = tokens.length;
    const width = tokens[0]?.length ?? 0;
    if (batch === 0 || width === 0) throw new Error('fake forward: no tokens');
    if (tokens.some((row) => row.length !== width)) throw new Error('fake forward: ragged batch');
    if (pastRows !== null && pastRows.length !== batch) throw new Error(`fake forward: batch ${batch} after a cache of batch ${pastRows.length}`);
    for (const row of tokens) for (const t of row) if (!(Number.isInteger(t) && t >= 0 && t < this.config.vocabSize)) throw new Error(`fake forward: bad token ${t}`);
    const pastLength = pastRows?.[0].length ?? 0;
    if (pastLength + width > this.config.nPositions) throw new Error(`fake forward: ${pastLength + width} positions exceed the context of ${this.config.nPositions}`);
    const positions = logitPositions ?? [width - 1];
    for (const p of positions) if (!(p >= 0 && p < width)) throw new Error(`fake forward: logit position ${p} outside 0..${width - 1}`);

    this.calls.push({ batch, pastLength, newTokens: width, logitPositions: positions.length });
    const delay = this.options.stepDelayMs ?? 0;
    await new Promise<void>((resolve) => (delay > 0 ? setTimeout(resolve, delay) : setImmediate(resolve)));

    const V = this.config.vocabSize;
    const rows = tokens.map((row, r) => [...(pastRows?.[r] ?? []), ...row]);
    const logits = new Float32Array(batch * positions.length * V);
    rows.forEach((history, r) => {
      positions.forEach((p, j) => logits.set(this.logitsAfter(history.slice(0, pastLength + p + 1)), (r * positions.length + j) * V));
    });
    return { logits, cache: new FakeCache(rows) };
  }

  truncate(cache: KVCache, length: number): KVCache {
    const rows = asFake(cache).rows;
    if (!(length >= 0 && length <= cache.length)) throw new Error(`fake truncate: ${length} outside 0..${cache.length}`);
    return new FakeCache(rows.map((row) => row.slice(0, length)));
  }

  expand(cache: KVCache, batch: number): KVCache {
    const rows = asFake(cache).rows;
    if (rows.length !== 1) throw new Error('fake expand: needs a batch-1 cache');
    return new FakeCache(Array.from({ length: batch }, () => rows[0].slice()));
  }

  selectRow(cache: KVCache, row: number): KVCache {
    const rows = asFake(cache).rows;
    if (!(row >= 0 && row < rows.length)) throw new Error(`fake selectRow: no row ${row}`);
    return new FakeCache([rows[row].slice()]);
  }

  async dispose(): Promise<void> {}
}

function asFake(cache: KVCache): FakeCache {
  if (!(cache instanceof FakeCache)) throw new Error('fake model: a cache from another model');
  return cache;
}

/** FNV-1a over the tokens' 32-bit values: different histories give different streams. */
export function hashTokens(tokens: readonly number[]): number {
  let h = 0x811c9dc5;
  for (const t of tokens) {
    for (let s = 0; s < 32; s += 8) h = Math.imul(h ^ ((t >>> s) & 0xff), 0x01000193);
  }
  return h >>> 0;
}

/**
 * A byte-level tokenizer for the fake model: ids 0..255 are bytes, TWO_CHARS is "ab", EOT renders as
 * "<|endoftext|>" (so a generator that decodes it is caught), and other ids as "<id>".
 */
export const fakeTokenizer = {
  encode(text: string): number[] {
    return Array.from(new TextEncoder().encode(text));
  },
  decodeBytes(ids: readonly number[]): Uint8Array {
    const parts = ids.map((id) =>
      id < 256 ? Uint8Array.of(id) : new TextEncoder().encode(id === EOT ? '<|endoftext|>' : id === TWO_CHARS ? 'ab' : `<${id}>`),
    );
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  },
};
