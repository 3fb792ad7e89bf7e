/**
 * A training run's checkpoints in `<out>/checkpoints/`: one folder per kept step (the trainable
 * values, the optimizer's state and the trainer's state as JSON), written to a temporary folder and
 * renamed into place, and `latest.json` naming the newest. Only the latest and the best evaluation's
 * folders are kept. The trainer (trainer.ts) writes and resumes from them; the front ends read
 * `latestCheckpoint` to offer a resume.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeJsonAtomic } from '../engine/atomicFile';
import { UserError } from '../engine/errors';
import { openSafetensors, writeSafetensors } from '../engine/safetensors';
import type { CountedLosses, TrainableParam } from './objective';
import type { AdamW } from './optimizer';
import type { EvalRecord } from './trainer';

export const CHECKPOINTS = 'checkpoints';
const LATEST = 'latest.json';
const VALUES_FILE = 'trainable.safetensors';
export const OPTIMIZER_FILE = 'optimizer.safetensors';
const STATE_FILE = 'trainer.json';
export const STATE_VERSION = 1;

export interface TrainerState {
  version: number;
  step: number;
  tokens: number;
  /** Where the data order stands: the next micro-batch and the epoch it is in (derived from step; informative). */
  dataOrder: { seed: number; epoch: number; batchInEpoch: number };
  /** Everything randomness depends on: the seed alone (orders are hash(seed, epoch)); no generator state to carry. */
  rng: { kind: 'derived'; seed: number };
  best: (EvalRecord & { dir: string }) | null;
  evalsWithoutImprovement: number;
  evals: EvalRecord[];
  recent: CountedLosses[];
  done: boolean;
  stoppedEarly: boolean;
  runKey: Record<string, unknown>;
}

export function stepDirName(step: number): string {
  return `step-${String(step).padStart(7, '0')}`;
}

export function saveTrainerCheckpoint(outDir: string, state: TrainerState, params: readonly TrainableParam[], values: Map<string, Float32Array>, optimizer: AdamW): string {
  const root = path.join(outDir, CHECKPOINTS);
  fs.mkdirSync(root, { recursive: true });
  const name = stepDirName(state.step);
  const dir = path.join(root, name);
  const tmp = `${dir}.tmp-${process.pid}`;
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.mkdirSync(tmp);
  try {
    writeSafetensors(
      path.join(tmp, VALUES_FILE),
      params.map((p) => ({ name: p.name, dtype: 'F32' as const, shape: p.shape, data: values.get(p.name)! })),
      { format: 'pt' },
    );
    optimizer.saveState(path.join(tmp, OPTIMIZER_FILE));
    writeJsonAtomic(path.join(tmp, STATE_FILE), state);
  } catch (e) {
    // A full disk mid-checkpoint: the half-written folder goes, the previous checkpoint stays the latest.
    fs.rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
  // The same step saved again (a resumed run re-reaching it) holds the same state: replace it.
  fs.rmSync(dir, { recursive: true, force: true });
  fs.renameSync(tmp, dir);
  writeJsonAtomic(path.join(root, LATEST), { step: state.step, dir: name });
  for (const entry of fs.readdirSync(root)) {
    const stale = (entry.startsWith('step-') && entry !== name && entry !== state.best?.dir) || entry.includes('.tmp-');
    if (stale && entry !== LATEST) fs.rmSync(path.join(root, entry), { recursive: true, force: true });
  }
  return dir;
}

export function readTrainerState(dir: string): TrainerState {
  const file = path.join(dir, STATE_FILE);
  let state: TrainerState;
  try {
    state = JSON.parse(fs.readFileSync(file, 'utf8')) as TrainerState;
  } catch (e) {
    throw new UserError(`${file}: cannot read the trainer state (${(e as Error).message.split('\n')[0]}); remove ${path.dirname(dir)} to start over`);
  }
  if (state.version !== STATE_VERSION || !Number.isSafeInteger(state.step)) {
    throw new UserError(`${file}: not a trainer state of this version; remove ${path.dirname(dir)} to start over`);
  }
  return state;
}

/** The latest checkpoint folder of `outDir`, or null when it has none. */
export function latestCheckpoint(outDir: string): { step: number; dir: string } | null {
  const root = path.join(outDir, CHECKPOINTS);
  const pointer = path.join(root, LATEST);
  if (!fs.existsSync(pointer)) return null;
  let j: { step?: unknown; dir?: unknown };
  try {
    j = JSON.parse(fs.readFileSync(pointer, 'utf8')) as typeof j;
  } catch {
    throw new UserError(`${pointer}: damaged; remove ${root} to start over`);
  }
  if (typeof j.dir !== 'string' || typeof j.step !== 'number' || !/^step-\d+$/.test(j.dir)) throw new UserError(`${pointer}: damaged; remove ${root} to start over`);
  const dir = path.join(root, j.dir);
  if (!fs.existsSync(dir)) throw new UserError(`${pointer} points to ${j.dir}, which is missing; remove ${root} to start over`);
  return { step: j.step, dir };
}

export function readValues(dir: string, params: readonly TrainableParam[], into?: Map<string, Float32Array>): Map<string, Float32Array> {
  const file = path.join(dir, VALUES_FILE);
  const f = openSafetensors(file);
  try {
    const out = into ?? new Map<string, Float32Array>();
    for (const p of params) {
      const info = f.tensors.get(p.name);
      if (!info || info.shape.join(',') !== p.shape.join(',')) throw new UserError(`${file}: tensor ${p.name} is missing or not of shape [${p.shape.join(', ')}]; the checkpoint is of another run`);
      const data = f.readFloat32(p.name);
      const target = out.get(p.name);
      if (target) target.set(data);
      else out.set(p.name, data);
    }
    return out;
  } finally {
    f.close();
  }
}
