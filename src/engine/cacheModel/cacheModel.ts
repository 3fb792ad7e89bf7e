/**
 * A cache language model of the user's own code (Tu et al., "On the localness of software";
 * Hellendoorn & Devanbu, FSE 2017): P_cache(next | the last tokens), from what followed the same
 * tokens in the workspace's files and, weighted up, the current document. Code repeats itself
 * locally far more than a small model can know, so this is mixed into the model's distribution
 * (mixture.ts) rather than replacing it.
 *
 * Counts come from the stores' token-pair index (tokenStore.ts): each recent occurrence of the last
 * two tokens is extended backwards as far as it matches the history, and its order k is the number
 * of matched tokens that are not blank (spaces, tabs, line breaks), up to MAX_ORDER. Blank tokens
 * are not counted because GPT-2 spells indentation one space a token: at a line start, eight
 * matched spaces say nothing about the next line, while the end of the line above does.
 * c_k(t) counts the occurrences followed by t whose order is at least k, and the orders are
 * interpolated Witten-Bell style from the lowest upwards:
 *   P_k(t) = (c_k(t) + u_k · P_{k−1}(t)) / (C_k + u_k),  C_k = Σ_t c_k(t), u_k = |{t : c_k(t) > 0}|
 * and the answer is P at the highest order with counts; its count and order are what the mixture
 * weight is fitted on (the cache is trusted more where it has seen this exact context more often).
 */
import type { TokenStore } from './tokenStore';

/** Non-blank tokens of context matched at most. */
export const MAX_ORDER = 8;
/** How far back a match may reach (blank tokens included). */
export const MAX_MATCH = 40;
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
  /** The highest order (non-blank tokens of matched context) with counts. */
  readonly order: number;
  /** Weighted occurrences at that order. */
  readonly count: number;
}

/**
 * P_cache(next | history), or null when the last two tokens were never seen. `blank[t]` is 1 for
 * tokens of only spaces, tabs and line breaks (blankTokens).
 */
export function predictNext(history: readonly number[], sources: readonly CacheSource[], blank: Uint8Array): CachePrediction | null {
  const n = history.length;
  if (n < 2) return null;
  // counts[k][t] for k = 0..MAX_ORDER, as maps from token to weighted count.
  const counts: Map<number, number>[] = Array.from({ length: MAX_ORDER + 1 }, () => new Map());
  let longest = -1;
  const pairOrder = (blank[history[n - 1]] ^ 1) + (blank[history[n - 2]] ^ 1);
  for (const { store, weight } of sources) {
    for (const p of store.after(history[n - 2], history[n - 1], MAX_OCCURRENCES)) {
      let order = pairOrder;
      for (let back = 2; order < MAX_ORDER && back < n && back < MAX_MATCH && p - 1 - back >= 0; back++) {
        const t = history[n - 1 - back];
        if (store.token(p - 1 - back) !== t) break;
        order += blank[t] ^ 1;
      }
      const next = store.token(p);
      for (let k = 0; k <= order; k++) counts[k].set(next, (counts[k].get(next) ?? 0) + weight);
      if (order > longest) longest = order;
    }
  }
  if (longest < 0) return null;

  let probs = new Map<number, number>();
  let count = 0;
  for (let k = 0; k <= longest; k++) {
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

/** 1 for each token id whose bytes are all spaces, tabs or line breaks. */
export function blankTokens(decodeBytes: (ids: number[]) => Uint8Array, vocabSize: number): Uint8Array {
  const blank = new Uint8Array(Math.max(vocabSize, 65536));
  for (let id = 0; id < vocabSize; id++) {
    const bytes = decodeBytes([id]);
    blank[id] = bytes.length > 0 && bytes.every((b) => b === 0x20 || b === 0x09 || b === 0x0a || b === 0x0d) ? 1 : 0;
  }
  return blank;
}
