import type { Rng } from './random';

/** How the next token is chosen from a row of logits. */
export interface SamplingOptions {
  /** Softmax temperature; 0 means greedy (argmax). */
  temperature: number;
  /** Keep only the k most likely tokens; 0 or absent: no limit. */
  topK?: number;
  /** Keep the smallest set of most likely tokens whose probability reaches p (nucleus); 1 or absent: all. */
  topP?: number;
}

export const GREEDY: SamplingOptions = { temperature: 0 };

/** True for logits that can be chosen: not suppressed, not NaN, not -Infinity. */
function usable(v: number, i: number, suppress: ReadonlySet<number> | undefined): boolean {
  return v > -Infinity && !(suppress !== undefined && suppress.has(i));
}

/** The index of the largest usable logit (the lowest index on ties). */
export function argmax(row: ArrayLike<number>, suppress?: ReadonlySet<number>): number {
  // One comparison per logit (NaN and -Infinity never beat -Infinity); the set is consulted only for
  // a new best. Once per generated token over 50257 logits: 0.2 ms with a per-element usable() call.
  let best = -1;
  let bestValue = -Infinity;
  const n = row.length;
  for (let i = 0; i < n; i++) {
    const v = row[i];
    if (v > bestValue && (suppress === undefined || !suppress.has(i))) {
      best = i;
      bestValue = v;
    }
  }
  if (best < 0) throw new Error('sampling: every token is suppressed or has logit -Infinity');
  return best;
}

/**
 * The indices of the k largest usable values, largest first (lower index first on ties).
 * A size-k min-heap: O(V log k) with no copy or sort of the whole row, which matters at V = 50257.
 */
export function topKIndices(row: ArrayLike<number>, k: number, suppress?: ReadonlySet<number>): number[] {
  const heap: number[] = []; // heap[0] is the worst kept index
  // a ranks below b: smaller value, or equal value and larger index.
  const below = (a: number, b: number): boolean => row[a] < row[b] || (row[a] === row[b] && a > b);
  const siftDown = (i: number): void => {
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < heap.length && below(heap[l], heap[m])) m = l;
      if (r < heap.length && below(heap[r], heap[m])) m = r;
      if (m === i) return;
      [heap[i], heap[m]] = [heap[m], heap[i]];
      i = m;
    }
  };
  if (k <= 0) return [];
  for (let i = 0; i < row.length; i++) {
    if (!usable(row[i], i, suppress)) continue;
    if (heap.length < k) {
      heap.push(i);
      for (let j = heap.length - 1; j > 0; ) {
        const p = (j - 1) >> 1;
        if (!below(heap[j], heap[p])) break;
        [heap[j], heap[p]] = [heap[p], heap[j]];
        j = p;
      }
    } else if (below(heap[0], i)) {
      heap[0] = i;
      siftDown(0);
    }
  }
  return heap.sort((a, b) => (below(a, b) ? 1 : below(b, a) ? -1 : 0));
}

/** ln Σ exp(row[i]), computed stably (shifted by the maximum). */
export function logSumExp(row: ArrayLike<number>): number {
  let max = -Infinity;
  for (let i = 0; i < row.length; i++) if (row[i] > max) max = row[i];
  if (max === -Infinity) return -Infinity;
  let sum = 0;
  for (let i = 0; i < row.length; i++) sum += Math.exp(row[i] - max);
  return max + Math.log(sum);
}

/**
 * ln Σ exp(logits), as logSumExp within 1e-4 but faster: entries more than 20 nats below the top add
 * at most vocab · e^−20 (1e−4 of the total), so exp runs only near the top (one compare pass over the
 * vocabulary, not an exp pass). For models whose graph does not give the normaliser.
 */
export function logNormalizer(logits: Float32Array): number {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) if (logits[i] > max) max = logits[i];
  const floor = max - 20;
  let sum = 0;
  for (let i = 0; i < logits.length; i++) if (logits[i] > floor) sum += Math.exp(logits[i] - max);
  return max + Math.log(sum);
}

/**
 * Chooses the next token from one row of logits (length = vocabulary). Greedy when temperature is 0,
 * else samples from softmax(logits / T) restricted by top-k, then top-p. Draws exactly one number from
 * `rng` per sampled token, so a row's stream stays aligned whatever the other rows do.
 * `suppress` lists ids that must not be chosen (e.g. end-of-text before a minimum length).
 */
export function sampleToken(row: ArrayLike<number>, options: SamplingOptions, rng: Rng, suppress?: ReadonlySet<number>): number {
  const { temperature } = options;
  // 0 = no top-k limit; a k of at least the vocabulary is no limit either.
  const topK = options.topK !== undefined && options.topK > 0 && options.topK < row.length ? options.topK : 0;
  const topP = options.topP !== undefined && options.topP < 1 ? options.topP : 1;
  if (!(temperature > 0) || topK === 1 || !(topP > 0)) return argmax(row, suppress);

  if (topK > 0) {
    // Only the k kept logits need a weight.
    const top = topKIndices(row, topK, suppress);
    const w = weightsBuffer(row.length);
    for (const id of top) w[id] = Math.exp((row[id] - row[top[0]]) / temperature);
    const kept = nucleus(top, w, topP);
    return drawFrom(kept, w, kept.reduce((z, id) => z + w[id], 0), rng);
  }
  const { w, total } = softmaxWeights(row, temperature, suppress);
  if (topP === 1) return drawFrom(null, w, total, rng);
  const kept = nucleusOfRow(row, w, total, topP);
  let z = 0;
  for (let j = 0; j < kept.length; j++) z += w[kept[j]];
  return drawFrom(kept, w, z, rng);
}

let scratch = new Float64Array(0); // reused: sampling is synchronous and runs once per token

/** Weights by token id; only entries the caller sets are meaningful. */
function weightsBuffer(length: number): Float64Array {
  if (scratch.length < length) scratch = new Float64Array(length);
  return scratch.subarray(0, length);
}

/** Unnormalised softmax(row / T) by token id (0 where unusable), and its sum. */
function softmaxWeights(row: ArrayLike<number>, temperature: number, suppress: ReadonlySet<number> | undefined): { w: Float64Array; total: number } {
  const w = weightsBuffer(row.length);
  const max = row[argmax(row, suppress)];
  const scale = 1 / temperature;
  let total = 0;
  for (let i = 0; i < row.length; i++) {
    const v = usable(row[i], i, suppress) ? Math.exp((row[i] - max) * scale) : 0;
    w[i] = v;
    total += v;
  }
  return { w, total };
}

/** The shortest prefix of `sorted` (most likely first) whose share of the mass of `sorted` reaches `p`. */
function nucleus(sorted: number[], w: Float64Array, p: number): number[] {
  if (p >= 1) return sorted;
  let z = 0;
  for (const id of sorted) z += w[id];
  let cum = 0;
  for (let j = 0; j < sorted.length; j++) {
    cum += w[sorted[j]];
    if (cum >= p * z) return sorted.slice(0, j + 1);
  }
  return sorted;
}

/**
 * Top-p over the whole row without sorting it: a quickselect that partitions by rank and keeps the
 * side where the cumulative mass crosses p, so O(V) expected even when the nucleus is most of the
 * vocabulary (a near-flat distribution). The order of the result is deterministic but not sorted.
 */
function nucleusOfRow(row: ArrayLike<number>, w: Float64Array, total: number, p: number): Int32Array {
  const ids = new Int32Array(row.length);
  let n = 0;
  for (let i = 0; i < row.length; i++) if (w[i] > 0) ids[n++] = i;
  let need = p * total;
  let lo = 0;
  let hi = n;
  // Invariant: the nucleus is ids[0, lo) plus the top part of ids[lo, hi) with mass `need`.
  while (lo < hi) {
    const pivot = ids[(lo + hi) >> 1];
    const pv = row[pivot];
    let i = lo;
    let mass = 0;
    for (let j = lo; j < hi; j++) {
      const id = ids[j];
      const v = row[id];
      // ranks above the pivot: larger logit, or equal logit and lower id (as in topKIndices)
      if (v > pv || (v === pv && id < pivot)) {
        ids[j] = ids[i];
        ids[i++] = id;
        mass += w[id];
      }
    }
    const at = ids.indexOf(pivot, i);
    ids[at] = ids[i];
    ids[i] = pivot; // ids[lo, i) rank above the pivot, ids[i] is the pivot
    if (mass >= need) {
      hi = i;
    } else if (mass + w[pivot] >= need) {
      return ids.subarray(0, i + 1);
    } else {
      need -= mass + w[pivot];
      lo = i + 1;
    }
  }
  return ids.subarray(0, lo);
}

/** One draw from `candidates` (null: every id) in proportion to w; z is their total weight. */
function drawFrom(candidates: ArrayLike<number> | null, w: Float64Array, z: number, rng: Rng): number {
  let u = rng.next() * z;
  const count = candidates === null ? w.length : candidates.length;
  let last = -1;
  for (let j = 0; j < count; j++) {
    const id = candidates === null ? j : candidates[j];
    if (w[id] <= 0) continue;
    last = id;
    u -= w[id];
    if (u < 0) return id;
  }
  return last; // rounding: u landed on the total
}
