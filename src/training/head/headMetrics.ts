/**
 * How well a confidence score separates suggestions that were right from those that were not:
 * AUC (the chance that a right one scores above a wrong one, ties half) and what a threshold does
 * to the shown suggestions (precision = exact among shown, shown rate = shown among all requests).
 */
import type { HeadJson } from '../fineTuneProtocol';

export interface ScoredOutcome {
  /** P(accepted) from the head; undefined when nothing could be scored (nothing was shown). */
  readonly confidence: number | undefined;
  /** A suggestion was shown without gating. */
  readonly shown: boolean;
  /** The shown suggestion was exactly right. */
  readonly exact: boolean;
}

/** Mann–Whitney AUC of scores for positives against negatives; null without both. */
export function auc(scores: readonly number[], labels: readonly boolean[]): number | null {
  const order = scores.map((s, i) => [s, i] as const).sort((a, b) => a[0] - b[0]);
  let pos = 0, neg = 0, rankSum = 0;
  for (let i = 0; i < order.length;) {
    let j = i;
    while (j < order.length && order[j][0] === order[i][0]) j++;
    const rank = (i + 1 + j) / 2; // average rank of the tie group, 1-based
    for (let k = i; k < j; k++) if (labels[order[k][1]]) rankSum += rank;
    i = j;
  }
  for (const l of labels) (l ? pos++ : neg++);
  if (pos === 0 || neg === 0) return null;
  return (rankSum - (pos * (pos + 1)) / 2) / (pos * neg);
}

export interface GateResult {
  readonly threshold: number;
  readonly requests: number;
  readonly shown: number;
  readonly exact: number;
  readonly shownRate: number;
  /** Exact among shown; null when nothing is shown. */
  readonly precision: number | null;
  /** Exact suggestions kept, among those shown without gating. */
  readonly recall: number | null;
}

/** Shown, exact, precision and recall when suggestions below `threshold` are hidden (0: ungated). */
export function gate(outcomes: readonly ScoredOutcome[], threshold: number): GateResult {
  let shown = 0, exact = 0, allExact = 0;
  for (const o of outcomes) {
    if (!o.shown) continue;
    if (o.exact) allExact++;
    if (threshold > 0 && !(o.confidence !== undefined && o.confidence >= threshold)) continue;
    shown++;
    if (o.exact) exact++;
  }
  const n = outcomes.length;
  return {
    threshold, requests: n, shown, exact,
    shownRate: n === 0 ? 0 : shown / n,
    precision: shown === 0 ? null : exact / shown,
    recall: allExact === 0 ? null : exact / allExact,
  };
}

/**
 * The threshold with the best precision among those that still show at least `minShownRate` of
 * the requests (the smallest such threshold on ties); 0 when none does.
 */
export function chooseThreshold(outcomes: readonly ScoredOutcome[], minShownRate: number): number {
  const candidates = [...new Set(outcomes.filter((o) => o.shown && o.confidence !== undefined).map((o) => o.confidence!))].sort((a, b) => a - b);
  let best = 0, bestPrecision = gate(outcomes, 0).precision ?? 0;
  for (const t of candidates) {
    const r = gate(outcomes, t);
    if (r.shownRate < minShownRate) break;
    if ((r.precision ?? 0) > bestPrecision) {
      best = t;
      bestPrecision = r.precision ?? 0;
    }
  }
  return best;
}

/** One line on a trained head, for the CLI and the fine-tune report (HeadJson's numbers). */
export function describeHead(head: Pick<HeadJson, 'examples' | 'exact' | 'fromSuggestionLog' | 'validation' | 'rule' | 'head'>): string {
  const v = head.validation;
  const pct = (x: number | null) => (x === null ? '–' : `${(100 * x).toFixed(0)}%`);
  const r = head.rule;
  const rule = r === undefined ? ''
    : r.adapted ? `; the choice among the workspace's lines adapted to ${r.cuts} cuts (on ${r.validationCuts} validation cuts NLL ${r.baseNll.toFixed(3)} → ${r.adaptedNll.toFixed(3)}, right / wrong lines shown ${r.baseRight} / ${r.baseWrong} → ${r.adaptedRight} / ${r.adaptedWrong})`
    : `; the choice among the workspace's lines kept (adapting did not help on ${r.validationCuts} validation cuts: NLL ${r.baseNll.toFixed(3)} against ${r.adaptedNll.toFixed(3)}, right / wrong lines shown ${r.baseRight} / ${r.baseWrong} against ${r.adaptedRight} / ${r.adaptedWrong})`;
  const h = head.head;
  const kept = h === undefined ? ''
    : `; on ${h.validationCuts} validation cuts it shows ${h.trained.right} right and ${h.trained.wrong} wrong lines against the base model's head's ${h.base.right} and ${h.base.wrong}: ` +
      (h.kept === 'trained' ? 'kept' : 'the base model\'s head kept instead');
  return (
    `acceptance head: ${head.examples} shown suggestions (${head.exact} exactly right` +
    (head.fromSuggestionLog > 0 ? `, ${head.fromSuggestionLog} from your accepts and rejects in the editor` : '') +
    `); on its validation files AUC ${v.auc === null ? '–' : v.auc.toFixed(2)}, precision ${pct(v.ungatedPrecision)} ungated and ` +
    `${pct(v.gatedPrecision)} at confidence ${v.threshold.toFixed(2)}, where it shows ${pct(v.gatedShownRate)} of suggestions` + kept + rule
  );
}
