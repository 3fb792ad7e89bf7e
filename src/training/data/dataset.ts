/**
 * A folder → fine-tuning data: list the files, filter them (counting why each skipped file was
 * skipped), split whole files into train and held-out, and mine (context → continuation) examples.
 *
 * Two passes: the first reads, filters and counts tokens (the split and the example budget need
 * every file's size); the second mines. Texts are kept between passes up to a memory budget and
 * read again past it, so a large workspace is never all in memory at once.
 */
import * as fs from 'fs';
import * as path from 'path';
import { CancelledError, UserError } from '../../engine/errors';
import { Rng } from '../../engine/random';
import { getTokenizer } from '../../engine/tokenizer';
import { Example, FileText, MiningOptions, examplesWanted, mineFileExamples, normalizeLineBreaks } from './examples';
import { DroppedSecrets, FilterOptions, SkippedFile, contentVerdict, filterFiles } from './fileFilters';
import { ListOptions, listFiles } from './listFiles';
import { DataReport, UsedFile, countByReason, formatCount, summarizeSkipped } from './report';
import { hashToUnit } from './seededHash';
import { Split, exampleSeed, splitFiles, splitValidation } from './split';

export { formatReport } from './report';
export type { DataReport, UsedFile } from './report';
export { writeJsonl } from './jsonl';

export interface DatasetOptions extends ListOptions, FilterOptions, MiningOptions {
  /** Seeds the split and every cut point (default 0). */
  readonly seed?: number;
  /** Target share of tokens in held-out files (default 0.1). */
  readonly heldOutFraction?: number;
  /** Cap on training examples (default 20,000: ~3 KB each in memory; more than a local run gets through). */
  readonly maxTrainExamples?: number;
  /** Cap on held-out examples (default 1,000: enough for loss and exact match, cheap to evaluate twice). */
  readonly maxHeldOutExamples?: number;
  /** Cap on validation examples (default 400: early stopping scores a subset of them several times). */
  readonly maxValidationExamples?: number;
  /** Called after each file of each pass. */
  readonly onProgress?: (progress: { phase: 'filter' | 'mine'; done: number; total: number }) => void;
}

export interface MinedDataset {
  readonly train: Example[];
  /** From whole training-side files kept out of training: early stopping and the best checkpoint are chosen on these. */
  readonly validation: Example[];
  readonly heldOut: Example[];
  readonly report: DataReport;
}

/** Texts kept in memory between the passes; beyond this they are read again. */
const KEEP_TEXT_BYTES = 64 << 20;

interface Candidate {
  path: string;
  bytes: number;
  tokens: number;
  text: string | undefined;
  droppedSecrets: DroppedSecrets | undefined;
}

export async function mineDataset(folder: string, options: DatasetOptions = {}): Promise<MinedDataset> {
  const root = path.resolve(folder);
  const seed = options.seed ?? 0;
  const tokenizer = getTokenizer();
  const listing = await listFiles(root, options);
  const skipped: SkippedFile[] = listing.excludedByGlob.map((p) => ({ path: p, reason: 'excluded-by-glob' as const }));

  // Pass 1: filter and count tokens.
  const candidates: Candidate[] = [];
  let keptBytes = 0;
  let done = 0;
  for await (const verdict of filterFiles(root, listing.files, options)) {
    if (verdict.ok) {
      const text = normalizeLineBreaks(verdict.text);
      const keep = keptBytes + verdict.bytes <= KEEP_TEXT_BYTES;
      if (keep) keptBytes += verdict.bytes;
      const tokens = tokenizer.encode(text).length;
      candidates.push({ path: verdict.path, bytes: verdict.bytes, tokens, text: keep ? text : undefined, droppedSecrets: verdict.droppedSecrets });
    } else {
      skipped.push(verdict.rules ? { path: verdict.path, reason: verdict.reason, rules: verdict.rules } : { path: verdict.path, reason: verdict.reason });
    }
    options.onProgress?.({ phase: 'filter', done: ++done, total: listing.files.length });
  }
  skipped.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));

  // Split by whole files, then mine each file with its own seeded stream.
  const { train: trainSide, heldOut: heldOutFiles } = splitFiles(candidates, options);
  const held = new Set(heldOutFiles.map((f) => f.path));
  const validating = new Set(splitValidation(trainSide, seed).validation.map((f) => f.path));
  const splitOf = (c: Candidate): Split => (held.has(c.path) ? 'heldout' : validating.has(c.path) ? 'validation' : 'train');
  const caps: Record<Split, number> = {
    train: options.maxTrainExamples ?? 20_000,
    validation: options.maxValidationExamples ?? 400,
    heldout: options.maxHeldOutExamples ?? 1_000,
  };
  const wanted = wantedPerFile(candidates, splitOf, caps, options);
  const examplesOf = new Map<string, Example[]>();
  done = 0;
  for (const candidate of candidates) {
    if (options.signal?.aborted) throw new CancelledError();
    const text = candidate.text ?? (await readAgain(root, candidate.path, options));
    candidate.text = undefined;
    if (text !== null) {
      const rng = new Rng(exampleSeed(seed, splitOf(candidate), candidate.path));
      const count = wanted.get(candidate.path) ?? 1;
      examplesOf.set(candidate.path, mineFileExamples(candidate.path, new FileText(text, tokenizer), count, rng, options));
    }
    options.onProgress?.({ phase: 'mine', done: ++done, total: candidates.length });
  }

  const collect = (split: Split, cap: number): Example[] =>
    capExamples(
      candidates.filter((c) => splitOf(c) === split).flatMap((c) => examplesOf.get(c.path) ?? []),
      cap,
      seed,
    );
  const train = collect('train', caps.train);
  const validation = collect('validation', caps.validation);
  const heldOut = collect('heldout', caps.heldout);

  const kept = new Map<string, number>();
  for (const e of [...train, ...validation, ...heldOut]) kept.set(e.file, (kept.get(e.file) ?? 0) + 1);
  const used: UsedFile[] = candidates.map((c) => ({
    path: c.path,
    bytes: c.bytes,
    tokens: c.tokens,
    split: splitOf(c),
    examples: kept.get(c.path) ?? 0,
    ...(c.droppedSecrets && { secretLinesDropped: c.droppedSecrets.lines, secretRules: c.droppedSecrets.rules }),
  }));
  const totals = (split: Split, examples: Example[]) => {
    const files = used.filter((u) => u.split === split);
    return { files: files.length, tokens: files.reduce((s, u) => s + u.tokens, 0), examples: examples.length };
  };
  const report: DataReport = {
    folder: root,
    source: listing.source,
    used,
    skipped,
    skippedByReason: countByReason(skipped),
    secretsMode: options.secrets ?? 'skip-file',
    train: totals('train', train),
    validation: totals('validation', validation),
    heldOut: totals('heldout', heldOut),
  };
  return { train, validation, heldOut, report };
}

/**
 * Examples to draw per file: in proportion to its tokens, scaled down when a split would exceed
 * its cap (with 10% to spare, since some draws fail), so a large workspace is never mined in full
 * only to be thrown away. The exact cap is applied after mining.
 */
function wantedPerFile(
  candidates: readonly Candidate[],
  splitOf: (c: Candidate) => Split,
  caps: Record<Split, number>,
  options: MiningOptions,
): Map<string, number> {
  const wanted = new Map(candidates.map((c) => [c.path, examplesWanted(c.tokens, options)]));
  for (const split of ['train', 'validation', 'heldout'] as const) {
    const files = candidates.filter((c) => splitOf(c) === split);
    const total = files.reduce((sum, c) => sum + (wanted.get(c.path) ?? 0), 0);
    const scale = (caps[split] * 1.1) / total;
    if (scale >= 1) continue;
    for (const c of files) wanted.set(c.path, Math.max(1, Math.round((wanted.get(c.path) ?? 0) * scale)));
  }
  return wanted;
}

/** The file's text for the second pass; null if it no longer passes the content checks (edited meanwhile). */
async function readAgain(root: string, relPath: string, options: FilterOptions): Promise<string | null> {
  try {
    const verdict = contentVerdict(await fs.promises.readFile(path.join(root, ...relPath.split('/'))), options);
    return 'text' in verdict ? normalizeLineBreaks(verdict.text) : null;
  } catch {
    return null;
  }
}

/** At most `cap` examples: a subset fixed by hashes of (seed, file, cut), back in file and cut order. */
function capExamples(examples: Example[], cap: number, seed: number): Example[] {
  if (examples.length <= cap) return examples;
  const keep = new Set(
    examples
      .map((e, i) => ({ i, key: hashToUnit(seed, 'cap', e.file, e.cut) }))
      .sort((a, b) => a.key - b.key || a.i - b.i)
      .slice(0, Math.max(0, cap))
      .map((k) => k.i),
  );
  return examples.filter((_, i) => keep.has(i));
}

/**
 * The least data worth a fine-tuning run. Below it a run cannot show anything and the user is
 * better told so up front than after minutes of training (Refact's "No train files provided",
 * refact#242, came only after the run started).
 * - 20,000 training tokens: about 60–80 KB of source, a project of 10–20 files, and at one example
 *   per 128 tokens about 150 examples. Fewer, and a LoRA over GPT-2 memorises them within a few
 *   epochs (Refact's schedule already runs 50 epochs over its smallest tier, < 1,000 samples): held-out
 *   loss rises before it can fall, and there is too little of the project to learn its names from.
 * - 1 held-out file: the before/after comparison is the product's promise, and only whole unseen
 *   files measure it honestly (split.ts).
 * - 10 held-out examples: next-line exact match over fewer cuts moves in steps of more than ten
 *   points, which is noise larger than the effects we report.
 */
export interface DataMinimums {
  readonly trainTokens: number;
  readonly heldOutFiles: number;
  readonly heldOutExamples: number;
}

export const DEFAULT_MINIMUMS: DataMinimums = { trainTokens: 20_000, heldOutFiles: 1, heldOutExamples: 10 };

/** Throws a UserError with the numbers found and the minimums when the data is too little; returns quietly otherwise. */
export function checkEnoughData(report: DataReport, minimums: DataMinimums = DEFAULT_MINIMUMS): void {
  const { train, heldOut } = report;
  const enough =
    train.tokens >= minimums.trainTokens &&
    heldOut.files >= minimums.heldOutFiles &&
    heldOut.examples >= minimums.heldOutExamples;
  if (enough) return;
  const files = (n: number, what = '') => `${formatCount(n)} ${what}${n === 1 ? 'file' : 'files'}`;
  const found =
    `found ${files(report.used.length, 'usable ')}, ${formatCount(train.tokens + heldOut.tokens)} tokens ` +
    `(training: ${formatCount(train.tokens)} tokens in ${files(train.files)}; ` +
    `held out: ${files(heldOut.files)}, ${formatCount(heldOut.examples)} evaluation cuts)`;
  const skipped = report.skipped.length > 0 ? `; skipped ${formatCount(report.skipped.length)} (${summarizeSkipped(report)})` : '';
  const heldOutFiles = minimums.heldOutFiles === 1 ? 'one held-out file' : `${formatCount(minimums.heldOutFiles)} held-out files`;
  const needed =
    `fine-tuning needs at least ${formatCount(minimums.trainTokens)} tokens of training text and ` +
    `${heldOutFiles} with ${formatCount(minimums.heldOutExamples)} evaluation cuts`;
  throw new UserError(
    `too little data to fine-tune on in ${report.folder}: ${found}${skipped}; ${needed} — add files or widen the include globs`,
  );
}
