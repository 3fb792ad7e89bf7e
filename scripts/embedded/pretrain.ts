/**
 * Training a GPT-2 from random weights with the project's trainer (src/training/trainer.ts) over a
 * full-model TrainingSession, under a time budget.
 *
 * A budget ends a sitting at its first checkpoint after the deadline (the trainer has no "save now",
 * and stopping right after a save loses nothing), so the next sitting resumes exactly there. A CPU-
 * time budget instead stops at once, keeping the in-place values: shape measurements use it, since
 * wall time on a machine shared with other work measures the other work as much as the model.
 */
import * as fs from 'fs';
import * as path from 'path';
import type { GPT2Config } from '../../src/engine/config';
import type { WeightSource } from '../../src/engine/weights';
import { CancelledError } from '../../src/engine/errors';
import { randomWeights } from '../../src/engine/randomCheckpoint';
import { latestCheckpoint } from '../../src/training/checkpointStore';
import { initialValues, train, type EvalRecord, type TrainResult } from '../../src/training/trainer';
import type { TokenExample } from '../../src/training/objective';
import { TrainingSession } from '../../src/training/trainingSession';

export interface Shape {
  nLayer: number;
  nEmbd: number;
  nPositions: number;
}

/** Heads of 64 dimensions, as in every GPT-2. */
export function configOf(s: Shape): GPT2Config {
  if (s.nEmbd % 64 !== 0) throw new Error(`shape: width ${s.nEmbd} is not a multiple of 64`);
  return { vocabSize: 50257, nPositions: s.nPositions, nEmbd: s.nEmbd, nLayer: s.nLayer, nHead: s.nEmbd / 64, layerNormEpsilon: 1e-5 };
}

export function shapeName(s: Shape): string {
  return `${s.nLayer}x${s.nEmbd}-ctx${s.nPositions}`;
}

export interface Hyper {
  /** Rows per step; a step trains on rows × nPositions tokens. */
  rows: number;
  lr: number;
  warmupSteps: number;
  minLrRatio: number;
  weightDecay: number;
  seed: number;
}

export interface PretrainOptions {
  shape: Shape;
  hyper: Hyper;
  steps: number;
  train: readonly TokenExample[];
  /** For the trainer's periodic held-out L2 (and its choice of the best checkpoint). */
  heldOut?: readonly TokenExample[];
  evalEvery?: number;
  checkpointEvery: number;
  outDir: string;
  threads: number;
  /** Execution provider (src/engine/executionProvider.ts); CPU unless given. */
  device?: string;
  /** Start from these weights instead of random ones (a second stage: a warm restart of the schedule). */
  init?: WeightSource;
  resume: boolean;
  /** Wall-clock deadline (ms since epoch): stop at the first checkpoint after it. */
  deadline?: number;
  /** Asked at every checkpoint: true stops there (a stop signal: the sitting ends losing nothing). */
  shouldStop?: () => boolean;
  /** Process CPU seconds: stop at the first step after this much was used (values kept in place). */
  cpuBudgetSec?: number;
  log: (line: string) => void;
}

export interface Sitting {
  startedAt: string;
  fromStep: number;
  toStep: number;
  tokens: number;
  wallSec: number;
  cpuSec: number;
}

export interface PretrainOutcome {
  /** Set when the run reached its last step. */
  result: TrainResult | null;
  /** The trained values: the trainer's best when done, else the in-place values at the stop. */
  values: Map<string, Float32Array>;
  step: number;
  tokens: number;
  wallSec: number;
  cpuSec: number;
  session: TrainingSession;
  /** This sitting's held-out evaluations (the result has the whole run's when it finished). */
  evals: EvalRecord[];
}

const SITTINGS_FILE = 'sittings.json';

function cpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

/** Training time over every sitting of the run in `outDir` (for the model card). */
export function readSittings(outDir: string): Sitting[] {
  const file = path.join(outDir, SITTINGS_FILE);
  return fs.existsSync(file) ? (JSON.parse(fs.readFileSync(file, 'utf8')) as Sitting[]) : [];
}

/** Step and tokens of the run's latest checkpoint (the trainer's own state file), or zeros. */
function checkpointPosition(outDir: string): { step: number; tokens: number } {
  const latest = latestCheckpoint(outDir);
  if (!latest) return { step: 0, tokens: 0 };
  const state = JSON.parse(fs.readFileSync(path.join(latest.dir, 'trainer.json'), 'utf8')) as { step: number; tokens: number };
  return { step: state.step, tokens: state.tokens };
}

export async function pretrain(o: PretrainOptions): Promise<PretrainOutcome> {
  const config = configOf(o.shape);
  const { rows, seed } = o.hyper;
  const start0 = o.init ?? randomWeights(config, seed);
  const session = await TrainingSession.create({ weights: start0, method: 'full', batch: rows, seqLen: config.nPositions, device: o.device ?? 'cpu', threads: o.threads });
  // Seeded random init (or the given weights): the starting point of a resumed run is replaced by its checkpoint anyway.
  const values = initialValues(session.params, { method: 'full', base: start0 });

  fs.mkdirSync(o.outDir, { recursive: true });
  const sittings = o.resume ? readSittings(o.outDir) : [];
  const sitting: Sitting = { startedAt: new Date().toISOString(), fromStep: -1, toStep: -1, tokens: 0, wallSec: 0, cpuSec: 0 };
  const wall0 = performance.now();
  const cpu0 = cpuSeconds();
  const abort = new AbortController();
  // Where this sitting starts: the checkpoint the trainer will resume from, if any.
  const start = o.resume ? checkpointPosition(o.outDir) : { step: 0, tokens: 0 };
  let step = start.step;
  let tokens = start.tokens;
  sitting.fromStep = start.step;
  const record = () => {
    sitting.toStep = step;
    sitting.tokens = tokens - start.tokens;
    sitting.wallSec = (performance.now() - wall0) / 1000;
    sitting.cpuSec = cpuSeconds() - cpu0;
    if (o.cpuBudgetSec === undefined) fs.writeFileSync(path.join(o.outDir, SITTINGS_FILE), JSON.stringify([...sittings, sitting], null, 1) + '\n');
  };

  let lastLog = 0;
  const evals: EvalRecord[] = [];
  let result: TrainResult | null = null;
  try {
    result = await train({
      session,
      values,
      train: o.train,
      heldOut: o.heldOut,
      shape: { rows, seqLen: config.nPositions },
      outDir: o.outDir,
      method: 'full',
      lambda: 0, // no L1 targets (one-token contexts): L3 = L2
      lr: o.hyper.lr,
      warmupSteps: o.hyper.warmupSteps,
      minLrRatio: o.hyper.minLrRatio,
      weightDecay: o.hyper.weightDecay,
      steps: o.steps,
      seed,
      checkpointEvery: o.checkpointEvery,
      evalEvery: o.evalEvery ?? 0,
      // Pre-training held-out loss falls for the whole budget; a few noisy evaluations must not end it.
      patience: 1000,
      resume: o.resume,
      signal: abort.signal,
      onProgress: (p) => {
        step = p.step;
        tokens = p.tokens;
        const now = performance.now();
        if (now - lastLog > 30_000 || p.step === p.totalSteps) {
          lastLog = now;
          o.log(`step ${p.step}/${p.totalSteps}  loss ${p.losses.l2.toFixed(3)}  lr ${p.lr.toExponential(2)}  |g| ${p.gradNorm.toFixed(2)}  ${Math.round(p.tokensPerSec)} tok/s  ${(p.tokens / 1e6).toFixed(2)}M tokens  eta ${(p.etaSec / 60).toFixed(0)} min`);
        }
        if (o.cpuBudgetSec !== undefined && cpuSeconds() - cpu0 >= o.cpuBudgetSec) abort.abort();
      },
      onEval: ({ best: _best, ...e }) => {
        evals.push(e);
        o.log(`  held-out loss at step ${e.step}: ${e.l2.toFixed(4)}${e.improved ? ' (best)' : ''}`);
      },
      onCheckpoint: (c) => {
        record();
        if ((o.deadline !== undefined && Date.now() >= o.deadline) || o.shouldStop?.() === true) abort.abort();
        o.log(`  checkpoint at step ${c.step}`);
      },
    });
  } catch (e) {
    if (!(e instanceof CancelledError)) throw e;
  }
  if (result) {
    step = result.steps;
    tokens = result.tokens;
  }
  record();
  return {
    result,
    values: result ? result.values : values,
    step,
    tokens,
    wallSec: sitting.wallSec,
    cpuSec: sitting.cpuSec,
    session,
    evals,
  };
}
