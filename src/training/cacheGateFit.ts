/**
 * Fits the cache model's mixture gate (engine/cacheModel/mixture.ts, CacheGate) on scored tokens: the θ maximising
 * Σ ln((1 − w)·P_model(true) + w·P_cache(true)), w = maxWeight · σ(θ·x), by Adam on the mean negative
 * log-likelihood with a small L2 penalty (the biases are not penalised: an order's intercept is what
 * the β rule fitted alone). bench/fitCache.ts feeds it; the gradient is checked against finite
 * differences in test/unit/cacheGate.test.ts.
 */
import { MAX_ORDER } from '../engine/cacheModel/cacheModel';
import type { CacheGate, GateInputs } from '../engine/cacheModel/mixture';
import { Adam } from './head/logistic';

/** One scored token: what the gate reads of the cache's prediction, and both sides' probability of the true token. */
export interface GateSample extends GateInputs {
  readonly pModel: number;
  readonly pCache: number;
}

const ORDERS = MAX_ORDER + 1;
/** θ = [bias_0..bias_MAX_ORDER, logCount, cacheTop]. */
const SIZE = ORDERS + 2;

export function gateFeatures(x: GateSample): Float64Array {
  const f = new Float64Array(SIZE);
  f[Math.min(x.order, MAX_ORDER)] = 1;
  f[ORDERS] = Math.log1p(x.count);
  f[ORDERS + 1] = Math.log(x.cacheTop);
  return f;
}

export function gateFromTheta(theta: ArrayLike<number>): CacheGate {
  return {
    bias: Array.from({ length: ORDERS }, (_, k) => theta[k]),
    logCount: theta[ORDERS],
    cacheTop: theta[ORDERS + 1],
  };
}

/** Mean negative log-likelihood of the mixture over the samples, and its gradient in θ (with the penalty). */
export function gateLoss(theta: ArrayLike<number>, features: readonly Float64Array[], samples: readonly GateSample[], maxWeight: number, l2: number): { loss: number; grad: Float64Array } {
  const grad = new Float64Array(SIZE);
  let loss = 0;
  for (let i = 0; i < samples.length; i++) {
    const x = features[i], s = samples[i];
    let z = 0;
    for (let k = 0; k < SIZE; k++) z += theta[k] * x[k];
    const sig = 1 / (1 + Math.exp(-z));
    const w = maxWeight * sig;
    const p = (1 - w) * s.pModel + w * s.pCache + 1e-30;
    loss -= Math.log(p);
    const dz = (-(s.pCache - s.pModel) / p) * maxWeight * sig * (1 - sig);
    for (let k = 0; k < SIZE; k++) grad[k] += dz * x[k];
  }
  const n = Math.max(1, samples.length);
  loss /= n;
  for (let k = 0; k < SIZE; k++) grad[k] /= n;
  for (let k = ORDERS; k < SIZE; k++) {
    loss += 0.5 * l2 * theta[k] * theta[k];
    grad[k] += l2 * theta[k];
  }
  return { loss, grad };
}

export interface GateFitOptions {
  readonly maxWeight: number;
  readonly l2?: number;
  readonly steps?: number;
  readonly learningRate?: number;
}

/**
 * The fitted gate. An order without samples gets a bias of −20 (w ≈ 0): no evidence, no trust, as
 * the β fit gives such an order the grid's largest β.
 */
export function fitGate(samples: readonly GateSample[], { maxWeight, l2 = 1e-3, steps = 400, learningRate = 0.05 }: GateFitOptions): CacheGate {
  const features = samples.map(gateFeatures);
  const seen = new Array<boolean>(ORDERS).fill(false);
  for (const s of samples) seen[Math.min(s.order, MAX_ORDER)] = true;
  const theta = new Float64Array(SIZE);
  const adam = new Adam(SIZE);
  for (let step = 1; step <= steps; step++) adam.step(theta, gateLoss(theta, features, samples, maxWeight, l2).grad, step, learningRate);
  for (let k = 0; k < ORDERS; k++) if (!seen[k]) theta[k] = -20;
  return gateFromTheta(Array.from(theta, (t) => +t.toFixed(4)));
}
