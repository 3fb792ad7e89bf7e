/**
 * Keeps a multi-line completion inside the block the cursor opens: it stops at a blank line, at a
 * line not deeper than the block's opener (a dedent), and at a closer of something opened before
 * the completion (on the cursor's line, only a closer with nothing before it: after code it closes
 * the line's own opener, and the line is kept). A closing line at the opener's depth (`}`, `});`, `]`) is kept only when the
 * block is not already closed below the cursor.
 */
import { indentColumns, isBlank } from '../indentation';
import { CLOSERS, scanCode, type CodeScan } from './codeScan';
import { blockIndentColumns, isBlockClosedBelow } from './multilineContext';
import type { PostprocessStep } from './types';

/** Body lines kept at most; GPT-2 drifts on long blocks, and the user can ask again. */
export const MAX_BLOCK_LINES = 16;

/** The closing part of a line that ends the block: its leading closers and one `;` or `,`. */
const CLOSING_LINE = /^[ \t]*[)\]}]+[;,]?/;

/** Index of the first closer in [start, end) that closes something opened before the completion. */
function firstForeignCloser(scan: CodeScan, start: number, end: number): number {
  for (const index of [...scan.outerClosers, ...scan.mismatchedClosers].sort((a, b) => a - b)) {
    if (index >= start && index < end) return index;
  }
  return -1;
}

export const limitToBlock: PostprocessStep = (completion, ctx) => {
  if (!ctx.multiline) return completion;
  const blockIndent = blockIndentColumns(ctx);
  const scan = scanCode(completion, ctx.languageId);
  const lines = completion.split('\n');
  const kept: string[] = [];
  let lineStart = 0;

  for (let i = 0; i < lines.length; lineStart += lines[i].length + 1, i++) {
    const line = lines[i];
    const lineEnd = lineStart + line.length;
    // The first line continues the cursor's line; later lines stand alone.
    const isBody =
      i === 0 || scan.before[lineStart].depth > 0 || indentColumns(line, ctx.indentUnit) > blockIndent;
    if (i > 0 && (isBlank(line) || kept.length > MAX_BLOCK_LINES)) break;
    if (isBody) {
      const closer = firstForeignCloser(scan, lineStart, lineEnd);
      if (closer < 0) {
        kept.push(line);
        continue;
      }
      const head = line.slice(0, closer - lineStart);
      // On the cursor's line, code then the closer of what the line opened (`name] = value`,
      // ` x } from './x';`) is a one-line construct, not a block: kept whole, and the block ends.
      if (i === 0 && !isBlank(head)) kept.push(line);
      else if (i === 0 || !isBlank(head)) kept.push(head);
      break;
    }
    // Not deeper than the opener: the block ends on this line.
    const closing = CLOSING_LINE.exec(line);
    if (
      closing !== null &&
      CLOSERS.includes(line.trim()[0]) &&
      indentColumns(line, ctx.indentUnit) === blockIndent &&
      !isBlockClosedBelow(ctx)
    ) {
      kept.push(closing[0]);
    }
    break;
  }
  return kept.join('\n');
};
