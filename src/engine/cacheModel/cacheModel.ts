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
 * matched spaces say nothing about the next line, while the end of the line above does. For the
 * same reason a history that ends in two or more blank tokens (a line start after its indentation)
 * is looked up by the last non-blank token and the blank after it (`:` `\n`), and the rest of the
 * indentation is matched forwards: the newest occurrences of two spaces would be a few hundred
 * arbitrary places of the newest file, and the line's context would never be reached.
 * c_k(t) counts the occurrences followed by t whose order is at least k, and the orders are
 * interpolated Witten-Bell style from the lowest upwards:
 *   P_k(t) = (c_k(t) + u_k · P_{k−1}(t)) / (C_k + u_k),  C_k = Σ_t c_k(t), u_k = |{t : c_k(t) > 0}|
 * and the answer is P at the highest order with counts; its count and order are what the mixture
 * weight is fitted on (the cache is trusted more where it has seen this exact context more often).
 */
import { SEPARATOR, type TokenStore } from './tokenStore';

/** Non-blank tokens of context matched at most. */
export const MAX_ORDER = 8;
/** How far back a match may reach (blank tokens included). */
export const MAX_MATCH = 40;
/**
 * Occurrences of the last token pair looked at, newest first: the scan's cost bound (~0.15 ms a
 * prediction on a 430k-token workspace; 256 cost ~0.11 ms and matched 3 fewer judged lines of 2,000).
 */
const MAX_OCCURRENCES = 1024;

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
  for (const { store, weight, position, order } of matches(history, sources, blank)) {
    const next = store.token(position);
    for (let k = 0; k <= order; k++) counts[k].set(next, (counts[k].get(next) ?? 0) + weight);
    if (order > longest) longest = order;
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

/** An earlier place where the history's last tokens occurred: `position` holds what followed them. */
interface Match {
  readonly store: TokenStore;
  readonly weight: number;
  readonly position: number;
  /** Non-blank tokens of the history matched there, at most MAX_ORDER. */
  readonly order: number;
}

/** Each source's recent occurrences of the history's last tokens, newest first within a source. */
function* matches(history: readonly number[], sources: readonly CacheSource[], blank: Uint8Array): Generator<Match> {
  const n = history.length;
  if (n < 2) return;
  const run = blankRunStart(history, blank);
  for (const { store, weight } of sources) {
    const occurrences = run > 0 ? afterBlankRun(store, history, run) : store.after(history[n - 2], history[n - 1], MAX_OCCURRENCES);
    for (const position of occurrences) {
      let order = 0;
      for (let back = 0; order < MAX_ORDER && back < n && back < MAX_MATCH && position - 1 - back >= 0; back++) {
        const t = history[n - 1 - back];
        if (store.token(position - 1 - back) !== t) break;
        order += blank[t] ^ 1;
      }
      yield { store, weight, position, order };
    }
  }
}

/**
 * Draft tokens for speculative decoding (generator.ts) from the workspace: what followed the
 * history's longest match (the first source's newest on a tie, the document's before the
 * workspace's), up to `maxDraft` tokens and the end of its text. Empty below `minOrder` non-blank
 * tokens of match. The model checks every draft, so a bad guess costs speed, never the output.
 */
export function cacheDraft(history: readonly number[], sources: readonly CacheSource[], blank: Uint8Array, maxDraft: number, minOrder = 1): number[] {
  let best: Match | undefined;
  for (const m of matches(history, sources, blank)) {
    if (best === undefined || m.order > best.order) best = m;
    if (best.order >= MAX_ORDER) break;
  }
  if (best === undefined || best.order < minOrder) return [];
  const draft: number[] = [];
  for (let p = best.position; draft.length < maxDraft && p < best.store.length; p++) {
    const t = best.store.token(p);
    if (t === SEPARATOR) break;
    draft.push(t);
  }
  return draft;
}

/**
 * Where the history's trailing run of blank tokens starts, when it holds two or more of them and a
 * non-blank token comes before it within MAX_MATCH; 0 otherwise (the plain pair lookup).
 */
function blankRunStart(history: readonly number[], blank: Uint8Array): number {
  const n = history.length;
  if (!blank[history[n - 1]] || !blank[history[n - 2]]) return 0;
  for (let i = n - 3; i >= 0 && n - i <= MAX_MATCH; i--) {
    if (!blank[history[i]]) return i + 1;
  }
  return 0;
}

/**
 * Positions that followed a copy of history[run − 1 ..]: the non-blank token and the whole blank run
 * after it. Found through the pair (that token, the run's first blank), then the run's other blanks
 * are checked forwards; the end of a text is not a continuation.
 */
function* afterBlankRun(store: TokenStore, history: readonly number[], run: number): Generator<number> {
  const rest = history.length - run - 1; // the run's blanks after its first
  for (const q of store.after(history[run - 1], history[run], MAX_OCCURRENCES)) {
    let i = 0;
    while (i < rest && q + i < store.length && store.token(q + i) === history[run + 1 + i]) i++;
    const p = q + rest;
    if (i === rest && p < store.length && store.token(p) !== SEPARATOR) yield p;
  }
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
