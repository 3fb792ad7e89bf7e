/**
 * Training the acceptance head on what the editor would really show: at seeded cut points of a
 * workspace's TRAINING files (the quality benchmark's cuts, drawn from the other side of the same
 * split, so its held-out files are never trained on), the completion pipeline suggests the rest of
 * the line, and the model's states for that request are kept with the label "the shown suggestion
 * was exactly right" (or, as an alternative labelling, "a correct prefix of at least N characters").
 */
import * as path from 'path';
import { SUGGESTION_FEATURES, type RequestStates } from '../completion/engineCompletion';
import { CancelledError } from '../engine/errors';
import { sampleCuts, type Cut } from '../quality/cuts';
import { judgedText } from '../quality/metrics';
import type { BenchFile } from '../quality/workspaceSplit';
import { AcceptanceHead, type HeadMeta } from '../training/head/acceptanceHead';
import { auc, chooseThreshold, gate, type ScoredOutcome } from '../training/head/headMetrics';
import { logit, sigmoid, trainLinearHead, type LabelledState, type LinearHead } from '../training/head/logistic';
import type { ChoiceExample } from '../completion/context/ruleAdaptation';
import type { PipelineRunner } from './pipelineRunner';

/** One request at a cut: what was shown and the model's states. */
export interface HeadExample {
  readonly file: string;
  readonly kind: Cut['kind'];
  readonly expected: string;
  /** The shown suggestion ('' when nothing was shown). */
  readonly shown: string;
  /** h at the prompt's last token. */
  readonly promptState?: Float32Array;
  /** The suggestion head's input: h at the last token of prompt ++ shown suggestion, then the scalar features. */
  readonly state?: Float32Array;
  /** Decode time of the request, ms (what a skip before decoding saves). */
  readonly decodeMs?: number;
  /** What the candidate-choice rule read at the cut, when the workspace candidates were offered (ruleAdaptation.ts). */
  readonly choice?: Omit<ChoiceExample, 'file' | 'expected'>;
}

export type Labelling = 'exact' | { prefix: number };

export function labellingName(l: Labelling): string {
  return l === 'exact' ? 'exact' : `prefix>=${l.prefix}`;
}

/** Shown exactly right. */
export function isExact(e: HeadExample): boolean {
  return e.shown.trim() !== '' && judgedText(e.shown) === e.expected;
}

export function label(e: HeadExample, labelling: Labelling): 0 | 1 {
  if (isExact(e)) return 1;
  if (labelling === 'exact') return 0;
  const text = judgedText(e.shown);
  return text.length >= labelling.prefix && e.expected.startsWith(text) ? 1 : 0;
}

/**
 * Runs the pipeline (with no gating) at `count` seeded cuts of `files` and keeps each request's
 * states; requests answered without the model (the result cache) have none and are left out.
 */
export async function collectHeadExamples(
  runner: PipelineRunner,
  folder: string,
  files: readonly BenchFile[],
  count: number,
  seed: number,
  onProgress?: (done: number, total: number) => void,
  signal?: AbortSignal,
  choice = false,
): Promise<HeadExample[]> {
  const { cuts } = sampleCuts(files, count, seed);
  const requests = cuts.map((cut) => ({ path: path.join(folder, ...cut.file.split('/')), document: cut.document, offset: cut.offset, languageId: cut.languageId }));
  const examples: HeadExample[] = [];
  await replayForHead(runner, requests, { onProgress, signal, choice }, (i, asked) => {
    examples.push({ file: cuts[i].file, kind: cuts[i].kind, expected: cuts[i].expected, ...asked });
  });
  return examples;
}

/** One request asked of the pipeline for a head example. */
export interface HeadRequest {
  readonly path: string;
  readonly document: string;
  readonly offset: number;
  readonly languageId: string;
}

/** What the pipeline showed for a request and the model's states behind it. */
export type AskedExample = Pick<HeadExample, 'shown' | 'promptState' | 'state' | 'decodeMs' | 'choice'>;

/**
 * Asks the pipeline each request and hands over what it showed with the states; requests answered
 * without the model (the result cache) have none and are left out. The head learns the model's own
 * suggestions: with no head the pipeline chooses nothing among the workspace candidates, and they
 * are offered (and read, which costs time) only with `choice`, for fitting the choice rule. `fresh`
 * forgets the pipeline's cached suggestions before each request, for requests that may repeat a place.
 */
export async function replayForHead(
  runner: PipelineRunner,
  requests: readonly HeadRequest[],
  options: { onProgress?: (done: number, total: number) => void; signal?: AbortSignal; fresh?: boolean; choice?: boolean },
  use: (index: number, asked: AskedExample) => void,
): Promise<void> {
  let states: RequestStates | undefined;
  const previous = runner.context.onStates;
  const offered = runner.context.candidates;
  runner.context.onStates = (s) => (states = s);
  runner.context.candidates = options.choice === true;
  try {
    for (const [i, r] of requests.entries()) {
      if (options.signal?.aborted) throw new CancelledError();
      states = undefined;
      if (options.fresh === true) runner.clearCaches();
      const result = await runner.run(r.path, r.document, r.offset, r.languageId);
      options.onProgress?.(i + 1, requests.length);
      if (states === undefined) continue;
      const shown = result.suppressed === null ? result.items[0] ?? '' : '';
      const s = states as RequestStates;
      const candidate = s.candidates[0];
      use(i, {
        shown,
        promptState: s.prompt,
        decodeMs: runner.lastResult?.timings.decodeMs,
        ...(s.choice !== undefined ? { choice: s.choice } : {}),
        state: shown !== '' && candidate !== null && candidate !== undefined && candidate.text === shown ? candidate.x : undefined,
      });
    }
  } finally {
    runner.context.onStates = previous;
    runner.context.candidates = offered;
  }
}

export interface TrainedHead {
  readonly head: AcceptanceHead;
  /** P(accepted) of the suggestion head fitted without the validation files: to judge it on them against another head. */
  readonly validationP: (x: Float32Array) => number;
  /** Validation outcomes (confidence from the trained head) and the numbers on them. */
  readonly validation: { auc: number | null; threshold: number; ungatedPrecision: number | null; gatedPrecision: number | null; gatedShownRate: number };
}

export interface HeadTrainingOptions {
  readonly labelling?: Labelling;
  readonly decay?: number;
  /** GPT-1's λ, recorded: it does not change a head trained on a frozen transformer. */
  readonly lambda?: number;
  readonly trainedOn: string;
  /** Threshold choice: best validation precision showing at least this share (default 0.3). */
  readonly minShownRate?: number;
  /** Share of the prompt head's exact requests a skip may lose (default 0.05). */
  readonly skipLoss?: number;
  /**
   * The workspace-candidate choice rule to keep in head.json (candidateChoice.ts): it reads no
   * state, so a head trained for an adapter can carry the base head's.
   */
  readonly candidates?: unknown;
}

/** L2 penalties tried on a validation split of the files; the best validation NLL wins. */
const DECAYS = [1e-4, 1e-3, 1e-2, 1e-1];

/**
 * Trains both heads on `examples` (`nEmbd`: the model's width; the suggestion states may carry
 * SUGGESTION_FEATURES after h): a fifth of the files (by name hash) is kept for choosing the
 * penalty, the threshold and the skip level, then the heads are trained again on everything.
 */
export function trainAcceptanceHead(examples: readonly HeadExample[], nEmbd: number, options: HeadTrainingOptions): TrainedHead {
  const labelling = options.labelling ?? 'exact';
  const isValidation = (e: HeadExample) => isValidationFile(e.file);
  const shownData = (list: readonly HeadExample[]): LabelledState[] =>
    list.filter((e) => e.state !== undefined).map((e) => ({ h: e.state!, label: label(e, labelling) }));
  const promptData = (list: readonly HeadExample[]): LabelledState[] =>
    list.filter((e) => e.promptState !== undefined).map((e) => ({ h: e.promptState!, label: isExact(e) ? 1 : 0 }));
  let train = examples.filter((e) => !isValidation(e));
  let valid = examples.filter(isValidation);
  if (shownData(valid).length < 10 || shownData(train).length < 10) {
    // Too few files to hold some out: alternate examples instead.
    train = examples.filter((_, i) => i % 5 !== 0);
    valid = examples.filter((_, i) => i % 5 === 0);
  }
  const exactLabels = (list: readonly HeadExample[]) => list.filter((e) => e.state !== undefined).map((e) => ({ h: e.state!, label: isExact(e) ? 1 as const : 0 as const }));
  const width = examples.find((e) => e.state !== undefined)?.state?.length ?? nEmbd;
  if (width < nEmbd || width > nEmbd + SUGGESTION_FEATURES.length) throw new Error(`trainAcceptanceHead: states of ${width} values for a ${nEmbd}-wide model`);
  let decay = options.decay ?? DECAYS[0];
  if (options.decay === undefined) {
    let best = Infinity;
    for (const d of DECAYS) {
      const head = trainLinearHead(shownData(train), width, { decay: d });
      const nll = meanNll(head, exactLabels(valid));
      if (nll < best) [best, decay] = [nll, d];
    }
  }
  const trialHead = trainLinearHead(shownData(train), width, { decay });
  const trialPrompt = trainLinearHead(promptData(train), nEmbd, { decay });
  const outcomes = scoreOutcomes(valid, trialHead);
  const threshold = chooseThreshold(outcomes, options.minShownRate ?? 0.3);
  const skipBelow = chooseSkip(valid, trialPrompt, options.skipLoss ?? 0.05);
  const ungated = gate(outcomes, 0), gated = gate(outcomes, threshold);
  const validation = {
    auc: auc(outcomes.filter((o) => o.shown && o.confidence !== undefined).map((o) => o.confidence!), outcomes.filter((o) => o.shown && o.confidence !== undefined).map((o) => o.exact)),
    threshold, ungatedPrecision: ungated.precision, gatedPrecision: gated.precision, gatedShownRate: gated.shownRate,
  };
  const all = shownData(examples);
  const meta: HeadMeta = {
    format: 'gpt2-complete-acceptance-head', version: 1, nEmbd, features: SUGGESTION_FEATURES.slice(0, width - nEmbd), skipBelow,
    labelling: labellingName(labelling), lambda: options.lambda ?? 0, decay, trainedOn: options.trainedOn,
    examples: all.length, positives: all.filter((d) => d.label === 1).length,
    validation: { ...validation, skipBelow },
    ...(options.candidates !== undefined ? { candidates: options.candidates } : {}),
  } as HeadMeta;
  const head = new AcceptanceHead(trainLinearHead(all, width, { decay }), trainLinearHead(promptData(examples), nEmbd, { decay }), meta);
  return { head, validation, validationP: (x) => sigmoid(logit(trialHead, x)) };
}

/** Each example as the gate sees it, scored by `head`. */
export function scoreOutcomes(examples: readonly HeadExample[], head: LinearHead | AcceptanceHead): ScoredOutcome[] {
  const p = (h: Float32Array) => (head instanceof AcceptanceHead ? head.suggestion(h) : sigmoid(logit(head, h)));
  return examples.map((e) => ({ shown: e.shown.trim() !== '', exact: isExact(e), confidence: e.state === undefined ? undefined : p(e.state) }));
}

function meanNll(head: LinearHead, data: readonly LabelledState[]): number {
  let s = 0;
  for (const d of data) {
    const p = Math.min(1 - 1e-12, Math.max(1e-12, sigmoid(logit(head, d.h))));
    s -= d.label === 1 ? Math.log(p) : Math.log(1 - p);
  }
  return data.length === 0 ? Infinity : s / data.length;
}

/** The highest prompt-head level that skips no more than `loss` of the exact requests. */
function chooseSkip(valid: readonly HeadExample[], prompt: LinearHead, loss: number): number {
  const scored = valid.filter((e) => e.promptState !== undefined).map((e) => ({ p: sigmoid(logit(prompt, e.promptState!)), exact: isExact(e) }));
  const exact = scored.filter((s) => s.exact).map((s) => s.p).sort((a, b) => a - b);
  if (exact.length < 5) return 0;
  const lost = Math.floor(loss * exact.length);
  return lost === 0 ? 0 : exact[lost];
}

/** The files (a fifth, by a hash of the name) whose cuts a head or rule is validated on, not fitted on. */
export function isValidationFile(file: string): boolean {
  return hashFile(file) % 5 === 0;
}

function hashFile(name: string): number {
  let h = 2166136261;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 16777619) >>> 0;
  return h;
}
