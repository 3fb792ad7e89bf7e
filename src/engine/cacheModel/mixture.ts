/**
 * The model's next-token distribution mixed with the workspace cache model:
 *   P = (1 − w) · P_model + w · P_cache
 * The weight w is the cache's confidence in this context, fitted on held-out code (bench/fitCache.ts,
 * bench/QUALITY.md), not guessed. Two forms:
 * - w = C / (C + β_L), where L is the matched context's length and C its weighted count
 *   (cacheModel.ts): the more often the cache has seen exactly this context, the more it is trusted.
 *   The embedded model ships this form.
 * - the gate (CacheGate), when the weights file has one: w = maxWeight · σ(bias_L + a·ln(1 + C) +
 *   b·ln P_cache(its top)), which also trusts a cache that saw one continuation more than one that saw
 *   many. Lower loss per token; for the embedded model's defaults no more right lines (QUALITY.md).
 *
 * The mixture is returned as logits (log P), so greedy decoding, sampling, alternatives and the
 * check of speculative drafts all act on it unchanged.
 */
import { logNormalizer } from '../sampling';
import { lookupDraft } from '../promptLookup';
import { cacheDraft, MAX_MATCH, predictNext, type CachePrediction, type CacheSource } from './cacheModel';

export interface CacheWeights {
  /** β per order 0..MAX_ORDER (index = non-blank tokens of matched context; higher orders use the last). */
  readonly beta: readonly number[];
  /** The most the cache can weigh. */
  readonly maxWeight: number;
  /** When present, w comes from it instead of β. */
  readonly gate?: CacheGate;
}

/** A logistic mixture weight over how long, how often and how surely the cache matched (see the top of this file). */
export interface CacheGate {
  /** Intercept per order 0..MAX_ORDER (higher orders use the last). */
  readonly bias: readonly number[];
  /** Weight of ln(1 + the weighted count of the matched context). */
  readonly logCount: number;
  /** Weight of ln P_cache of the cache's most probable token. */
  readonly cacheTop: number;
}

/**
 * The weights a model without its own cache-weights.json mixes with (cacheWeightsFile.ts): the
 * embedded model's β rule as first shipped (continued-training stage 2), fitted by bench/fitCache.ts
 * on the training side of the four benchmark repositories (bench/QUALITY.md, "Cache model fit"): per
 * order, the β that minimises the mixture's loss, 2.99 → 1.57 nats per token over 79,868 tokens. A
 * better model needs the cache less (the β of orders 1–2 rose from 8, 5 for the first weights to 35, 8
 * for stage 1 and 60, 12 for stage 2). Order 0 (only blanks matched) gets almost no weight.
 */
export const DEFAULT_CACHE_WEIGHTS: CacheWeights = { beta: [5000, 60, 12, 3, 2, 1, 1, 0.75, 0.1], maxWeight: 0.95 };

/** The β rule's weight: count / (count + β_order), at most maxWeight. */
export function cacheWeight(order: number, count: number, weights: CacheWeights): number {
  const beta = weights.beta[Math.min(order, weights.beta.length - 1)];
  return Math.min(weights.maxWeight, count / (count + beta));
}

/** What the gate reads of a prediction. */
export interface GateInputs {
  readonly order: number;
  readonly count: number;
  /** P_cache of the cache's most probable token. */
  readonly cacheTop: number;
}

/** The gate's weight: maxWeight · σ(bias_order + a·ln(1 + count) + b·ln cacheTop). */
export function gateWeight(gate: CacheGate, maxWeight: number, { order, count, cacheTop }: GateInputs): number {
  const z = gate.bias[Math.min(order, gate.bias.length - 1)] + gate.logCount * Math.log1p(count) + gate.cacheTop * Math.log(cacheTop);
  return maxWeight / (1 + Math.exp(-z));
}

/** The cache's weight for a prediction: the gate's when the weights have one, else the β rule's. */
export function mixtureWeight(prediction: CachePrediction, weights: CacheWeights): number {
  if (weights.gate === undefined) return cacheWeight(prediction.order, prediction.count, weights);
  let cacheTop = 0;
  for (const p of prediction.probs) if (p > cacheTop) cacheTop = p;
  return gateWeight(weights.gate, weights.maxWeight, { order: prediction.order, count: prediction.count, cacheTop });
}

/** A row of next-token logits and its normaliser: ln P(t) = logits[t] − logNorm. */
export interface LogitsRow {
  readonly logits: Float32Array;
  readonly logNorm: number;
}

/**
 * Logits whose softmax is (1 − w) · softmax(logits) + w · P_cache (a new array), with their
 * normaliser. Softmax ignores a shift common to all entries, so only the cache's tokens are
 * rewritten: every other entry keeps its logit, which stands for (1 − w)·P_model once the cache's
 * tokens are expressed on the same scale; on that scale the total is (1 − w) + w·Σ P_cache, so the
 * mixed row's normaliser needs no pass over the vocabulary. `logNorm`: the model row's, when known
 * (the graph computes it); else summed here.
 */
export function mixLogits(logits: Float32Array, tokens: Int32Array, probs: Float32Array, w: number, logNorm = logNormalizer(logits)): LogitsRow {
  // On this scale an entry x means probability (1 − w) · exp(x − logNorm).
  const scale = logNorm - Math.log(1 - w);
  const out = logits.slice();
  let cacheMass = 0;
  for (let j = 0; j < tokens.length; j++) {
    const t = tokens[j];
    if (t < 0 || t >= logits.length) continue;
    const pModel = Math.exp(logits[t] - logNorm);
    out[t] = Math.log((1 - w) * pModel + w * probs[j]) + scale;
    cacheMass += probs[j];
  }
  return { logits: out, logNorm: scale + Math.log(1 - w + w * cacheMass) };
}

/**
 * ln P(token) after `history`, from a row of the model's logits (and its normaliser, when the model
 * gave it): the mixed distribution's, or the model's own.
 */
export type TokenLogProb = (history: readonly number[], logits: Float32Array, token: number, logNorm?: number) => number;

/** ln P(token) under the model alone. */
export const modelLogProb: TokenLogProb = (_history, logits, token, logNorm) => logits[token] - (logNorm ?? logNormalizer(logits));

/**
 * ln P(token) under the distribution cacheMixer decodes from, (1 − w)·P_model + w·P_cache, without
 * building the mixed row: what scoring a given text needs (one token per position).
 */
export function cacheTokenLogProb(sources: readonly CacheSource[], blank: Uint8Array, weights: CacheWeights = DEFAULT_CACHE_WEIGHTS): TokenLogProb {
  return (history, logits, token, logNorm) => {
    const own = modelLogProb(history, logits, token, logNorm);
    const cache = cachePrediction(history, sources, blank, weights);
    if (cache === null) return own;
    const j = cache.prediction.tokens.indexOf(token);
    return Math.log((1 - cache.w) * Math.exp(own) + (j < 0 ? 0 : cache.w * cache.prediction.probs[j]));
  };
}

/**
 * Adjusts a row of next-token logits given the tokens before it (prompt and generated so far).
 * `logNorm`: the row's normaliser when the model gave it; the result's is known when it changed the row.
 */
export type LogitsMixer = (history: readonly number[], logits: Float32Array, logNorm?: number) => { logits: Float32Array; logNorm?: number };

/**
 * The generator's mixer over `sources` (`blank` from blankTokens); logits pass through unchanged
 * where the cache knows nothing.
 */
export function cacheMixer(sources: readonly CacheSource[], blank: Uint8Array, weights: CacheWeights = DEFAULT_CACHE_WEIGHTS): LogitsMixer {
  return (history, logits, logNorm) => {
    const cache = cachePrediction(history, sources, blank, weights);
    return cache === null ? { logits, logNorm } : mixLogits(logits, cache.prediction.tokens, cache.prediction.probs, cache.w, logNorm);
  };
}

/** The cache's prediction after `history` and its weight in the mixture; null where it has no say (nothing seen, or weight 0). */
function cachePrediction(history: readonly number[], sources: readonly CacheSource[], blank: Uint8Array, weights: CacheWeights) {
  const prediction = predictNext(matchable(history), sources, blank);
  if (prediction === null) return null;
  const w = mixtureWeight(prediction, weights);
  return w > 0 ? { prediction, w } : null;
}

/**
 * Non-blank tokens a workspace match needs before its continuation is drafted: in bench:completion
 * 1, 2, 3 and 4 took 35, 33, 34 and 34 model runs for the same 143–147 tokens (prompt lookup alone:
 * 94); bench/RESULTS.md.
 */
const CACHE_DRAFT_MIN_ORDER = 2;

/**
 * Drafts for speculative decoding on the mixed distribution: what followed the longest workspace
 * match of the last tokens (cacheDraft), where the cache model has seen this context; else prompt
 * lookup over the prompt and what was generated.
 */
export function cacheDrafter(sources: readonly CacheSource[], blank: Uint8Array): (context: readonly number[], maxDraft: number) => number[] {
  return (context, maxDraft) => {
    const fromCache = cacheDraft(matchable(context), sources, blank, maxDraft, CACHE_DRAFT_MIN_ORDER);
    return fromCache.length > 0 ? fromCache : lookupDraft(context, maxDraft);
  };
}

/** The tokens of `history` a match can reach (the last MAX_MATCH). */
function matchable(history: readonly number[]): readonly number[] {
  return history.length > MAX_MATCH ? history.slice(-MAX_MATCH) : history;
}
