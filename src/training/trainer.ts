/**
 * The training loop over a TrainingSession: batches from the objective, AdamW with warm-up and
 * cosine decay, clipping, accumulation, held-out evaluation with early stopping on L2, checkpoints,
 * resume, cancellation, and the final adapter or model.
 *
 * Reproducibility is by construction: every random choice is derived from (seed, epoch) — the data
 * order of epoch e is a shuffle seeded by hash(seed, e), and step s always runs micro-batches
 * s·k … s·k + k − 1 of that order — so a checkpoint needs only its step number, the trainable
 * values and the optimizer state to continue exactly as an uninterrupted run would (bitwise, given a
 * deterministic session).
 *
 * Checkpoint layout, under `<out>/checkpoints/`:
 *   step-0000120/trainable.safetensors   trainable values under their param names
 *   step-0000120/optimizer.safetensors   AdamW m, v and step count
 *   step-0000120/trainer.json            step, data position, best evaluation, history, run key
 *   latest.json                          {"step": 120, "dir": "step-0000120"}
 * A checkpoint folder is written under a temp name and renamed whole, then latest.json is replaced
 * (temp + rename): a crash at any point leaves the previous checkpoint complete and pointed to.
 * Only the latest and the best checkpoints are kept.
 */
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { writeCheckpoint as writeModelCheckpoint } from '../engine/checkpoint';
import type { GPT2Config } from '../engine/config';
import { CancelledError, UserError } from '../engine/errors';
import { Rng } from '../engine/random';
import type { WeightSource } from '../engine/weights';
import {
  CHECKPOINTS, latestCheckpoint, OPTIMIZER_FILE, readTrainerState, readValues, saveTrainerCheckpoint, STATE_VERSION, stepDirName, type TrainerState,
} from './checkpointStore';
import { hashToUint32 } from './data/seededHash';
import { sessionScorer } from './evaluate';
import { initLoraValues, saveAdapter, type LoraConfig } from './lora';
import {
  combineLosses, makeBatch, microBatchWeights, planBatches,
  type BatchPlan, type BatchShape, type CountedLosses, type Losses, type PackedBatch, type PlanOptions, type TokenExample, type TrainableParam,
  type TrainingSessionLike,
} from './objective';
import { AdamW, GradientAccumulator, clipFactor, globalGradNorm, learningRate } from './optimizer';

/**
 * GPT-1's λ, kept after measuring 0, 0.1 and 0.5 on held-out data (bench/LAMBDA.md): with LoRA on a
 * pre-trained model they were indistinguishable (≤ 0.007 nats of held-out L2), and from random
 * weights 0.5 was best. Users of other tools report 0.01–0.1 working best for short completions; that
 * case awaits a run on real gpt2.
 */
export const DEFAULT_LAMBDA = 0.5;
/** run_clm's 5e-5 for full fine-tuning; LoRA's small, zero-started delta takes a larger step. */
export const DEFAULT_LR = { full: 5e-5, lora: 2e-4 } as const;
export const DEFAULT_MAX_GRAD_NORM = 1;
export const DEFAULT_PATIENCE = 3;
/** Steps whose losses make up the reported training loss. */
const RECENT_STEPS = 20;

export type TrainerOutput =
  | { method: 'lora'; lora: LoraConfig; model: GPT2Config; baseModel?: string }
  | { method: 'full'; base: WeightSource };

export interface TrainProgress {
  /** Steps completed. */
  step: number;
  totalSteps: number;
  /** Epochs completed, fractional. */
  epoch: number;
  losses: Losses;
  lr: number;
  gradNorm: number;
  /** Non-padding tokens trained on so far (this invocation and before a resume). */
  tokens: number;
  /** Over the steps of this invocation, step time only. */
  tokensPerSec: number;
  /** Wall-clock seconds left at this invocation's pace, evaluations and checkpoints included. */
  etaSec: number;
}

export interface EvalRecord {
  step: number;
  l1: number;
  l2: number;
  l3: number;
  improved: boolean;
}

export interface TrainerOptions {
  session: TrainingSessionLike;
  /** The trainable tensors' starting values (initialValues); updated in place as training runs. */
  values: Map<string, Float32Array>;
  train: readonly TokenExample[];
  /** Held-out examples for evaluation and early stopping; none: no evaluation, the last step wins. */
  heldOut?: readonly TokenExample[];
  /** The session's batch shape. */
  shape: BatchShape;
  plan?: PlanOptions;
  outDir: string;
  /** What to write into outDir at the end (the best values); none: only checkpoints. */
  output?: TrainerOutput;
  /** For the default learning rate when `output` does not say (default 'lora'). */
  method?: 'full' | 'lora';
  lambda?: number;
  /** Peak learning rate (default DEFAULT_LR[method]); 0 trains nothing. */
  lr?: number;
  /** Default 5% of the steps, between 1 and 200. */
  warmupSteps?: number;
  minLrRatio?: number;
  /** Updates to take; else `epochs` (default 1) passes over the data. */
  steps?: number;
  epochs?: number;
  /** Micro-batches per update (default 1). */
  accumulation?: number;
  weightDecay?: number;
  maxGradNorm?: number;
  seed?: number;
  /** Default: every tenth of the run. */
  checkpointEvery?: number;
  /** Default with held-out data: every tenth of the run; 0: never. */
  evalEvery?: number;
  /** Evaluations without improvement of held-out L2 before stopping (default 3). */
  patience?: number;
  /** Improvement below this does not count (default 0). */
  minDelta?: number;
  /** Continue from the checkpoint in outDir when there is one (default true). */
  resume?: boolean;
  signal?: AbortSignal;
  /** Waits after this step (its checkpoint written) until `signal` aborts: tests cancel at a known step. */
  holdAfterStep?: number;
  /**
   * Milliseconds (on `now`'s clock) this invocation may train for: past it, the step just taken is
   * the last (evaluated, checkpointed, the best values written). A time budget, for a default run
   * on a machine that got slower after its pace was measured; not part of the run's key.
   */
  timeLimitMs?: number;
  onProgress?: (p: TrainProgress) => void;
  onEval?: (e: EvalRecord & { best: EvalRecord | null }) => void;
  onCheckpoint?: (c: { step: number; dir: string }) => void;
  /** Clock in ms (tests). */
  now?: () => number;
}

export interface TrainResult {
  steps: number;
  tokens: number;
  tokensPerSec: number;
  /** Token-level losses over the last steps (up to 20). */
  train: Losses;
  /** The time limit ended the run before its planned steps. */
  stoppedByTime: boolean;
  best: EvalRecord | null;
  evals: EvalRecord[];
  stoppedEarly: boolean;
  /** The values written out: the best evaluation's, or the last step's without evaluation. */
  values: Map<string, Float32Array>;
  resumedFrom: number | null;
  out: string;
}

/** The starting trainable values: copies of the base tensors (full), or PEFT's LoRA init. */
export function initialValues(
  params: readonly TrainableParam[],
  from: { method: 'full'; base: WeightSource } | { method: 'lora'; lora: LoraConfig; model: GPT2Config; seed: number },
): Map<string, Float32Array> {
  const values = new Map<string, Float32Array>();
  const lora = from.method === 'lora' ? initLoraValues(from.model, from.lora, from.seed) : null;
  for (const p of params) {
    const v = lora ? lora.get(p.name) : Float32Array.from((from as { base: WeightSource }).base.tensor(p.name));
    if (!v) throw new Error(`initialValues: ${p.name} is not a LoRA tensor of this config`);
    if (v.length !== size(p.shape)) throw new Error(`initialValues: ${p.name} has ${v.length} values, shape [${p.shape.join(', ')}]`);
    values.set(p.name, v);
  }
  return values;
}

function size(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** A seeded Fisher–Yates shuffle of 0 … n − 1 for one epoch. */
export function epochOrder(n: number, seed: number, epoch: number): number[] {
  const order = Array.from({ length: n }, (_, i) => i);
  const rng = new Rng(hashToUint32('epoch', seed, epoch));
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rng.next() * (i + 1));
    const t = order[i];
    order[i] = order[j];
    order[j] = t;
  }
  return order;
}

/** SHA-256 of the examples' tokens: a resumed run must train on the same data. */
function dataFingerprint(...sets: (readonly TokenExample[] | undefined)[]): string {
  const h = createHash('sha256');
  for (const set of sets) {
    h.update(`set ${set?.length ?? -1};`);
    for (const e of set ?? []) h.update(`${e.contextIds.join(',')}|${e.continuationIds.join(',')};`);
  }
  return h.digest('hex');
}

function firstDifference(a: Record<string, unknown>, b: Record<string, unknown>): string | null {
  for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) {
    if (JSON.stringify(a[k]) !== JSON.stringify(b[k])) return k;
  }
  return null;
}

// ---- the loop ----

interface Resolved {
  lambda: number;
  lr: number;
  warmupSteps: number;
  minLrRatio: number;
  totalSteps: number;
  accumulation: number;
  weightDecay: number;
  maxGradNorm: number;
  seed: number;
  checkpointEvery: number;
  evalEvery: number;
  patience: number;
  minDelta: number;
  batchesPerEpoch: number;
}

function positiveInt(name: string, v: number | undefined, fallback: number): number {
  const x = v ?? fallback;
  if (!(Number.isInteger(x) && x > 0)) throw new UserError(`${name} must be a positive integer (got ${x})`);
  return x;
}

function resolve(o: TrainerOptions): Resolved {
  if (o.train.length === 0) throw new UserError('no training examples');
  const batchesPerEpoch = Math.ceil(o.train.length / o.shape.rows);
  const accumulation = positiveInt('accumulation', o.accumulation, 1);
  const stepsPerEpoch = Math.ceil(batchesPerEpoch / accumulation);
  if (o.steps !== undefined && o.epochs !== undefined) throw new UserError('give either a number of steps or of epochs, not both');
  const epochs = o.epochs ?? 1;
  if (!(epochs > 0)) throw new UserError(`epochs must be positive (got ${epochs})`);
  const totalSteps = o.steps !== undefined ? positiveInt('steps', o.steps, 1) : Math.max(1, Math.ceil(epochs * stepsPerEpoch));
  const method = o.output?.method ?? o.method ?? 'lora';
  const lr = o.lr ?? DEFAULT_LR[method];
  // 0 is allowed: a control run that changes nothing (tests check what happens to an adapter that did not help).
  if (!(lr >= 0 && Number.isFinite(lr))) throw new UserError(`learning rate must be a non-negative number (got ${lr})`);
  const lambda = o.lambda ?? DEFAULT_LAMBDA;
  if (!(lambda >= 0 && Number.isFinite(lambda))) throw new UserError(`lambda must be a non-negative number (got ${lambda})`);
  const tenth = Math.max(1, Math.ceil(totalSteps / 10));
  const hasHeldOut = (o.heldOut?.length ?? 0) > 0;
  const evalEvery = hasHeldOut ? (o.evalEvery ?? tenth) : 0;
  if (!(Number.isInteger(evalEvery) && evalEvery >= 0)) throw new UserError(`evalEvery must be a whole number of steps (got ${evalEvery})`);
  return {
    lambda,
    lr,
    warmupSteps: o.warmupSteps ?? Math.max(1, Math.min(200, Math.round(totalSteps * 0.05))),
    minLrRatio: o.minLrRatio ?? 0.1,
    totalSteps,
    accumulation,
    weightDecay: o.weightDecay ?? 0.01,
    maxGradNorm: o.maxGradNorm ?? DEFAULT_MAX_GRAD_NORM,
    seed: o.seed ?? 0,
    checkpointEvery: positiveInt('checkpointEvery', o.checkpointEvery, tenth),
    evalEvery,
    patience: positiveInt('patience', o.patience, DEFAULT_PATIENCE),
    minDelta: o.minDelta ?? 0,
    batchesPerEpoch,
  };
}

/** Everything the values depend on; a checkpoint is resumed only by a run with the same key. */
function runKey(o: TrainerOptions, r: Resolved): Record<string, unknown> {
  return {
    params: o.session.params.map((p) => `${p.name}[${p.shape.join(',')}]`).join(' '),
    data: dataFingerprint(o.train, o.heldOut),
    shape: `${o.shape.rows}x${o.shape.seqLen}`,
    plan: { trimToLongest: o.plan?.trimToLongest ?? false, quantum: o.plan?.quantum ?? null, bucketBatches: o.plan?.bucketBatches ?? null },
    lambda: r.lambda,
    lr: r.lr,
    warmupSteps: r.warmupSteps,
    minLrRatio: r.minLrRatio,
    totalSteps: r.totalSteps,
    accumulation: r.accumulation,
    weightDecay: r.weightDecay,
    maxGradNorm: r.maxGradNorm,
    seed: r.seed,
    evalEvery: r.evalEvery,
    patience: r.patience,
    minDelta: r.minDelta,
  };
}

/** Micro-batch plans of an epoch, computed once per epoch. */
class DataOrder {
  private epoch = -1;
  private plans: BatchPlan[] = [];

  constructor(
    private readonly examples: readonly TokenExample[],
    private readonly shape: BatchShape,
    private readonly plan: PlanOptions | undefined,
    private readonly seed: number,
    readonly batchesPerEpoch: number,
  ) {}

  /** Global micro-batch g: batch g mod B of epoch ⌊g / B⌋. */
  batch(g: number): { plan: BatchPlan; epoch: number; index: number } {
    const epoch = Math.floor(g / this.batchesPerEpoch);
    const index = g % this.batchesPerEpoch;
    if (epoch !== this.epoch) {
      this.plans = planBatches(this.examples, epochOrder(this.examples.length, this.seed, epoch), this.shape, this.plan);
      if (this.plans.length !== this.batchesPerEpoch) throw new Error(`DataOrder: ${this.plans.length} batches in epoch ${epoch}, expected ${this.batchesPerEpoch}`);
      this.epoch = epoch;
    }
    return { plan: this.plans[index], epoch, index };
  }
}

function freshState(r: Resolved, key: Record<string, unknown>): TrainerState {
  return {
    version: STATE_VERSION,
    step: 0,
    tokens: 0,
    dataOrder: { seed: r.seed, epoch: 0, batchInEpoch: 0 },
    rng: { kind: 'derived', seed: r.seed },
    best: null,
    evalsWithoutImprovement: 0,
    evals: [],
    recent: [],
    done: false,
    stoppedEarly: false,
    runKey: key,
  };
}

function checkValues(params: readonly TrainableParam[], values: Map<string, Float32Array>): void {
  for (const p of params) {
    const v = values.get(p.name);
    if (!v) throw new Error(`train: no starting value for ${p.name}`);
    if (v.length !== size(p.shape)) throw new Error(`train: ${p.name} has ${v.length} values, shape [${p.shape.join(', ')}] needs ${size(p.shape)}`);
  }
}

export async function train(o: TrainerOptions): Promise<TrainResult> {
  const r = resolve(o);
  const params = o.session.params;
  checkValues(params, o.values);
  const now = o.now ?? (() => performance.now());
  const key = runKey(o, r);
  const optimizer = new AdamW(params, { weightDecay: r.weightDecay });
  optimizer.adopt(o.values); // the values now live in the optimizer's memory; o.values holds them
  const accumulator = r.accumulation > 1 ? new GradientAccumulator(params) : null;
  const order = new DataOrder(o.train, o.shape, o.plan, r.seed, r.batchesPerEpoch);
  const schedule = { peakLr: r.lr, warmupSteps: r.warmupSteps, totalSteps: r.totalSteps, minLrRatio: r.minLrRatio };

  let state = freshState(r, key);
  let resumedFrom: number | null = null;
  const latest = o.resume === false ? null : latestCheckpoint(o.outDir);
  if (latest) {
    const saved = readTrainerState(latest.dir);
    const diff = firstDifference(saved.runKey, key);
    if (diff !== null) {
      throw new UserError(
        `${o.outDir} holds a checkpoint of a different run (its ${diff} differs); choose another output folder, or remove ${path.join(o.outDir, CHECKPOINTS)} to start over`,
      );
    }
    readValues(latest.dir, params, o.values);
    optimizer.loadState(path.join(latest.dir, OPTIMIZER_FILE));
    state = saved;
    resumedFrom = saved.step;
  }

  const save = (): string => {
    const g = state.step * r.accumulation;
    state.dataOrder = { seed: r.seed, epoch: Math.floor(g / r.batchesPerEpoch), batchInEpoch: g % r.batchesPerEpoch };
    const dir = saveTrainerCheckpoint(o.outDir, state, params, o.values, optimizer);
    o.onCheckpoint?.({ step: state.step, dir });
    return dir;
  };
  const scorer = o.heldOut && r.evalEvery > 0 ? sessionScorer(o.session, o.values, o.shape, o.plan) : null;

  const startStep = state.step;
  const t0 = now();
  let stoppedByTime = false;
  let trainMs = 0;
  let runTokens = 0;
  while (!state.done && state.step < r.totalSteps) {
    if (o.signal?.aborted) throw new CancelledError();
    const stepStart = now();
    const batches: PackedBatch[] = [];
    for (let k = 0; k < r.accumulation; k++) {
      const { plan } = order.batch(state.step * r.accumulation + k);
      batches.push(makeBatch(o.train, plan.group, { rows: o.shape.rows, seqLen: plan.seqLen }));
    }
    const weights = microBatchWeights(batches, r.lambda);
    const parts: CountedLosses[] = [];
    let grads: Map<string, Float32Array> | null = null;
    let gradSqNorm: number | undefined;
    accumulator?.reset();
    for (let k = 0; k < batches.length; k++) {
      const b = batches[k];
      if (weights[k].gradScale === 0) continue;
      const res = await o.session.step(b, o.values, weights[k].lambda, { seed: hashToUint32('step', r.seed, state.step, k) });
      parts.push({ l1: res.l1, l2: res.l2, l3: 0, l1Targets: b.l1Targets, l2Targets: b.l2Targets });
      if (accumulator) accumulator.add(res.grads, weights[k].gradScale);
      else ({ grads, gradSqNorm } = res);
    }
    const losses = combineLosses(parts, r.lambda);
    const g = accumulator ? accumulator.grads : grads;
    if (!g) throw new UserError(`step ${state.step + 1}: the batch has no targets (empty examples?)`);
    // One batch: the session's own Σg² where it gives one; accumulated batches: the norm of their weighted sum.
    const gradNorm = gradSqNorm !== undefined && !accumulator ? Math.sqrt(gradSqNorm) : globalGradNorm(params.map((p) => g.get(p.name)!));
    if (!Number.isFinite(losses.l3) || !Number.isFinite(gradNorm)) {
      throw new UserError(
        `training diverged at step ${state.step + 1} (loss ${losses.l3}, gradient norm ${gradNorm}); the last checkpoint is kept; lower the learning rate (now ${r.lr})`,
      );
    }
    const lr = learningRate(state.step, schedule);
    optimizer.step(o.values, g, lr, clipFactor(gradNorm, r.maxGradNorm));
    state.step++;
    const stepTokens = batches.reduce((n, b) => n + b.tokens, 0);
    state.tokens += stepTokens;
    runTokens += stepTokens;
    state.recent = [...state.recent, losses].slice(-RECENT_STEPS);
    trainMs += now() - stepStart;

    const stepsThisRun = state.step - startStep;
    o.onProgress?.({
      step: state.step,
      totalSteps: r.totalSteps,
      epoch: (state.step * r.accumulation) / r.batchesPerEpoch,
      losses: { l1: losses.l1, l2: losses.l2, l3: losses.l3 },
      lr,
      gradNorm,
      tokens: state.tokens,
      tokensPerSec: trainMs > 0 ? (runTokens * 1000) / trainMs : 0,
      etaSec: ((now() - t0) / stepsThisRun / 1000) * (r.totalSteps - state.step),
    });

    let saved = false;
    const timeUp = o.timeLimitMs !== undefined && state.step < r.totalSteps && now() - t0 >= o.timeLimitMs;
    if (timeUp) stoppedByTime = true;
    const last = state.step === r.totalSteps || timeUp;
    if (scorer && (state.step % r.evalEvery === 0 || last)) {
      const h = await scorer(o.heldOut!, r.lambda, o.signal);
      const improved = state.best === null || h.l2 < state.best.l2 - r.minDelta;
      const record: EvalRecord = { step: state.step, l1: h.l1, l2: h.l2, l3: h.l3, improved };
      state.evals.push(record);
      if (improved) {
        state.best = { ...record, dir: stepDirName(state.step) };
        state.evalsWithoutImprovement = 0;
      } else {
        state.evalsWithoutImprovement++;
      }
      if (state.evalsWithoutImprovement >= r.patience) state.stoppedEarly = true;
      state.done = last || state.stoppedEarly;
      o.onEval?.({ ...record, best: state.best && stripDir(state.best) });
      // The best values must survive until the end: an improving evaluation always checkpoints.
      if (improved || state.done || state.step % r.checkpointEvery === 0) {
        save();
        saved = true;
      }
    }
    if (!saved && (last || state.step % r.checkpointEvery === 0)) {
      state.done = last;
      save();
    }
    if (o.holdAfterStep === state.step && !state.done) await untilAborted(o.signal);
  }

  const values = state.best && state.best.step !== state.step ? readValues(path.join(o.outDir, CHECKPOINTS, state.best.dir), params) : o.values;
  if (o.output) writeOutput(o.outDir, o.output, params, values);
  const totalTrainSec = trainMs / 1000;
  const train = combineLosses(state.recent, r.lambda);
  return {
    steps: state.step,
    tokens: state.tokens,
    tokensPerSec: totalTrainSec > 0 ? runTokens / totalTrainSec : 0,
    train: { l1: train.l1, l2: train.l2, l3: train.l3 },
    stoppedByTime,
    best: state.best && stripDir(state.best),
    evals: state.evals,
    stoppedEarly: state.stoppedEarly,
    values,
    resumedFrom,
    out: path.resolve(o.outDir),
  };
}

/** Resolves when `signal` aborts (never without one: a hold is only asked for with a signal). */
function untilAborted(signal: AbortSignal | undefined): Promise<void> {
  if (signal === undefined) throw new Error('holdAfterStep needs a signal to end the hold');
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
}

function stripDir(b: EvalRecord & { dir: string }): EvalRecord {
  const { dir: _dir, ...rest } = b;
  return rest;
}

/** The trained result in outDir: a PEFT adapter (LoRA), or a whole checkpoint with the trained tensors (full). */
function writeOutput(outDir: string, output: TrainerOutput, params: readonly TrainableParam[], values: Map<string, Float32Array>): void {
  if (output.method === 'lora') {
    saveAdapter(outDir, output.lora, values, { baseModel: output.baseModel, model: output.model });
    return;
  }
  const base = output.base;
  const trained: WeightSource = { config: base.config, tensor: (name) => values.get(name) ?? base.tensor(name) };
  for (const p of params) if (!values.has(p.name)) throw new Error(`writeOutput: no value for ${p.name}`);
  writeModelCheckpoint(outDir, base.config, trained);
}
