/**
 * What the baselines read at the cursor: what is typed on the cut line (leading whitespace
 * stripped, so indentation never decides a match) and the lines above it.
 */
export interface CursorLine {
  /** Offset of the cut line's start in the document. */
  readonly lineStart: number;
  /** The cut line before the cursor, without its indentation ('' at a line start). */
  readonly typed: string;
}

export function cursorLine(document: string, offset: number): CursorLine {
  const lineStart = document.lastIndexOf('\n', offset - 1) + 1;
  return { lineStart, typed: document.slice(lineStart, offset).trimStart() };
}

/** The lines above the cut line, in order (the document's text before `lineStart`). */
export function linesAbove(document: string, lineStart: number): string[] {
  return lineStart === 0 ? [] : document.slice(0, lineStart - 1).split('\n');
}

/** The nearest non-blank line above the cut line, trimmed; null when there is none. */
export function previousLine(document: string, lineStart: number): string | null {
  let end = lineStart - 1;
  while (end > 0) {
    const start = document.lastIndexOf('\n', end - 1) + 1;
    const line = document.slice(start, end).trim();
    if (line !== '') return line;
    end = start - 1;
  }
  return null;
}
