/**
 * A logistic head with one tanh hidden layer beside its linear term:
 * P(y = 1 | x) = σ(b + w·x + Σ_j v_j · tanh(c_j + U_j·x)).
 * The linear term is the logistic head (logistic.ts); the hidden units add interactions between
 * inputs that a linear rule cannot weigh (which source agrees with which, at a line start or
 * mid-line, with what reading of the line below). Used for the candidate-choice rule, whose ~50
 * scalar inputs on ~25,000 candidates give it enough data: on the quality sets' validation cuts its
 * NLL falls by ~6% against the linear rule (bench/QUALITY.md, "A hidden layer for the rule").
 *
 * Loss: mean NLL of the labels + ½·decay·(|w|² + |U|² + |v|²) (no decay on biases). Full-batch Adam
 * from a seeded small U, v = 0 and w = 0 (so it starts as the base rate); not convex, so the seed
 * matters a little and is fixed.
 */
import { Adam, baseRateLogit, sigmoid, softplus, type LabelledState } from './logistic';

/** The head's numbers: what the logit reads (the choice rule's stored arrays, or a head in training). */
export interface TanhWeights {
  /** Linear term [E]. */
  readonly weight: ArrayLike<number>;
  readonly bias: number;
  /** Hidden units' input weights, [H][E] row-major, and biases [H]. */
  readonly hiddenWeight: ArrayLike<number>;
  readonly hiddenBias: ArrayLike<number>;
  /** Each hidden unit's weight in the logit [H]. */
  readonly outWeight: ArrayLike<number>;
}

/** A head being trained: the same numbers in arrays the trainer updates. */
export interface TanhHead extends TanhWeights {
  readonly weight: Float64Array;
  bias: number;
  readonly hiddenWeight: Float64Array;
  readonly hiddenBias: Float64Array;
  readonly outWeight: Float64Array;
}

export interface TrainTanhHeadOptions {
  /** Hidden units (default 16). */
  hidden?: number;
  /** L2 penalty on the weights (default 1e-3). */
  decay?: number;
  /** Full-batch Adam steps (default 1500). */
  steps?: number;
  learningRate?: number;
  seed?: number;
  /**
   * A rule to adapt rather than a fresh start: training starts from its numbers and the penalty
   * pulls toward them, ½·decay·|θ − θ_prior|², so a little data moves it only as far as it shows.
   */
  prior?: TanhWeights;
}

/** The head's logit, with each hidden unit's activation written to `act` when given. */
export function tanhLogit(head: TanhWeights, x: ArrayLike<number>, act?: Float64Array): number {
  const E = head.weight.length, H = head.outWeight.length;
  let z = head.bias;
  for (let i = 0; i < E; i++) z += head.weight[i] * x[i];
  for (let j = 0; j < H; j++) {
    let a = head.hiddenBias[j];
    const row = j * E;
    for (let i = 0; i < E; i++) a += head.hiddenWeight[row + i] * x[i];
    const t = Math.tanh(a);
    if (act !== undefined) act[j] = t;
    z += head.outWeight[j] * t;
  }
  return z;
}

export interface TanhHeadGradient {
  loss: number;
  weight: Float64Array;
  bias: number;
  hiddenWeight: Float64Array;
  hiddenBias: Float64Array;
  outWeight: Float64Array;
}

/** Mean NLL + ½·decay·|weights − prior's|² (the prior's 0 when none), and its gradient with respect to every parameter. */
export function tanhHeadLoss(head: TanhHead, data: readonly LabelledState[], decay: number, prior?: TanhWeights): TanhHeadGradient {
  const E = head.weight.length, H = head.outWeight.length;
  const g: TanhHeadGradient = { loss: 0, weight: new Float64Array(E), bias: 0, hiddenWeight: new Float64Array(H * E), hiddenBias: new Float64Array(H), outWeight: new Float64Array(H) };
  const act = new Float64Array(H);
  for (const { h: x, label } of data) {
    const z = tanhLogit(head, x, act);
    g.loss += label === 1 ? softplus(-z) : softplus(z);
    const d = sigmoid(z) - label;
    g.bias += d;
    for (let i = 0; i < E; i++) g.weight[i] += d * x[i];
    for (let j = 0; j < H; j++) {
      g.outWeight[j] += d * act[j];
      const da = d * head.outWeight[j] * (1 - act[j] * act[j]);
      if (da === 0) continue;
      g.hiddenBias[j] += da;
      const row = j * E;
      for (let i = 0; i < E; i++) g.hiddenWeight[row + i] += da * x[i];
    }
  }
  const n = Math.max(1, data.length);
  let norm = 0;
  const scale = (grad: Float64Array, param: Float64Array, center?: ArrayLike<number>) => {
    for (let i = 0; i < grad.length; i++) {
      const off = center === undefined ? 0 : param[i] - (center[i] ?? 0);
      grad[i] = grad[i] / n + decay * off;
      norm += off ** 2;
    }
  };
  const zero: ArrayLike<number> = [];
  scale(g.weight, head.weight, prior?.weight ?? zero);
  scale(g.hiddenWeight, head.hiddenWeight, prior?.hiddenWeight ?? zero);
  scale(g.outWeight, head.outWeight, prior?.outWeight ?? zero);
  for (let j = 0; j < H; j++) g.hiddenBias[j] /= n;
  g.bias /= n;
  g.loss = g.loss / n + 0.5 * decay * norm;
  return g;
}

/**
 * Deterministic normal draws (Box–Muller over a 32-bit LCG): the start is part of the result. Kept
 * apart from the engine's Rng on purpose: the shipped rule was fitted from this start, and the same
 * fit from Rng.normal() ends at validation NLL 0.1749 against 0.1707 (bench/QUALITY.md, open brackets).
 */
function normals(count: number, seed: number, std: number): Float64Array {
  let s = (seed * 2654435761 + 1) >>> 0;
  const uniform = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) + 0.5) / 4294967296;
  const out = new Float64Array(count);
  for (let i = 0; i < count; i++) out[i] = std * Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform());
  return out;
}

export function trainTanhHead(data: readonly LabelledState[], E: number, options: TrainTanhHeadOptions = {}): TanhHead {
  const H = options.hidden ?? 16;
  const decay = options.decay ?? 1e-3;
  const steps = options.steps ?? 1500;
  const lr = options.learningRate ?? 0.01;
  const prior = options.prior;
  const head: TanhHead = prior === undefined
    ? { weight: new Float64Array(E), bias: baseRateLogit(data), hiddenWeight: normals(H * E, options.seed ?? 0, 0.3 / Math.sqrt(E)), hiddenBias: new Float64Array(H), outWeight: new Float64Array(H) }
    : { weight: Float64Array.from(prior.weight), bias: prior.bias, hiddenWeight: Float64Array.from(prior.hiddenWeight), hiddenBias: Float64Array.from(prior.hiddenBias), outWeight: Float64Array.from(prior.outWeight) };
  if (head.weight.length !== E || head.hiddenWeight.length !== head.outWeight.length * E) throw new Error(`trainTanhHead: the prior has ${head.weight.length} inputs, not ${E}`);
  const params = [head.weight, head.hiddenWeight, head.hiddenBias, head.outWeight];
  const moments = params.map((p) => new Adam(p.length));
  const bias = new Adam(1), biasValue = Float64Array.of(head.bias);
  for (let t = 1; t <= steps; t++) {
    const g = tanhHeadLoss(head, data, decay, prior);
    const grads = [g.weight, g.hiddenWeight, g.hiddenBias, g.outWeight];
    params.forEach((p, k) => moments[k].step(p, grads[k], t, lr));
    bias.step(biasValue, [g.bias], t, lr);
    head.bias = biasValue[0];
  }
  return head;
}
