/**
 * Choosing what to show among the model's suggestion and the workspace's whole-line candidates
 * (workspaceCandidates.ts), and how sure to be of it: a logistic rule P(exact | candidate) over
 * scalars of where the candidate came from and the evidence behind it — how the model decoded its
 * own suggestion (mean and least token log P under the mixed distribution), how often the workspace
 * saw the line (count, share of the lines that matched), which sources agree on the same text, and
 * what the model makes of each candidate, its own or the workspace's (`Evidence`: the candidate's
 * tokens' log P under the mixed distribution after the prompt, and the acceptance head's P on the
 * model's state after reading it, as GPT-1 scores each answer of a multiple choice), and whether the
 * document knows the candidate's names and already has the line (documentEvidence.ts).
 * The candidate with the highest P is shown, and P is its confidence (gated by minConfidence as the
 * acceptance head's is). The rule is fitted on cuts of the training side of the quality sets
 * (bench/workspaceCandidates.ts), never on the held-out cuts, and ships inside head.json.
 */
import * as fs from 'fs';
import * as path from 'path';
import { HEAD_META_FILE } from '../../training/head/acceptanceHead';
import { tanhLogit } from '../../training/head/tanhHead';
import { BLOCK_FEATURES, blockFeatures, BRACKET_FEATURES, bracketFeatures, DOCUMENT_ALIGNMENT_FEATURES, documentAlignmentFeatures, DOCUMENT_FEATURES, documentFeatures, firstLineOf, type DocumentView } from './documentEvidence';
import { ALIGN_ABOVE, ALIGN_BELOW, type LineMatch } from './workspaceLines';

/** Names of the rule's inputs, in order (stored with the weights; a rule naming others is not used). */
export const CHOICE_FEATURES = [
  'from_model', 'from_lookup', 'from_copy',
  'model_mean_logprob', 'model_min_logprob',
  'line_start', 'log_length',
  'lookup_log_count', 'lookup_share', 'lookup_log_distinct',
  'model_and_lookup', 'model_and_copy', 'lookup_and_copy',
  'model_differs', 'line_start_lookup', 'line_start_model', 'lookup_two_lines', 'lookup_shape',
  'scored', 'logprob_mean', 'logprob_min', 'logprob_first', 'head_logit',
  'from_runner_up', 'runner_up_share', 'model_and_runner_up',
  'from_fill', 'fill_share', 'fill_log_count', 'fill_between', 'model_and_fill', 'lookup_and_fill',
  ...DOCUMENT_FEATURES,
  'below_scored', 'below_logprob', 'below_margin',
  'from_sibling', 'sibling_share', 'sibling_log_count', 'model_and_sibling', 'lookup_and_sibling', 'fill_and_sibling',
  ...BLOCK_FEATURES,
  ...BRACKET_FEATURES,
  'from_aligned', 'aligned_agreement', 'aligned_share', 'model_and_aligned', 'lookup_and_aligned', 'fill_and_aligned',
  ...DOCUMENT_ALIGNMENT_FEATURES,
  'document_repeats', 'repeats_unknown',
] as const;

/**
 * The fitted rule as stored in head.json (`candidates`): a logistic rule over the features, with
 * (`hidden`) a tanh hidden layer beside the linear term (src/training/head/tanhHead.ts):
 * z = bias + weight·x + Σ_j out_j · tanh(hidden.bias_j + hidden.weight_j·x).
 */
export interface ChoiceRule {
  readonly features: readonly string[];
  readonly weight: readonly number[];
  readonly bias: number;
  /** Hidden units: input weights [H × features] row-major, biases [H], and their weights in the logit [H]. */
  readonly hidden?: { readonly weight: readonly number[]; readonly bias: readonly number[]; readonly out: readonly number[] };
  /** What it was fitted on, and validation numbers (free-form, for reports). */
  readonly trainedOn?: string;
  readonly validation?: Record<string, number | null>;
}

/** What the model makes of one candidate text read after the prompt. */
export interface Evidence {
  /** Mean, least and first of its tokens' log P under the distribution decoded from (cache model mixed in). */
  readonly mean: number;
  readonly min: number;
  readonly first: number;
  /** The acceptance head's P(accepted) on the state after it. */
  readonly head?: number;
  /** Mean log P of the line below's first tokens read after it (engineCompletion's readLineBelow). */
  readonly next?: number;
}

/** The evidence from a candidate's token log-probabilities (undefined when there are none). */
export function evidenceOf(logprobs: readonly number[], head?: number, next?: number): Evidence | undefined {
  if (logprobs.length === 0) return undefined;
  const lp = logprobs.map((x) => Math.max(-10, x));
  return { mean: lp.reduce((a, b) => a + b, 0) / lp.length, min: Math.min(...lp), first: lp[0], head, ...(next !== undefined ? { next } : {}) };
}

/** One distinct suggestion text and every source that offered it. */
export interface ChoiceCandidate {
  readonly text: string;
  readonly fromModel: boolean;
  readonly fromLookup: boolean;
  /** The lookup's next commonest line (LineMatch.runnerUp). */
  readonly fromRunnerUp: boolean;
  readonly fromCopy: boolean;
  /** The line seen between the lines above and below the cursor (workspaceCandidates, `fill`). */
  readonly fromFill: boolean;
  /** The line seen after the previous sibling of the cursor's line (workspaceCandidates, `sibling`). */
  readonly fromSibling: boolean;
  /** The line whose surroundings agree longest with the cursor's (workspaceCandidates, `aligned`). */
  readonly fromAligned: boolean;
  /** The first offering source's evidence, when it was scored. */
  readonly evidence?: Evidence;
}

/** Where candidates come from, in the order they are merged (the model's first). */
export const CHOICE_SOURCES = ['model', 'lookup', 'runnerUp', 'copy', 'fill', 'sibling', 'aligned'] as const;
export type ChoiceSource = (typeof CHOICE_SOURCES)[number];

/** What each source offers: its text as shown, and the model's reading of it. */
export type Offers = Partial<Record<ChoiceSource, { readonly text: string; readonly evidence?: Evidence }>>;

/** What the request knows besides the candidates. */
export interface ChoiceContext {
  /** Nothing typed on the line before the cursor. */
  readonly lineStart: boolean;
  /** The model's shown suggestion ('' when it offered nothing) and its decoding log-probabilities. */
  readonly modelText: string;
  readonly modelLogprobs?: { readonly mean: number; readonly min: number };
  readonly lookup?: LineMatch;
  /** The fill's own match (between the lines above and below, or before the one below). */
  readonly fill?: LineMatch;
  /** The sibling lookup's own match. */
  readonly sibling?: LineMatch;
  /** The aligned lookup's own match (with its agreement). */
  readonly aligned?: LineMatch;
  /** The document around the cursor (documentEvidence.ts); without it those inputs are 0. */
  readonly document?: DocumentView;
  /** How much the document repeats the workspace (workspaceCandidates.ts documentRepeats); undefined when unknown. */
  readonly repeats?: number;
}

/** The part of a suggestion on the cursor's line, trailing whitespace trimmed: what sources agree on. */
export function firstLine(text: string): string {
  return firstLineOf(text).trimEnd();
}

/**
 * The candidates' distinct texts with their sources, the model's first. Texts that agree on the
 * cursor's line are one candidate (the first source's text: the model's may go on to more lines).
 */
export function mergeCandidates(offers: Offers): ChoiceCandidate[] {
  const out: ChoiceCandidate[] = [];
  const line = (source: ChoiceSource) => {
    const t = offers[source]?.text;
    return t === undefined || t.trim() === '' ? undefined : firstLine(t);
  };
  const keys = Object.fromEntries(CHOICE_SOURCES.map((s) => [s, line(s)])) as Record<ChoiceSource, string | undefined>;
  for (const source of CHOICE_SOURCES) {
    const key = keys[source];
    if (key === undefined || out.some((c) => firstLine(c.text) === key)) continue;
    const ev = offers[source]!.evidence;
    out.push({
      text: offers[source]!.text,
      fromModel: key === keys.model, fromLookup: key === keys.lookup, fromRunnerUp: key === keys.runnerUp, fromCopy: key === keys.copy,
      fromFill: key === keys.fill, fromSibling: key === keys.sibling, fromAligned: key === keys.aligned,
      ...(ev !== undefined ? { evidence: ev } : {}),
    });
  }
  return out;
}

/**
 * The rule's inputs for one candidate. `bestBelow`: the highest log P of the line below among the
 * candidates (what this one's is compared with; belowOf).
 */
export function choiceFeatures(c: ChoiceCandidate, ctx: ChoiceContext, bestBelow?: number): number[] {
  const m = c.fromModel ? 1 : 0, l = c.fromLookup && ctx.lookup !== undefined ? 1 : 0, k = c.fromCopy ? 1 : 0;
  const lp = ctx.modelLogprobs;
  const s = ctx.lineStart ? 1 : 0;
  const lookup = ctx.lookup;
  const model = m === 1 && lp !== undefined;
  const look = l === 1 && lookup !== undefined;
  return [
    m, l, k,
    model ? Math.max(-10, lp.mean) : 0, model ? Math.max(-10, lp.min) : 0,
    s, Math.log1p(c.text.length) / 4,
    look ? Math.log1p(lookup.count) : 0, look ? lookup.count / lookup.total : 0, look ? Math.log1p(lookup.distinct) : 0,
    m * l, m * k, l * k,
    !c.fromModel && ctx.modelText.trim() !== '' ? 1 : 0, s * l, s * m, look && lookup.context === 'two-lines' ? 1 : 0, look && lookup.context === 'shape' ? 1 : 0,
    ...evidenceFeatures(c.evidence),
    ...runnerUpFeatures(c, m, ctx.lookup),
    ...fillFeatures(c, m, l, ctx.fill),
    ...(ctx.document === undefined ? DOCUMENT_FEATURES.map(() => 0) : documentFeatures(ctx.document, c.text)),
    ...belowFeatures(c.evidence?.next, bestBelow),
    ...siblingFeatures(c, m, l, ctx),
    ...(ctx.document === undefined ? BLOCK_FEATURES.map(() => 0) : blockFeatures(ctx.document, c.text)),
    ...(ctx.document === undefined ? BRACKET_FEATURES.map(() => 0) : bracketFeatures(ctx.document, c.text)),
    ...alignedFeatures(c, m, l, ctx),
    ...(ctx.document === undefined ? DOCUMENT_ALIGNMENT_FEATURES.map(() => 0) : documentAlignmentFeatures(ctx.document, c.text)),
    ctx.repeats ?? 0, ctx.repeats === undefined ? 1 : 0,
  ];
}

/** Agreement in lines beyond the line above, over ALIGN_ABOVE + ALIGN_BELOW − 1 (the most it can be). */
function alignedFeatures(c: ChoiceCandidate, fromModel: number, fromLookup: number, ctx: ChoiceContext): number[] {
  const aligned = ctx.aligned;
  if (!c.fromAligned || aligned === undefined) return [0, 0, 0, 0, 0, 0];
  return [1, ((aligned.agreement ?? 1) - 1) / (ALIGN_ABOVE + ALIGN_BELOW - 1), aligned.count / aligned.total, fromModel, fromLookup, c.fromFill && ctx.fill !== undefined ? 1 : 0];
}

/** Whether the line below was read after it, its mean log P, and how far below the best candidate's. */
function belowFeatures(next: number | undefined, best: number | undefined): number[] {
  return next === undefined ? [0, 0, 0] : [1, next, best === undefined ? 0 : next - best];
}

/** The best log P of the line below among candidates (undefined when none was read). */
export function bestBelowOf(candidates: readonly ChoiceCandidate[]): number | undefined {
  let best: number | undefined;
  for (const c of candidates) if (c.evidence?.next !== undefined && (best === undefined || c.evidence.next > best)) best = c.evidence.next;
  return best;
}

function siblingFeatures(c: ChoiceCandidate, fromModel: number, fromLookup: number, ctx: ChoiceContext): number[] {
  const sibling = ctx.sibling;
  if (!c.fromSibling || sibling === undefined) return [0, 0, 0, 0, 0, 0];
  return [1, sibling.count / sibling.total, Math.log1p(sibling.count), fromModel, fromLookup, c.fromFill && ctx.fill !== undefined ? 1 : 0];
}

function fillFeatures(c: ChoiceCandidate, fromModel: number, fromLookup: number, fill: LineMatch | undefined): number[] {
  if (!c.fromFill || fill === undefined) return [0, 0, 0, 0, 0, 0];
  return [1, fill.count / fill.total, Math.log1p(fill.count), fill.context === 'between' ? 1 : 0, fromModel, fromLookup];
}

function runnerUpFeatures(c: ChoiceCandidate, fromModel: number, lookup: LineMatch | undefined): number[] {
  const r = c.fromRunnerUp && lookup?.runnerUp !== undefined ? 1 : 0;
  return [r, r === 1 ? lookup!.runnerUp!.count / lookup!.total : 0, r * fromModel];
}

function evidenceFeatures(ev: Evidence | undefined): number[] {
  if (ev === undefined) return [0, 0, 0, 0, 0];
  const p = ev.head === undefined ? 0.5 : Math.min(1 - 1e-4, Math.max(1e-4, ev.head));
  return [1, ev.mean, ev.min, ev.first, Math.log(p / (1 - p)) / 4];
}

/** P(exact) of each candidate under the rule. */
export function scoreCandidates(rule: ChoiceRule, candidates: readonly ChoiceCandidate[], ctx: ChoiceContext): number[] {
  const bestBelow = bestBelowOf(candidates);
  return candidates.map((c) => {
    const x = choiceFeatures(c, ctx, bestBelow);
    return 1 / (1 + Math.exp(-ruleLogit(rule, x)));
  });
}

/** The rule's logit: the tanh head's (no hidden units for a linear rule), as it was trained. */
function ruleLogit(rule: ChoiceRule, x: readonly number[]): number {
  const hidden = rule.hidden ?? NO_HIDDEN;
  return tanhLogit({ weight: rule.weight, bias: rule.bias, hiddenWeight: hidden.weight, hiddenBias: hidden.bias, outWeight: hidden.out }, x);
}

const NO_HIDDEN = { weight: [], bias: [], out: [] };

/** The index of the most probable candidate (the earlier one on a tie: the model's comes first), or -1. */
export function chooseCandidate(scores: readonly number[]): number {
  let best = -1;
  for (let i = 0; i < scores.length; i++) if (best < 0 || scores[i] > scores[best]) best = i;
  return best;
}

/** Whether a stored rule fits this build's features. */
export function usableRule(rule: unknown): rule is ChoiceRule {
  const r = rule as ChoiceRule | undefined;
  return r !== undefined && r !== null && Array.isArray(r.features) && r.features.length === CHOICE_FEATURES.length &&
    r.features.every((f, i) => f === CHOICE_FEATURES[i]) && Array.isArray(r.weight) && r.weight.length === CHOICE_FEATURES.length &&
    r.weight.every(Number.isFinite) && Number.isFinite(r.bias) && (r.hidden === undefined || usableHidden(r.hidden));
}

function usableHidden(h: ChoiceRule['hidden']): boolean {
  const units = Array.isArray(h?.out) ? h.out.length : -1;
  return units >= 0 && Array.isArray(h!.bias) && h!.bias.length === units && Array.isArray(h!.weight) && h!.weight.length === units * CHOICE_FEATURES.length &&
    [h!.out, h!.bias, h!.weight].every((a) => a.every(Number.isFinite));
}

/**
 * The usable rule in a model folder's head.json (`candidates`), if any: what an adapter whose own
 * head carries none this build can use (trained before the rule's inputs changed) falls back to,
 * so that its workspace candidates stay on. Unreadable or absent: undefined.
 */
export function readRule(dir: string): ChoiceRule | undefined {
  try {
    const meta = JSON.parse(fs.readFileSync(path.join(dir, HEAD_META_FILE), 'utf8')) as { candidates?: unknown };
    return usableRule(meta.candidates) ? meta.candidates : undefined;
  } catch {
    return undefined;
  }
}
