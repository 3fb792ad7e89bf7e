/**
 * When a completion may span several lines: only when the cursor opens an empty block
 * (Copilot's "empty block start"; Cody reports 87% of suggestions are single-line anyway).
 * Multi-line output elsewhere mostly rewrites code that follows, so everywhere else gets one line.
 */
import { indentColumns, isBlank } from '../indentation';
import { languageSyntax } from '../languages';
import { endsInCode } from './codeScan';
import type { PostprocessContext } from './types';

export type MultilineQuestion = Omit<PostprocessContext, 'multiline'>;

const STARTS_WITH_CLOSER = /^[)\]}]/;

/** The line that opens the block, if the cursor is at an empty block's start. */
function blockOpenerLine(ctx: MultilineQuestion): string | undefined {
  const openers = languageSyntax(ctx.languageId).blockOpeners;
  const opensBlock = (line: string): boolean => {
    const trimmed = line.trimEnd();
    return trimmed !== '' && openers.includes(trimmed[trimmed.length - 1]) && endsInCode(trimmed, ctx.languageId);
  };
  if (!isBlank(ctx.suffixOnLine)) return undefined;
  // Cursor right after the opener: `if (x) {|`
  if (opensBlock(ctx.prefixOnLine)) return ctx.prefixOnLine;
  // Cursor on a fresh line under the opener, as Enter after an auto-closed `{` leaves it: `{\n  |\n}`
  if (isBlank(ctx.prefixOnLine) && ctx.previousLine !== undefined && opensBlock(ctx.previousLine)) {
    return ctx.previousLine;
  }
  return undefined;
}

/**
 * Indentation (columns) of the line that opens the block the cursor is in; lines of a multi-line
 * completion must be deeper than this, and a line at this depth ends the block.
 */
export function blockIndentColumns(ctx: MultilineQuestion): number {
  const opener = blockOpenerLine(ctx);
  return indentColumns(opener ?? ctx.prefixOnLine, ctx.indentUnit);
}

/**
 * True when the cursor opens an empty block: the line (or, on a blank line, the line above) ends
 * with `{`, `(`, `[` (or `:` in Python), nothing but whitespace follows the cursor, and the next
 * line is empty or closes the block (a closer at most as deep as the opener; in Python, any line
 * not deeper than the opener). Used to decide how much to generate, and how to post-process.
 */
export function isMultilineContext(ctx: MultilineQuestion): boolean {
  const opener = blockOpenerLine(ctx);
  if (opener === undefined) return false;
  const next = ctx.nextLines[0];
  if (next === undefined || isBlank(next)) return true;
  const blockIndent = indentColumns(opener, ctx.indentUnit);
  if (indentColumns(next, ctx.indentUnit) > blockIndent) return false; // the block already has a body
  if (languageSyntax(ctx.languageId).indentationScoped) return true;
  return STARTS_WITH_CLOSER.test(next.trim());
}

/**
 * True when the block is already closed below the cursor: the first non-blank line is a closer at
 * the opener's depth. A multi-line completion must then not bring its own closing line.
 */
export function isBlockClosedBelow(ctx: MultilineQuestion): boolean {
  const next = ctx.nextLines.find((line) => !isBlank(line));
  if (next === undefined) return false;
  return indentColumns(next, ctx.indentUnit) === blockIndentColumns(ctx) && STARTS_WITH_CLOSER.test(next.trim());
}
