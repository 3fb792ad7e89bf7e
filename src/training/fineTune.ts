/**
 * A whole fine-tuning run, as the child process (fineTuneProcess.ts) runs it for the CLI and the
 * extension: mine the folder → report → enough data? → batch shape → memory → estimate → (dry run
 * stops) → evaluate before (and the quality judge on the base model) → train, choosing the best
 * step on the validation files → save the best → evaluate after (and judge the adapter) → the
 * verdict (did it help?) → out/report.json, and the resume checkpoints go.
 *
 * Every stage tells the front end through `emit`; the signal cancels at the next step boundary (or
 * between files, batches and cases outside training), keeping the last checkpoint. A second run
 * with the same `out` continues from that checkpoint (the trainer checks it is the same run); a
 * second run while the first still writes `out` is refused (outputLock.ts). JSON goes through
 * atomicFile.ts, and a full disk is one line that says the run resumes once there is space.
 *
 * Losses before and after come from the training session's forward-only graph (fast, batched);
 * exact match from a CompletionEngine, the after one built from the files just written to `out`,
 * so the result measures what the user will load, not only what was in memory. The held-out files
 * only measure: early stopping and the best checkpoint are chosen on separate validation files
 * (split.ts), so "after" is not flattered by having been picked on the cases it reports.
 */
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { describeWriteError, writeJsonAtomic } from '../engine/atomicFile';
import { openCheckpoint, type Checkpoint } from '../engine/checkpoint';
import { NAMED_CONFIGS, type GPT2Config } from '../engine/config';
import { CancelledError, UserError } from '../engine/errors';
import { loadEngine, type WeightsOverlay } from '../engine/loadModel';
import { findPreset } from '../engine/presets';
import type { WeightSource } from '../engine/weights';
import { checkpointOverlay, loraOverlay } from './adapterOverlay';
import { checkEnoughData, formatReport, mineDataset, type DatasetOptions, type DataReport } from './data/dataset';
import type { Example } from './data/examples';
import { secretFindings } from './data/report';
import type { SecretsMode } from './data/secretScan';
import { DEFAULT_EVAL_CASES, evalCases, evaluate, sessionScorer, type EvalResult } from './evaluate';
import type { ChildMessage, FineTuneJob, FineTuneResultJson, HeadJson, QualityCounts, QualityJson } from './fineTuneProtocol';
import { DEFAULT_LORA_CONFIG, type LoraConfig } from './lora';
import { availableMemory, checkTrainingMemory, formatBytes } from './memoryEstimate';
import { chooseBatchShape, makeBatch, type BatchShape } from './objective';
import { latestCheckpoint } from './checkpointStore';
import { DEFAULT_LAMBDA, initialValues, train, type TrainResult } from './trainer';
import { acquireOutputLock } from './outputLock';
import { TrainingSession } from './trainingSession';
import { judgeAdapter } from './verdict';
import { formatDuration } from '../engine/units';

/** Tokens per step (rows × seqLen) unless --batch-tokens says: 4 × 256, the batch the PyTorch peer of bench/MACHINE.md trains at. */
export const DEFAULT_BATCH_TOKENS = 1024;
export const REPORT_FILE = 'report.json';
const CURVE_FILE = 'loss-curve.json';
const BEFORE_FILE = 'eval-before.json';
const QUALITY_BEFORE_FILE = 'quality-before.json';
const PLAN_FILE = 'plan.json';

export interface LossPoint {
  step: number;
  l3: number;
  /** L2 on the validation files, where early stopping measured it. */
  validationL2?: number;
}

/** Cuts of the quality judge before and after, unless the job says (0 skips it). */
export const DEFAULT_QUALITY_CUTS = 200;

/** What the quality judge is asked: the completion pipeline on `folder`'s held-out files (finetune's split with `seed`). */
export interface QualityJudgeRequest {
  folder: string;
  model: string;
  /** The new adapter (or full checkpoint); none: the base model. */
  adapter?: string;
  /**
   * Judge with the acceptance head: the base model's before, the adapter's own after (trained by
   * the same run). Without one for the adapter, both are judged without a head, so that before and
   * after are the same configuration.
   */
  head: boolean;
  seed: number;
  include?: string[];
  exclude?: string[];
  cuts: number;
  device?: string;
  threads?: number;
  signal: AbortSignal;
}

export interface QualityJudgeResult {
  model: QualityCounts;
  bestBaseline: QualityCounts;
}

/**
 * The completion-quality measurement. It runs the editor's pipeline, which lives above training,
 * so the process entry (src/fineTuneChild.ts) passes it in; without one, exact match comes from
 * the evaluation alone.
 */
export type QualityJudge = (request: QualityJudgeRequest) => Promise<QualityJudgeResult>;

/** What the head trainer is asked: the acceptance head for the model in `out`, from `folder`'s training files. */
export interface HeadTrainRequest {
  folder: string;
  /** The base model (a checkpoint folder), or the fully fine-tuned one in `out`. */
  model: string;
  /** The new LoRA adapter, when the run trained one. */
  adapter?: string;
  /** The model the run started from (its head's workspace-candidate rule carries over). */
  base: string;
  out: string;
  seed: number;
  cuts?: number;
  include?: string[];
  exclude?: string[];
  device?: string;
  threads?: number;
  suggestionLog?: string;
  lambda: number;
  signal: AbortSignal;
  onProgress: (done: number, total: number) => void;
}

/** Trains and writes the acceptance head; like the judge it runs the editor's pipeline, so it is passed in. */
export type HeadTrainer = (request: HeadTrainRequest) => Promise<HeadJson>;

export interface FineTuneDeps {
  judge?: QualityJudge;
  trainHead?: HeadTrainer;
}

/**
 * Mining options for a model: the defaults (256 tokens of context, 64 of continuation) where they
 * fit its positions, scaled down for a short-context model so every example fits one row whole.
 * `eval` uses this too, so it scores the same cut points as `finetune` with the same seed.
 */
export function miningOptions(config: GPT2Config, o: { seed?: number; include?: string[]; exclude?: string[]; secrets?: SecretsMode }): DatasetOptions {
  const continuationTokens = Math.max(1, Math.min(64, Math.floor(config.nPositions / 4)));
  return {
    seed: o.seed ?? 0,
    include: o.include,
    exclude: o.exclude,
    secrets: o.secrets,
    contextTokens: Math.max(1, Math.min(256, config.nPositions - continuationTokens)),
    continuationTokens,
  };
}

/** Updates the trainer will take (its rule, with no accumulation): --steps, or ⌈epochs · batches⌉. */
export function plannedSteps(job: Pick<FineTuneJob, 'steps' | 'epochs'>, trainExamples: number, rows: number): number {
  if (job.steps !== undefined) return job.steps;
  return Math.max(1, Math.ceil((job.epochs ?? 1) * Math.ceil(trainExamples / rows)));
}

/**
 * The default recipe per model size, chosen with `gpt2-complete quality` as the judge
 * (bench/QUALITY.md, "Fine-tuning recipe"). Small models (the embedded one, 8M parameters) train
 * every weight: it fits, and LoRA's few parameters barely move such a model. Larger ones train a
 * LoRA adapter (rank 8 on every projection).
 */
export const FULL_FINE_TUNE_MAX_PARAMS = 50e6;
export const RECIPE = {
  full: { lr: 1e-4, epochs: 2 },
  lora: { lr: 2e-4, epochs: 1 },
} as const;
/** Seconds of training the default length fits in: with mining, evaluation and the quality judge, a run of about 15 minutes. */
export const TRAINING_BUDGET_SECONDS = 11 * 60;
/**
 * A default-length run stops training after this long even if its steps are not done: the machine
 * may get slower after the pace was measured (other work starting), and the run should still end
 * near 15 minutes. Explicit --steps or --epochs are never cut.
 */
export const TRAINING_TIME_LIMIT_SECONDS = 12 * 60;

/** Parameters of a GPT-2 of this shape (tied head). */
export function parameterCount(c: GPT2Config): number {
  const block = 12 * c.nEmbd * c.nEmbd + 13 * c.nEmbd;
  return c.vocabSize * c.nEmbd + c.nPositions * c.nEmbd + c.nLayer * block + 2 * c.nEmbd;
}

export function defaultMethod(config: GPT2Config): 'full' | 'lora' {
  return parameterCount(config) <= FULL_FINE_TUNE_MAX_PARAMS ? 'full' : 'lora';
}

/**
 * The run's length: --steps, or --epochs, or by default the recipe's epochs cut to what fits in
 * TRAINING_BUDGET_SECONDS at the measured pace. A resumed run reuses the length its first part
 * chose (plan.json), since the schedule and the checkpoint depend on it.
 */
export function chooseSteps(job: Pick<FineTuneJob, 'steps' | 'epochs'>, method: 'full' | 'lora', trainExamples: number, rows: number, secondsPerStep: number): number {
  if (job.steps !== undefined || job.epochs !== undefined) return plannedSteps(job, trainExamples, rows);
  const epochs = plannedSteps({ epochs: RECIPE[method].epochs }, trainExamples, rows);
  return Math.max(1, Math.min(epochs, Math.floor(TRAINING_BUDGET_SECONDS / Math.max(secondsPerStep, 1e-6))));
}

/**
 * The validation cases early stopping scores, a hash-ordered prefix of them: a
 * forward-only batch costs about a third of a step, so with an evaluation every tenth of the run
 * this many keeps evaluation near a fifth of training time (at least 32 cases, for a usable signal).
 */
export function earlyStoppingCases<T>(cases: readonly T[], rows: number, steps: number): T[] {
  const evaluations = Math.min(10, steps);
  const budget = Math.round((0.2 * steps * 3 * rows) / evaluations);
  return cases.slice(0, Math.min(cases.length, Math.max(32, budget)));
}


function checkJob(job: FineTuneJob): void {
  if (job.method !== undefined && job.method !== 'lora' && job.method !== 'full') throw new UserError(`method must be lora or full (got ${String(job.method)})`);
  if (job.steps !== undefined && job.epochs !== undefined) throw new UserError('give either a number of steps or of epochs, not both');
  const positiveInt = (name: string, v: number | undefined) => {
    if (v !== undefined && !(Number.isInteger(v) && v > 0)) throw new UserError(`${name} must be a positive integer (got ${v})`);
  };
  positiveInt('steps', job.steps);
  positiveInt('batch tokens', job.batchTokens);
  positiveInt('evaluation cases', job.evalCases);
  positiveInt('head cuts', job.headCuts);
  if (job.epochs !== undefined && !(job.epochs > 0)) throw new UserError(`epochs must be positive (got ${job.epochs})`);
}

/** PEFT's base_model_name_or_path: the Hub id when the folder is a preset's, else the folder. */
function baseModelName(dir: string, config: GPT2Config): string {
  const preset = findPreset(path.basename(dir));
  const shape = preset && NAMED_CONFIGS[preset.configName];
  const same = shape && (Object.keys(shape) as (keyof GPT2Config)[]).every((k) => shape[k] === config[k]);
  return preset && same ? preset.repo : dir;
}

function readJson<T>(file: string): T | null {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as T;
  } catch {
    return null;
  }
}

/** Identifies a before-evaluation: the base weights and the exact cases. */
function beforeKey(modelHash: string, cases: readonly Example[]): string {
  const h = createHash('sha256').update(modelHash);
  for (const e of cases) h.update(`${e.file}:${e.cut}:${e.contextIds.join(',')}|${e.continuationIds.join(',')};`);
  return h.digest('hex');
}

function checkSignal(signal: AbortSignal): void {
  if (signal.aborted) throw new CancelledError();
}

interface Context {
  job: FineTuneJob;
  emit: (m: ChildMessage) => void;
  signal: AbortSignal;
  config: GPT2Config;
  lambda: number;
  seed: number;
  graphCacheDir: string;
  judge?: QualityJudge;
  trainHead?: HeadTrainer;
  /** The job's method, or the recipe's for this model size. */
  method: 'full' | 'lora';
  /** The run's length, once chosen (chooseSteps). */
  steps?: number;
}

/** Loss and exact match of `values` (losses) and of the engine `overlay` gives (exact match). */
async function evaluateWith(
  ctx: Context, session: TrainingSession, values: Map<string, Float32Array>, shape: BatchShape, cases: Example[], overlay?: WeightsOverlay,
): Promise<EvalResult> {
  const { engine } = await loadEngine({
    model: ctx.job.model,
    modelsRoot: path.dirname(ctx.job.model),
    graphCacheDir: ctx.graphCacheDir,
    device: ctx.job.device,
    threads: ctx.job.threads,
    overlay,
  });
  try {
    return await evaluate({ examples: cases, lambda: ctx.lambda, scorer: sessionScorer(session, values, shape), completer: engine, signal: ctx.signal });
  } finally {
    await engine.model.dispose();
  }
}

/**
 * Seconds per step, measured on real steps. The first step pays for allocation and warm-up (it
 * took several times a steady step and made the estimate 4× too long), so it is left out: the
 * median of up to `ESTIMATE_STEPS` steps after it, stopping early once they have taken 10 s.
 */
export const ESTIMATE_STEPS = 4;
async function timeStep(session: TrainingSession, train: readonly Example[], shape: BatchShape, values: Map<string, Float32Array>, lambda: number): Promise<number> {
  const group = Array.from({ length: Math.min(shape.rows, train.length) }, (_, i) => i);
  const batch = makeBatch(train, group, shape);
  const timed: number[] = [];
  let spent = 0;
  for (let i = 0; i <= ESTIMATE_STEPS && (i < 2 || spent < 10); i++) {
    const t0 = performance.now();
    await session.step(batch, values, lambda);
    const seconds = (performance.now() - t0) / 1000;
    if (i > 0) timed.push(seconds);
    spent += seconds;
  }
  timed.sort((a, b) => a - b);
  return timed[Math.floor((timed.length - 1) / 2)];
}

export async function runFineTune(job: FineTuneJob, emit: (m: ChildMessage) => void, signal: AbortSignal, deps: FineTuneDeps = {}): Promise<FineTuneResultJson | null> {
  checkJob(job);
  // The output folder is this run's alone until it ends (a dry run writes nothing there). A folder
  // made only for the lock goes again when the run ends before writing anything into it.
  const outExisted = fs.existsSync(job.out);
  const lock = job.dryRun ? null : acquireOutputLock(job.out, job.folder);
  let done: Extract<ChildMessage, { type: 'done' }> | null;
  try {
    done = await runLocked(job, emit, signal, deps);
  } catch (e) {
    // A full disk while writing checkpoints, the adapter or the model: one line, and the way back.
    const full = describeWriteError(String((e as NodeJS.ErrnoException).path ?? job.out), e);
    if (full === undefined || full === e) throw e;
    throw new UserError(`${full.message}${hasCheckpoint(job.out) ? '; the same run then resumes from its last checkpoint' : ''}`);
  } finally {
    lock?.release();
    if (!outExisted) removeIfEmpty(job.out);
  }
  // Only now: a front end that starts the next run into the same folder on 'done' finds it unlocked.
  if (done === null) return null;
  emit(done);
  return done.result;
}

function hasCheckpoint(out: string): boolean {
  try {
    return latestCheckpoint(out) !== null;
  } catch {
    return false;
  }
}

function removeIfEmpty(dir: string): void {
  try {
    fs.rmdirSync(dir);
  } catch {
    // not empty (the run wrote something) or already gone
  }
}

/** The run; its 'done' message is returned for the caller to send once the output folder is unlocked. */
async function runLocked(job: FineTuneJob, emit: (m: ChildMessage) => void, signal: AbortSignal, deps: FineTuneDeps): Promise<Extract<ChildMessage, { type: 'done' }> | null> {
  const base = openCheckpoint(job.model);
  const tempCache = job.graphCacheDir ? null : fs.mkdtempSync(path.join(os.tmpdir(), 'gpt2-finetune-graphs-'));
  try {
    const ctx: Context = {
      job,
      emit,
      signal,
      config: base.config,
      lambda: job.lambda ?? DEFAULT_LAMBDA,
      seed: job.seed ?? 0,
      graphCacheDir: job.graphCacheDir ?? tempCache!,
      judge: deps.judge,
      trainHead: deps.trainHead,
      method: job.method ?? defaultMethod(base.config),
    };
    return await run(ctx, base);
  } finally {
    base.close();
    if (tempCache) fs.rmSync(tempCache, { recursive: true, force: true });
  }
}

async function run(ctx: Context, base: Checkpoint): Promise<Extract<ChildMessage, { type: 'done' }> | null> {
  const { job, emit, signal, config, lambda, seed } = ctx;
  const modelName = path.basename(job.model);

  // Data.
  const data = await mineDataset(job.folder, { ...miningOptions(config, job), signal });
  emit({ type: 'report', report: data.report, text: formatReport(data.report) });
  checkEnoughData(data.report);
  checkSignal(signal);

  // Shape, memory, estimate. The shape fits the longest validation and held-out examples too, so
  // their losses are of whole examples, as `eval` (one example per forward) computes them.
  const shape = chooseBatchShape([...data.train, ...data.validation, ...data.heldOut], { batchTokens: job.batchTokens ?? DEFAULT_BATCH_TOKENS, maxSeqLen: config.nPositions });
  const method = ctx.method;
  const lora: LoraConfig | undefined = method === 'lora' ? DEFAULT_LORA_CONFIG : undefined;
  const available = availableMemory();
  const memory = checkTrainingMemory({ config, method, lora, rows: shape.rows, seqLen: shape.seqLen }, available, { modelName, lora: DEFAULT_LORA_CONFIG });

  const session = await TrainingSession.create({ weights: base, method, lora, batch: shape.rows, seqLen: shape.seqLen, device: job.device, threads: job.threads });
  try {
    const values = initialValues(session.params, method === 'full' ? { method: 'full', base } : { method: 'lora', lora: lora!, model: config, seed });
    const secondsPerStep = await timeStep(session, data.train, shape, values, lambda);
    const planned = readJson<{ steps: number }>(path.join(job.out, PLAN_FILE));
    const steps = hasCheckpoint(job.out) && planned !== null ? planned.steps : chooseSteps(job, method, data.train.length, shape.rows, secondsPerStep);
    ctx.steps = steps;
    const what = method === 'lora' ? 'LoRA fine-tuning' : 'full fine-tuning';
    emit({
      type: 'estimate',
      memoryBytes: memory.total,
      availableBytes: available.free,
      steps,
      secondsPerStep,
      text:
        `${what} of ${modelName} on ${session.device.provider}: ${steps} steps of ${shape.rows} × ${shape.seqLen} tokens, ` +
        `~${secondsPerStep.toFixed(2)} s/step → ~${formatDuration(steps * secondsPerStep)} of training plus evaluation; ` +
        `memory ~${formatBytes(memory.total)} of ${formatBytes(available.free)} free`,
    });
    if (job.dryRun) {
      emit({ type: 'dryRunDone' });
      return null;
    }
    checkSignal(signal);
    fs.mkdirSync(job.out, { recursive: true });
    writeJsonAtomic(path.join(job.out, PLAN_FILE), { steps, method, secondsPerStep });

    // Before: the base model (LoRA starts with B = 0; full starts from copies of the base).
    const cases = evalCases(data.heldOut, { max: job.evalCases ?? DEFAULT_EVAL_CASES, seed });
    const key = beforeKey(base.contentHash(), cases);
    const cached = readJson<{ key: string; result: EvalResult }>(path.join(job.out, BEFORE_FILE));
    let before: EvalResult;
    if (cached?.key === key) {
      before = cached.result;
    } else {
      before = await evaluateWith(ctx, session, values, shape, cases);
      writeJsonAtomic(path.join(job.out, BEFORE_FILE), { key, result: before });
    }
    emit({ type: 'eval', phase: 'before', result: before });
    const qualityBefore = await judgeQuality(ctx, base.contentHash(), undefined);

    // Early stopping and the best step on the validation files; none (a workspace of a few files): the last step.
    const validation = earlyStoppingCases(evalCases(data.validation, { max: DEFAULT_EVAL_CASES, seed }), shape.rows, steps);
    const { result, curve } = await trainWithCurve(ctx, session, values, data.train, validation, shape, lora, base);

    // After: the best values' losses, and exact match through the files just written.
    const overlay = method === 'lora' ? loraOverlay(job.out) : checkpointOverlay(job.out);
    const after = await evaluateWith(ctx, session, result.values, shape, cases, overlay);
    emit({ type: 'eval', phase: 'after', result: after });
    const head = job.head === true && ctx.trainHead !== undefined ? await trainHeadFor(ctx, ctx.trainHead, method) : undefined;
    const qualityAfter = qualityBefore === undefined ? undefined : await judgeQuality(ctx, undefined, job.out);
    const quality: QualityJson | undefined =
      qualityBefore !== undefined && qualityAfter !== undefined
        ? { before: qualityBefore.model, after: qualityAfter.model, best_baseline: qualityBefore.bestBaseline, head: judgesWithHead(ctx) }
        : undefined;

    const json: FineTuneResultJson = {
      method,
      steps: result.steps,
      tokens: result.tokens,
      tokens_per_s: result.tokensPerSec,
      train: result.train,
      eval: { before, after },
      ...(quality !== undefined && { quality }),
      ...(head !== undefined && { head }),
      verdict: judgeAdapter(before, after, quality),
      out: result.out,
    };
    // The run is complete: the resume checkpoints (optimizer state included, three times the model's size) are of no more use.
    fs.rmSync(path.join(job.out, 'checkpoints'), { recursive: true, force: true });
    writeReport(job, json, result, curve, shape, lambda, data.report, validation.length);
    return { type: 'done', result: json, lossCurve: curve };
  } finally {
    await session.dispose();
  }
}

/** The acceptance head for what the run wrote: the adapter over the base, or the full checkpoint in `out`. */
async function trainHeadFor(ctx: Context, trainHead: HeadTrainer, method: 'full' | 'lora'): Promise<HeadJson> {
  const { job, emit, signal } = ctx;
  checkSignal(signal);
  let total = 0;
  const head = await trainHead({
    folder: job.folder,
    model: method === 'full' ? job.out : job.model,
    adapter: method === 'lora' ? job.out : undefined,
    base: job.model,
    out: job.out,
    seed: ctx.seed,
    cuts: job.headCuts,
    include: job.include,
    exclude: job.exclude,
    device: job.device,
    threads: job.threads,
    suggestionLog: job.suggestionLog,
    lambda: ctx.lambda,
    signal,
    onProgress: (done, of) => {
      total = of;
      emit({ type: 'head', done, total });
    },
  });
  emit({ type: 'head', done: total, total, result: head });
  return head;
}

/** The run trains the adapter's own head, so before and after can both be judged as the editor shows them. */
const judgesWithHead = (ctx: Context): boolean => ctx.job.head === true && ctx.trainHead !== undefined;

/**
 * The quality judge on the base model (`baseHash` given: cached in `out` under that hash, so a
 * resumed run does not measure it again) or on the adapter in `adapter`; undefined when there is
 * no judge or the job skips it.
 */
async function judgeQuality(ctx: Context, baseHash: string | undefined, adapter: string | undefined): Promise<QualityJudgeResult | undefined> {
  const { job, judge } = ctx;
  const cuts = job.qualityCuts ?? DEFAULT_QUALITY_CUTS;
  if (judge === undefined || cuts === 0) return undefined;
  const request: QualityJudgeRequest = {
    folder: job.folder, model: job.model, adapter, head: judgesWithHead(ctx), seed: ctx.seed, include: job.include, exclude: job.exclude, cuts, device: job.device, threads: job.threads, signal: ctx.signal,
  };
  const file = path.join(job.out, QUALITY_BEFORE_FILE);
  const key = baseHash === undefined ? undefined : createHash('sha256').update(JSON.stringify({ ...request, signal: undefined, baseHash })).digest('hex');
  const cached = key === undefined ? null : readJson<{ key: string; result: QualityJudgeResult }>(file);
  let result: QualityJudgeResult;
  try {
    result = cached !== null && cached.key === key ? cached.result : await judge(request);
  } catch (e) {
    // No code among the held-out files to cut (a docs-only folder): the evaluation's exact match decides alone.
    if (e instanceof UserError) return undefined;
    throw e;
  }
  if (key !== undefined) writeJsonAtomic(file, { key, result });
  ctx.emit({ type: 'quality', phase: adapter === undefined ? 'before' : 'after', result: result.model, bestBaseline: result.bestBaseline });
  return result;
}

/** Runs the trainer, keeping the loss curve across a resume (saved with each checkpoint). */
async function trainWithCurve(
  ctx: Context, session: TrainingSession, values: Map<string, Float32Array>, trainSet: readonly Example[], heldOut: readonly Example[],
  shape: BatchShape, lora: LoraConfig | undefined, base: WeightSource,
): Promise<{ result: TrainResult; curve: LossPoint[] }> {
  const { job, emit, signal } = ctx;
  const curveFile = path.join(job.out, CURVE_FILE);
  const resumeAt = latestCheckpoint(job.out)?.step ?? 0;
  const curve = (resumeAt > 0 ? readJson<LossPoint[]>(curveFile) ?? [] : []).filter((p) => p.step <= resumeAt);
  const result = await train({
    session,
    values,
    train: trainSet,
    heldOut,
    shape,
    outDir: job.out,
    output: lora
      ? { method: 'lora', lora, model: ctx.config, baseModel: baseModelName(job.model, ctx.config) }
      : { method: 'full', base },
    lambda: ctx.lambda,
    lr: job.lr ?? RECIPE[lora ? 'lora' : 'full'].lr,
    steps: ctx.steps,
    timeLimitMs: job.steps === undefined && job.epochs === undefined ? TRAINING_TIME_LIMIT_SECONDS * 1000 : undefined,
    seed: ctx.seed,
    checkpointEvery: job.checkpointEvery,
    evalEvery: job.evalEvery,
    patience: job.patience,
    signal,
    holdAfterStep: job.holdAfterStep,
    onProgress: (p) => {
      curve.push({ step: p.step, l3: p.losses.l3 });
      emit({ type: 'progress', step: p.step, totalSteps: p.totalSteps, loss: p.losses, tokensPerSecond: p.tokensPerSec, etaSeconds: p.etaSec });
    },
    onEval: (e) => {
      const point = curve.find((p) => p.step === e.step);
      if (point) point.validationL2 = e.l2;
    },
    onCheckpoint: () => writeJsonAtomic(curveFile, curve),
  });
  return { result, curve };
}

function writeReport(
  job: FineTuneJob, json: FineTuneResultJson, r: TrainResult, curve: LossPoint[], shape: BatchShape, lambda: number, data: DataReport, validationCases: number,
): void {
  writeJsonAtomic(path.join(job.out, REPORT_FILE), {
    result: json,
    model: job.model,
    method: json.method,
    lambda,
    seed: job.seed ?? 0,
    batch: shape,
    // Chosen on the validation files (validationCases cuts), never on the held-out ones reported in result.eval.
    best: r.best,
    validationCases,
    checkpoints: 'removed when the run completed (they only serve a resume)',
    stoppedEarly: r.stoppedEarly,
    stoppedByTime: r.stoppedByTime,
    resumedFrom: r.resumedFrom,
    evals: r.evals,
    lossCurve: curve,
    data: {
      folder: data.folder,
      source: data.source,
      train: data.train,
      validation: data.validation,
      heldOut: data.heldOut,
      filesUsed: data.used.length,
      filesSkipped: data.skipped.length,
      skippedByReason: data.skippedByReason,
      secretsMode: data.secretsMode,
      // Paths and rules only: a secret's value never leaves the file it is in.
      secrets: secretFindings(data),
    },
  });
}
