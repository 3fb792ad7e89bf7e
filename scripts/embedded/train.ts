/**
 * `npm run train:embedded`: builds the embedded default model (models/embedded/) from nothing but
 * this machine: the corpus (corpus.ts), a GPT-2 trained from random weights on it with the project's
 * trainer, the n-gram baseline (ngramBaseline.ts), the evaluation, and MODEL_CARD.md; and trains it
 * on, stage after stage (continueTraining.ts, stages.ts; scripts/embedded/README.md).
 *
 *   npm run train:embedded -- [--minutes M] [--share S] [--stage-tokens N] [--max-stages K] [--out DIR] [--card FILE|none]
 *     the default: continued stages after the shipped model, each a warm restart from the last
 *     finished one, with a share S of retrieval-aware windows (retrievalWindows.ts); resumes the
 *     unfinished stage; a stage that beats the shipped model (and every earlier promoted stage) on the
 *     card's held-out windows is written to DIR (default <work>/candidate); the card's "Continued
 *     training" section keeps every stage's record
 *   npm run train:embedded -- --history     the card's "Continued training" section from the work
 *     folder as it is (the unfinished stage as far as its latest checkpoint), beside a running stage
 *   npm run train:embedded -- --compare-shares 0,0.25,0.5 --tokens N   short runs from the shipped
 *     model, one per retrieval share, scored on held-out windows with and without snippets
 *   npm run train:embedded -- --fresh [--shape 8x128] [--lr X] [--threads N] [--rows R]
 *                               [--device cpu|webgpu|cuda] [--checkpoint-every N] [--skip-report] [--stages N,N]
 *     the shipped model from nothing: SHIPPED_STAGES (or --stages N,N: the first from random
 *     weights, each next a warm restart from the one before, in <work>/stage-K), then the card
 *   npm run train:embedded -- --tokens N [--init-from DIR] ...   one stage of N tokens, from DIR's
 *     weights if given (a warm restart: new warm-up and cosine); DIR/training.json, if there, is the
 *     earlier stage's record for the card
 *   npm run train:embedded -- --report-only      evaluate models/embedded and write its card from
 *     <work>/training.json (a --skip-report run writes it: train on a bigger machine, report here)
 *   npm run train:embedded -- --ship      the promoted candidate becomes models/embedded (config and
 *     weights), then --report-only, then the acceptance head and candidate rule beside it are refitted
 *     on its states (the bench scripts, on the quality sets; README.md); with --auto-ship a continued
 *     run does the same for each stage it promotes
 *   npm run train:embedded -- --measure [--measure-cpu-sec S]     compare candidate shapes
 *     (with --shape and --lr: measure that one, adding it to the table)
 *   (--work DIR replaces .test-cache/embedded-train; --out DIR replaces models/embedded, or for
 *   continued stages the candidate folder)
 *
 * Training checkpoints under .test-cache/embedded-train/ and resumes from the last one when run
 * again, so a run can span several sittings (--minutes ends a sitting at its first checkpoint after
 * M minutes). --fresh deletes that folder (corpus included; continued stages and the candidate are
 * kept) and starts over. Everything is seeded:
 * the corpus, the split, the initial weights and the data order; a rerun gives the same model up to
 * the floating-point nondeterminism of multi-threaded onnxruntime reductions.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { parameterCount } from '../../src/engine/config';
import { HASH_SIDECAR, openCheckpoint, writeCheckpoint, WEIGHTS_FILE } from '../../src/engine/checkpoint';
import { loadEngine } from '../../src/engine/loadModel';
import { getTokenizer } from '../../src/engine/tokenizer';
import { epochOrder } from '../../src/training/trainer';
import { modelScorer, nextLineExactMatch, restOfLine, EXACT_MATCH_MAX_TOKENS, type Completer } from '../../src/training/evaluate';
import type { TokenExample } from '../../src/training/objective';
import { compareShares, continueTraining, shipCandidate, shippedStages, writeHistoryNow } from './continueTraining';
import { defaultSetsDir, FIT_SETS, isCached, QUALITY_SETS } from '../quality-sets';
import { buildCorpus, loadCorpus } from './corpus';
import { writeModelCard, type CompletionExample, type EmbeddedReport } from './modelCard';
import { crossEntropy, trainTrigram, trigramCompleter } from './ngramBaseline';
import { configOf, pretrain, readSittings, shapeName, type Hyper, type Shape } from './pretrain';
import { fp16Bytes, MAX_MODEL_BYTES, measureShape, type ShapeMeasurement } from './shapes';
import { exactMatchCases, fileStreams, lmWindows, sampleWindows } from './windows';

const ROOT = path.join(__dirname, '..', '..');
let WORK = path.join(ROOT, '.test-cache', 'embedded-train');
let MODEL_DIR = path.join(ROOT, 'models', 'embedded');
/** The shipped model, where continued stages start and the loss they must beat. */
const SHIPPED_DIR = path.join(ROOT, 'models', 'embedded');

/** Why DEFAULT_SHAPE, from the `--measure` table; printed in MODEL_CARD.md beside that table. */
export const SHAPE_RATIONALE =
  '8×128 and 2×256 reached the same held-out loss for the same CPU time (4.386 and 4.380), ahead of 6×192 (4.522). ' +
  '8×128 trains a third more tokens per CPU-second (689 vs 519), so a longer run gives it more updates, and it is half the size on disk; ' +
  "its decode latency is the higher of the two but a few ms per token, far inside an editor's budget. So 8×128.";
export const DEFAULT_SHAPE: Shape = { nLayer: 8, nEmbd: 128, nPositions: 512 };
/** Candidates for `--measure`: each within 30 MB in fp16. */
export const CANDIDATES: Shape[] = [
  { nLayer: 8, nEmbd: 128, nPositions: 512 },
  { nLayer: 6, nEmbd: 192, nPositions: 512 },
  { nLayer: 2, nEmbd: 256, nPositions: 512 },
];
/**
 * The shipped model's schedule, what `npm run train:embedded` runs without --tokens: a first stage
 * from random weights, then a warm restart from its weights (new warm-up and cosine, fresh optimizer
 * state, the data stream again from its start). 5.0M tokens, ~90 minutes on this 2-core machine.
 */
export const SHIPPED_STAGES: readonly number[] = [3_200_000, 1_800_192];
/** Peak learning rate 1e-3: at 3e-3 the same CPU time ended at a higher held-out loss (MODEL_CARD.md). */
export const HYPER: Hyper = { rows: 2, lr: 1e-3, warmupSteps: 30, minLrRatio: 0.1, weightDecay: 0.1, seed: 0 };
const EVAL_WINDOWS = 100;
const TRAINER_EVAL_WINDOWS = 24;
const EXACT_MATCH_CASES = 500;
const CHECKPOINT_EVERY = 25;
/** A checkpoint (values and AdamW state, ~100 MB) every 50 steps: at most a couple of minutes lost to a kill -9. */
const CONTINUE_CHECKPOINT_EVERY = 50;

interface Args {
  minutes?: number;
  fresh: boolean;
  measure: boolean;
  measureCpuSec: number;
  /** One stage of this many tokens; undefined: the SHIPPED_STAGES. */
  tokens?: number;
  /** The stages run without --tokens (default SHIPPED_STAGES). */
  stages: readonly number[];
  shape: Shape;
  /** Whether --shape was given (--measure then measures only it). */
  shapeGiven: boolean;
  lr: number;
  threads: number;
  rows: number;
  device: string;
  checkpointEvery: number;
  skipReport: boolean;
  reportOnly: boolean;
  initFrom?: string;
  work?: string;
  out?: string;
  /** Whether --stages was given (the shipped kind of schedule rather than continued stages). */
  stagesGiven: boolean;
  /** Continued stages: retrieval share and tokens of a new stage, stages this run, the card to keep current. */
  share?: number;
  stageTokens?: number;
  maxStages?: number;
  card?: string;
  /** --compare-shares 0,0.25,0.5 (with --tokens): the short runs that choose the share. */
  compareShares?: number[];
  /** Continued stages: ship each promoted stage as it is promoted (what --ship does). */
  autoShip: boolean;
}

function parseArgs(argv: string[]): Args {
  const value = (name: string): string | undefined => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const num = (name: string, fallback: number): number => {
    const v = value(name);
    const n = v === undefined ? fallback : Number(v);
    if (!(Number.isFinite(n) && n > 0)) throw new Error(`--${name} must be a positive number (got ${v})`);
    return n;
  };
  const known = new Set(['--minutes', '--fresh', '--measure', '--measure-cpu-sec', '--tokens', '--shape', '--lr', '--threads', '--work', '--out',
    '--rows', '--device', '--checkpoint-every', '--skip-report', '--report-only', '--init-from', '--stages',
    '--share', '--stage-tokens', '--max-stages', '--card', '--compare-shares', '--history', '--ship', '--auto-ship']);
  const share = (v: string): number => {
    const n = Number(v);
    if (!(Number.isFinite(n) && n >= 0 && n <= 1)) throw new Error(`a retrieval share is between 0 and 1 (got ${v})`);
    return n;
  };
  for (const a of argv) if (a.startsWith('--') && !known.has(a)) throw new Error(`unknown option ${a}; see scripts/embedded/train.ts`);
  let shape = DEFAULT_SHAPE;
  const spec = value('shape');
  if (spec !== undefined) {
    const m = /^(\d+)x(\d+)$/.exec(spec);
    if (!m) throw new Error(`--shape must be LAYERSxWIDTH, e.g. 6x192 (got ${spec})`);
    shape = { nLayer: Number(m[1]), nEmbd: Number(m[2]), nPositions: DEFAULT_SHAPE.nPositions };
  }
  return {
    minutes: value('minutes') === undefined ? undefined : num('minutes', 0),
    fresh: argv.includes('--fresh'),
    measure: argv.includes('--measure'),
    measureCpuSec: num('measure-cpu-sec', 300),
    tokens: value('tokens') === undefined ? undefined : Math.round(num('tokens', 1)),
    stages: value('stages') === undefined ? SHIPPED_STAGES : value('stages')!.split(',').map((t) => {
      const n = Number(t);
      if (!(Number.isInteger(n) && n > 0)) throw new Error(`--stages takes token counts separated by commas, e.g. 3200000,1800192 (got ${value('stages')})`);
      return n;
    }),
    shape,
    shapeGiven: spec !== undefined,
    lr: num('lr', HYPER.lr),
    threads: Math.round(num('threads', os.availableParallelism())),
    rows: Math.round(num('rows', HYPER.rows)),
    device: value('device') ?? 'cpu',
    checkpointEvery: Math.round(num('checkpoint-every', continuing(argv) ? CONTINUE_CHECKPOINT_EVERY : CHECKPOINT_EVERY)),
    skipReport: argv.includes('--skip-report'),
    reportOnly: argv.includes('--report-only'),
    initFrom: value('init-from'),
    work: value('work'),
    out: value('out'),
    stagesGiven: value('stages') !== undefined,
    share: value('share') === undefined ? undefined : share(value('share')!),
    stageTokens: value('stage-tokens') === undefined ? undefined : Math.round(num('stage-tokens', 1)),
    maxStages: value('max-stages') === undefined ? undefined : Math.round(num('max-stages', 1)),
    card: value('card'),
    compareShares: value('compare-shares')?.split(',').map(share),
    autoShip: argv.includes('--auto-ship'),
  };
}

/** Whether the arguments ask for the continued stages (the default) rather than the shipped schedule or a measurement. */
function continuing(argv: string[]): boolean {
  return !['--fresh', '--tokens', '--stages', '--measure', '--report-only', '--compare-shares', '--init-from', '--history', '--ship'].some((a) => argv.includes(a));
}

const log = (line: string) => console.log(`[${new Date().toISOString().slice(11, 19)}] ${line}`);

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  // Other folders than the defaults: for trying the pipeline without touching models/embedded.
  if (args.work) WORK = path.resolve(args.work);
  if (args.out) MODEL_DIR = path.resolve(args.out);
  if (args.fresh && fs.existsSync(WORK)) {
    // Days of continued stages (and a promoted candidate) are not the shipped model's to delete.
    for (const entry of fs.readdirSync(WORK)) {
      if (entry !== 'stages' && entry !== 'candidate') fs.rmSync(path.join(WORK, entry), { recursive: true, force: true });
    }
  }
  const corpusDir = path.join(WORK, 'corpus');
  const corpus = loadCorpus(corpusDir) ?? (await buildCorpus({ outDir: corpusDir, log }), loadCorpus(corpusDir)!);
  const { totals } = corpus.manifest;
  log(`corpus: ${totals.train.tokens} training tokens in ${totals.train.files} files, ${totals.heldOut.tokens} held out in ${totals.heldOut.files} files`);

  const T = args.shape.nPositions;
  const train = lmWindows(corpus, 'train', T);
  const heldOutAll = lmWindows(corpus, 'heldout', T);
  const evalWindows = sampleWindows(heldOutAll, EVAL_WINDOWS, HYPER.seed);
  const trainerEval = sampleWindows(heldOutAll, TRAINER_EVAL_WINDOWS, HYPER.seed);
  log(`${train.length} training windows of ${T} tokens, ${heldOutAll.length} held-out windows`);

  if (args.measure) return measure(args, train, trainerEval);
  const continueOptions = () => ({
    work: WORK,
    shippedDir: SHIPPED_DIR,
    // This session's rule: a promoted stage waits in the work folder; --out names another place (models/embedded to ship it).
    candidateDir: args.out ? path.resolve(args.out) : path.join(WORK, 'candidate'),
    cardFile: args.card === 'none' ? undefined : path.resolve(args.card ?? path.join(SHIPPED_DIR, 'MODEL_CARD.md')),
    corpus,
    train,
    evalWindows,
    heldOutWindows: heldOutAll.length,
    hyper: { ...HYPER, lr: args.lr, rows: args.rows },
    stageTokens: args.stageTokens,
    share: args.share,
    threads: args.threads,
    device: args.device,
    checkpointEvery: args.checkpointEvery,
    minutes: args.minutes,
    maxStages: args.maxStages,
    machine: machineLine(),
    log,
    onPromoted: args.autoShip ? () => ship() : undefined,
  });
  // --ship: the candidate's weights into models/embedded, the card, then what was fitted on the old weights' states.
  const ship = async (): Promise<void> => {
    shipCandidate({ work: WORK, candidateDir: continueOptions().candidateDir, shippedDir: MODEL_DIR, log });
    await report(args, corpus, train, evalWindows, buildRecord());
    if (MODEL_DIR === SHIPPED_DIR) refitBesideModel();
  };
  if (process.argv.includes('--history')) return writeHistoryNow(continueOptions());
  if (args.compareShares) {
    if (args.tokens === undefined) throw new Error('--compare-shares needs --tokens (the length of each short run)');
    const results = await compareShares({ ...continueOptions(), shares: args.compareShares, tokens: args.tokens });
    for (const r of results) {
      log(`share ${r.share}, ${r.steps} steps (${r.tokens} tokens, ${(r.wallSec / 60).toFixed(1)} min): held-out ${r.heldOut.toFixed(4)}; retrieval windows ${r.retrievalWithHeader.toFixed(4)} with snippets, ${r.retrievalWithoutHeader.toFixed(4)} without; after the cursor ${r.completionWithHeader?.toFixed(4)} with, ${r.completionWithoutHeader?.toFixed(4)} without`);
    }
    return;
  }
  if (continuing(process.argv.slice(2))) return continueTraining(continueOptions());
  if (process.argv.includes('--ship')) return ship();
  if (args.reportOnly) return report(args, corpus, train, evalWindows, buildRecord());

  if (fp16Bytes(args.shape) > MAX_MODEL_BYTES) throw new Error(`shape ${shapeName(args.shape)} is ${fp16Bytes(args.shape)} bytes in fp16, over ${MAX_MODEL_BYTES}`);
  if (args.tokens !== undefined) {
    await trainStage(args, args.tokens, args.initFrom, MODEL_DIR, corpus, train, evalWindows, trainerEval);
    return;
  }
  if (args.initFrom !== undefined) throw new Error('--init-from needs --tokens (without --tokens the shipped stages run, the first from random weights)');
  // The shipped schedule: every stage but the last writes its model and record to <work>/stage-N,
  // which the next starts from; a finished stage is not run again, so sittings resume where they stopped.
  let from: string | undefined;
  for (let i = 0; i < args.stages.length; i++) {
    const last = i === args.stages.length - 1;
    const out = last ? MODEL_DIR : path.join(WORK, `stage-${i + 1}`);
    if (!last && readTraining(out) !== undefined) {
      log(`stage ${i + 1} of ${args.stages.length} is done (${out})`);
    } else {
      log(`stage ${i + 1} of ${args.stages.length}: ${args.stages[i]} tokens${from ? ` from ${from}` : ' from random weights'}`);
      const finished = await trainStage({ ...args, skipReport: args.skipReport || !last }, args.stages[i], from, out, corpus, train, evalWindows, trainerEval);
      if (!finished) {
        log(`stage ${i + 1} stopped before its end (checkpoint kept); run the same command again to continue`);
        return;
      }
      if (!last) fs.copyFileSync(path.join(WORK, TRAINING_FILE), path.join(out, TRAINING_FILE));
    }
    from = out;
  }
}

/**
 * Trains one stage of `tokens` tokens (from `initFrom`'s weights, else random ones), writes the model
 * to `outDir` and its record to <work>/training.json, then the card unless --skip-report. Resolves
 * false when the sitting ended before the schedule did (the checkpoint is kept).
 */
async function trainStage(
  args: Args, tokens: number, initFrom: string | undefined, outDir: string,
  corpus: ReturnType<typeof loadCorpus> & object, train: ReturnType<typeof lmWindows>, evalWindows: ReturnType<typeof lmWindows>, trainerEval: ReturnType<typeof lmWindows>,
): Promise<boolean> {
  const T = args.shape.nPositions;
  const hyper: Hyper = { ...HYPER, lr: args.lr, rows: args.rows };
  const steps = Math.ceil(tokens / (hyper.rows * T));
  // One folder per shape and schedule: the trainer resumes only a run with the same key (steps included).
  const init = initFrom === undefined ? undefined : openCheckpoint(path.resolve(initFrom));
  if (init && shapeName(shapeOf(init.config)) !== shapeName(args.shape)) {
    throw new Error(`--init-from ${initFrom} is a ${shapeName(shapeOf(init.config))} model; pass --shape ${init.config.nLayer}x${init.config.nEmbd}`);
  }
  const firstStage = initFrom === undefined ? undefined : readTraining(path.resolve(initFrom));
  const runDir = path.join(WORK, `run-${shapeName(args.shape)}-${steps}steps-lr${hyper.lr}${hyper.rows === HYPER.rows ? '' : `-rows${hyper.rows}`}${init ? `-from-${init.contentHash().slice(0, 12)}` : ''}`);
  log(`training ${shapeName(args.shape)} (${(parameterCount(configOf(args.shape)) / 1e6).toFixed(2)}M parameters) for ${steps} steps of ${hyper.rows}×${T} tokens on ${args.device}${args.minutes ? `, this sitting ${args.minutes} min` : ''}`);
  const run = await pretrain({
    shape: args.shape,
    hyper,
    steps,
    train,
    heldOut: trainerEval,
    evalEvery: Math.ceil(steps / 8),
    checkpointEvery: args.checkpointEvery,
    outDir: runDir,
    threads: args.threads,
    device: args.device,
    init,
    resume: true,
    deadline: args.minutes === undefined ? undefined : Date.now() + args.minutes * 60_000,
    log,
  });
  await run.session.dispose();
  if (!run.result && !args.skipReport) {
    log(`stopped at step ${run.step}/${steps} (checkpoint kept); run the same command again to continue`);
    return false;
  }
  // A --skip-report sitting on a borrowed machine keeps what it has even when its time ran out first.
  const result = run.result ?? { steps: run.step, tokens: run.tokens, best: undefined, evals: run.evals, values: run.values };
  if (!run.result) log(`stopped at step ${run.step}/${steps}: writing the current weights (schedule not finished)`);

  const config = configOf(args.shape);
  fs.rmSync(outDir, { recursive: true, force: true });
  writeCheckpoint(outDir, config, result.values, { dtype: 'F16' });
  // loadEngine memoises the checkpoint's hash beside it; the shipped folder holds only the model and its card.
  fs.rmSync(path.join(outDir, HASH_SIDECAR), { force: true });
  log(`wrote ${outDir} (${fs.statSync(path.join(outDir, WEIGHTS_FILE)).size} bytes)`);

  const sittings = readSittings(runDir);
  const training: EmbeddedReport['training'] = {
    hyper,
    steps: result.steps,
    tokens: result.tokens,
    bestStep: result.best?.step ?? result.steps,
    evals: result.evals,
    evalWindows: TRAINER_EVAL_WINDOWS,
    sittings,
    wallSec: sittings.reduce((s, x) => s + x.wallSec, 0),
    cpuSec: sittings.reduce((s, x) => s + x.cpuSec, 0),
    threads: args.threads,
    device: run.session.device.provider,
    machine: machineLine(),
    continuedFrom: firstStage,
  };
  fs.writeFileSync(path.join(WORK, TRAINING_FILE), JSON.stringify(training, null, 1) + '\n');
  if (MODEL_DIR === SHIPPED_DIR && !args.skipReport) fs.writeFileSync(BUILD_RECORD, JSON.stringify(training, null, 1) + '\n');
  if (args.skipReport) {
    log(`wrote ${path.join(WORK, TRAINING_FILE)}; the card is written by --report-only`);
    return run.result !== undefined;
  }
  await report(args, corpus, train, evalWindows, training);
  return true;
}

/**
 * The shipped model's build record, kept in the repository because the work folder is rebuilt (and
 * was, when the corpus changed); --fresh rewrites it. The first one was restored from its card.
 */
const BUILD_RECORD = path.join(__dirname, 'build-record.json');

/**
 * What sits beside the weights was fitted on the old model, so new weights need it refitted, in this
 * order, by the bench scripts that fitted it on the quality sets' training sides
 * (scripts/embedded/README.md, "Shipping a stage"): the cache model's mixture weights
 * (cache-weights.json; the head and the rule read how suggestions were decoded under the mixture),
 * then the acceptance head and the candidate rule in head.json (they read the model's states).
 * Without the sets here, says what to run.
 */
function refitBesideModel(): void {
  // On the fitting sets only: the benchmark's four sets stay repositories none of this has seen.
  const steps = [
    ['bench/fitCache.ts', '--files', '10', '--sets', FIT_SETS.map((s) => s.name).join(','), '--save'],
    ['bench/acceptanceHead.ts', 'collect', '--train-cuts', '500', '--cuts', '0', '--fit'],
    ['bench/acceptanceHead.ts', 'report', '--fit', '--save-default'],
    ['bench/workspaceCandidates.ts', 'collect', '--train-cuts', '1000', '--cuts', '0', '--fit'],
    ['bench/workspaceCandidates.ts', 'fit', '--fit', '--save'],
  ];
  const sets = defaultSetsDir();
  const missing = [...QUALITY_SETS, ...FIT_SETS].filter((s) => !isCached(sets, s)).map((s) => s.name);
  if (missing.length > 0) {
    log(`the acceptance head and candidate rule still fit the old weights: the sets ${missing.join(', ')} are not in ${sets} (npm run quality:fetch && npx tsx scripts/quality-sets.ts --fit), then run: ${steps.map((a) => `npx tsx ${a.join(' ')}`).join(' && ')}`);
    return;
  }
  for (const step of steps) {
    log(`refitting beside the new weights: npx tsx ${step.join(' ')}`);
    execFileSync(process.execPath, [require.resolve('tsx/cli'), ...step], { cwd: ROOT, stdio: 'inherit' });
  }
  log('refitted the cache weights, the acceptance head and the candidate rule; their numbers in the card\'s "Acceptance head" section and bench/QUALITY.md are the earlier weights\' until updated');
}

/** The `--measure` table the shipped shape was chosen by, restored from its card when the work folder was rebuilt. */
const SHAPE_MEASUREMENTS = path.join(__dirname, 'shape-measurements.json');

/** The training record the card describes: this work folder's run if it has one, else the shipped build's. */
function buildRecord(): EmbeddedReport['training'] {
  const file = fs.existsSync(path.join(WORK, TRAINING_FILE)) ? path.join(WORK, TRAINING_FILE) : BUILD_RECORD;
  return JSON.parse(fs.readFileSync(file, 'utf8')) as EmbeddedReport['training'];
}

/** What the training run left in <work>/training.json: the record --report-only completes. */
const TRAINING_FILE = 'training.json';

/** The training record kept beside a model folder (its first stage, for a second one), if any. */
function readTraining(dir: string): EmbeddedReport['training'] | undefined {
  const file = path.join(dir, TRAINING_FILE);
  return fs.existsSync(file) ? (JSON.parse(fs.readFileSync(file, 'utf8')) as EmbeddedReport['training']) : undefined;
}

/** Distinct training windows the model saw: every stage reads the same order from its start. */
function seenWindows(t: EmbeddedReport['training']): number {
  return Math.max(t.steps * t.hyper.rows, t.continuedFrom ? seenWindows(t.continuedFrom) : 0);
}

function shapeOf(c: { nLayer: number; nEmbd: number; nPositions: number }): Shape {
  return { nLayer: c.nLayer, nEmbd: c.nEmbd, nPositions: c.nPositions };
}

function machineLine(): string {
  return `${os.cpus()[0]?.model ?? 'unknown CPU'}, ${os.availableParallelism()} cores, ${Math.round(os.totalmem() / 2 ** 30)} GiB, node ${process.version}, onnxruntime-node ${ortVersion()}`;
}

/** Evaluates models/embedded against the baselines and writes MODEL_CARD.md. */
async function report(
  args: Args,
  corpus: NonNullable<ReturnType<typeof loadCorpus>>,
  train: TokenExample[],
  evalWindows: TokenExample[],
  training: EmbeddedReport['training'],
): Promise<void> {
  const config = JSON.parse(fs.readFileSync(path.join(MODEL_DIR, 'config.json'), 'utf8')) as Record<string, number>;
  const shape: Shape = { nLayer: config.n_layer, nEmbd: config.n_embd, nPositions: config.n_positions };
  const fileBytes = fs.statSync(path.join(MODEL_DIR, WEIGHTS_FILE)).size;
  const evaluated = await evaluateModel({ corpus, train, evalWindows, steps: training.steps, seenWindows: seenWindows(training), threads: args.threads });
  // This work folder's --measure table, else the one the shipped shape was chosen by (kept in the repository).
  const shapesFile = [path.join(WORK, 'shapes.json'), SHAPE_MEASUREMENTS].find((f) => fs.existsSync(f));
  const measurements = shapesFile ? (JSON.parse(fs.readFileSync(shapesFile, 'utf8')) as EmbeddedReport['measurements']) : undefined;
  const isDefault = shapeName(shape) === shapeName(DEFAULT_SHAPE);
  const continued = shippedStages(WORK, MODEL_DIR).map((s) => ({
    stage: s.stage, tokens: s.tokens, retrievalShare: s.retrievalShare, wallSec: s.wallSec, sittings: s.sittings.length, heldOutLoss: s.heldOut.loss, machine: s.machine,
  }));
  const full: EmbeddedReport = {
    ...evaluated,
    continued: continued.length > 0 ? continued : undefined,
    corpus: corpus.manifest,
    shape: { name: shapeName(shape), config: configOf(shape), params: parameterCount(configOf(shape)), fileBytes, rationale: isDefault ? SHAPE_RATIONALE : undefined },
    measurements,
    training,
    machine: machineLine(),
  };
  fs.writeFileSync(path.join(WORK, 'report.json'), JSON.stringify(full, null, 1) + '\n');
  fs.rmSync(path.join(MODEL_DIR, HASH_SIDECAR), { force: true });
  writeModelCard(path.join(MODEL_DIR, 'MODEL_CARD.md'), full);
  log(`wrote ${path.join(MODEL_DIR, 'MODEL_CARD.md')}`);
}

function ortVersion(): string {
  try {
    return (JSON.parse(fs.readFileSync(require.resolve('onnxruntime-node/package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

async function measure(args: Args, train: TokenExample[], heldOut: TokenExample[]): Promise<void> {
  const file = path.join(WORK, 'shapes.json');
  const hyper: Hyper = { ...HYPER, lr: args.lr };
  type Table = NonNullable<EmbeddedReport['measurements']>;
  const earlier = fs.existsSync(file) ? (JSON.parse(fs.readFileSync(file, 'utf8')) as Table) : null;
  // A single --shape/--lr measurement joins the table only if it was measured the same way.
  const comparable = earlier !== null && earlier.cpuBudgetSec === args.measureCpuSec && earlier.heldOutWindows === heldOut.length;
  const results: ShapeMeasurement[] = args.shapeGiven && comparable ? [...earlier.results] : [];
  for (const shape of args.shapeGiven ? [args.shape] : CANDIDATES) {
    log(`measuring ${shapeName(shape)} at learning rate ${hyper.lr} for ${args.measureCpuSec} CPU-seconds`);
    const m = await measureShape(shape, { hyper, train, heldOut, cpuBudgetSec: args.measureCpuSec, threads: args.threads, workDir: path.join(WORK, 'shapes'), log });
    log(`  ${JSON.stringify(m)}`);
    const same = results.findIndex((r) => r.shape === m.shape && r.lr === m.lr);
    if (same >= 0) results[same] = m;
    else results.push(m);
  }
  const table: Table = { cpuBudgetSec: args.measureCpuSec, hyper: earlier && args.shapeGiven && comparable ? earlier.hyper : hyper, heldOutWindows: heldOut.length, results };
  fs.writeFileSync(file, JSON.stringify(table, null, 1) + '\n');
}

/** Held-out loss, exact match, examples and latency of models/embedded through the inference engine, and the n-gram baselines. */
async function evaluateModel(o: {
  corpus: NonNullable<ReturnType<typeof loadCorpus>>;
  train: TokenExample[];
  evalWindows: TokenExample[];
  steps: number;
  seenWindows: number;
  threads: number;
}): Promise<Pick<EmbeddedReport, 'eval' | 'examples' | 'latency'>> {
  const tokenizer = getTokenizer();
  const V = 50257;
  log('n-gram baselines');
  const trigram = trainTrigram(fileStreams(o.corpus, 'train'), V);
  // The same windows the model trained on, in the trainer's order: the baseline at an equal data budget.
  const seen: number[][] = [];
  for (let epoch = 0; seen.length < o.seenWindows; epoch++) {
    for (const i of epochOrder(o.train.length, HYPER.seed, epoch)) {
      if (seen.length >= o.seenWindows) break;
      seen.push([...o.train[i].contextIds, ...o.train[i].continuationIds]);
    }
  }
  const matched = trainTrigram(seen, V);

  const { engine } = await loadEngine({ model: MODEL_DIR, modelsRoot: path.dirname(MODEL_DIR), graphCacheDir: path.join(WORK, 'graphs'), device: 'cpu', threads: o.threads });
  log(`held-out loss over ${o.evalWindows.length} windows`);
  const modelLoss = await modelScorer(engine.model)(o.evalWindows, 0);
  const ngramLoss = crossEntropy(trigram, o.evalWindows);
  const matchedLoss = crossEntropy(matched, o.evalWindows);

  const cases = exactMatchCases(o.corpus, engine.model.config.nPositions, EXACT_MATCH_CASES, HYPER.seed);
  log(`next-line exact match over ${cases.length} held-out cut points`);
  const completions = new Map<Completer, string[]>();
  const recording = (c: Completer): Completer => {
    const texts: string[] = [];
    completions.set(c, texts);
    return { complete: async (req) => { const r = await c.complete(req); texts.push(r.candidates[0]?.text ?? ''); return r; } };
  };
  const engineCompleter: Completer = engine;
  const trigramC = trigramCompleter(trigram, tokenizer);
  const modelEm = await nextLineExactMatch(recording(engineCompleter), cases);
  const ngramEm = await nextLineExactMatch(recording(trigramC), cases);
  const matchedEm = await nextLineExactMatch(trigramCompleter(matched, tokenizer), cases);
  const modelTexts = [...completions.values()][0];
  const ngramTexts = [...completions.values()][1];
  const examples: CompletionExample[] = cases.slice(0, 10).map((c, i) => ({
    file: c.file,
    context: c.context,
    truth: restOfLine(c.continuation),
    model: restOfLine(modelTexts[i]),
    ngram: restOfLine(ngramTexts[i]),
  }));

  // Latency through the engine as the extension uses it (one thread on a 2-core machine): cold prompts.
  const { engine: oneThread } = await loadEngine({ model: MODEL_DIR, modelsRoot: path.dirname(MODEL_DIR), graphCacheDir: path.join(WORK, 'graphs'), device: 'cpu', threads: 1 });
  const prefill: number[] = [];
  const decode: number[] = [];
  let promptTokens = 0;
  for (const c of cases.slice(10, 30)) {
    const r = await oneThread.complete({ prompt: c.context, maxTokens: 16, raw: true, temperature: 0 });
    prefill.push(r.timings.prefillMs);
    if (r.timings.decodeTokens > 0) decode.push(r.timings.decodeMs / r.timings.decodeTokens);
    promptTokens += r.promptTokens;
  }
  await engine.model.dispose();
  await oneThread.model.dispose();
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1] ?? NaN;
  return {
    eval: {
      windows: o.evalWindows.length,
      targets: ngramLoss.targets,
      modelLoss: modelLoss.l2,
      ngramLoss: ngramLoss.nats,
      matchedLoss: matchedLoss.nats,
      ngramStats: trigram.stats(),
      matchedStats: matched.stats(),
      exactMatch: {
        cases: cases.length,
        maxTokens: EXACT_MATCH_MAX_TOKENS,
        model: modelEm.matches,
        ngram: ngramEm.matches,
        matched: matchedEm.matches,
      },
    },
    examples,
    latency: { threads: 1, meanPromptTokens: promptTokens / 20, prefillMs: median(prefill), decodeMsPerToken: median(decode) },
  };
}

if (require.main === module) {
  main().catch((e: unknown) => {
    console.error(e instanceof Error ? e.stack ?? e.message : e);
    process.exitCode = 1;
  });
}
