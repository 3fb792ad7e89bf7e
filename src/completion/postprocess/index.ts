/**
 * Post-processing of raw model output into what the editor shows, as small steps in a fixed
 * order (each in its own module, each table-tested). Order matters:
 *  1. stripEndOfText               — special tokens never reach the editor
 *  2. normalizeLineBreaks          — later steps split on "\n" only
 *  3. cutToSingleLine              — one line unless the cursor opens an empty block
 *  4. limitToBlock                 — multi-line: stay inside the opened block
 *  5. collapseRepeatedLines        — decoding loops
 *     cutRepeatedPattern           — loops inside a line
 *  6. trimTrailingWhitespace       — before comparing tails with the suffix
 *  7. stopAtSuffixRepetition       — do not rewrite what follows the cursor
 *  8. dropClosersAlreadyAfterCursor — no duplicated closers or quotes
 *  9. cutAtMismatchedCloser        — closers must match what they close
 * 10. stopAtNextLineRepetition     — do not copy the next line
 * 11. removeDoubleLeadingSpace     — `x = ` + ` 1`
 * 12. dropReplacementCharacter     — no U+FFFD (broken UTF-8) the document does not have → null
 * 13. dropTrivial                  — nothing left worth showing → null
 */
import { cursorNeighbourhood } from '../cursorLines';
import { collapseRepeatedLines } from './collapseRepeatedLines';
import { cutRepeatedPattern } from './cutRepeatedPattern';
import { cutAtMismatchedCloser } from './cutAtMismatchedCloser';
import { cutToSingleLine } from './cutToSingleLine';
import { dropClosersAlreadyAfterCursor } from './dropClosersAlreadyAfterCursor';
import { dropReplacementCharacter } from './dropReplacementCharacter';
import { dropTrivial } from './dropTrivial';
import { limitToBlock } from './limitToBlock';
import { isMultilineContext } from './multilineContext';
import { normalizeLineBreaks } from './normalizeLineBreaks';
import { removeDoubleLeadingSpace } from './removeDoubleLeadingSpace';
import { stopAtNextLineRepetition } from './stopAtNextLineRepetition';
import { stopAtSuffixRepetition } from './stopAtSuffixRepetition';
import { stripEndOfText } from './stripEndOfText';
import { trimTrailingWhitespace } from './trimTrailingWhitespace';
import type { PostprocessContext, PostprocessStep } from './types';

export type { PostprocessContext, PostprocessStep } from './types';
export { isMultilineContext, isBlockClosedBelow, blockIndentColumns, type MultilineQuestion } from './multilineContext';
export { END_OF_TEXT_MARKER } from './stripEndOfText';

export interface NamedStep {
  readonly name: string;
  readonly run: PostprocessStep;
}

/** The steps in the order they run. */
export const POSTPROCESS_STEPS: readonly NamedStep[] = [
  { name: 'stripEndOfText', run: stripEndOfText },
  { name: 'normalizeLineBreaks', run: normalizeLineBreaks },
  { name: 'cutToSingleLine', run: cutToSingleLine },
  { name: 'limitToBlock', run: limitToBlock },
  { name: 'collapseRepeatedLines', run: collapseRepeatedLines },
  { name: 'cutRepeatedPattern', run: cutRepeatedPattern },
  { name: 'trimTrailingWhitespace', run: trimTrailingWhitespace },
  { name: 'stopAtSuffixRepetition', run: stopAtSuffixRepetition },
  { name: 'dropClosersAlreadyAfterCursor', run: dropClosersAlreadyAfterCursor },
  { name: 'cutAtMismatchedCloser', run: cutAtMismatchedCloser },
  { name: 'stopAtNextLineRepetition', run: stopAtNextLineRepetition },
  { name: 'removeDoubleLeadingSpace', run: removeDoubleLeadingSpace },
  { name: 'dropReplacementCharacter', run: dropReplacementCharacter },
  { name: 'dropTrivial', run: dropTrivial },
];

/** Runs every step in order; null as soon as one drops the completion. */
export function postprocessCompletion(completion: string, ctx: PostprocessContext): string | null {
  let current = completion;
  for (const step of POSTPROCESS_STEPS) {
    const next = step.run(current, ctx);
    if (next === null) return null;
    current = next;
  }
  return current;
}

/** Each step's output in order, up to the one that dropped the completion (for logs and test failures). */
export function tracePostprocess(completion: string, ctx: PostprocessContext): { step: string; output: string | null }[] {
  const trace: { step: string; output: string | null }[] = [];
  let current = completion;
  for (const step of POSTPROCESS_STEPS) {
    const next = step.run(current, ctx);
    trace.push({ step: step.name, output: next });
    if (next === null) break;
    current = next;
  }
  return trace;
}

/**
 * The post-processing context for a cursor at `offset` in `text`, with `multiline` decided by
 * isMultilineContext (call it before generating, to choose the token budget).
 */
export function postprocessContextAt(
  text: string,
  offset: number,
  languageId: string,
  indentUnit: string,
  maxNextLines = 20,
): PostprocessContext {
  const around = cursorNeighbourhood(text, offset, maxNextLines);
  const question = {
    prefixOnLine: around.prefixOnLine,
    suffixOnLine: around.suffixOnLine,
    previousLine: around.previousLine,
    nextLines: around.nextLines,
    indentUnit,
    languageId,
  };
  return { ...question, multiline: isMultilineContext(question) };
}
