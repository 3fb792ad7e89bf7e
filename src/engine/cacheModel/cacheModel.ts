/**
 * A cache language model of the user's own code (Tu et al., "On the localness of software";
 * Hellendoorn & Devanbu, FSE 2017): P_cache(next | the last tokens), from what followed the same
 * tokens in the workspace's files and, weighted up, the current document. Code repeats itself
 * locally far more than a small model can know, so this is mixed into the model's distribution
 * (mixture.ts) rather than replacing it.
 *
 * Counts come from the stores' token-pair index (tokenStore.ts): each recent occurrence of the last
 * two tokens is extended backwards to its match length L (up to MAX_ORDER tokens of context), and
 * c_k(t) counts the occurrences followed by t that match at least k tokens. The orders are
 * interpolated Witten-Bell style from k = 2 upwards:
 *   P_k(t) = (c_k(t) + u_k · P_{k−1}(t)) / (C_k + u_k),  C_k = Σ_t c_k(t), u_k = |{t : c_k(t) > 0}|
 * and the answer is P at the longest order with counts; its count and order are what the mixture
 * weight is fitted on (the cache is trusted more where it has seen this exact context more often).
 */
import type { TokenStore } from './tokenStore';

/** Tokens of context matched at most (the last MAX_ORDER tokens). */
export const MAX_ORDER = 8;
/** Occurrences of the last token pair looked at, newest first: the scan's cost bound. */
const MAX_OCCURRENCES = 256;

export interface CacheSource {
  readonly store: TokenStore;
  /** Each occurrence counts this much (the current document is weighted up). */
  readonly weight: number;
}

/** A sparse next-token distribution and how much evidence it rests on. */
export interface CachePrediction {
  readonly tokens: Int32Array;
  readonly probs: Float32Array;
  /** The longest context length (in tokens) with counts. */
  readonly order: number;
  /** Weighted occurrences at that order. */
  readonly count: number;
}

/** P_cache(next | history), or null when the last two tokens were never seen. */
export function predictNext(history: readonly number[], sources: readonly CacheSource[]): CachePrediction | null {
  const n = history.length;
  if (n < 2) return null;
  // counts[k][t] for k = 2..MAX_ORDER, as maps from token to weighted count.
  const counts: Map<number, number>[] = Array.from({ length: MAX_ORDER + 1 }, () => new Map());
  let longest = 0;
  for (const { store, weight } of sources) {
    for (const p of store.after(history[n - 2], history[n - 1], MAX_OCCURRENCES)) {
      let match = 2;
      while (match < MAX_ORDER && match < n && p - 1 - match >= 0 && store.token(p - 1 - match) === history[n - 1 - match]) match++;
      const next = store.token(p);
      for (let k = 2; k <= match; k++) counts[k].set(next, (counts[k].get(next) ?? 0) + weight);
      if (match > longest) longest = match;
    }
  }
  if (longest === 0) return null;

  let probs = new Map<number, number>();
  let count = 0;
  for (let k = 2; k <= longest; k++) {
    const c = counts[k];
    let total = 0;
    for (const v of c.values()) total += v;
    if (total === 0) continue;
    const distinct = c.size;
    const next = new Map<number, number>();
    const keys = new Set([...c.keys(), ...probs.keys()]);
    const denominator = total + (probs.size > 0 ? distinct : 0);
    for (const t of keys) {
      const lower = probs.get(t) ?? 0;
      next.set(t, ((c.get(t) ?? 0) + (probs.size > 0 ? distinct * lower : 0)) / denominator);
    }
    probs = next;
    count = total;
  }
  const tokens = Int32Array.from(probs.keys());
  const values = Float32Array.from(probs.values());
  return { tokens, probs: values, order: longest, count };
}
