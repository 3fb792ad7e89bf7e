/**
 * What the document around the cursor says about a candidate line, for the choice rule
 * (candidateChoice.ts): a line from another file that names things this document never mentions
 * is seldom the one typed here, and code rarely repeats the line it just wrote (a lookup's commonest
 * line is often the line right above). Both are cheap string checks over a window of the document,
 * and neither is in the lookups' counts, which see lines, not names, and count a copy above as
 * evidence for the line.
 */

import { CODE, usesHashComments, scanBrackets, type BracketState } from './brackets';
import { cursorLine } from './cursorLine';
import { agreementAround, ALIGN_ABOVE, ALIGN_BELOW } from './workspaceLines';

/** Characters of the document read on each side of the cursor: enough for a module's names, bounded per request. */
export const DOCUMENT_WINDOW = 20_000;

const IDENTIFIER = /[A-Za-z_$][A-Za-z0-9_$]*/g;
/** Shorter names (`i`, `x`, `id`) say nothing about where a line belongs. */
const MIN_NAME = 3;

/** The document around the cursor, as the features read it. */
export interface DocumentView {
  /** Names in the window, the cursor's line left out (what is typed on it is the candidate's own). */
  readonly names: ReadonlySet<string>;
  /** Trimmed lines above the cursor's line, nearest last. */
  readonly above: readonly string[];
  /** Trimmed lines below the cursor's line. */
  readonly below: readonly string[];
  /** What is typed on the cursor's line, trimmed at the start. */
  readonly typed: string;
  /** The cursor line's indentation, and the nearest non-blank line below's (-1: none), in characters. */
  readonly indent: number;
  readonly belowIndent: number;
  /** Brackets open at the cursor (the window above and what is typed), and whether the file's comments start with `#` (Python and kin). */
  readonly brackets: BracketState;
  readonly hashComments: boolean;
}

export function documentView(textBeforeCursor: string, textAfterCursor: string, languageId?: string): DocumentView {
  const { start: lineStart, typed, indent } = cursorLine(textBeforeCursor);
  const newline = textAfterCursor.indexOf('\n');
  const before = textBeforeCursor.slice(Math.max(0, lineStart - DOCUMENT_WINDOW), lineStart);
  const after = newline < 0 ? '' : textAfterCursor.slice(newline + 1, newline + 1 + DOCUMENT_WINDOW);
  const names = new Set<string>();
  for (const text of [before, after]) for (const name of text.match(IDENTIFIER) ?? []) if (name.length >= MIN_NAME) names.add(name);
  const lines = (text: string) => text.split('\n').map((l) => l.trim());
  const above = lines(before);
  if (above.at(-1) === '') above.pop();
  const nextLine = /^([ \t]*)\S/m.exec(after);
  const hashComments = usesHashComments(languageId);
  // From a line's start, so the scan does not begin inside a string.
  const windowText = lineStart > DOCUMENT_WINDOW ? before.slice(before.indexOf('\n') + 1) : before;
  return {
    names, above, below: after === '' ? [] : lines(after), typed,
    indent, belowIndent: nextLine === null ? -1 : nextLine[1].length,
    brackets: scanBrackets(textBeforeCursor.slice(lineStart), scanBrackets(windowText, CODE, hashComments).state, hashComments).state, hashComments,
  };
}

/** Names of blockFeatures' inputs, in order. */
export const BLOCK_FEATURES = ['below_deeper', 'below_shallower', 'opens_block', 'closes_block', 'open_mismatch'] as const;

/**
 * How the candidate's line fits the indentation of the line below: a line that opens a block (ends
 * in `:`, `{`, `(`, `[`, `=>`) is followed by a deeper one, a closer (`)`, `]`, `}` first) usually
 * by a shallower or equal one. The model's reading of the line below skips its indentation (GPT-2
 * spends a token per space), so this is evidence it does not see.
 */
export function blockFeatures(view: DocumentView, text: string): number[] {
  const line = (view.typed + firstLineOf(text)).trim();
  const deeper = view.belowIndent > view.indent ? 1 : 0;
  const opens = /(?:[:{([]|=>)$/.test(line) ? 1 : 0;
  return [deeper, view.belowIndent >= 0 && view.belowIndent < view.indent ? 1 : 0, opens, /^[)\]}]/.test(line) ? 1 : 0, view.belowIndent >= 0 && opens !== deeper ? 1 : 0];
}

/** Names of bracketFeatures' inputs, in order. */
export const BRACKET_FEATURES = ['brackets_open', 'brackets_closed', 'brackets_opened', 'brackets_unopened', 'brackets_mismatched'] as const;

/**
 * What the candidate does to the brackets open at the cursor: log(1 + open before it), log(1 +
 * those it closes), log(1 + those it leaves newly open), and whether it closes one nobody opened
 * or one of the wrong kind.
 */
export function bracketFeatures(view: DocumentView, text: string): number[] {
  const scan = scanBrackets(firstLineOf(text), view.brackets, view.hashComments);
  return [
    Math.log1p(view.brackets.open.length), Math.log1p(scan.closed), Math.log1p(scan.state.open.length - scan.lowest),
    scan.unopened > 0 ? 1 : 0, scan.mismatched > 0 ? 1 : 0,
  ];
}

/** Names of the rule's inputs these give, in order. */
export const DOCUMENT_FEATURES = ['known_names', 'unknown_names_log', 'no_names', 'copies_above_log', 'copies_below_log', 'copy_nearness'] as const;

/**
 * For a candidate (the rest of the cursor's line): the share of its names (of MIN_NAME characters
 * or more) the document mentions, log(1 + the names it does not), whether it has none, and the
 * whole line's copies above and below the cursor, with 1 / (1 + lines up to the nearest copy above).
 */
export function documentFeatures(view: DocumentView, text: string): number[] {
  const rest = firstLineOf(text);
  const names = (rest.match(IDENTIFIER) ?? []).filter((n) => n.length >= MIN_NAME);
  const unknown = names.filter((n) => !view.names.has(n)).length;
  const line = (view.typed + rest).trim();
  let nearest = -1, above = 0;
  for (let i = view.above.length - 1; i >= 0; i--) {
    if (view.above[i] !== line) continue;
    above++;
    if (nearest < 0) nearest = view.above.length - 1 - i;
  }
  const below = view.below.reduce((n, l) => n + (l === line ? 1 : 0), 0);
  return [
    names.length === 0 ? 1 : 1 - unknown / names.length, Math.log1p(unknown), names.length === 0 ? 1 : 0,
    Math.log1p(above), Math.log1p(below), nearest < 0 ? 0 : 1 / (1 + nearest),
  ];
}

/** Names of documentAlignmentFeatures' inputs, in order. */
export const DOCUMENT_ALIGNMENT_FEATURES = ['document_aligned', 'document_agreement'] as const;

/**
 * Whether the document itself has the candidate's whole line at a place whose surroundings agree
 * with the cursor's (a parallel block in the same file: a locale's second table, a test's twin),
 * and how many lines agree at the best such place, over ALIGN_ABOVE + ALIGN_BELOW: its lines above
 * against the cursor's lines above, its lines below against the cursor's below, blank lines skipped,
 * within the run (above or below the cursor) it is in. The `aligned` candidate does this over the
 * workspace's other files; here it is evidence for a line, not a candidate of its own (it offered
 * no right line the other sources lacked on the quality sets; bench/QUALITY.md, "Parallel files").
 */
export function documentAlignmentFeatures(view: DocumentView, text: string): number[] {
  const line = (view.typed + firstLineOf(text)).trim();
  if (line === '') return [0, 0];
  const above = view.above.filter((l) => l !== '');
  const below = view.below.filter((l) => l !== '');
  const up = above.slice(-ALIGN_ABOVE).reverse();
  const down = below.slice(0, ALIGN_BELOW);
  let best = -1;
  for (const run of [above, below]) {
    for (let j = 0; j < run.length; j++) {
      if (run[j] === line) best = Math.max(best, agreementAround(run, run.length, j - 1, j + 1, up, down, ''));
    }
  }
  return best < 0 ? [0, 0] : [1, best / (ALIGN_ABOVE + ALIGN_BELOW)];
}

/** The part of a candidate on the cursor's line. */
export function firstLineOf(text: string): string {
  const newline = text.indexOf('\n');
  return newline < 0 ? text : text.slice(0, newline);
}
