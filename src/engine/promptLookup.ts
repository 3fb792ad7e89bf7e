/**
 * Prompt lookup: draft tokens for speculative greedy decoding from the context itself. Code repeats
 * itself (names, argument lists, parallel lines), so the tokens that followed the last earlier
 * occurrence of the context's final few tokens are a cheap guess at what comes next; the model then
 * checks every guess in one run (generator.ts). Pure: no model, no state.
 */

export interface PromptLookupOptions {
  /** Longest suffix to match, tried first (default 3): longer matches guess better. */
  maxNgram?: number;
  /** Shortest suffix to match (default 1). */
  minNgram?: number;
}

export const DEFAULT_MAX_NGRAM = 3;
export const DEFAULT_MIN_NGRAM = 1;

/**
 * Up to `maxDraft` tokens guessed to follow `context`: for k from maxNgram down to minNgram, the most
 * recent earlier occurrence of the last k tokens, and what followed it. When that continuation runs
 * into the end of the context, the match is read as a period and repeated (so "a b a b" drafts
 * "a b a b ..." rather than stopping at the context's end). Empty when nothing matches.
 */
export function lookupDraft(context: readonly number[], maxDraft: number, options: PromptLookupOptions = {}): number[] {
  const n = context.length;
  if (maxDraft <= 0) return [];
  const maxK = options.maxNgram ?? DEFAULT_MAX_NGRAM;
  const minK = Math.max(1, options.minNgram ?? DEFAULT_MIN_NGRAM);
  for (let k = Math.min(maxK, n - 1); k >= minK; k--) {
    const at = lastEarlierMatch(context, k);
    if (at < 0) continue;
    // context[at .. at+k) equals the last k tokens: the text repeats with this period.
    const period = n - k - at;
    const draft: number[] = [];
    for (let t = 0; t < maxDraft; t++) draft.push(t < period ? context[at + k + t] : draft[t - period]);
    return draft;
  }
  return [];
}

/** The largest start i < n - k with context[i .. i+k) equal to the last k tokens, or -1. */
function lastEarlierMatch(context: readonly number[], k: number): number {
  const n = context.length;
  const suffix = n - k;
  outer: for (let i = suffix - 1; i >= 0; i--) {
    for (let j = k - 1; j >= 0; j--) if (context[i + j] !== context[suffix + j]) continue outer;
    return i;
  }
  return -1;
}
