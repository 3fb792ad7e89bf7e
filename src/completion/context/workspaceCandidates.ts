/**
 * Whole-line candidates from the workspace, offered beside the model's suggestion (the engine side
 * chooses among them, engineCompletion.ts):
 * - `lookup`: the commonest workspace line that starts with what is typed on the cursor's line (at
 *   a line start: the commonest line after the line above), counted over the indexed files but the
 *   document's own (stale) copy, plus the live document's lines; and `runnerUp`, the next commonest
 *   (on the quality sets' held-out cuts right at 4–20 of 500 per set where no other candidate is);
 * - `copy`: the rest of the nearest line above in the document that starts with what is typed (at
 *   a line start: the line after the nearest earlier copy of the line above), as people copy a line
 *   they just wrote;
 * - `fill`: the commonest workspace line seen between the line above and the line below the cursor
 *   (else right before the line below), starting with what is typed: the middle filled in, a line
 *   at a time. Offered even when another source has the same text, as their agreement is evidence
 *   (on the quality sets' held-out cuts it is right at 46-79% of the cuts where it has a line above
 *   and below; bench/QUALITY.md);
 * - `sibling`: after the end of a block, the commonest workspace line seen next at the indentation
 *   of the line that opened it (WorkspaceLines.siblingAfter), offered as `fill` is;
 * - `aligned`: the workspace line whose surroundings agree longest with the cursor's, two lines at
 *   least (the line above and one more above or below; WorkspaceLines.aligned): the line a parallel
 *   file has here. Offered as `fill` is.
 * These are the quality benchmark's line-lookup and in-file-copy baselines, inside the pipeline and
 * over the whole workspace (bench/QUALITY.md, "Workspace candidates").
 */
import { cursorLine } from './cursorLine';
import { indexedLines, previousSibling, siblingSteps, WorkspaceLines, type ExtraLines, type LineMatch } from './workspaceLines';

/** What the line being typed and the document around it give the lookups. */
export interface LineQuery {
  /** The cursor's line before the cursor, without its indentation ('' at a line start). */
  readonly typed: string;
  /** The nearest non-blank line above, trimmed; null when there is none. */
  readonly previous: string | null;
  /** The non-blank line above that one; null when there is none. */
  readonly before: string | null;
  /** The nearest non-blank line below the cursor's line, trimmed; null when there is none (or it is too long to index). */
  readonly next: string | null;
  /** The cursor line's previous sibling (previousSibling: at its indentation, deeper lines between), trimmed; or null. */
  readonly sibling: string | null;
  /** The document's indexed lines above the cursor's line and below it (two runs, so no pair spans the cursor). */
  readonly documentLines: readonly (readonly string[])[];
  /** Each run's siblingSteps (empty without a sibling: nothing asks for them). */
  readonly documentSiblingSteps: readonly (readonly number[])[];
}

export function lineQuery(textBeforeCursor: string, textAfterCursor: string): LineQuery {
  const { start: lineStart, typed, indent } = cursorLine(textBeforeCursor);
  const textAbove = textBeforeCursor.slice(0, lineStart);
  const above = indexedLines(textAbove);
  const newline = textAfterCursor.indexOf('\n');
  const textBelow = newline < 0 ? '' : textAfterCursor.slice(newline + 1);
  const below = indexedLines(textBelow);
  const nonBlank = above.filter((l) => l !== '');
  const previous = nonBlank.length > 0 ? nonBlank[nonBlank.length - 1] : null;
  const before = nonBlank.length > 1 ? nonBlank[nonBlank.length - 2] : null;
  const next = below.length > 0 && below[0] !== '' ? below[0] : null;
  const sibling = previousSibling(textAbove, indent);
  return {
    typed, previous, before, next, sibling,
    documentLines: [above, below], documentSiblingSteps: sibling === null ? [[], []] : [siblingSteps(textAbove), siblingSteps(textBelow)],
  };
}

export type CandidateSource = 'lookup' | 'runnerUp' | 'copy' | 'fill' | 'sibling' | 'aligned';

export interface WorkspaceCandidate {
  readonly source: CandidateSource;
  /** The rest of the line after the cursor. */
  readonly text: string;
  /** For `lookup` and `runnerUp` (the lookup's match), `fill`, `sibling` and `aligned` (their own): the match and its counts. */
  readonly match?: LineMatch;
}

/** Weight of each of the live document's lines against one in another workspace file (the localness of code): 4 gave more exact lookups than 1 or 0 on the training side of all four quality sets (319, 311, 254 of 2,000 cuts). */
export const DOCUMENT_LINE_WEIGHT = 4;

/**
 * The least agreement an `aligned` line is offered at: one line (the line above) is what `lookup`
 * and `fill` already count; on the quality sets' held-out cuts an aligned line agreeing on two or
 * more was right at 35–71% of the cuts it was offered at (bench/QUALITY.md, "Parallel files").
 */
export const ALIGNED_MIN_AGREEMENT = 2;

/** Lines above the cursor that documentRepeats reads. */
export const REPEATS_WINDOW = 30;
/** Shorter lines (`}`, `});`, `else:`) are in every file and say nothing. */
const REPEATS_MIN_LENGTH = 6;

/**
 * How much the document repeats the workspace: the share of its last REPEATS_WINDOW lines above the
 * cursor's line (6 characters or more; `above`: DocumentView's trimmed lines, nearest last) that some
 * other indexed file has too. A file that parallels others (a locale, a test's twin, a handler per
 * route) scores high, and there the workspace's lines are right more often; the choice rule reads it
 * (candidateChoice.ts). Undefined with fewer than 4 such lines or no index.
 */
export function documentRepeats(above: readonly string[], lines: WorkspaceLines | undefined, exclude: string | undefined): number | undefined {
  if (lines === undefined) return undefined;
  let seen = 0, repeated = 0;
  for (let i = above.length - 1; i >= 0 && seen < REPEATS_WINDOW; i--) {
    if (above[i].length < REPEATS_MIN_LENGTH) continue;
    seen++;
    if (lines.occursElsewhere(above[i], exclude)) repeated++;
  }
  return seen < 4 ? undefined : repeated / seen;
}

/**
 * The workspace candidates at a cursor (non-blank; distinct but for `fill`, `sibling` and `aligned`), lookup first. `exclude` is the
 * document's own id in the index (its copy there is stale).
 */
export function workspaceCandidates(
  textBeforeCursor: string,
  textAfterCursor: string,
  lines: WorkspaceLines | undefined,
  exclude: string | undefined,
  documentWeight = DOCUMENT_LINE_WEIGHT,
): WorkspaceCandidate[] {
  const q = lineQuery(textBeforeCursor, textAfterCursor);
  const out: WorkspaceCandidate[] = [];
  const extra: ExtraLines[] = documentWeight > 0 ? q.documentLines.map((l, i) => ({ lines: l, weight: documentWeight, siblingSteps: q.documentSiblingSteps[i] })) : [];
  const probe = lines ?? EMPTY;
  const match = q.typed === '' ? (q.previous === null ? null : probe.follow(q.previous, exclude, extra, q.before)) : probe.complete(q.typed, exclude, extra);
  if (match !== null) {
    const text = match.line.slice(q.typed.length);
    if (text.trim() !== '') out.push({ source: 'lookup', text, match });
    // The next commonest line too: the model's reading of both tells which fits here.
    const second = match.runnerUp === undefined ? '' : match.runnerUp.line.slice(q.typed.length);
    if (second.trim() !== '' && !out.some((c) => c.text === second)) out.push({ source: 'runnerUp', text: second, match });
  }
  const copy = inFileCopy(q);
  if (copy.trim() !== '' && !out.some((c) => c.text === copy)) out.push({ source: 'copy', text: copy });
  // Offered even when another source has the same text: their agreement is evidence.
  const offerMatch = (source: 'fill' | 'sibling' | 'aligned', m: LineMatch | null) => {
    const text = m?.line.slice(q.typed.length) ?? '';
    if (m !== null && text.trim() !== '') out.push({ source, text, match: m });
  };
  offerMatch('fill', q.next === null ? null : probe.fill(q.previous, q.next, q.typed, exclude, extra));
  offerMatch('sibling', q.sibling === null ? null : probe.siblingAfter(q.sibling, q.typed, exclude, extra));
  const aligned = probe.aligned(q.documentLines[0], q.documentLines[1], q.typed, exclude);
  offerMatch('aligned', aligned !== null && (aligned.agreement ?? 0) >= ALIGNED_MIN_AGREEMENT ? aligned : null);
  return out;
}

/**
 * The rest of the nearest line above that starts with what is typed and goes on past it; at a line
 * start, the line after the nearest earlier copy of the line above ('' when there is none).
 */
export function inFileCopy(q: LineQuery): string {
  const above = q.documentLines[0];
  if (q.typed !== '') {
    for (let i = above.length - 1; i >= 0; i--) {
      const line = above[i];
      if (!line.startsWith(q.typed)) continue;
      const rest = line.slice(q.typed.length).trimEnd();
      if (rest.trim() !== '') return rest;
    }
    return '';
  }
  let last = above.length - 1;
  while (last >= 0 && above[last] === '') last--;
  if (last < 0) return '';
  for (let i = last - 1; i >= 0; i--) {
    if (above[i] === above[last] && above[i + 1] !== '') return above[i + 1];
  }
  return '';
}

/** A lookup over no files (only the live document's lines), when there is no workspace index. */
const EMPTY = new WorkspaceLines();
