/**
 * Whether a fine-tuned adapter helped, decided on the held-out files: it is switched on only when
 * next-line exact match rose, or stayed the same while the held-out continuation loss L2 fell. Exact
 * match is counted by the completion pipeline itself (the `quality` judge: what the editor would
 * show) when that measurement ran, else by the evaluation's greedy completion. The reason is one
 * sentence in plain words, shown by the CLI and the extension alike.
 */
import type { EvalJson, QualityCounts, QualityJson, VerdictJson } from './fineTuneProtocol';

function exactCounts(before: EvalJson, after: EvalJson, quality: QualityJson | undefined): { before: number; after: number; of: number; by: string } | null {
  if (quality !== undefined) return { before: quality.before.exact, after: quality.after.exact, of: quality.after.cuts, by: 'held-out cuts, by the completion pipeline without the acceptance head' };
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
  const { before: b, after: a, of, by } = counts;
  if (a > b) return { improved: true, reason: `next-line exact match rose from ${b} to ${a} of ${of} ${by} (${loss})` };
  if (a < b) return { improved: false, reason: `next-line exact match fell from ${b} to ${a} of ${of} ${by} (${loss})` };
  if (after.l2 < before.l2) return { improved: true, reason: `next-line exact match stayed at ${a} of ${of} ${by}, and ${loss} fell` };
  return { improved: false, reason: `next-line exact match stayed at ${a} of ${of} ${by}, and ${loss} did not fall` };
}

/** The counts the quality judge reports, from its scores. */
export function qualityCounts(s: { cuts: number; exact: number; shown: number; editSimilarity: number | null }): QualityCounts {
  return { cuts: s.cuts, exact: s.exact, shown: s.shown, edit_similarity: s.editSimilarity };
}
