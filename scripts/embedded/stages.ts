/**
 * Training that goes on: stages after the shipped model, each a warm restart from the last finished
 * stage (the shipped model before the first), each a cosine cycle over its own slice of the data
 * stream, each evaluated at its end on the card's held-out windows and promoted only when it beats
 * the shipped model and every stage promoted before it.
 *
 * Why warm restarts rather than one continued schedule: the length of a run that "goes on for days"
 * is not known when it starts, and the trainer pins a schedule's length in its run key (a checkpoint
 * resumes only the run it belongs to). A cycle per stage ends every stage at a low learning rate,
 * so every stage's end is a finished model worth comparing and promoting, and the next stage can
 * change what it trains on (the retrieval share, more data) without invalidating anything. The cost
 * is AdamW's moments started afresh and a short climb of the loss after each restart (SGDR, Loshchilov
 * & Hutter 2017), small against stages of a full pass over the training split.
 *
 * The data: one stream of window positions over every stage, the training windows in a fresh seeded
 * permutation per pass, so consecutive stages read consecutive, different windows (the shipped
 * model's two stages both read the same first windows); a share of each stage's windows is replaced
 * by retrieval-aware examples built at the same place (retrievalWindows.ts). A stage's examples are
 * written once to its folder and read back when it resumes, so a sitting in a later session trains
 * on exactly the data its checkpoints were trained on, whatever the code builds by then.
 *
 * Folders under <work>/stages/: history.json (the record of every stage and the reference losses),
 * stage-K/plan.json (what stage K trains: fixed at its start), stage-K/data.bin (its examples),
 * stage-K/run/ (the trainer's checkpoints), stage-K/model/ (its result in fp32, where stage K + 1
 * starts) and stage-K/model-fp16/ (as it would ship), stage-K/record.json (its record once done).
 * A promoted stage's fp16 model is copied to the candidate folder (default <work>/candidate).
 */
import * as fs from 'fs';
import * as path from 'path';
import type { EvalRecord } from '../../src/training/trainer';
import { epochOrder } from '../../src/training/trainer';
import type { TokenExample } from '../../src/training/objective';
import type { Hyper, Sitting } from './pretrain';

/** A stage must beat the reference by more than this (nats/token) to be promoted: not by floating-point differences. */
export const PROMOTION_MARGIN = 0.001;

/** Seed of the stream's per-pass permutations (not 0: the shipped stages' trainer order used 0). */
export const STREAM_SEED = 1;

export interface StagePlan {
  stage: number;
  /** Where its weights came from: the shipped model or an earlier stage's fp32 result. */
  from: { label: string; dir: string; hash: string };
  hyper: Hyper;
  nPositions: number;
  steps: number;
  /** Share of the stage's windows that are retrieval-aware examples. */
  retrievalShare: number;
  /** First window position of the stage in the stream, and how many it reads (steps × rows). */
  windowOffset: number;
  windows: number;
  /** Training windows per pass (the split's windows). */
  windowsPerPass: number;
  evalEvery: number;
  plannedAt: string;
}

export interface HeldOutScore {
  /** Mean nats/token over the card's held-out windows, through the inference engine, fp16 as shipped. */
  loss: number;
  windows: number;
}

export interface RetrievalScore {
  /** Held-out retrieval examples scored, and how many had snippets. */
  windows: number;
  withSnippets: number;
  /** Loss on the file tokens with the snippet header before them, and on the same tokens without it. */
  withHeader: number;
  withoutHeader: number;
  /** The same on the tokens after the cursor only (the prompt as the context): where a completion is asked for. */
  completionWithHeader?: number;
  completionWithoutHeader?: number;
  /** Windows with snippets whose first line after the cursor is in the snippets verbatim (what copying could gain at most). */
  nextLineInSnippets?: number;
}

export interface StageRecord extends StagePlan {
  /** Tokens trained (headers included) and the trainer's held-out evaluations by step. */
  tokens: number;
  evals: EvalRecord[];
  evalWindows: number;
  bestStep: number;
  sittings: Sitting[];
  wallSec: number;
  cpuSec: number;
  threads: number;
  device: string;
  machine: string;
  dataStats?: { retrievalExamples: number; withSnippets: number; headerTokens: number };
  heldOut: HeldOutScore;
  retrieval?: RetrievalScore;
  /** The loss it had to beat: the shipped model's or the best promoted stage's. */
  reference: { label: string; loss: number };
  promoted: boolean;
  candidateDir?: string;
  finishedAt: string;
}

export interface StageHistory {
  /** The shipped model (models/embedded) on today's corpus split, the first reference. */
  shipped?: { dir: string; hash: string; heldOut: HeldOutScore; retrieval?: RetrievalScore; corpusTrainTokens: number; measuredAt: string };
  /** The token trigram (ngramBaseline.ts) trained on the same training split, on the same held-out windows: the bar to beat. */
  trigram?: { loss: number; windows: number; corpusTrainTokens: number; measuredAt: string };
  stages: StageRecord[];
  /** The stage whose weights `--ship` copied into the shipped folder, and their hash (to tell whether they are still there). */
  shippedStage?: { stage: number; hash: string; shippedAt: string };
}

export const HISTORY_FILE = 'history.json';
export const PLAN_FILE = 'plan.json';
export const RECORD_FILE = 'record.json';
export const DATA_FILE = 'data.bin';

export function stagesDir(work: string): string {
  return path.join(work, 'stages');
}

export function stageDir(work: string, stage: number): string {
  return path.join(stagesDir(work), `stage-${stage}`);
}

export function readJson<T>(file: string): T | undefined {
  return fs.existsSync(file) ? (JSON.parse(fs.readFileSync(file, 'utf8')) as T) : undefined;
}

/** Writes through a temporary file, so a stopped process never leaves half a record. */
export function writeJson(file: string, value: unknown): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(value, null, 1) + '\n');
  fs.renameSync(tmp, file);
}

export function readHistory(work: string): StageHistory {
  return readJson<StageHistory>(path.join(stagesDir(work), HISTORY_FILE)) ?? { stages: [] };
}

export function writeHistory(work: string, h: StageHistory): void {
  writeJson(path.join(stagesDir(work), HISTORY_FILE), h);
}

/** The stage begun but not finished (a plan without a record), if any. */
export function unfinishedStage(work: string, h: StageHistory): StagePlan | undefined {
  const next = h.stages.length + 1;
  return readJson<StagePlan>(path.join(stageDir(work, next), PLAN_FILE));
}

/** Window indices of stream positions [offset, offset + count): pass p is epochOrder(n, STREAM_SEED, p). */
export function streamWindows(windowsPerPass: number, offset: number, count: number): number[] {
  const out: number[] = [];
  let pass = -1;
  let order: number[] = [];
  for (let g = offset; g < offset + count; g++) {
    const p = Math.floor(g / windowsPerPass);
    if (p !== pass) {
      order = epochOrder(windowsPerPass, STREAM_SEED, p);
      pass = p;
    }
    out.push(order[g % windowsPerPass]);
  }
  return out;
}

/** The reference a stage must beat: the best of the shipped model and the promoted stages. */
export function referenceLoss(h: StageHistory): { label: string; loss: number } | undefined {
  let best: { label: string; loss: number } | undefined = h.shipped ? { label: 'shipped model', loss: h.shipped.heldOut.loss } : undefined;
  for (const s of h.stages) {
    if (s.promoted && (best === undefined || s.heldOut.loss < best.loss)) best = { label: `stage ${s.stage}`, loss: s.heldOut.loss };
  }
  return best;
}

/** Examples as one binary file: u32 count, then per example u16 context length, u16 continuation length, the ids (u16). */
export function saveExamples(file: string, examples: readonly TokenExample[]): void {
  let n = 1;
  for (const e of examples) n += 2 + e.contextIds.length + e.continuationIds.length;
  const out = new Uint16Array(n + 1);
  new Uint32Array(out.buffer, 0, 1)[0] = examples.length;
  let at = 2;
  for (const e of examples) {
    out[at++] = e.contextIds.length;
    out[at++] = e.continuationIds.length;
    out.set(e.contextIds, at);
    at += e.contextIds.length;
    out.set(e.continuationIds, at);
    at += e.continuationIds.length;
  }
  const tmp = `${file}.tmp`;
  fs.writeFileSync(tmp, Buffer.from(out.buffer, 0, at * 2));
  fs.renameSync(tmp, file);
}

export function loadExamples(file: string): TokenExample[] {
  const buf = fs.readFileSync(file);
  const ids = new Uint16Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
  const count = new Uint32Array(ids.buffer, 0, 1)[0];
  const out: TokenExample[] = [];
  let at = 2;
  for (let i = 0; i < count; i++) {
    const c = ids[at++];
    const n = ids[at++];
    out.push({ contextIds: Array.from(ids.subarray(at, at + c)), continuationIds: Array.from(ids.subarray(at + c, at + c + n)) });
    at += c + n;
  }
  if (at * 2 !== buf.byteLength) throw new Error(`${file}: ${buf.byteLength} bytes, expected ${at * 2} (a damaged stage data file; delete it to rebuild)`);
  return out;
}

// ---- the card's record ----

const int = (n: number) => Math.round(n).toLocaleString('en-US');
const hours = (sec: number) => (sec >= 3600 ? `${(sec / 3600).toFixed(1)} h` : `${(sec / 60).toFixed(0)} min`);

export const HISTORY_TITLE = '## Continued training';

/** What a stage in progress has so far (its plan and the trainer's evaluations and sittings). */
export interface StageProgress {
  plan: StagePlan;
  step: number;
  tokens: number;
  evals: EvalRecord[];
  sittings: Sitting[];
  machine: string;
}

function completion(r: RetrievalScore): string {
  return (r.completionWithHeader === undefined ? '' : `; on the tokens after the cursor ${r.completionWithHeader.toFixed(3)} with, ${r.completionWithoutHeader!.toFixed(3)} without`) +
    (r.nextLineInSnippets === undefined ? '' : ` (the line after the cursor is in the snippets verbatim in ${r.nextLineInSnippets} of the ${r.withSnippets})`);
}

/** The card's section on the stages after the shipped model: one row per stage, and each stage's loss by step. */
export function renderStageHistory(h: StageHistory, progress?: StageProgress): string {
  const lines = [
    HISTORY_TITLE,
    '',
    `Stages after the shipped model (\`npm run train:embedded\`, scripts/embedded/stages.ts): each is a warm restart from the last finished stage (the shipped model before the first) over its own slice of the data stream, a cosine cycle of the learning rate, with a share of its windows built as the completion pipeline builds a prompt with workspace context (snippets from other files of the same package, then the file window; scripts/embedded/retrievalWindows.ts). A stage is promoted only when its held-out loss beats the shipped model and every stage promoted before it (by more than ${PROMOTION_MARGIN} nats); a promoted stage is a candidate until \`--ship\` makes it the shipped model (its acceptance head and candidate rule refitted after).`,
    '',
  ];
  if (h.shipped) {
    const r = h.shipped.retrieval;
    const earlier = h.shippedStage !== undefined && h.shippedStage.hash !== h.shipped.hash;
    lines.push(`Reference: the ${earlier ? `model shipped before stage ${h.shippedStage!.stage} (the next run re-scores the one shipped now)` : 'shipped model'} scored on the corpus these stages train and evaluate on (${int(h.shipped.corpusTrainTokens)} training tokens; the corpus is rebuilt from the installed packages, so it can differ from the one of Evaluation above): held-out loss **${h.shipped.heldOut.loss.toFixed(3)}** over ${h.shipped.heldOut.windows} windows${r ? `; on ${r.windows} held-out retrieval windows (${r.withSnippets} with snippets) ${r.withHeader.toFixed(3)} with the snippet header, ${r.withoutHeader.toFixed(3)} without${completion(r)}` : ''}.`, '');
  }
  if (h.trigram) {
    lines.push(`Baseline on the same split: the token trigram (interpolated Kneser–Ney, trained on all ${int(h.trigram.corpusTrainTokens)} training tokens) scores **${h.trigram.loss.toFixed(3)}** on the same ${h.trigram.windows} held-out windows.`, '');
  }
  const rows: string[] = [];
  for (const s of h.stages) {
    const r = s.retrieval;
    rows.push(`| ${s.stage} | ${s.from.label} | ${(100 * s.retrievalShare).toFixed(0)}% | ${int(s.tokens)} | ${s.heldOut.loss.toFixed(3)} (${s.reference.label} ${s.reference.loss.toFixed(3)}) | ${r ? `${r.withHeader.toFixed(3)} / ${r.withoutHeader.toFixed(3)}${r.completionWithHeader !== undefined ? ` (after the cursor ${r.completionWithHeader.toFixed(3)} / ${r.completionWithoutHeader!.toFixed(3)})` : ''}` : '–'} | ${hours(s.wallSec)} in ${s.sittings.length} | ${s.machine} | ${s.promoted ? (h.shippedStage?.stage === s.stage ? `**promoted, shipped** ${h.shippedStage.shippedAt.slice(0, 10)}` : '**promoted**') : 'not promoted'} |`);
  }
  if (progress) {
    const p = progress.plan;
    const lastEval = progress.evals[progress.evals.length - 1];
    const ref = referenceLoss(h);
    const wall = progress.sittings.reduce((a, x) => a + x.wallSec, 0);
    rows.push(`| ${p.stage} | ${p.from.label} | ${(100 * p.retrievalShare).toFixed(0)}% | ${int(progress.tokens)} of ${int(p.windows * p.nPositions)} | in progress (step ${int(progress.step)} of ${int(p.steps)})${lastEval ? `: ${lastEval.l2.toFixed(3)} at step ${int(lastEval.step)}` : ''}${ref ? ` (${ref.label} ${ref.loss.toFixed(3)})` : ''} | – | ${hours(wall)} in ${progress.sittings.length} | ${progress.machine} | – |`);
  }
  if (rows.length > 0) {
    lines.push(
      '| stage | from | retrieval share | tokens | held-out loss (to beat) | retrieval held-out, with / without snippets | wall time, sittings | machine | |',
      '|---:|---|---:|---:|---|---|---|---|---|',
      ...rows,
      '',
    );
  }
  for (const s of [...h.stages, ...(progress ? [progress.plan] : [])]) {
    const evals = 'evals' in s ? (s as StageRecord).evals : progress!.evals;
    const hyper = s.hyper;
    lines.push(`Stage ${s.stage}: ${int(s.steps)} steps of ${hyper.rows} windows, peak learning rate ${hyper.lr}, ${hyper.warmupSteps}-step warm-up, cosine to ${hyper.minLrRatio}×; stream windows ${int(s.windowOffset)}–${int(s.windowOffset + s.windows)} (${(s.windows / s.windowsPerPass).toFixed(2)} passes over the training split). Held-out loss by step (the trainer's evaluation in fp32 on the card's held-out windows): ${evals.length === 0 ? 'none yet' : evals.map((e) => `${e.step}: ${e.l2.toFixed(3)}`).join(', ')}.`, '');
  }
  lines.push('Command, sittings and timing: scripts/embedded/README.md.', '');
  return lines.join('\n');
}

/** Replaces (or appends) the card's continued-training section, leaving every other section as it is. */
export function writeStageHistory(cardFile: string, section: string): void {
  const card = fs.existsSync(cardFile) ? fs.readFileSync(cardFile, 'utf8') : '';
  const parts = card.split(/\n(?=## )/);
  const at = parts.findIndex((p) => p.startsWith(HISTORY_TITLE));
  if (at >= 0) parts[at] = section.trimEnd() + '\n';
  else parts.push(section.trimEnd() + '\n');
  fs.writeFileSync(cardFile, parts.map((p) => p.trimEnd()).join('\n\n') + '\n');
}
