/**
 * Whether a fine-tuned adapter helped, decided on the held-out files. Exact match is counted by the
 * completion pipeline itself (the `quality` judge: what the editor would show) when that
 * measurement ran, else by the evaluation's greedy completion. The adapter is switched on when
 * exact match rose, or stayed the same while the held-out continuation loss L2 fell; with the
 * pipeline's counts, not when it also shows more new wrong suggestions than new right ones (a
 * fine-tuned model reads its workspace's idioms with more confidence, and the acceptance head can
 * then let junk through with the gain). The reason is one sentence in plain words, shown by the CLI
 * and the extension alike.
 */
import type { EvalJson, QualityCounts, QualityJson, VerdictJson } from './fineTuneProtocol';

interface Counts {
  before: number;
  after: number;
  of: number;
  by: string;
  /** Shown and not exactly right, before and after (the pipeline's counts only). */
  wrong?: { before: number; after: number };
}

const wrongShown = (c: QualityCounts) => c.shown - c.exact;

function exactCounts(before: EvalJson, after: EvalJson, quality: QualityJson | undefined): Counts | null {
  if (quality !== undefined) {
    const by = `held-out cuts, by the completion pipeline ${quality.head === true ? 'with its acceptance head' : 'without the acceptance head'}`;
    return { before: quality.before.exact, after: quality.after.exact, of: quality.after.cuts, by, wrong: { before: wrongShown(quality.before), after: wrongShown(quality.after) } };
  }
  if (before.exact_matches === undefined || after.exact_matches === undefined || after.cases === undefined) return null;
  return { before: before.exact_matches, after: after.exact_matches, of: after.cases, by: 'held-out cuts' };
}

export function judgeAdapter(before: EvalJson, after: EvalJson, quality?: QualityJson): VerdictJson {
  const loss = `held-out loss ${before.l2.toFixed(2)} → ${after.l2.toFixed(2)}`;
  const counts = exactCounts(before, after, quality);
  if (counts === null) {
    // Only rates to compare (an evaluation from an older version): the same rule on rates.
    const improved = after.exact_match > before.exact_match || (after.exact_match === before.exact_match && after.l2 < before.l2);
    return { improved, reason: `next-line exact match ${(100 * before.exact_match).toFixed(1)}% → ${(100 * after.exact_match).toFixed(1)}%, ${loss}` };
  }
  const { before: b, after: a, of, by, wrong } = counts;
  if (a < b) return { improved: false, reason: `next-line exact match fell from ${b} to ${a} of ${of} ${by} (${loss})` };
  const moreWrong = wrong === undefined ? 0 : wrong.after - wrong.before;
  const wrongChange = wrong === undefined ? '' : `wrong suggestions shown went from ${wrong.before} to ${wrong.after}`;
  if (moreWrong > a - b) {
    const exact = a > b ? `rose from ${b} to ${a}` : `stayed at ${a}`;
    return { improved: false, reason: `next-line exact match ${exact} of ${of} ${by}, but ${wrongChange}: more new wrong suggestions than new right ones (${loss})` };
  }
  if (a > b) return { improved: true, reason: `next-line exact match rose from ${b} to ${a} of ${of} ${by} (${loss})` };
  if (moreWrong < 0) return { improved: true, reason: `next-line exact match stayed at ${a} of ${of} ${by}, and ${wrongChange} (${loss})` };
  if (after.l2 < before.l2) return { improved: true, reason: `next-line exact match stayed at ${a} of ${of} ${by}, and ${loss} fell` };
  return { improved: false, reason: `next-line exact match stayed at ${a} of ${of} ${by}, and ${loss} did not fall` };
}

/** The counts the quality judge reports, from its scores. */
export function qualityCounts(s: { cuts: number; exact: number; shown: number; editSimilarity: number | null }): QualityCounts {
  return { cuts: s.cuts, exact: s.exact, shown: s.shown, edit_similarity: s.editSimilarity };
}
