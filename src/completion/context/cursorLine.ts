/** The line being typed, as the workspace lookups (lineQuery) and the choice's evidence (documentView) both read it. */
export interface CursorLine {
  /** Offset of the line's start in the text before the cursor. */
  readonly start: number;
  /** What is typed on it, without its indentation ('' at a line start). */
  readonly typed: string;
  /** Its indentation before the cursor, in characters. */
  readonly indent: number;
}

export function cursorLine(textBeforeCursor: string): CursorLine {
  const start = textBeforeCursor.lastIndexOf('\n') + 1;
  const typed = textBeforeCursor.slice(start).trimStart();
  return { start, typed, indent: textBeforeCursor.length - start - typed.length };
}
