/**
 * Splits a document around the cursor into the line-level views the gates and post-processing use.
 * Lines break at "\n"; a "\r" before it is dropped so CRLF documents look like LF ones.
 */
import type { CompletionRequest, CursorLine, TriggerKind } from './types';

/** The cursor line plus its neighbours, as post-processing sees them. */
export interface CursorNeighbourhood extends CursorLine {
  /** The line above the cursor line, or undefined on the first line. */
  readonly previousLine: string | undefined;
  /** Lines after the cursor line, nearest first, at most `maxNextLines` of them. */
  readonly nextLines: readonly string[];
}

function stripCarriageReturn(line: string): string {
  return line.endsWith('\r') ? line.slice(0, -1) : line;
}

/** Splits `text` at `offset` (clamped into the text) into the cursor line and its neighbours. */
export function cursorNeighbourhood(text: string, offset: number, maxNextLines = 20): CursorNeighbourhood {
  const at = Math.max(0, Math.min(offset, text.length));
  const lineStart = text.lastIndexOf('\n', at - 1) + 1;
  const newline = text.indexOf('\n', at);
  const lineEnd = newline < 0 ? text.length : newline;
  // A cursor between "\r" and "\n" cannot happen in an editor; treat the "\r" as part of the break.
  const lineText = stripCarriageReturn(text.slice(lineStart, lineEnd));
  const prefixOnLine = text.slice(lineStart, Math.min(at, lineStart + lineText.length));
  const suffixOnLine = lineText.slice(prefixOnLine.length);

  let previousLine: string | undefined;
  if (lineStart > 0) {
    const previousStart = text.lastIndexOf('\n', lineStart - 2) + 1;
    previousLine = stripCarriageReturn(text.slice(previousStart, lineStart - 1));
  }

  const nextLines: string[] = [];
  let from = newline < 0 ? -1 : newline + 1;
  while (from >= 0 && nextLines.length < maxNextLines) {
    const end = text.indexOf('\n', from);
    nextLines.push(stripCarriageReturn(text.slice(from, end < 0 ? text.length : end)));
    from = end < 0 ? -1 : end + 1;
  }
  return { lineText, prefixOnLine, suffixOnLine, previousLine, nextLines };
}

/** The inputs of a request that cannot be derived from the text and cursor. */
export interface RequestInit {
  text: string;
  offset: number;
  languageId: string;
  documentUri?: string;
  documentVersion?: number;
  selectionEmpty?: boolean;
  cursorCount?: number;
  triggerKind?: TriggerKind;
}

/** Builds a request from text and cursor, deriving the line fields (defaults: one empty cursor, typing). */
export function createCompletionRequest(init: RequestInit): CompletionRequest {
  const { lineText, prefixOnLine, suffixOnLine } = cursorNeighbourhood(init.text, init.offset, 0);
  return {
    documentUri: init.documentUri ?? 'untitled:document',
    documentVersion: init.documentVersion ?? 1,
    languageId: init.languageId,
    text: init.text,
    offset: Math.max(0, Math.min(init.offset, init.text.length)),
    lineText,
    prefixOnLine,
    suffixOnLine,
    selectionEmpty: init.selectionEmpty ?? true,
    cursorCount: init.cursorCount ?? 1,
    triggerKind: init.triggerKind ?? 'automatic',
  };
}
