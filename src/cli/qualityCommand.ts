import { UserError } from '../engine/errors';
import { DEFAULT_CUTS, sampleCuts } from '../quality/cuts';
import { formatByKind, formatTable, qualityJson, summarizeCuts, type CutSummary } from '../quality/report';
import { runQuality, type QualityResult } from '../quality/runQuality';
import type { Suggester } from '../quality/suggester';
import { splitWorkspace, type WorkspaceSplit } from '../quality/workspaceSplit';
import { intFlag, parseCommandArgs } from './args';
import { MODEL_FLAGS, MODEL_FLAGS_HELP } from './modelFlags';
import { HEAD_FLAGS, HEAD_FLAGS_HELP, openSuggester, WORKSPACE_FLAGS, WORKSPACE_FLAGS_HELP } from './pipelineRunner';

export const QUALITY_HELP = `gpt2-complete quality <folder> [--model M] [--adapter DIR] [options]
  Completion quality on the held-out files of <folder> (the same whole-file split as finetune with
  the same --seed): seeded cuts where a line is being typed (mid-line at a token boundary, a new
  line, the first line after a block opener); the editor's completion pipeline suggests the rest
  of the line, and so do three baselines built from the training files on the same cuts. The
  pipeline runs with the editor's defaults (--precision auto unless given, no debounce).
${MODEL_FLAGS_HELP}
${HEAD_FLAGS_HELP}
${WORKSPACE_FLAGS_HELP}
  --ablate        measure the model with each combination of cache model and context on and off
                  (the baselines once); --json prints {"ablation": [{"cache_model","context","model"}…]}
  --cuts N        cut points (default ${DEFAULT_CUTS})
  --seed S        seeds the split and the cuts (default 0)
  --heldout G     hold out the files this glob matches instead of finetune's split
  --include G, --exclude G   globs over the folder's files (repeatable), as given to finetune
  --json          print {"arguments","model","split","cuts","systems":{name: {"exact","shown","precision",
                  "edit_similarity","prefix_correct","latency_p50_ms","latency_p90_ms","by_kind",…}},…}`;

/** Opens the completion pipeline for parsed model flags (MODEL_FLAGS + `workspace`). */
export type OpenSuggester = (command: string, values: Record<string, unknown>) => Promise<Suggester>;

export interface QualityDeps {
  /** Defaults to the CLI's pipeline runner; tests pass a fake. */
  readonly openSuggester?: OpenSuggester;
  /** Where the progress line goes (default stderr). */
  readonly progress?: NodeJS.WritableStream & { isTTY?: boolean };
}

export interface QualityOptions {
  readonly folder: string;
  readonly cuts: number;
  readonly seed: number;
  readonly heldout?: string;
  readonly include?: string[];
  readonly exclude?: string[];
  /** Parsed model flags, passed through to openSuggester. */
  readonly modelFlags: Record<string, unknown>;
}

export interface QualityRun {
  readonly split: WorkspaceSplit;
  readonly cuts: CutSummary;
  readonly result: QualityResult;
  /** The suggester's description line. */
  readonly model: string;
}

/** Split, cut, then ask the pipeline and the baselines; the pipeline is opened only once there are cuts. */
export async function measureQuality(options: QualityOptions, deps: QualityDeps = {}): Promise<QualityRun> {
  const split = await splitWorkspace(options.folder, { seed: options.seed, include: options.include, exclude: options.exclude, heldOutGlob: options.heldout });
  const sample = sampleCuts(split.heldOut, options.cuts, options.seed);
  if (sample.cuts.length === 0) {
    throw new UserError(`quality: no cut points in the ${split.heldOut.length} held-out files of ${split.folder} (cuts are drawn from code files: .ts, .js, .py, …)`);
  }
  const open = deps.openSuggester ?? openSuggester;
  const suggester = await open('quality', { ...options.modelFlags, workspace: split.folder });
  let result: QualityResult;
  try {
    const progress = new ProgressLine(deps.progress ?? process.stderr);
    result = await runQuality({ split, cuts: sample.cuts, suggester, onProgress: (done, total) => progress.update(done, total) });
    progress.done();
  } finally {
    await suggester.dispose();
  }
  return { split, cuts: summarizeCuts(sample.cuts, sample.files, sample.perFileCap), result, model: suggester.description };
}

export async function qualityCommand(argv: string[], deps: QualityDeps = {}): Promise<void> {
  const { values, positionals } = parseCommandArgs('quality', argv, {
    ...MODEL_FLAGS,
    ...HEAD_FLAGS,
    cuts: { type: 'string' },
    seed: { type: 'string' },
    heldout: { type: 'string' },
    include: { type: 'string', multiple: true },
    exclude: { type: 'string', multiple: true },
    json: { type: 'boolean' },
    ablate: { type: 'boolean' },
    ...WORKSPACE_FLAGS,
  }, true);
  if (positionals.length !== 1) throw new UserError('quality: give exactly one folder to measure on (see gpt2-complete quality --help)');
  const count = intFlag('cuts', values.cuts, 1, DEFAULT_CUTS);
  const seed = intFlag('seed', values.seed, 0, 0);
  const modelFlags = Object.fromEntries(
    [...Object.keys(MODEL_FLAGS), ...Object.keys(HEAD_FLAGS), ...Object.keys(WORKSPACE_FLAGS)].map((k) => [k, values[k as keyof typeof values]]),
  );
  if (values.ablate) {
    await ablate({ folder: positionals[0], cuts: count, seed, heldout: values.heldout, include: values.include, exclude: values.exclude, modelFlags }, values.json === true, deps);
    return;
  }
  const run = await measureQuality(
    { folder: positionals[0], cuts: count, seed, heldout: values.heldout, include: values.include, exclude: values.exclude, modelFlags },
    deps,
  );
  const { split, cuts, result } = run;
  if (values.json) {
    const args = { folder: split.folder, model: values.model ?? 'embedded', adapter: values.adapter ?? null, precision: values.precision ?? null, cuts: count, seed, heldout: values.heldout ?? null };
    process.stdout.write(JSON.stringify(qualityJson({ arguments: args, model: run.model, split, cuts, result })) + '\n');
    return;
  }
  process.stdout.write(`${run.model}\n${describeRun(run, seed, values.heldout)}\n\n${formatTable(result.systems)}\n\nexact match by kind of cut:\n${formatByKind(result.systems)}\n`);
}

/** The workspace parts on and off, on the same cuts: which of them the model's numbers owe to. */
const ABLATIONS: readonly { cacheModel: boolean; context: boolean }[] = [
  { cacheModel: false, context: false },
  { cacheModel: true, context: false },
  { cacheModel: false, context: true },
  { cacheModel: true, context: true },
];

async function ablate(options: QualityOptions, json: boolean, deps: QualityDeps): Promise<void> {
  const rows: { cacheModel: boolean; context: boolean; run: QualityRun }[] = [];
  for (const a of ABLATIONS) {
    const run = await measureQuality({ ...options, modelFlags: { ...options.modelFlags, 'no-cache-model': !a.cacheModel, context: a.context } }, deps);
    rows.push({ ...a, run });
  }
  const first = rows[0].run;
  if (json) {
    const model = (r: QualityRun) => qualityJson({ arguments: {}, model: r.model, split: r.split, cuts: r.cuts, result: r.result }).systems;
    process.stdout.write(JSON.stringify({
      model: first.model,
      ablation: rows.map((r) => ({ cache_model: r.cacheModel, context: r.context, model: (model(r.run) as Record<string, unknown>).model })),
      baselines: Object.fromEntries(Object.entries(model(first) as Record<string, unknown>).filter(([name]) => name !== 'model')),
    }) + '\n');
    return;
  }
  const systems = [
    ...rows.map((r) => ({ ...r.run.result.systems.find((s) => s.name === 'model')!, name: `model, cache ${r.cacheModel ? 'on' : 'off'}, context ${r.context ? 'on' : 'off'}` })),
    ...first.result.systems.filter((s) => s.name !== 'model'),
  ];
  process.stdout.write(`${first.model}\n${describeRun(first, options.seed, options.heldout)}\n\n${formatTable(systems)}\n`);
}

/** Two lines: the split's sizes and how the cuts were spread. */
export function describeRun(run: QualityRun, seed: number, heldout?: string): string {
  const { split, cuts } = run;
  const tokens = (files: typeof split.train) => files.reduce((s, f) => s + f.tokens, 0).toLocaleString('en-US');
  return (
    `${split.folder}: ${split.train.length} training files (${tokens(split.train)} tokens), ${split.heldOut.length} held out (${tokens(split.heldOut)} tokens)` +
    `${split.by === 'glob' ? ` by --heldout ${heldout}` : `, finetune's split with seed ${seed}`}\n` +
    `${cuts.total} cuts in ${cuts.filesWithCuts} of ${cuts.files} held-out code files (at most ${cuts.perFileCap} per file; ` +
    `${Object.entries(cuts.byKind).map(([k, n]) => `${n} ${k}`).join(', ')}; ${cuts.testPathCuts} in test files)`
  );
}

/** "quality: 40/300 cuts, 12 s, about 80 s left", every 10 cuts; one updating line on a terminal. */
class ProgressLine {
  private readonly started = performance.now();
  private written = false;

  constructor(private readonly out: NodeJS.WritableStream & { isTTY?: boolean }) {}

  update(done: number, total: number): void {
    if (done % 10 !== 0 && done !== total) return;
    const elapsed = (performance.now() - this.started) / 1000;
    const left = (elapsed / done) * (total - done);
    const text = `quality: ${done}/${total} cuts, ${elapsed.toFixed(0)} s${done < total ? `, about ${left.toFixed(0)} s left` : ''}`;
    this.out.write(this.out.isTTY ? `\r${text}\x1b[K` : `${text}\n`);
    this.written = true;
  }

  done(): void {
    if (this.written && this.out.isTTY) this.out.write('\n');
  }
}
