/**
 * GPT-1's combined objective on (context x → continuation y) examples, as batches a training
 * session runs: L3 = L2 + λ·L1, where L2 is the mean negative log-likelihood of the continuation
 * targets and L1 that of the targets inside the context, both token-level means over the whole batch.
 *
 * A row holds one example, x ++ y, left-aligned and padded with token 0 under zero masks. The target
 * at position t is token t + 1, so with c context tokens the L1 targets sit at t = 0 … c − 2 and
 * the L2 targets at t = c − 1 … n − 2. One example per row, never several: GPT-2 has no attention
 * mask between packed examples, and a second example would read the first as its context.
 */

/** What a TrainingSession runs: [rows, seqLen] row-major ids and per-target weights (0 = padding). */
export interface TrainBatch {
  inputIds: Int32Array;
  l1Mask: Float32Array;
  l2Mask: Float32Array;
}

export interface PackedBatch extends TrainBatch {
  rows: number;
  seqLen: number;
  /** Indices (into the packed example array) of the examples in rows 0, 1, …; later rows are padding. */
  examples: number[];
  /** Tokens that are not padding. */
  tokens: number;
  l1Targets: number;
  l2Targets: number;
}

/** The two token lists an example contributes (data/examples.ts' Example has them). */
export interface TokenExample {
  readonly contextIds: readonly number[];
  readonly continuationIds: readonly number[];
}

export interface Losses {
  l1: number;
  l2: number;
  l3: number;
}

/** Losses of one batch with how many targets each mean was taken over, so batches can be combined. */
export interface CountedLosses extends Losses {
  l1Targets: number;
  l2Targets: number;
}

/** A tensor a session trains: canonical GPT-2 names for full fine-tuning, PEFT names for LoRA. */
export interface TrainableParam {
  name: string;
  shape: number[];
}

/** What evaluation needs of a TrainingSession: the losses of a batch, no gradients. */
export interface LossSession {
  losses(batch: TrainBatch, values: Map<string, Float32Array>, lambda: number): Promise<Losses>;
}

/** Per-step options the trainer passes along. */
export interface StepOptions {
  /**
   * Seed for the step's randomness (LoRA dropout), derived by the trainer from (seed, step,
   * micro-batch) so that a resumed run draws the same masks as an uninterrupted one.
   */
  seed?: number;
}

/**
 * What the trainer needs of a TrainingSession (src/training/trainingSession.ts): one run gives the
 * batch's losses and dL3/dθ for every trainable tensor, with L1 and L2 as this file defines them.
 */
export interface TrainingSessionLike extends LossSession {
  readonly params: readonly TrainableParam[];
  /** Losses and gradients of one batch, and Σ of the gradients' squares when the session computes it. */
  step(batch: TrainBatch, values: Map<string, Float32Array>, lambda: number, options?: StepOptions): Promise<Losses & { grads: Map<string, Float32Array>; gradSqNorm?: number }>;
}

export interface BatchShape {
  rows: number;
  seqLen: number;
}

/**
 * How many tokens of an example's context and continuation fit `seqLen`: the continuation is kept
 * whole up to seqLen − 1 tokens (it is what L2 measures), and the context is cut from the left,
 * always keeping at least one token so the first continuation token has a position predicting it.
 */
export function fitLengths(example: TokenExample, seqLen: number): { context: number; continuation: number } {
  if (!(Number.isInteger(seqLen) && seqLen >= 2)) throw new Error(`fitLengths: seqLen ${seqLen} must be an integer ≥ 2`);
  const c = example.contextIds.length;
  if (c === 0) throw new Error('fitLengths: an example needs at least one context token');
  const continuation = Math.min(example.continuationIds.length, seqLen - 1);
  return { context: Math.min(c, seqLen - continuation), continuation };
}

/** Tokens an example occupies in a row of `seqLen`. */
export function fittedLength(example: TokenExample, seqLen: number): number {
  const f = fitLengths(example, seqLen);
  return f.context + f.continuation;
}

/** Writes one example into row `row` of a batch; returns its tokens and target counts. */
function fillRow(batch: TrainBatch, seqLen: number, row: number, example: TokenExample): { tokens: number; l1: number; l2: number } {
  const f = fitLengths(example, seqLen);
  const base = row * seqLen;
  const ctx = example.contextIds;
  const skip = ctx.length - f.context;
  for (let i = 0; i < f.context; i++) batch.inputIds[base + i] = ctx[skip + i];
  for (let j = 0; j < f.continuation; j++) batch.inputIds[base + f.context + j] = example.continuationIds[j];
  const n = f.context + f.continuation;
  for (let t = 0; t < n - 1; t++) {
    if (t + 1 < f.context) batch.l1Mask[base + t] = 1;
    else batch.l2Mask[base + t] = 1;
  }
  return { tokens: n, l1: Math.max(0, f.context - 1), l2: f.continuation };
}

/** A batch of shape [rows, seqLen] from `examples[group[i]]` in row i; rows past the group are padding. */
export function makeBatch(examples: readonly TokenExample[], group: readonly number[], shape: BatchShape): PackedBatch {
  const { rows, seqLen } = shape;
  if (group.length > rows) throw new Error(`makeBatch: ${group.length} examples for ${rows} rows`);
  const size = rows * seqLen;
  const batch: PackedBatch = {
    inputIds: new Int32Array(size),
    l1Mask: new Float32Array(size),
    l2Mask: new Float32Array(size),
    rows,
    seqLen,
    examples: [...group],
    tokens: 0,
    l1Targets: 0,
    l2Targets: 0,
  };
  group.forEach((index, row) => {
    const filled = fillRow(batch, seqLen, row, examples[index]);
    batch.tokens += filled.tokens;
    batch.l1Targets += filled.l1;
    batch.l2Targets += filled.l2;
  });
  return batch;
}

function roundUp(n: number, quantum: number): number {
  return Math.ceil(n / quantum) * quantum;
}

/**
 * The batch shape for a token budget (`--batch-tokens`): seqLen is the longest example rounded up
 * to `quantum` (so a short-example corpus does not pay for 1024 positions), capped at maxSeqLen;
 * rows is as many as the budget holds, at least one.
 */
export function chooseBatchShape(
  examples: readonly TokenExample[],
  opts: { batchTokens: number; maxSeqLen: number; quantum?: number },
): BatchShape {
  const quantum = opts.quantum ?? 16;
  let longest = 2;
  for (const e of examples) longest = Math.max(longest, e.contextIds.length + e.continuationIds.length);
  const seqLen = Math.max(2, Math.min(opts.maxSeqLen, roundUp(longest, quantum)));
  return { rows: Math.max(1, Math.floor(opts.batchTokens / seqLen)), seqLen };
}

export interface PlanOptions {
  /**
   * Give each batch only the length its longest example needs (rounded up to `quantum`), for
   * sessions that accept a shorter T than they were created with. Examples are then bucketed:
   * sorted by length within windows of `bucketBatches` batches of the given order, so a batch
   * holds similar lengths and pads little, while the order stays shuffled at the window scale.
   * Off (default): every batch is [rows, seqLen], the fixed shape of the session's graph.
   */
  trimToLongest?: boolean;
  quantum?: number;
  /** Window size in batches for bucketing (default 16). */
  bucketBatches?: number;
}

export interface BatchPlan {
  /** Example indices per batch, in training order. */
  group: number[];
  seqLen: number;
}

/**
 * Groups `order` (a permutation or subset of example indices) into batches of at most `shape.rows`
 * examples. Pure and deterministic: the same order gives the same plan, which is what lets a resumed
 * run find its place by step number alone.
 */
export function planBatches(
  examples: readonly TokenExample[],
  order: readonly number[],
  shape: BatchShape,
  opts: PlanOptions = {},
): BatchPlan[] {
  const { rows, seqLen } = shape;
  const plans: BatchPlan[] = [];
  if (!opts.trimToLongest) {
    for (let i = 0; i < order.length; i += rows) plans.push({ group: order.slice(i, i + rows), seqLen });
    return plans;
  }
  const quantum = opts.quantum ?? 16;
  const window = rows * Math.max(1, opts.bucketBatches ?? 16);
  const length = (i: number) => fittedLength(examples[i], seqLen);
  for (let w = 0; w < order.length; w += window) {
    // Stable sort: ties keep the shuffled order.
    const bucket = order.slice(w, w + window).map((index, k) => ({ index, k, n: length(index) }));
    bucket.sort((a, b) => a.n - b.n || a.k - b.k);
    const groups: BatchPlan[] = [];
    for (let i = 0; i < bucket.length; i += rows) {
      const part = bucket.slice(i, i + rows);
      const longest = part[part.length - 1].n;
      groups.push({ group: part.map((p) => p.index), seqLen: Math.min(seqLen, Math.max(2, roundUp(longest, quantum))) });
    }
    // Alternate short and long batches within the window rather than ascending through it,
    // so step-to-step cost and loss do not drift in a sawtooth.
    for (let lo = 0, hi = groups.length - 1; lo <= hi; lo++, hi--) {
      plans.push(groups[lo]);
      if (hi !== lo) plans.push(groups[hi]);
    }
  }
  return plans;
}

/** The combined loss from its parts: L3 = L2 + λ·L1. */
export function combinedLoss(l1: number, l2: number, lambda: number): number {
  return l2 + lambda * l1;
}

/**
 * Token-level means over several batches from each batch's means and target counts: L1 =
 * Σ(L1ᵢ·n1ᵢ)/Σn1ᵢ (0 when no batch has an L1 target), L2 likewise, L3 = L2 + λ·L1. Equal to the
 * means over all targets at once, which a per-batch average would not be when batches differ in size.
 */
export function combineLosses(parts: readonly CountedLosses[], lambda: number): CountedLosses {
  let s1 = 0;
  let s2 = 0;
  let n1 = 0;
  let n2 = 0;
  for (const p of parts) {
    if (p.l1Targets > 0) s1 += p.l1 * p.l1Targets;
    if (p.l2Targets > 0) s2 += p.l2 * p.l2Targets;
    n1 += p.l1Targets;
    n2 += p.l2Targets;
  }
  const l1 = n1 > 0 ? s1 / n1 : 0;
  const l2 = n2 > 0 ? s2 / n2 : 0;
  return { l1, l2, l3: combinedLoss(l1, l2, lambda), l1Targets: n1, l2Targets: n2 };
}

/** How to run one micro-batch of an accumulated step: the λ to pass, and the factor for its gradients. */
export interface MicroBatchWeight {
  lambda: number;
  gradScale: number;
}

/**
 * Gradient accumulation that equals one big batch exactly. A session returns ∇(L2ᵢ + λᵢ·L1ᵢ) with
 * per-micro-batch means; the step needs ∇(S2/N2 + λ·S1/N1) over all targets. Scaling micro-batch i's
 * gradients by n2ᵢ/N2 makes its L2 part right; choosing λᵢ = λ·(n1ᵢ/N1)/(n2ᵢ/N2) then makes its L1
 * part right too. (Averaging per-micro-batch gradients would weight a target by its batch's size.)
 */
export function microBatchWeights(
  counts: readonly { l1Targets: number; l2Targets: number }[],
  lambda: number,
): MicroBatchWeight[] {
  let n1 = 0;
  let n2 = 0;
  for (const c of counts) {
    n1 += c.l1Targets;
    n2 += c.l2Targets;
  }
  return counts.map((c) => {
    if (c.l2Targets > 0) {
      const share2 = c.l2Targets / n2;
      const share1 = n1 > 0 ? c.l1Targets / n1 : 0;
      return { gradScale: share2, lambda: (lambda * share1) / share2 };
    }
    // No continuation targets: the session's L2ᵢ is 0 and only λᵢ·L1ᵢ is left to weight.
    if (c.l1Targets > 0) return { gradScale: 1, lambda: (lambda * c.l1Targets) / n1 };
    return { gradScale: 0, lambda };
  });
}
