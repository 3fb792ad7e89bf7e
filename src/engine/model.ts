import type { Precision } from './quantize';
import type { GPT2Config } from './config';

/** Which execution provider runs the model, and why it was chosen; reported in one place. */
export interface DeviceInfo {
  /** The provider in use: 'cpu' | 'cuda' | 'dml' | 'coreml' | 'webgpu'. */
  provider: string;
  /** One line: why this provider (e.g. "auto: CUDA provider files not installed; using CPU"). */
  reason: string;
  threads: number;
}

/**
 * Keys and values of every layer for the tokens a model has seen, per batch row.
 * Opaque to callers except for its length; the model that made it knows its layout.
 * forward() may append to the cache's storage in place: only the returned cache (and shorter
 * views whose positions were not overwritten since) stay valid; using a stale one throws.
 */
export interface KVCache {
  /** Number of positions (tokens) cached per row. */
  readonly length: number;
  readonly batch: number;
}

export interface ForwardResult {
  /** Logits [batch, positions.length, vocab], row-major. */
  logits: Float32Array;
  /** The cache grown by the new tokens. */
  cache: KVCache;
  /**
   * The final LayerNorm's output [batch, positions.length, nEmbd] at the same positions as the
   * logits (GPT-1's h_l^m, read by the acceptance head); absent from models that do not expose it.
   */
  hidden?: Float32Array;
  /**
   * ln Σ exp of each logits row [batch, positions.length] (the log-softmax normaliser), when the
   * model computes it; callers fall back to logNormalizer (cacheModel/mixture.ts).
   */
  logNormalizers?: Float32Array;
}

/**
 * A GPT-2 that runs token ids after a KV cache. The generator, the scorer and the benchmarks
 * talk to this and to nothing below it.
 */
export interface LanguageModel {
  readonly config: GPT2Config;
  readonly device: DeviceInfo;
  /** The precision of the weights it runs (`auto` already resolved). */
  readonly precision: Precision;
  /**
   * Runs `tokens` (batch rows of equal length) at positions `past.length ...` after `past`
   * (null: empty). `logitPositions` are indices into the new tokens (default: the last only);
   * logits are computed only there, since the output head is the most expensive step.
   */
  forward(tokens: number[][], past: KVCache | null, logitPositions?: number[]): Promise<ForwardResult>;
  /** The first `length` positions of `cache` (a prefix shared with a new request). */
  truncate(cache: KVCache, length: number): KVCache;
  /** `cache` (batch 1) repeated to `batch` rows, for n candidates decoded together. */
  expand(cache: KVCache, batch: number): KVCache;
  /** Row `row` of a batched cache, as batch 1. */
  selectRow(cache: KVCache, row: number): KVCache;
  dispose(): Promise<void>;
}
