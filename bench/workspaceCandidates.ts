/**
 * Workspace candidates beside the model's suggestion (bench/QUALITY.md, "Workspace candidates").
 *
 *   npx tsx bench/workspaceCandidates.ts collect [--train-cuts N] [--cuts N] [sets...]
 *       runs the editor's pipeline (embedded model, cache model on, no gating, no choice) at seeded
 *       cuts of each set's TRAINING files (seed 1; 4,000 unless --train-cuts) and at the quality
 *       benchmark's held-out cuts (seed 0; 500), keeping per cut the model's shown suggestion and the head's input, and the
 *       workspace candidates as the pipeline offered them with the model's reading of each;
 *       written to .test-cache/candidate-examples/<set>.json
 *   npx tsx bench/workspaceCandidates.ts analyze [sets...]
 *       per set and side: who is right (the model, the workspace lookup at document weights 0, 1, 4
 *       with one line of context, in-file copy, the baselines) and the oracle of their union
 *   npx tsx bench/workspaceCandidates.ts fit [--fit] [--save] [--linear] [--decays D,...] [--seed N] [--doc-weight W] [--drop F,...] [sets...]
 *       fits the choice rule (candidateChoice.ts; with a tanh hidden layer, or only linear with
 *       --linear) on the training-side cuts of the named sets, or with --fit of the fitting sets
 *       only (collect --fit --cuts 0 first: repositories the benchmark never judges) (penalty and threshold on
 *       a fifth of the training files), prints the validation sweep and the held-out numbers beside
 *       the model with the head; --save writes it into models/embedded/head.json (`candidates`);
 *       --decays tries only the given L2 penalties (default 3e-4, 1e-3, 3e-3);
 *       --drop fits without the named features or groups (`evidence`, `runner-up`, `document`, `document-aligned`, `below`, `block`, `brackets`, `fill`, `sibling` and `aligned`:
 *       also without that candidate), to measure them
 *   npx tsx bench/workspaceCandidates.ts skip [sets...]
 *       the prompt head's skip before decoding as the pipeline applies it (below the level the model's
 *       suggestion is not decoded; the workspace's lines are still chosen among): per level, requests
 *       skipped and right lines shown at minConfidence, on the fitting sets' training-side cuts and
 *       the named sets' held-out cuts (rows collected since they keep the prompt head's input), to
 *       see what the shipped level (head.json `skipBelow`) costs
 */
import * as fs from 'fs';
import * as path from 'path';
import { SUGGESTION_FEATURES, suggestionFeatures, type RequestStates } from '../src/completion/engineCompletion';
import { READ_TOKENS } from '../src/completion/candidateReading';
import { DOCUMENT_LINE_WEIGHT, documentRepeats, lineQuery, workspaceCandidates, type CandidateSource, type WorkspaceCandidate } from '../src/completion/context/workspaceCandidates';
import {
  CHOICE_FEATURES, bestBelowOf, chooseCandidate, choiceFeatures, evidenceOf, firstLine, mergeCandidates, readRule, scoreCandidates,
  type ChoiceContext, type ChoiceRule, type Offers,
} from '../src/completion/context/candidateChoice';
import { loadAcceptanceHead, type AcceptanceHead } from '../src/training/head/acceptanceHead';
import { trainLinearHead } from '../src/training/head/logistic';
import { trainTanhHead, type TanhHead } from '../src/training/head/tanhHead';
import { embeddedModelDir } from '../src/cli/paths';
import { DEFAULT_MIN_CONFIDENCE } from '../src/completion/minConfidence';
import { writeJsonAtomic } from '../src/engine/atomicFile';
import { WorkspaceLines, type LineMatch } from '../src/completion/context/workspaceLines';
import { BLOCK_FEATURES, BRACKET_FEATURES, DOCUMENT_ALIGNMENT_FEATURES, DOCUMENT_FEATURES, documentView } from '../src/completion/context/documentEvidence';
import { inFileCopy } from '../src/quality/baselines/inFileCopy';
import { LineLookup } from '../src/quality/baselines/lineLookup';
import { TrigramModel } from '../src/quality/baselines/trigram';
import { CUT_KINDS, sampleCuts, type Cut } from '../src/quality/cuts';
import { judgedText } from '../src/quality/metrics';
import { splitWorkspace } from '../src/quality/workspaceSplit';
import { FIT_SET_NAMES, forEachQualitySet, setsNamed, TEST_CACHE } from './qualitySetRunner';

const OUT = path.join(TEST_CACHE, 'candidate-examples');

const arg = (name: string, fallback: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? fallback : Number(process.argv[i + 1]);
};

export interface CollectedCut {
  /** Index into sampleCuts(files, count, seed).cuts. */
  readonly index: number;
  readonly shown: string;
  /** The head's input for the shown suggestion (h ++ decoding features), when it was scored. */
  readonly x?: number[];
  /** Log P of the shown suggestion's first token as decoded. */
  readonly first?: number;
  /** Mean log P of the line below read after the shown suggestion (readLineBelow). */
  readonly next?: number;
  /** The workspace candidates as the pipeline offered them, read by the model (OfferedState). */
  readonly offered?: { source: CandidateSource; text: string; x: number[]; logprobs: number[]; next?: number }[];
  /** Every workspace candidate as shown, duplicates of another source's text included (RequestStates.workspace). */
  readonly workspace?: { source: CandidateSource; text: string }[];
  /** h at the prompt's last token (the prompt head's input: what the skip before decoding reads). */
  readonly prompt?: number[];
}

const rounded = (xs: ArrayLike<number>) => Array.from(xs, (v) => Math.round(v * 1e5) / 1e5);

async function collect(): Promise<void> {
  fs.mkdirSync(OUT, { recursive: true });
  await forEachQualitySet(process.argv.slice(3), async ({ set, split, runner }) => {
    let states: RequestStates | undefined;
    runner.context.onStates = (s) => (states = s);
    const run = async (files: typeof split.train, count: number, seed: number, what: string): Promise<CollectedCut[]> => {
      const { cuts } = sampleCuts(files, count, seed);
      const out: CollectedCut[] = [];
      for (const [index, cut] of cuts.entries()) {
        states = undefined;
        const result = await runner.run(path.join(split.folder, ...cut.file.split('/')), cut.document, cut.offset, cut.languageId);
        const shown = result.suppressed === null ? result.items[0] ?? '' : '';
        const got = states as RequestStates | undefined;
        const candidate = got?.candidates[0];
        const offered = (got?.offered ?? []).map((o) => ({ source: o.source, text: o.text, x: rounded(o.x), logprobs: rounded(o.logprobs), ...(o.next !== undefined ? { next: o.next } : {}) }));
        out.push({
          index, shown, offered, workspace: got?.workspace.map((c) => ({ source: c.source, text: c.text })),
          ...(got?.prompt !== undefined ? { prompt: rounded(got.prompt) } : {}),
          ...(candidate != null && candidate.text === shown ? { x: rounded(candidate.x), first: candidate.firstLogprob, next: candidate.next } : {}),
        });
        if ((index + 1) % 100 === 0) process.stderr.write(`${set} ${what}: ${index + 1}/${cuts.length}\n`);
      }
      return out;
    };
    const t0 = performance.now();
    const trainCount = arg('train-cuts', 4000), heldCount = arg('cuts', 500);
    const train = await run(split.train, trainCount, 1, 'train');
    const heldOut = await run(split.heldOut, heldCount, 0, 'held-out');
    fs.writeFileSync(path.join(OUT, `${set}.json`), JSON.stringify({ set, trainCuts: trainCount, heldOutCuts: heldCount, train, heldOut }));
    process.stderr.write(`${set}: ${train.length} + ${heldOut.length} cuts in ${((performance.now() - t0) / 1000).toFixed(0)} s\n`);
  });
}

interface Stored { set: string; trainCuts: number; heldOutCuts: number; train: CollectedCut[]; heldOut: CollectedCut[] }

/** One cut with what every source offers there. */
export interface CutRow {
  readonly set: string;
  readonly side: 'train' | 'heldOut';
  readonly cut: Cut;
  readonly model: string;
  readonly x?: number[];
  /** How much the document repeats the workspace (documentRepeats, over every file but the cut's). */
  readonly repeats?: number;
  /** The prompt head's input (collected since the skip's level was chosen on the pipeline's right lines). */
  readonly prompt?: number[];
  readonly copy: string;
  readonly lookup: string;
  readonly trigram: string;
  /** Workspace lookup (all files but the cut's own) with the document's lines at weight w. */
  readonly ws: Record<number, LineMatch | null>;
  /** The pipeline's workspace candidates (workspaceCandidates, the default document weight). */
  readonly cands: WorkspaceCandidate[];
  /** What the model made of its own suggestion and of the offered ones (collected). */
  readonly first?: number;
  readonly next?: number;
  readonly offered: NonNullable<CollectedCut['offered']>;
  /** Collected since the choice counts agreeing sources: every offered text, read or not. */
  readonly workspace?: CollectedCut['workspace'];
}

export const DOC_WEIGHTS = [0, 1, 4];

export async function loadRows(set: string): Promise<CutRow[]> {
  const stored = JSON.parse(fs.readFileSync(path.join(OUT, `${set}.json`), 'utf8')) as Stored;
  const folder = path.join(TEST_CACHE, 'quality-sets', set);
  const split = await splitWorkspace(folder, { seed: 0 });
  const lines = new WorkspaceLines();
  for (const f of [...split.train, ...split.heldOut]) lines.setFile(f.path, f.text);
  const lookup = new LineLookup(split.train.map((f) => f.text));
  const trigram = new TrigramModel(split.train.map((f) => f.text));
  const rows: CutRow[] = [];
  for (const side of ['train', 'heldOut'] as const) {
    const files = side === 'train' ? split.train : split.heldOut;
    const { cuts } = sampleCuts(files, side === 'train' ? stored.trainCuts : stored.heldOutCuts, side === 'train' ? 1 : 0);
    for (const c of stored[side]) {
      const cut = cuts[c.index];
      const ws: Record<number, LineMatch | null> = {};
      for (const w of DOC_WEIGHTS) ws[w] = workspaceLineMatch(cut.document, cut.offset, lines, cut.file, w);
      const cands = workspaceCandidates(cut.document.slice(0, cut.offset), cut.document.slice(cut.offset), lines, cut.file, arg('doc-weight', DOCUMENT_LINE_WEIGHT));
      const repeats = documentRepeats(documentView(cut.document.slice(0, cut.offset), cut.document.slice(cut.offset), cut.languageId).above, lines, cut.file);
      rows.push({ set, side, cut, repeats, model: c.shown, x: c.x, prompt: c.prompt, first: c.first, next: c.next, offered: c.offered ?? [], workspace: c.workspace, cands, copy: inFileCopy(cut.document, cut.offset), lookup: lookup.suggest(cut.document, cut.offset), trigram: trigram.suggest(cut.document, cut.offset), ws });
    }
  }
  return rows;
}

/** The rest of the cut line a workspace line match suggests (as the pipeline would offer it). */
export function workspaceLineMatch(document: string, offset: number, lines: WorkspaceLines, exclude: string, docWeight: number): LineMatch | null {
  const q = lineQuery(document.slice(0, offset), document.slice(offset));
  const extra = docWeight > 0 ? q.documentLines.map((l) => ({ lines: l, weight: docWeight })) : [];
  return q.typed === '' ? (q.previous === null ? null : lines.follow(q.previous, exclude, extra)) : lines.complete(q.typed, exclude, extra);
}

const rest = (m: LineMatch | null, typed: string): string => (m === null ? '' : m.line.slice(typed.length));

async function analyze(): Promise<void> {
  for (const set of setsNamed(process.argv.slice(3))) {
    const rows = await loadRows(set);
    for (const side of ['heldOut', 'train'] as const) {
      const rs = rows.filter((r) => r.side === side);
      const ok = (r: CutRow, s: string) => s.trim() !== '' && judgedText(s) === r.cut.expected;
      const typed = (r: CutRow) => lineQuery(r.cut.document.slice(0, r.cut.offset), '').typed;
      const systems: Record<string, (r: CutRow) => boolean> = {
        model: (r) => ok(r, r.model),
        copy: (r) => ok(r, r.copy),
        lookup: (r) => ok(r, r.lookup),
        trigram: (r) => ok(r, r.trigram),
        best: (r) => ok(r, r.copy.trim() !== '' ? r.copy : r.lookup.trim() !== '' ? r.lookup : r.trigram),
        ...Object.fromEntries(DOC_WEIGHTS.map((w) => [`ws${w}`, (r: CutRow) => ok(r, rest(r.ws[w], typed(r)))])),
      };
      const line: string[] = [];
      for (const [name, f] of Object.entries(systems)) line.push(`${name} ${rs.filter(f).length}`);
      const union = (names: string[]) => rs.filter((r) => names.some((n) => systems[n](r))).length;
      line.push(`oracle{model,copy,lookup,trigram} ${union(['model', 'copy', 'lookup', 'trigram'])}`);
      line.push(`oracle{model,ws1,copy} ${union(['model', 'ws1', 'copy'])}`);
      line.push(`oracle{model,ws0,ws1,ws4,copy} ${union(['model', 'ws0', 'ws1', 'ws4', 'copy'])}`);
      line.push(`ws1 right & model wrong ${rs.filter((r) => systems.ws1(r) && !systems.model(r)).length}, model right & ws1 wrong ${rs.filter((r) => !systems.ws1(r) && systems.model(r)).length}`);
      console.log(`${set} ${side} (${rs.length}): ${line.join(', ')}`);
      for (const kind of CUT_KINDS) {
        const k = rs.filter((r) => r.cut.kind === kind);
        console.log(`   ${kind} (${k.length}): ${Object.entries(systems).map(([n, f]) => `${n} ${k.filter(f).length}`).join(', ')}, oracle{model,ws1,copy} ${k.filter((r) => ['model', 'ws1', 'copy'].some((n) => systems[n](r))).length}`);
      }
    }
  }
}

/** The head whose P on each candidate the rule reads (the one shipped beside the embedded model). */
let evidenceHead: AcceptanceHead | undefined;

/**
 * The choice rule's view of a collected cut: the candidates as the pipeline offered and read them.
 * `skipped`: as the pipeline chooses when the prompt head skipped the model's decoding: no model
 * suggestion, and the workspace's texts the model's reading covered read on their own (the model's
 * reading of the same text stands in for it).
 */
export function choiceInputs(r: CutRow, skipped = false): { candidates: ReturnType<typeof mergeCandidates>; ctx: ChoiceContext } {
  const f = r.x?.slice(-4);
  evidenceHead ??= loadAcceptanceHead(embeddedModelDir(), embeddedWidth())!;
  const headP = (x: number[]) => evidenceHead!.suggestion(Float32Array.from(x));
  const modelEvidence = f === undefined || r.first === undefined ? undefined : { mean: f[0], min: f[1], first: Math.max(-10, r.first), head: headP(r.x!), ...(r.next !== undefined && !withoutBelow ? { next: r.next } : {}) };
  const offers: Offers = skipped ? {} : { model: { text: r.model, evidence: modelEvidence } };
  for (const o of r.offered) {
    if (withoutSources.has(o.source)) continue;
    // As the pipeline reads it now: the first READ_TOKENS tokens' log P (collects before the cap kept all).
    const logprobs = o.logprobs.slice(0, READ_TOKENS);
    const x = [...o.x.slice(0, -SUGGESTION_FEATURES.length), ...suggestionFeatures(logprobs, logprobs.length, o.text, ctxLineStart(r))];
    offers[o.source] = { text: o.text, evidence: evidenceOf(logprobs, headP(x), withoutBelow ? undefined : o.next) };
  }
  const modelLine = r.model.trim() === '' ? undefined : firstLine(r.model);
  for (const w of r.workspace ?? []) {
    if (withoutSources.has(w.source) || offers[w.source] !== undefined) continue;
    // As chooseAmong sees them: a text another source offered too is offered by both (read once).
    offers[w.source] = { text: w.text, ...(skipped && firstLine(w.text) === modelLine ? { evidence: modelEvidence } : {}) };
  }
  const ctx: ChoiceContext = {
    lineStart: ctxLineStart(r),
    modelText: skipped ? '' : r.model,
    modelLogprobs: f === undefined || skipped ? undefined : { mean: f[0], min: f[1] },
    lookup: r.cands.find((c) => c.source === 'lookup' || c.source === 'runnerUp')?.match,
    fill: r.cands.find((c) => c.source === 'fill')?.match,
    sibling: r.cands.find((c) => c.source === 'sibling')?.match,
    aligned: r.cands.find((c) => c.source === 'aligned')?.match,
    document: documentView(r.cut.document.slice(0, r.cut.offset), r.cut.document.slice(r.cut.offset), r.cut.languageId),
    repeats: r.repeats,
  };
  return { candidates: mergeCandidates(offers), ctx };
}

/** Nothing typed on the cut's line before the cursor. */
function ctxLineStart(r: CutRow): boolean {
  return lineQuery(r.cut.document.slice(0, r.cut.offset), '').typed === '';
}

/** The embedded model's width (what its head reads). */
function embeddedWidth(): number {
  return (JSON.parse(fs.readFileSync(path.join(embeddedModelDir(), 'config.json'), 'utf8')) as { n_embd: number }).n_embd;
}

const exactText = (r: CutRow, s: string) => s.trim() !== '' && judgedText(s) === r.cut.expected;

function hashFile(name: string): number {
  let h = 2166136261;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 16777619) >>> 0;
  return h;
}

/** Features left out of the fit (`--drop`): their weights stay 0. Groups: `evidence` (the model's reading of each candidate), `runner-up`, `fill`, `sibling`, `aligned`. */
const FEATURE_GROUPS: Record<string, readonly string[]> = {
  evidence: ['scored', 'logprob_mean', 'logprob_min', 'logprob_first', 'head_logit'],
  'runner-up': ['from_runner_up', 'runner_up_share', 'model_and_runner_up'],
  fill: ['from_fill', 'fill_share', 'fill_log_count', 'fill_between', 'model_and_fill', 'lookup_and_fill'],
  document: DOCUMENT_FEATURES,
  below: ['below_scored', 'below_logprob', 'below_margin'],
  block: BLOCK_FEATURES,
  brackets: BRACKET_FEATURES,
  sibling: ['from_sibling', 'sibling_share', 'sibling_log_count', 'model_and_sibling', 'lookup_and_sibling', 'fill_and_sibling'],
  aligned: ['from_aligned', 'aligned_agreement', 'aligned_share', 'model_and_aligned', 'lookup_and_aligned', 'fill_and_aligned'],
  'document-aligned': DOCUMENT_ALIGNMENT_FEATURES,
  repeats: ['document_repeats', 'repeats_unknown'],
};
const dropped = new Set((process.argv.includes('--drop') ? process.argv[process.argv.indexOf('--drop') + 1].split(',') : []).flatMap((d) => FEATURE_GROUPS[d] ?? [d]));
const keptMask = CHOICE_FEATURES.map((f) => !dropped.has(f));
/** `--drop fill` (`sibling`) leaves out the candidate itself, not only its inputs: the choice as it was before it. */
const withoutSources = new Set<string>(['fill', 'sibling', 'aligned'].filter((source) => dropped.has(`from_${source}`)));
const linearOnly = process.argv.includes('--linear');
/** `--drop below`: the collected reading of the line below left out (its inputs are 0 then anyway). */
const withoutBelow = dropped.has('below_scored');

function examplesOf(rows: readonly CutRow[]) {
  return rows.flatMap((r) => {
    const { candidates, ctx } = choiceInputs(r);
    const best = bestBelowOf(candidates);
    return candidates.map((c) => ({ h: Float32Array.from(choiceFeatures(c, ctx, best), (v, i) => (keptMask[i] ? v : 0)), label: (exactText(r, c.text) ? 1 : 0) as 0 | 1 }));
  });
}

/** Per cut: the chosen text and its P (`skipped`: as choiceInputs). */
function decide(rule: ChoiceRule, r: CutRow, skipped = false): { text: string; p: number } {
  const { candidates, ctx } = choiceInputs(r, skipped);
  const scores = scoreCandidates(rule, candidates, ctx);
  const i = chooseCandidate(scores);
  return i < 0 ? { text: '', p: 0 } : { text: candidates[i].text, p: scores[i] };
}

function gateStats(decisions: { exact: boolean; shown: boolean; p: number }[], t: number) {
  const shown = decisions.filter((d) => d.shown && d.p >= t);
  const exact = shown.filter((d) => d.exact).length;
  return { exact, shown: shown.length, n: decisions.length };
}

const pc = (a: number, b: number) => `${((100 * a) / Math.max(1, b)).toFixed(1)}%`;

/** Fits the rule on the training side (a fifth of the files held back to choose the penalty and the threshold), reports held-out. */
export function fitRule(all: readonly CutRow[], minShown = 0.3): { rule: ChoiceRule; threshold: number; decay: number; validationSweep: string[]; validationCuts: number } {
  const train = all.filter((r) => r.side === 'train');
  const isValid = (r: CutRow) => hashFile(`${r.set}/${r.cut.file}`) % 5 === 0;
  const fit = train.filter((r) => !isValid(r)), valid = train.filter(isValid);
  const width = CHOICE_FEATURES.length;
  const toRule = (h: { weight: Float64Array; bias: number } | TanhHead): ChoiceRule => ({
    features: [...CHOICE_FEATURES], weight: Array.from(h.weight), bias: h.bias,
    ...('outWeight' in h ? { hidden: { weight: Array.from(h.hiddenWeight), bias: Array.from(h.hiddenBias), out: Array.from(h.outWeight) } } : {}),
  });
  // The shipped rule has a hidden layer; `--linear` fits the linear rule it replaced, to compare.
  // `--seed N`: another start for the hidden layer's weights, to see how much of a difference is the start's.
  const seed = arg('seed', 0);
  const trainRule = (data: ReturnType<typeof examplesOf>, decay: number) => (linearOnly ? trainLinearHead(data, width, { decay }) : trainTanhHead(data, width, { decay, seed }));
  // `--decays 3e-4` refits at a penalty already chosen (the sweep is most of fit's time).
  const decays = process.argv.includes('--decays') ? process.argv[process.argv.indexOf('--decays') + 1].split(',').map(Number) : linearOnly ? [1e-4, 1e-3, 1e-2, 1e-1] : [3e-4, 1e-3, 3e-3];
  let bestDecay = 1e-3, bestNll = Infinity;
  let trial: ChoiceRule | undefined;
  for (const decay of decays) {
    const rule = toRule(trainRule(examplesOf(fit), decay));
    let nll = 0, n = 0;
    for (const r of valid) {
      const { candidates, ctx } = choiceInputs(r);
      scoreCandidates(rule, candidates, ctx).forEach((p, i) => {
        const y = exactText(r, candidates[i].text);
        nll -= Math.log(Math.min(1 - 1e-9, Math.max(1e-9, y ? p : 1 - p)));
        n++;
      });
    }
    if (nll / n < bestNll) [bestNll, bestDecay, trial] = [nll / n, decay, rule];
    process.stderr.write(`decay ${decay}: validation NLL ${(nll / n).toFixed(4)}\n`);
  }
  const vd = valid.map((r) => { const d = decide(trial!, r); return { exact: exactText(r, d.text), shown: d.text.trim() !== '', p: d.p }; });
  // The best validation precision that still shows at least minShown of the requests.
  let threshold = 0, bestPrecision = -1;
  for (let t = 0; t <= 0.9; t += 0.01) {
    const g = gateStats(vd, t);
    if (g.shown < minShown * g.n) break;
    const precision = g.exact / Math.max(1, g.shown);
    if (precision > bestPrecision) [bestPrecision, threshold] = [precision, t];
  }
  const rule = toRule(trainRule(examplesOf(train), bestDecay));
  const sweep = [0, 0.05, 0.06, 0.07, 0.08, 0.09, 0.1, 0.12, 0.15, 0.2, 0.3].map((t) => {
    const g = gateStats(vd, t);
    const byStart = [true, false].map((start) => gateStats(vd.filter((_, i) => lineQuery(valid[i].cut.document.slice(0, valid[i].cut.offset), '').typed === '' === start), t));
    return `t${t}: exact ${pc(g.exact, g.n)} shown ${pc(g.shown, g.n)} prec ${pc(g.exact, g.shown)} [line start: ${pc(byStart[0].exact, byStart[0].n)}/${pc(byStart[0].shown, byStart[0].n)}/${pc(byStart[0].exact, byStart[0].shown)}; mid-line: ${pc(byStart[1].exact, byStart[1].n)}/${pc(byStart[1].shown, byStart[1].n)}/${pc(byStart[1].exact, byStart[1].shown)}]`;
  });
  // Per repository: the threshold decides for every workspace, and the worst one is what a user may get.
  for (const set of [...new Set(valid.map((r) => r.set))]) {
    const ds = vd.filter((_, i) => valid[i].set === set);
    sweep.push(`${set} (${ds.length}): ` + [0.05, 0.07, 0.1, 0.12, 0.15].map((t) => { const g = gateStats(ds, t); return `t${t} ${pc(g.shown, g.n)}/${pc(g.exact, g.shown)}`; }).join(' '));
  }
  return { rule, threshold, decay: bestDecay, validationSweep: sweep, validationCuts: valid.length };
}

async function fitCommand(): Promise<void> {
  // `--fit`: the rule learns on the fitting sets' training sides only and is judged on the benchmark
  // sets' held-out cuts, repositories it never saw (as a user's workspace is).
  const args = process.argv.slice(3);
  const fitting = args.includes('--fit');
  // With --fit, the benchmark sets are only reported on, and only those collected.
  const named = setsNamed(args.filter((a) => a !== '--fit' && !FIT_SET_NAMES.includes(a)));
  const collected = (set: string) => fs.existsSync(path.join(OUT, `${set}.json`));
  const judged = fitting ? named.filter(collected) : named;
  const fitOn = fitting ? FIT_SET_NAMES : judged;
  const missing = fitOn.filter((set) => !collected(set));
  if (missing.length > 0) throw new Error(`no collected pipeline runs for ${missing.join(', ')}: run \`collect${fitting ? ' --train-cuts 1000 --cuts 0 --fit' : ''}\` first`);
  const judgedRows = (await Promise.all(judged.map(loadRows))).flat();
  const fitRows = fitting ? (await Promise.all(fitOn.map(loadRows))).flat() : judgedRows;
  const rows = fitting ? [...fitRows, ...judgedRows.filter((r) => r.side === 'heldOut')] : judgedRows;
  const { rule, threshold, decay, validationSweep, validationCuts } = fitRule(fitRows);
  console.log(`rule: decay ${decay}, validation threshold ${threshold.toFixed(2)}; validation (${validationCuts} training-side cuts, a fifth of the files):`);
  for (const l of validationSweep) console.log(`  ${l}`);
  console.log(CHOICE_FEATURES.map((f, i) => `${f} ${rule.weight[i].toFixed(2)}`).join(', ') + `, bias ${rule.bias.toFixed(2)}`);
  const head = loadAcceptanceHead(embeddedModelDir(), embeddedWidth())!;
  for (const set of judged) {
    const held = rows.filter((r) => r.set === set && r.side === 'heldOut');
    const base = held.map((r) => ({ exact: exactText(r, r.model), shown: r.model.trim() !== '', p: r.x === undefined ? 0 : head.suggestion(r.x) }));
    const ours = held.map((r) => { const d = decide(rule, r); return { exact: exactText(r, d.text), shown: d.text.trim() !== '', p: d.p }; });
    const line = (name: string, ds: typeof base, ts: number[]) => `${name}: ` + ts.map((t) => { const g = gateStats(ds, t); return `t${t}: exact ${pc(g.exact, g.n)} shown ${pc(g.shown, g.n)} prec ${pc(g.exact, g.shown)}`; }).join(' | ');
    console.log(`${set} (${held.length})`);
    console.log('  ' + line('model+head', base, [0, 0.15]));
    console.log('  ' + line('choice', ours, [0, 0.05, 0.07, 0.1, 0.15, +threshold.toFixed(2)]));
  }
  if (process.argv.includes('--save')) {
    const file = path.join(embeddedModelDir(), 'head.json');
    const meta = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
    meta.candidates = { ...rule, trainedOn: `training side (seed-1 cuts) of the ${fitting ? 'fitting' : 'quality'} sets ${fitOn.join(', ')}`, validation: { threshold, decay } };
    writeJsonAtomic(file, meta, { indent: 2 });
    process.stderr.write(`wrote the choice rule into ${file}\n`);
  }
}

/** Right lines and shown requests at the gate when requests whose prompt P is below `level` skip the model. */
function skipStats(rows: readonly { r: CutRow; p: number }[], level: number, rule: ChoiceRule) {
  let right = 0, shown = 0, skipped = 0;
  for (const { r, p } of rows) {
    const skip = p < level;
    if (skip) skipped++;
    const d = decide(rule, r, skip);
    if (d.p < DEFAULT_MIN_CONFIDENCE || d.text.trim() === '') continue;
    shown++;
    if (exactText(r, d.text)) right++;
  }
  return { right, shown, skipped, n: rows.length };
}

async function skipCommand(): Promise<void> {
  const head = loadAcceptanceHead(embeddedModelDir(), embeddedWidth())!;
  const rule = readRule(embeddedModelDir())!;
  const withP = (rows: CutRow[]) => {
    // A request the result cache answered has no prompt state, and no skip either.
    if (rows.every((r) => r.prompt === undefined)) throw new Error('the collected cuts have no prompt states: collect them again');
    return rows.map((r) => ({ r, p: r.prompt === undefined ? 1 : head.prompt(Float32Array.from(r.prompt)) ?? 1 }));
  };
  const fitting = withP((await Promise.all(FIT_SET_NAMES.map(loadRows))).flat().filter((r) => r.side === 'train'));
  const judged = setsNamed(process.argv.slice(3).filter((a) => !a.startsWith('--')));
  const held = new Map<string, ReturnType<typeof withP>>();
  for (const set of judged) held.set(set, withP((await loadRows(set)).filter((r) => r.side === 'heldOut')));
  const levels = [0, 0.005, 0.01, 0.015, 0.02, 0.025, 0.03, 0.04, 0.05, head.skipBelow, 0.08, 0.1].sort((a, b) => a - b);
  console.log(`level | fitting sets (${fitting.length} cuts): skipped / right / shown | ${judged.map((s) => `${s}: skipped / right / shown`).join(' | ')}`);
  for (const level of levels) {
    const f = skipStats(fitting, level, rule);
    const cells = judged.map((s) => { const g = skipStats(held.get(s)!, level, rule); return `${g.skipped} / ${g.right} / ${g.shown}`; });
    console.log(`${level.toFixed(4)}${level === head.skipBelow ? ' (shipped)' : ''} | ${pc(f.skipped, f.n)} / ${f.right} / ${f.shown} | ${cells.join(' | ')}`);
  }
}

const command = process.argv[2];
if (command === 'collect') void collect().catch((e) => { console.error(e); process.exit(1); });
else if (command === 'fit') void fitCommand().catch((e) => { console.error(e); process.exit(1); });
else if (command === 'skip') void skipCommand().catch((e) => { console.error(e); process.exit(1); });
else if (command === 'analyze') void analyze().catch((e) => { console.error(e); process.exit(1); });
else if (require.main === module) {
  console.error('usage: npx tsx bench/workspaceCandidates.ts collect [...]');
  process.exit(2);
}
