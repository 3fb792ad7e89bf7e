/**
 * A workspace's own candidate-choice rule: the shipped rule (fitted on the training side of other
 * repositories) adapted to this workspace, from the pipeline's choices at cuts of its training files.
 *
 * Why: the rule generalises less well than the benchmark suggests. Fitted on three of the four
 * quality sets and judged on the fourth's held-out files, it gets 7–12% fewer lines right than a rule
 * fitted with that repository's own training-side cuts among the data (bench/QUALITY.md, "The rule on
 * a repository it never saw"). A workspace's own files give labelled examples for free: the line
 * that was really there is the right candidate. Starting from the shipped rule and pulling toward
 * it (a Gaussian prior, training/head/tanhHead.ts `prior`), a few hundred cuts move it only as far as they show;
 * it is kept only when it predicts the workspace's held-back files better than the shipped one and
 * adds more right lines than wrong ones there.
 */
import type { LabelledState } from '../../training/head/logistic';
import { tanhHeadLoss, tanhLogit, trainTanhHead, type TanhHead, type TanhWeights } from '../../training/head/tanhHead';
import { DEFAULT_MIN_CONFIDENCE } from '../minConfidence';
import { bestBelowOf, choiceFeatures, CHOICE_FEATURES, firstLine, mergeCandidates, type ChoiceContext, type ChoiceRule, type ChoiceSource, type Evidence, type Offers } from './candidateChoice';

/** The penalty toward the shipped rule (½·decay·|θ − θ_shipped|²), chosen on held-out cuts of four repositories the rule was not fitted on. */
export const ADAPT_DECAY = 0.03;
/** Full-batch Adam steps from the shipped rule (the fit starts at its optimum, not from scratch). */
const ADAPT_STEPS = 500;

/** One request at a cut: what the choice rule read, and the line that was really there. */
export interface ChoiceExample {
  /** The cut's file (held-back files are chosen by it). */
  readonly file: string;
  /** The rest of the cut line. */
  readonly expected: string;
  /** The sources' texts with the model's reading of each, without the head's P. */
  readonly offers: Offers;
  readonly ctx: ChoiceContext;
  /** Each source's acceptance-head input, for the head the rule is fitted with. */
  readonly heads: Partial<Record<ChoiceSource, Float32Array>>;
}

export interface AdaptedRule {
  /** The adapted rule, or the base one when adapting did not help on the held-back files. */
  readonly rule: ChoiceRule;
  readonly adapted: boolean;
  /** Cuts and candidates it was fitted on. */
  readonly cuts: number;
  readonly candidates: number;
  /** Mean NLL of the held-back cuts' candidates, and the right and wrong lines shown there at the gate, under the base and the adapted rule. */
  readonly validation: {
    readonly cuts: number; readonly baseNll: number; readonly adaptedNll: number;
    readonly baseRight: number; readonly adaptedRight: number; readonly baseWrong: number; readonly adaptedWrong: number;
  };
}

export interface AdaptOptions {
  /** P(accepted) of the acceptance head the rule will run with, on a source's head input. */
  readonly headP: (x: Float32Array) => number;
  /** Which examples are held back to judge the adaptation (by file, as the head's own validation). */
  readonly isValidation: (e: ChoiceExample) => boolean;
  readonly decay?: number;
  /** The confidence below which nothing is shown (minConfidence): right lines are counted at it. */
  readonly gate?: number;
  readonly trainedOn?: string;
}

/** The rule's labelled inputs at one cut: every distinct candidate, 1 when it is the line that was there. */
export function choiceRows(e: ChoiceExample, headP: (x: Float32Array) => number): LabelledState[] {
  const offers: Offers = {};
  for (const [source, offer] of Object.entries(e.offers) as [ChoiceSource, NonNullable<Offers[ChoiceSource]>][]) {
    const x = e.heads[source];
    const evidence: Evidence | undefined = offer.evidence === undefined ? undefined : { ...offer.evidence, head: x === undefined ? undefined : headP(x) };
    offers[source] = { text: offer.text, evidence };
  }
  const candidates = mergeCandidates(offers);
  const best = bestBelowOf(candidates);
  return candidates.map((c) => ({
    h: Float32Array.from(choiceFeatures(c, e.ctx, best)),
    label: (c.text.trim() !== '' && firstLine(c.text) === e.expected ? 1 : 0) as 0 | 1,
  }));
}

/** The rule's labelled inputs of every cut. */
export function choiceData(examples: readonly ChoiceExample[], headP: (x: Float32Array) => number): LabelledState[] {
  return examples.flatMap((e) => choiceRows(e, headP));
}

/**
 * What the editor would show at these cuts: the rule's most probable candidate (the first on a tie,
 * as chooseCandidate) when its P is at least `gate`, counted right or wrong.
 */
export function shownAt(rule: TanhWeights, cuts: readonly (readonly LabelledState[])[], gate: number): { right: number; wrong: number } {
  let right = 0, wrong = 0;
  for (const rows of cuts) {
    let best = -1, bestP = -1;
    rows.forEach((r, i) => {
      const p = 1 / (1 + Math.exp(-tanhLogit(rule, r.h)));
      if (p > bestP) [best, bestP] = [i, p];
    });
    if (best < 0 || bestP < gate) continue;
    if (rows[best].label === 1) right++;
    else wrong++;
  }
  return { right, wrong };
}

/** The shown lines at held-back cuts with the base model's head and with the head trained for the workspace. */
export interface HeadComparison {
  readonly cuts: number;
  readonly base: { readonly right: number; readonly wrong: number };
  readonly trained: { readonly right: number; readonly wrong: number };
  /** The trained head adds more right lines there than wrong ones (a tie goes to the base, fitted on far more data). */
  readonly trainedHelps: boolean;
}

/**
 * Whether the head trained on a workspace's few hundred cuts should replace the one it would run
 * instead (the base model's, fitted on many repositories), judged as the fine-tune's verdict judges
 * an adapter: on held-back cuts, through the rule at the gate, it must add more right lines than
 * wrong ones. Without this, a workspace's own head trained on 500 cuts showed 20–47 more wrong lines
 * for −1 to +9 right ones on the four benchmark sets (bench/QUALITY.md, "A workspace's own head").
 */
export function compareHeads(
  rule: ChoiceRule, held: readonly ChoiceExample[], baseP: (x: Float32Array) => number, trainedP: (x: Float32Array) => number, gate = DEFAULT_MIN_CONFIDENCE,
): HeadComparison {
  const weights = tanhWeightsOf(rule);
  const base = shownAt(weights, held.map((e) => choiceRows(e, baseP)), gate);
  const trained = shownAt(weights, held.map((e) => choiceRows(e, trainedP)), gate);
  return { cuts: held.length, base, trained, trainedHelps: trained.right - base.right > trained.wrong - base.wrong };
}

/** A rule's weights as the tanh head they are (a rule without a hidden layer: no hidden units). */
function tanhWeightsOf(rule: ChoiceRule): TanhHead {
  return {
    weight: Float64Array.from(rule.weight), bias: rule.bias,
    hiddenWeight: Float64Array.from(rule.hidden?.weight ?? []), hiddenBias: Float64Array.from(rule.hidden?.bias ?? []), outWeight: Float64Array.from(rule.hidden?.out ?? []),
  };
}

export function adaptChoiceRule(base: ChoiceRule, examples: readonly ChoiceExample[], options: AdaptOptions): AdaptedRule {
  if (base.hidden === undefined) throw new Error('adaptChoiceRule: the base rule has no hidden layer to adapt');
  const prior = tanhWeightsOf(base);
  const decay = options.decay ?? ADAPT_DECAY;
  let fit = examples.filter((e) => !options.isValidation(e));
  let held = examples.filter(options.isValidation);
  if (held.length < 20 || fit.length < 20) {
    // Too few files to hold some back: alternate cuts instead.
    fit = examples.filter((_, i) => i % 5 !== 0);
    held = examples.filter((_, i) => i % 5 === 0);
  }
  const train = (data: LabelledState[]) => trainTanhHead(data, CHOICE_FEATURES.length, { prior, decay, steps: ADAPT_STEPS });
  const fitData = choiceData(fit, options.headP);
  const heldCuts = held.map((e) => choiceRows(e, options.headP)), heldData = heldCuts.flat();
  const trial = train(fitData);
  // The mean NLL of the held-back candidates (the loss without its penalty), and what the editor
  // would show there: a rule that predicts better is kept only if it adds more right lines than
  // wrong ones (as the fine-tune's verdict judges an adapter; a tie goes to the base, fitted on far more data).
  const baseNll = tanhHeadLoss(prior, heldData, 0).loss, adaptedNll = tanhHeadLoss(trial, heldData, 0).loss;
  const gate = options.gate ?? DEFAULT_MIN_CONFIDENCE;
  const before = shownAt(prior, heldCuts, gate), after = shownAt(trial, heldCuts, gate);
  const all = [...fitData, ...heldData];
  const validation = { cuts: held.length, baseNll, adaptedNll, baseRight: before.right, adaptedRight: after.right, baseWrong: before.wrong, adaptedWrong: after.wrong };
  const helps = adaptedNll < baseNll && after.right - before.right > after.wrong - before.wrong;
  if (!helps) return { rule: base, adapted: false, cuts: examples.length, candidates: all.length, validation };
  const h = train(all);
  const rule: ChoiceRule = {
    features: [...CHOICE_FEATURES], weight: Array.from(h.weight), bias: h.bias,
    hidden: { weight: Array.from(h.hiddenWeight), bias: Array.from(h.hiddenBias), out: Array.from(h.outWeight) },
    trainedOn: options.trainedOn ?? `adapted from ${base.trainedOn ?? 'the base rule'} on ${examples.length} cuts`,
    validation: { decay, ...validation },
  };
  return { rule, adapted: true, cuts: examples.length, candidates: all.length, validation };
}
