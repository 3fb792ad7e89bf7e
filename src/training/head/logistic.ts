/**
 * GPT-1's supervised head, P(y | x) = softmax(h W_y), for two classes (accepted or not). With two
 * classes the softmax is a sigmoid of the difference of the two logits, so the head is one weight
 * vector w = W_y[:,1] − W_y[:,0] and one bias: P(accepted) = σ(h·w + b). Everything is in doubles
 * over plain arrays: the head is E + 1 numbers trained on at most a few thousand states.
 *
 * Loss (the head's L2 in GPT-1's notation, as a mean to minimise): the mean negative log-likelihood
 * of the labels, plus ½·decay·|w|² (not on the bias). With the transformer frozen, GPT-1's λ·L1 term
 * (the language-model loss on the same text) does not depend on the head's parameters: its gradient
 * with respect to w and b is 0, so L3 = L2 + λ·L1 trains the same head for every λ.
 */

export interface LinearHead {
  /** [E] */
  readonly weight: Float64Array;
  bias: number;
}

export interface LabelledState {
  /** The final LayerNorm state [E]. */
  readonly h: Float32Array;
  readonly label: 0 | 1;
}

export function sigmoid(z: number): number {
  return z >= 0 ? 1 / (1 + Math.exp(-z)) : Math.exp(z) / (1 + Math.exp(z));
}

export function logit(head: LinearHead, h: ArrayLike<number>): number {
  let z = head.bias;
  for (let i = 0; i < head.weight.length; i++) z += head.weight[i] * h[i];
  return z;
}

/** log(1 + e^z) without overflow. */
export function softplus(z: number): number {
  return z > 0 ? z + Math.log1p(Math.exp(-z)) : Math.log1p(Math.exp(z));
}

/** Mean NLL of the labels + ½·decay·|w|², and its gradient. */
export function headLoss(head: LinearHead, data: readonly LabelledState[], decay: number): { loss: number; gradWeight: Float64Array; gradBias: number } {
  const E = head.weight.length;
  const gradWeight = new Float64Array(E);
  let gradBias = 0;
  let loss = 0;
  for (const { h, label } of data) {
    const z = logit(head, h);
    // −log σ(z) = softplus(−z); −log(1 − σ(z)) = softplus(z).
    loss += label === 1 ? softplus(-z) : softplus(z);
    const d = sigmoid(z) - label;
    for (let i = 0; i < E; i++) gradWeight[i] += d * h[i];
    gradBias += d;
  }
  const n = Math.max(1, data.length);
  let norm = 0;
  for (let i = 0; i < E; i++) {
    gradWeight[i] = gradWeight[i] / n + decay * head.weight[i];
    norm += head.weight[i] ** 2;
  }
  return { loss: loss / n + 0.5 * decay * norm, gradWeight, gradBias: gradBias / n };
}

export interface TrainHeadOptions {
  /** L2 penalty on w (default 1e-3). */
  decay?: number;
  /** Full-batch Adam steps (default 400). */
  steps?: number;
  learningRate?: number;
}

/**
 * Full-batch Adam from w = 0 and b = the log-odds of the base rate: convex, so the start only
 * changes how many steps it takes.
 */
export function trainLinearHead(data: readonly LabelledState[], E: number, options: TrainHeadOptions = {}): LinearHead {
  const decay = options.decay ?? 1e-3;
  const steps = options.steps ?? 400;
  const lr = options.learningRate ?? 0.05;
  const head: LinearHead = { weight: new Float64Array(E), bias: baseRateLogit(data) };
  const weight = new Adam(E), bias = new Adam(1);
  const biasValue = Float64Array.of(head.bias);
  for (let t = 1; t <= steps; t++) {
    const { gradWeight, gradBias } = headLoss(head, data, decay);
    weight.step(head.weight, gradWeight, t, lr);
    bias.step(biasValue, [gradBias], t, lr);
    head.bias = biasValue[0];
  }
  return head;
}

/** The logit of the labels' base rate (clamped to [0.001, 0.999]): where a head's bias starts, so it starts as the base rate. */
export function baseRateLogit(data: readonly LabelledState[]): number {
  const positives = data.filter((d) => d.label === 1).length;
  const rate = Math.min(1 - 1e-3, Math.max(1e-3, positives / Math.max(1, data.length)));
  return Math.log(rate / (1 - rate));
}

/** Adam's moments for one parameter array (β = 0.9, 0.999), shared by the heads' and the cache gate's full-batch trainers. */
export class Adam {
  private readonly m: Float64Array;
  private readonly v: Float64Array;

  constructor(size: number) {
    this.m = new Float64Array(size);
    this.v = new Float64Array(size);
  }

  /** Step `t` (from 1) of `param` down its gradient. */
  step(param: Float64Array, grad: ArrayLike<number>, t: number, lr: number): void {
    const b1 = 0.9, b2 = 0.999;
    for (let i = 0; i < param.length; i++) {
      this.m[i] = b1 * this.m[i] + (1 - b1) * grad[i];
      this.v[i] = b2 * this.v[i] + (1 - b2) * grad[i] * grad[i];
      param[i] -= (lr * (this.m[i] / (1 - b1 ** t))) / (Math.sqrt(this.v[i] / (1 - b2 ** t)) + 1e-8);
    }
  }
}
