/**
 * `npm run train:embedded` (no --fresh, --tokens or --stages): the stages after the shipped model
 * (stages.ts says why warm restarts, and where everything is kept), and `--compare-shares`, the
 * measurement that chooses the retrieval share.
 *
 * A run resumes the unfinished stage if there is one (with the plan it started with), else plans the
 * next, and keeps going stage after stage until --minutes, --max-stages, or SIGINT/SIGTERM: a signal
 * ends the sitting at the next checkpoint (a second one exits at once, losing the steps since the last
 * checkpoint), so stopping loses nothing and the same command continues. One run at a time: a second
 * one refuses to start while the first's process lives (<work>/stages/running.pid).
 */
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { HASH_SIDECAR, CONFIG_FILE, openCheckpoint, writeCheckpoint, WEIGHTS_FILE } from '../../src/engine/checkpoint';
import { latestCheckpoint } from '../../src/training/checkpointStore';
import { loadEngine } from '../../src/engine/loadModel';
import { getTokenizer } from '../../src/engine/tokenizer';
import { modelScorer, sessionScorer } from '../../src/training/evaluate';
import { initialValues } from '../../src/training/trainer';
import { TrainingSession } from '../../src/training/trainingSession';
import type { TokenExample } from '../../src/training/objective';
import type { LoadedCorpus } from './corpus';
import { crossEntropy, trainTrigram } from './ngramBaseline';
import { fileStreams } from './windows';
import { configOf, pretrain, readSittings, type Hyper, type Shape } from './pretrain';
import { completionPair, corpusRetrievalExamples, isRetrievalWindow, snippetCoverage, withoutHeader, type SnippetCoverage } from './retrievalWindows';
import {
  DATA_FILE, loadExamples, PLAN_FILE, PROMOTION_MARGIN, readHistory, readJson, RECORD_FILE, referenceLoss, renderStageHistory, saveExamples, stageDir, stagesDir,
  streamWindows, STREAM_SEED, unfinishedStage, writeHistory, writeJson, writeStageHistory,
  type HeldOutScore, type RetrievalScore, type StageHistory, type StageProgress, type StagePlan, type StageRecord,
} from './stages';
import { hashToUnit } from '../../src/training/data/seededHash';

/** Retrieval share of a new stage until a measurement says otherwise (--share). */
export const DEFAULT_RETRIEVAL_SHARE = 0.25;
/** Held-out retrieval examples scored at a stage's end (with and without their header). */
export const RETRIEVAL_EVAL_WINDOWS = 48;
/** Evaluations per stage (the trainer's, on the card's held-out windows). */
const EVALS_PER_STAGE = 16;

export interface ContinueOptions {
  work: string;
  /** The shipped model: the first stage starts from it, and it is the first reference. */
  shippedDir: string;
  /** Where a promoted stage's fp16 model goes. */
  candidateDir: string;
  /** The card whose continued-training section is kept current; undefined: none. */
  cardFile?: string;
  corpus: LoadedCorpus;
  /** The training split's plain windows (windows.ts' lmWindows) and the card's held-out windows. */
  train: readonly TokenExample[];
  evalWindows: readonly TokenExample[];
  heldOutWindows: number;
  hyper: Hyper;
  /** Tokens of a new stage (default: one pass over the training split). */
  stageTokens?: number;
  share?: number;
  threads: number;
  device: string;
  checkpointEvery: number;
  minutes?: number;
  maxStages?: number;
  machine: string;
  log: (line: string) => void;
  /** Called after a stage is promoted and recorded (`--auto-ship`: ship it); the history is read again after. */
  onPromoted?: (stage: number) => Promise<void>;
}

/** A held-out sample of retrieval examples: window indices of the held-out stream chosen by hash. */
interface RetrievalEvalSet {
  withHeader: TokenExample[];
  bare: TokenExample[];
  /** The tokens after the cursor only, with the prompt (header and window) or the window alone as context. */
  completionWithHeader: TokenExample[];
  completionBare: TokenExample[];
  withSnippets: number;
  coverage: SnippetCoverage;
}

function retrievalEvalSet(o: { corpus: LoadedCorpus; heldOutWindows: number; nPositions: number; log: (l: string) => void }): RetrievalEvalSet {
  const indices = Array.from({ length: o.heldOutWindows }, (_, i) => i)
    .sort((a, b) => hashToUnit(0, 'retrieval-eval', a) - hashToUnit(0, 'retrieval-eval', b) || a - b)
    .slice(0, RETRIEVAL_EVAL_WINDOWS)
    .sort((a, b) => a - b);
  const { examples, details, stats } = corpusRetrievalExamples({ corpus: o.corpus, split: 'heldout', windows: indices, nPositions: o.nPositions, tokenizer: getTokenizer() });
  const withHeader = indices.map((i) => examples.get(i)!);
  const pairs = indices.map((i) => completionPair(details.get(i)!));
  return {
    withHeader,
    bare: withHeader.map(withoutHeader),
    completionWithHeader: pairs.map((p) => p.withHeader),
    completionBare: pairs.map((p) => p.bare),
    withSnippets: stats.withSnippets,
    coverage: snippetCoverage(details.values(), getTokenizer()),
  };
}

/** Held-out losses of a model folder through the inference engine (fp16 as it would ship), as the card measures them. */
async function engineScores(dir: string, sets: { plain: readonly TokenExample[]; retrieval?: RetrievalEvalSet }, o: { work: string; threads: number }): Promise<{ heldOut: HeldOutScore; retrieval?: RetrievalScore }> {
  const { engine } = await loadEngine({ model: dir, modelsRoot: path.dirname(dir), graphCacheDir: path.join(o.work, 'graphs'), device: 'cpu', threads: o.threads });
  try {
    const score = modelScorer(engine.model);
    const plain = await score(sets.plain, 0);
    const heldOut = { loss: plain.l2, windows: sets.plain.length };
    if (!sets.retrieval) return { heldOut };
    const r = sets.retrieval;
    const withHeader = (await score(r.withHeader, 0)).l2;
    const bare = (await score(r.bare, 0)).l2;
    const completionWithHeader = (await score(r.completionWithHeader, 0)).l2;
    const completionWithoutHeader = (await score(r.completionBare, 0)).l2;
    return { heldOut, retrieval: { windows: r.withHeader.length, withSnippets: r.withSnippets, withHeader, withoutHeader: bare, completionWithHeader, completionWithoutHeader, nextLineInSnippets: r.coverage.nextLineInSnippets } };
  } finally {
    await engine.model.dispose();
    fs.rmSync(path.join(dir, HASH_SIDECAR), { force: true });
  }
}

/** SHA-256 of a model folder's config and weights (read here, so no hash sidecar is written beside them). */
function modelHash(dir: string): string {
  const h = createHash('sha256');
  for (const f of [CONFIG_FILE, WEIGHTS_FILE]) h.update(fs.readFileSync(path.join(dir, f)));
  return h.digest('hex');
}

function copyModel(from: string, to: string): void {
  fs.rmSync(to, { recursive: true, force: true });
  fs.mkdirSync(to, { recursive: true });
  for (const f of [CONFIG_FILE, WEIGHTS_FILE]) fs.copyFileSync(path.join(from, f), path.join(to, f));
}

/**
 * `--ship`: the promoted candidate becomes the shipped model (config and weights copied into the
 * shipped folder; other files there, the card and the acceptance head, stay). Refused while a stage
 * trains (its reference would change under it) or when the candidate is not the latest promoted stage.
 * Returns the stages the shipped weights went through, for the card.
 */
export function shipCandidate(o: { work: string; candidateDir: string; shippedDir: string; log: (line: string) => void }): StageRecord[] {
  holdLock(o.work);
  const candidate = readJson<{ stage: number }>(path.join(o.candidateDir, 'candidate.json'));
  if (candidate === undefined) throw new Error(`no promoted candidate in ${o.candidateDir}: run npm run train:embedded until a stage is promoted`);
  const history = readHistory(o.work);
  const record = history.stages.find((s) => s.stage === candidate.stage);
  const latest = [...history.stages].reverse().find((s) => s.promoted);
  if (record === undefined || !record.promoted || latest?.stage !== record.stage) {
    throw new Error(`the candidate in ${o.candidateDir} (stage ${candidate.stage}) is not the latest promoted stage of ${o.work}; nothing shipped`);
  }
  // Copy beside, then rename over: a crash never leaves a half-written model in the shipped folder.
  for (const f of [CONFIG_FILE, WEIGHTS_FILE]) {
    const tmp = path.join(o.shippedDir, `.${f}.shipping`);
    fs.copyFileSync(path.join(o.candidateDir, f), tmp);
    fs.renameSync(tmp, path.join(o.shippedDir, f));
  }
  fs.rmSync(path.join(o.shippedDir, HASH_SIDECAR), { force: true });
  history.shippedStage = { stage: record.stage, hash: modelHash(o.shippedDir), shippedAt: new Date().toISOString() };
  writeHistory(o.work, history);
  o.log(`shipped stage ${record.stage} (held-out ${record.heldOut.loss.toFixed(4)}) into ${o.shippedDir}`);
  return history.stages.filter((s) => s.stage <= record.stage);
}

/** The continued stages behind the weights now in `shippedDir`: none unless `--ship` put them there. */
export function shippedStages(work: string, shippedDir: string): StageRecord[] {
  const history = readHistory(work);
  const shipped = history.shippedStage;
  if (shipped === undefined || modelHash(shippedDir) !== shipped.hash) return [];
  return history.stages.filter((s) => s.stage <= shipped.stage);
}

/** Refuses a second concurrent run; removes the pid file when this process exits. */
function holdLock(work: string): void {
  const file = path.join(stagesDir(work), 'running.pid');
  const other = fs.existsSync(file) ? Number(fs.readFileSync(file, 'utf8')) : NaN;
  if (Number.isInteger(other) && other !== process.pid) {
    let alive = true;
    try {
      process.kill(other, 0);
      // A pid file left by a machine restart may name an unrelated process that got the same pid.
      const cmdline = `/proc/${other}/cmdline`;
      if (fs.existsSync(cmdline) && !fs.readFileSync(cmdline, 'utf8').includes('embedded/train.ts')) alive = false;
    } catch {
      alive = false;
    }
    if (alive) throw new Error(`another training run (pid ${other}) is using ${work}; stop it (kill -TERM ${other}) or wait for it`);
  }
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, String(process.pid));
  process.on('exit', () => {
    try {
      if (fs.readFileSync(file, 'utf8') === String(process.pid)) fs.rmSync(file);
    } catch {
      // already gone
    }
  });
}

/** The stage's examples: built once (plain windows of its stream slice, a share replaced by retrieval examples), then read back. */
function stageExamples(plan: StagePlan, dir: string, o: ContinueOptions): TokenExample[] {
  const file = path.join(dir, DATA_FILE);
  if (fs.existsSync(file)) return loadExamples(file);
  const windows = streamWindows(plan.windowsPerPass, plan.windowOffset, plan.windows);
  const chosen = new Set<number>();
  windows.forEach((w, i) => {
    if (isRetrievalWindow(STREAM_SEED, plan.windowOffset + i, plan.retrievalShare)) chosen.add(w);
  });
  o.log(`stage ${plan.stage}: building ${chosen.size} retrieval examples of ${windows.length} windows`);
  const { examples: retrieval, stats } = corpusRetrievalExamples({ corpus: o.corpus, split: 'train', windows: [...chosen].sort((a, b) => a - b), nPositions: plan.nPositions, tokenizer: getTokenizer() });
  const out = windows.map((w, i) => (isRetrievalWindow(STREAM_SEED, plan.windowOffset + i, plan.retrievalShare) ? retrieval.get(w)! : o.train[w]));
  saveExamples(file, out);
  writeJson(path.join(dir, 'data.json'), { windows: out.length, retrievalExamples: stats.examples, withSnippets: stats.withSnippets, headerTokens: stats.headerTokens, fileTokens: stats.fileTokens });
  o.log(`stage ${plan.stage}: ${stats.examples} retrieval examples (${stats.withSnippets} with snippets, ${(stats.headerTokens / Math.max(1, stats.withSnippets)).toFixed(0)} header tokens on average)`);
  return out;
}

function shapeOfDir(dir: string): Shape {
  const c = JSON.parse(fs.readFileSync(path.join(dir, CONFIG_FILE), 'utf8')) as { n_layer: number; n_embd: number; n_positions: number };
  return { nLayer: c.n_layer, nEmbd: c.n_embd, nPositions: c.n_positions };
}

export async function continueTraining(o: ContinueOptions): Promise<void> {
  holdLock(o.work);
  let stop = false;
  const onSignal = (sig: string) => {
    if (stop) {
      o.log(`${sig} again: exiting now (the last checkpoint is kept)`);
      process.exit(130);
    }
    stop = true;
    o.log(`${sig}: stopping at the next checkpoint (send it again to exit at once)`);
  };
  process.on('SIGINT', () => onSignal('SIGINT'));
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  const deadline = o.minutes === undefined ? undefined : Date.now() + o.minutes * 60_000;
  const shape = shapeOfDir(o.shippedDir);
  const T = shape.nPositions;
  let history: StageHistory = readHistory(o.work);
  const retrievalSet = retrievalEvalSet({ corpus: o.corpus, heldOutWindows: o.heldOutWindows, nPositions: T, log: o.log });

  // The first reference: the shipped model on today's split (a copy, so nothing is written beside the shipped files).
  const shippedHash = modelHash(o.shippedDir);
  if (history.shipped?.hash !== shippedHash || history.shipped.retrieval?.completionWithHeader === undefined) {
    const copy = path.join(stagesDir(o.work), 'shipped');
    copyModel(o.shippedDir, copy);
    o.log(`scoring the shipped model (${o.shippedDir}) on ${o.evalWindows.length} held-out windows and ${retrievalSet.withHeader.length} retrieval windows`);
    const s = await engineScores(copy, { plain: o.evalWindows, retrieval: retrievalSet }, o);
    history.shipped = { dir: o.shippedDir, hash: shippedHash, heldOut: s.heldOut, retrieval: s.retrieval, corpusTrainTokens: o.corpus.manifest.totals.train.tokens, measuredAt: new Date().toISOString() };
    writeHistory(o.work, history);
    o.log(`shipped model: held-out ${s.heldOut.loss.toFixed(4)}; retrieval windows ${s.retrieval!.withHeader.toFixed(4)} with snippets, ${s.retrieval!.withoutHeader.toFixed(4)} without; after the cursor ${s.retrieval!.completionWithHeader!.toFixed(4)} with, ${s.retrieval!.completionWithoutHeader!.toFixed(4)} without`);
  }

  // The bar the card measures every model against, on this split (once per corpus).
  if (history.trigram?.corpusTrainTokens !== o.corpus.manifest.totals.train.tokens) {
    o.log(`training the token trigram baseline on ${o.corpus.manifest.totals.train.tokens} training tokens`);
    const trigram = trainTrigram(fileStreams(o.corpus, 'train'), configOf(shape).vocabSize);
    history.trigram = { loss: crossEntropy(trigram, o.evalWindows).nats, windows: o.evalWindows.length, corpusTrainTokens: o.corpus.manifest.totals.train.tokens, measuredAt: new Date().toISOString() };
    writeHistory(o.work, history);
    o.log(`trigram baseline: held-out ${history.trigram.loss.toFixed(4)} over ${o.evalWindows.length} windows`);
  }

  for (let run = 0; o.maxStages === undefined || run < o.maxStages; run++) {
    let plan = unfinishedStage(o.work, history);
    const stage = history.stages.length + 1;
    const dir = stageDir(o.work, stage);
    if (plan === undefined) {
      const last = history.stages[history.stages.length - 1];
      // The first stage starts from its own copy of the shipped model (which the lead may replace meanwhile).
      const fromDir = last ? path.join(stageDir(o.work, last.stage), 'model') : path.join(dir, 'from');
      if (!last) copyModel(o.shippedDir, fromDir);
      const tokens = o.stageTokens ?? o.train.length * T;
      const steps = Math.ceil(tokens / (o.hyper.rows * T));
      plan = {
        stage,
        from: { label: last ? `stage ${last.stage}` : 'shipped model', dir: path.relative(o.work, fromDir), hash: modelHash(fromDir) },
        hyper: o.hyper,
        nPositions: T,
        steps,
        retrievalShare: o.share ?? DEFAULT_RETRIEVAL_SHARE,
        windowOffset: history.stages.reduce((n, s) => n + s.windows, 0),
        windows: steps * o.hyper.rows,
        windowsPerPass: o.train.length,
        evalEvery: Math.ceil(steps / EVALS_PER_STAGE),
        plannedAt: new Date().toISOString(),
      };
      writeJson(path.join(dir, PLAN_FILE), plan);
      o.log(`stage ${stage}: planned ${steps} steps (${plan.windows * T} tokens) from the ${plan.from.label}, retrieval share ${plan.retrievalShare}`);
    } else {
      o.log(`stage ${stage}: resuming (${plan.steps} steps from the ${plan.from.label}, retrieval share ${plan.retrievalShare})`);
    }
    if (plan.windowsPerPass !== o.train.length) throw new Error(`stage ${stage} was planned on a training split of ${plan.windowsPerPass} windows, the corpus now has ${o.train.length}: the corpus changed under it`);
    const fromDir = path.resolve(o.work, plan.from.dir);
    if (modelHash(fromDir) !== plan.from.hash) throw new Error(`stage ${stage} starts from ${fromDir}, which changed since the stage was planned`);
    const examples = stageExamples(plan, dir, o);

    const runDir = path.join(dir, 'run');
    const result = await pretrain({
      shape,
      hyper: plan.hyper,
      steps: plan.steps,
      train: examples,
      heldOut: o.evalWindows,
      evalEvery: plan.evalEvery,
      checkpointEvery: o.checkpointEvery,
      outDir: runDir,
      threads: o.threads,
      device: o.device,
      init: openCheckpoint(fromDir),
      resume: true,
      deadline,
      shouldStop: () => stop,
      log: o.log,
    });
    await result.session.dispose();
    const sittings = readSittings(runDir);
    if (!result.result) {
      o.log(`stage ${stage} stopped at step ${result.step}/${plan.steps} (checkpoint kept); run the same command again to continue`);
      const trainerState = readJson<{ evals: StageRecord['evals'] }>(latestTrainerState(runDir));
      writeCard(o, history, { plan, step: result.step, tokens: result.tokens, evals: trainerState?.evals ?? result.evals, sittings, machine: o.machine });
      return;
    }

    // The stage is done: its result (the trainer's best evaluation) in fp32 for the next stage, fp16 as it would ship.
    const config = configOf(shape);
    const model32 = path.join(dir, 'model');
    const model16 = path.join(dir, 'model-fp16');
    fs.rmSync(model32, { recursive: true, force: true });
    fs.rmSync(model16, { recursive: true, force: true });
    writeCheckpoint(model32, config, result.values, { dtype: 'F32' });
    writeCheckpoint(model16, config, result.values, { dtype: 'F16' });
    o.log(`stage ${stage} done; scoring it as it would ship`);
    const scores = await engineScores(model16, { plain: o.evalWindows, retrieval: retrievalSet }, o);
    const reference = referenceLoss(history)!;
    const promoted = scores.heldOut.loss < reference.loss - PROMOTION_MARGIN;
    if (promoted) {
      copyModel(model16, o.candidateDir);
      writeJson(path.join(o.candidateDir, 'candidate.json'), { stage, heldOut: scores.heldOut, retrieval: scores.retrieval, beat: reference, work: o.work });
    }
    const dataStats = readJson<{ retrievalExamples: number; withSnippets: number; headerTokens: number }>(path.join(dir, 'data.json'));
    const record: StageRecord = {
      ...plan,
      tokens: result.result.tokens,
      evals: result.result.evals,
      evalWindows: o.evalWindows.length,
      bestStep: result.result.best?.step ?? result.result.steps,
      sittings,
      wallSec: sittings.reduce((s, x) => s + x.wallSec, 0),
      cpuSec: sittings.reduce((s, x) => s + x.cpuSec, 0),
      threads: o.threads,
      device: result.session.device.provider,
      machine: o.machine,
      dataStats: dataStats && { retrievalExamples: dataStats.retrievalExamples, withSnippets: dataStats.withSnippets, headerTokens: dataStats.headerTokens },
      heldOut: scores.heldOut,
      retrieval: scores.retrieval,
      reference,
      promoted,
      candidateDir: promoted ? o.candidateDir : undefined,
      finishedAt: new Date().toISOString(),
    };
    writeJson(path.join(dir, RECORD_FILE), record);
    history = { ...history, stages: [...history.stages, record] };
    writeHistory(o.work, history);
    // The trainer's checkpoints (values and optimizer state, ~100 MB each) are not needed once the stage is recorded.
    fs.rmSync(runDir, { recursive: true, force: true });
    o.log(`stage ${stage}: held-out ${scores.heldOut.loss.toFixed(4)} vs ${reference.label} ${reference.loss.toFixed(4)}: ${promoted ? `promoted (${o.candidateDir})` : 'not promoted'}`);
    writeCard(o, history);
    if (promoted && o.onPromoted) {
      await o.onPromoted(stage);
      history = readHistory(o.work);
    }
    if (stop || (deadline !== undefined && Date.now() >= deadline)) return;
  }
}

/** The trainer's state file of the run's latest checkpoint (its evaluations so far). */
function latestTrainerState(runDir: string): string {
  const latest = latestCheckpoint(runDir);
  return latest ? path.join(latest.dir, 'trainer.json') : path.join(runDir, 'none.json');
}

/**
 * The card's continued-training section from what the work folder holds now (`--history`): every
 * finished stage, and the unfinished one as far as its latest checkpoint. Reads only, so it may run
 * beside a training run.
 */
export function writeHistoryNow(o: Pick<ContinueOptions, 'work' | 'cardFile' | 'machine' | 'log'>): void {
  const history = readHistory(o.work);
  const plan = unfinishedStage(o.work, history);
  let progress: StageProgress | undefined;
  if (plan) {
    const runDir = path.join(stageDir(o.work, plan.stage), 'run');
    const state = readJson<{ step: number; tokens: number; evals: StageRecord['evals'] }>(latestTrainerState(runDir));
    progress = { plan, step: state?.step ?? 0, tokens: state?.tokens ?? 0, evals: state?.evals ?? [], sittings: readSittings(runDir), machine: o.machine };
  }
  writeCard(o, history, progress);
}

function writeCard(o: Pick<ContinueOptions, 'cardFile' | 'log'>, h: StageHistory, progress?: StageProgress): void {
  if (o.cardFile === undefined) return;
  writeStageHistory(o.cardFile, renderStageHistory(h, progress));
  o.log(`updated ${o.cardFile} (continued training)`);
}

// ---- choosing the share ----

export interface ShareResult {
  share: number;
  tokens: number;
  steps: number;
  wallSec: number;
  /** fp32 losses (the trainer's session) on the card's held-out windows and on held-out retrieval windows with / without snippets. */
  heldOut: number;
  retrievalWithHeader: number;
  retrievalWithoutHeader: number;
  /** On the tokens after the cursor only. */
  completionWithHeader: number;
  completionWithoutHeader: number;
}

/**
 * Short runs from the shipped model over the same stream slice, one per share, each scored on the
 * card's held-out windows (the promotion criterion) and on held-out retrieval windows with and
 * without their snippets (what the share is for). Results in <work>/shares.json.
 */
export async function compareShares(o: ContinueOptions & { shares: number[]; tokens: number }): Promise<ShareResult[]> {
  holdLock(o.work);
  const shape = shapeOfDir(o.shippedDir);
  const T = shape.nPositions;
  const retrievalSet = retrievalEvalSet({ corpus: o.corpus, heldOutWindows: o.heldOutWindows, nPositions: T, log: o.log });
  const base = path.join(o.work, 'shares');
  const from = path.join(base, 'shipped');
  copyModel(o.shippedDir, from);
  const steps = Math.ceil(o.tokens / (o.hyper.rows * T));
  const c = retrievalSet.coverage;
  o.log(`held-out retrieval windows: ${c.withSnippets} of ${c.examples} with snippets; the first line after the cursor is in the snippets in ${c.nextLineInSnippets}, in the window in ${c.nextLineInWindow}`);
  writeJson(path.join(o.work, 'retrieval-coverage.json'), c);
  const file = path.join(o.work, 'shares.json');
  const results: ShareResult[] = readJson<ShareResult[]>(file) ?? [];
  const keep = (r: ShareResult) => {
    o.log(`share ${r.share}: ${JSON.stringify(r)}`);
    const at = results.findIndex((x) => x.share === r.share && x.steps === r.steps);
    if (at >= 0) results[at] = r;
    else results.push(r);
    writeJson(file, results);
  };
  const scores = async (session: TrainingSession, values: Map<string, Float32Array>) => {
    const score = sessionScorer(session, values, { rows: o.hyper.rows, seqLen: T });
    return {
      heldOut: (await score(o.evalWindows, 0)).l2,
      retrievalWithHeader: (await score(retrievalSet.withHeader, 0)).l2,
      retrievalWithoutHeader: (await score(retrievalSet.bare, 0)).l2,
      completionWithHeader: (await score(retrievalSet.completionWithHeader, 0)).l2,
      completionWithoutHeader: (await score(retrievalSet.completionBare, 0)).l2,
    };
  };
  // The starting point, scored the same way (fp32, the training session): row "share 0, 0 steps".
  if (!results.some((r) => r.steps === 0)) {
    const weights = openCheckpoint(from);
    const session = await TrainingSession.create({ weights, method: 'full', batch: o.hyper.rows, seqLen: T, device: o.device, threads: o.threads });
    keep({ share: 0, tokens: 0, steps: 0, wallSec: 0, ...(await scores(session, initialValues(session.params, { method: 'full', base: weights }))) });
    await session.dispose();
  }
  for (const share of o.shares) {
    const plan: StagePlan = {
      stage: 0, from: { label: 'shipped model', dir: from, hash: '' }, hyper: o.hyper, nPositions: T, steps, retrievalShare: share,
      windowOffset: 0, windows: steps * o.hyper.rows, windowsPerPass: o.train.length, evalEvery: steps, plannedAt: new Date().toISOString(),
    };
    const dir = path.join(base, `share-${share}-${steps}steps`);
    fs.mkdirSync(dir, { recursive: true });
    const examples = stageExamples(plan, dir, o);
    const run = await pretrain({
      shape, hyper: o.hyper, steps, train: examples, checkpointEvery: o.checkpointEvery, outDir: path.join(dir, 'run'),
      threads: o.threads, device: o.device, init: openCheckpoint(from), resume: true, log: o.log,
    });
    if (!run.result) throw new Error('share run stopped early');
    // A run finished earlier is only scored again: its time is that of its sittings.
    const wallSec = readSittings(path.join(dir, 'run')).filter((x) => x.toStep > x.fromStep).reduce((n, x) => n + x.wallSec, 0);
    keep({ share, tokens: run.tokens, steps, wallSec, ...(await scores(run.session, run.values)) });
    await run.session.dispose();
  }
  return results;
}
