/**
 * AdamW, the learning-rate schedule, global-norm clipping and gradient accumulation over
 * Float32Array: the update is memory-bound arithmetic (a few passes over the trainable tensors per
 * step), and running it outside the graph keeps the backward graph free of optimizer state. The
 * two big passes (the update, the gradient norm) run as WebAssembly SIMD kernels, with their JS
 * loops as fallback (wasm/optimizerKernels.ts). Nothing large allocates per step.
 */
import { UserError } from '../engine/errors';
import { openSafetensors, writeSafetensors, type TensorToWrite } from '../engine/safetensors';
import { adamwStep, optimizerKernelsWithState, sumOfSquares, type AdamWCoefficients, type OptimizerKernels } from './wasm/optimizerKernels';

export interface ParamSpec {
  name: string;
  shape: readonly number[];
}

export interface AdamWOptions {
  beta1?: number;
  beta2?: number;
  eps?: number;
  /** Decoupled weight decay (default 0.01, PyTorch's AdamW default). */
  weightDecay?: number;
  /** Which tensors decay (default: decaysByDefault). */
  decay?: (name: string, shape: readonly number[]) => boolean;
}

/**
 * Weight decay goes to matrices only: the Conv1D weights, and LoRA's A and B (decay pulls the
 * adapter towards the base model). Not to biases or layer-norm gains, whose scale is not a capacity
 * to regularise; and, by choice, not to the embeddings: wte is also the output head, and decay
 * shrinks every row each step while gradients reach only the rows of tokens in the batch, so the
 * rows of tokens absent from a workspace would fade for no reason. wpe follows for the same reason.
 */
export function decaysByDefault(name: string, shape: readonly number[]): boolean {
  return shape.length === 2 && !/(^|\.)(wte|wpe)\.weight$/.test(name);
}

function size(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

const STATE_FORMAT = 'gpt2-complete/adamw-1';

/**
 * AdamW as PyTorch computes it: p ← p·(1 − lr·wd); m ← β1·m + (1 − β1)·g; v ← β2·v + (1 − β2)·g²;
 * p ← p − lr·(m / (1 − β1ᵗ)) / (√(v / (1 − β2ᵗ)) + ε).
 */
export class AdamW {
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
  /** Updates taken so far (t of the bias corrections). */
  stepCount = 0;
  private readonly params: { name: string; shape: readonly number[]; decay: boolean; m: Float32Array; v: Float32Array; w?: Float32Array }[];
  /** Kernels whose memory holds every m and v (and room for the values, see adopt), when that memory could be had. */
  private readonly kernels?: OptimizerKernels;

  constructor(params: readonly ParamSpec[], opts: AdamWOptions = {}) {
    this.beta1 = opts.beta1 ?? 0.9;
    this.beta2 = opts.beta2 ?? 0.999;
    this.eps = opts.eps ?? 1e-8;
    this.weightDecay = opts.weightDecay ?? 0.01;
    const decay = opts.decay ?? decaysByDefault;
    // m, v and room for the values in the kernels' memory; m and v alone where all three do not fit.
    const withValues = optimizerKernelsWithState(params.flatMap((p) => [size(p.shape), size(p.shape), size(p.shape)]));
    const state = withValues ?? optimizerKernelsWithState(params.flatMap((p) => [size(p.shape), size(p.shape)]));
    const per = withValues ? 3 : 2;
    this.kernels = state?.kernels;
    this.params = params.map((p, i) => ({
      name: p.name,
      shape: [...p.shape],
      decay: decay(p.name, p.shape),
      m: state?.arrays[per * i] ?? new Float32Array(size(p.shape)),
      v: state?.arrays[per * i + 1] ?? new Float32Array(size(p.shape)),
      w: withValues?.arrays[per * i + 2],
    }));
  }

  /**
   * Moves the trainable values into the kernels' memory where there is room: each entry of `values`
   * is copied there and replaced by that copy (same numbers, a new array), so a step copies only the
   * gradients. Callers read the values from the map afterwards; one that keeps an old array would not
   * see updates. Without room this leaves the map as it is (steps are then only slower).
   */
  adopt(values: Map<string, Float32Array>): void {
    for (const p of this.params) {
      const v = values.get(p.name);
      if (!p.w || !v || v === p.w) continue;
      if (v.length !== p.w.length) throw new Error(`AdamW.adopt: ${p.name} has ${v.length} values, expected ${p.w.length}`);
      p.w.set(v);
      values.set(p.name, p.w);
    }
  }

  /** Names of the tensors that get weight decay. */
  get decayed(): string[] {
    return this.params.filter((p) => p.decay).map((p) => p.name);
  }

  /**
   * One update of `values` in place from `grads` multiplied by `gradScale` (where clipping's
   * factor goes, so the gradients need not be rewritten first).
   */
  step(values: ReadonlyMap<string, Float32Array>, grads: ReadonlyMap<string, Float32Array>, lr: number, gradScale = 1): void {
    // Check every tensor before touching any, so a missing one leaves the state as it was.
    for (const p of this.params) {
      const w = values.get(p.name);
      const g = grads.get(p.name);
      if (!w || !g) throw new Error(`AdamW.step: no ${w ? 'gradient' : 'value'} for ${p.name}`);
      if (w.length !== p.m.length || g.length !== p.m.length) throw new Error(`AdamW.step: ${p.name} has ${w.length} values and ${g.length} gradients, expected ${p.m.length}`);
    }
    this.stepCount++;
    const { beta1, beta2, eps } = this;
    const c: AdamWCoefficients = {
      beta1,
      beta2,
      c1: 1 - beta1,
      c2: 1 - beta2,
      keep: 1,
      stepSize: lr / (1 - Math.pow(beta1, this.stepCount)),
      invSqrtBc2: 1 / Math.sqrt(1 - Math.pow(beta2, this.stepCount)),
      eps,
      gradScale,
    };
    for (const p of this.params) {
      c.keep = p.decay ? 1 - lr * this.weightDecay : 1;
      adamwStep(values.get(p.name)!, grads.get(p.name)!, p.m, p.v, c, this.kernels);
    }
  }

  /** Writes m, v and the step count to a safetensors file (atomically: temp file + rename). */
  saveState(file: string): void {
    const tensors: TensorToWrite[] = [];
    for (const p of this.params) {
      tensors.push({ name: `exp_avg.${p.name}`, dtype: 'F32', shape: [...p.shape], data: p.m });
      tensors.push({ name: `exp_avg_sq.${p.name}`, dtype: 'F32', shape: [...p.shape], data: p.v });
    }
    writeSafetensors(file, tensors, {
      format: STATE_FORMAT,
      step: String(this.stepCount),
      beta1: String(this.beta1),
      beta2: String(this.beta2),
      eps: String(this.eps),
      weight_decay: String(this.weightDecay),
    });
  }

  /** Reads what saveState wrote; the file must hold exactly this optimizer's tensors and shapes. */
  loadState(file: string): void {
    const f = openSafetensors(file);
    try {
      const bad = (why: string) => new UserError(`${file}: ${why}; it is not the optimizer state of this run (start with a fresh --out folder)`);
      if (f.metadata.format !== STATE_FORMAT) throw bad(`format is ${JSON.stringify(f.metadata.format ?? null)}, expected "${STATE_FORMAT}"`);
      const step = Number(f.metadata.step);
      if (!Number.isSafeInteger(step) || step < 0) throw bad(`step ${JSON.stringify(f.metadata.step)} is not a count`);
      if (f.tensors.size !== 2 * this.params.length) throw bad(`it holds ${f.tensors.size} tensors, expected ${2 * this.params.length}`);
      const loaded: Float32Array[] = [];
      for (const p of this.params) {
        for (const name of [`exp_avg.${p.name}`, `exp_avg_sq.${p.name}`]) {
          const info = f.tensors.get(name);
          if (!info) throw bad(`tensor ${name} is missing`);
          if (info.dtype !== 'F32' || info.shape.join(',') !== p.shape.join(',')) throw bad(`tensor ${name} is ${info.dtype} [${info.shape.join(', ')}], expected F32 [${p.shape.join(', ')}]`);
          loaded.push(f.readFloat32(name));
        }
      }
      // All read and checked: only now replace the state, so a bad file leaves the optimizer as it was.
      this.params.forEach((p, i) => {
        p.m.set(loaded[2 * i]);
        p.v.set(loaded[2 * i + 1]);
      });
      this.stepCount = step;
    } finally {
      f.close();
    }
  }
}

/** √(Σ g²) over all tensors, accumulated in double precision. */
export function globalGradNorm(grads: Iterable<Float32Array>): number {
  let sum = 0;
  for (const g of grads) sum += sumOfSquares(g);
  return Math.sqrt(sum);
}

/** The factor clipping applies for a gradient of norm `norm`: PyTorch's maxNorm / (norm + 1e-6), at most 1. */
export function clipFactor(norm: number, maxNorm: number): number {
  if (!(maxNorm > 0) || !Number.isFinite(maxNorm)) return 1;
  return Math.min(1, maxNorm / (norm + 1e-6));
}

/** Scales `grads` in place so their global norm is at most maxNorm; returns the norm before clipping. */
export function clipGradNorm(grads: Iterable<Float32Array>, maxNorm: number): number {
  const list = [...grads];
  const norm = globalGradNorm(list);
  const f = clipFactor(norm, maxNorm);
  if (f < 1) for (const g of list) for (let i = 0; i < g.length; i++) g[i] *= f;
  return norm;
}

/**
 * Sums weighted micro-batch gradients into buffers allocated once. With weights 1/k for k
 * micro-batches of equal size, the sum is the mean gradient one batch of all k would give.
 */
export class GradientAccumulator {
  readonly grads = new Map<string, Float32Array>();
  /** Micro-batches added since the last reset. */
  count = 0;

  constructor(params: readonly ParamSpec[]) {
    for (const p of params) this.grads.set(p.name, new Float32Array(size(p.shape)));
  }

  reset(): void {
    for (const g of this.grads.values()) g.fill(0);
    this.count = 0;
  }

  add(grads: ReadonlyMap<string, Float32Array>, weight: number): void {
    for (const [name, acc] of this.grads) {
      const g = grads.get(name);
      if (!g) throw new Error(`GradientAccumulator.add: no gradient for ${name}`);
      if (g.length !== acc.length) throw new Error(`GradientAccumulator.add: ${name} has ${g.length} values, expected ${acc.length}`);
      for (let i = 0; i < acc.length; i++) acc[i] += weight * g[i];
    }
    this.count++;
  }
}

export interface ScheduleOptions {
  peakLr: number;
  /** Steps of linear warm-up from peakLr / warmupSteps to peakLr. */
  warmupSteps: number;
  /** The step count the cosine reaches its floor at. */
  totalSteps: number;
  /** The floor as a share of peakLr (default 0.1, as nanoGPT's min_lr = lr / 10). */
  minLrRatio?: number;
}

/**
 * Learning rate for update number `step` (0-based): linear warm-up over warmupSteps, then cosine
 * decay from peakLr to minLrRatio·peakLr at totalSteps (and the floor after, for runs extended past it).
 */
export function learningRate(step: number, o: ScheduleOptions): number {
  const floor = o.peakLr * (o.minLrRatio ?? 0.1);
  if (step < o.warmupSteps) return (o.peakLr * (step + 1)) / o.warmupSteps;
  const span = o.totalSteps - o.warmupSteps;
  if (span <= 0) return o.peakLr;
  const progress = Math.min(1, (step - o.warmupSteps) / span);
  return floor + (o.peakLr - floor) * 0.5 * (1 + Math.cos(Math.PI * progress));
}
