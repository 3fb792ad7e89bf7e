/** Indentation measured in columns, so tabs and spaces compare. */

/** Columns a tab advances when the indent unit does not say (VS Code's default tab size). */
const DEFAULT_TAB_COLUMNS = 4;

/** The leading spaces and tabs of a line. */
export function leadingWhitespace(line: string): string {
  const match = /^[ \t]*/.exec(line);
  return match === null ? '' : match[0];
}

/**
 * Width in columns of a line's indentation; a tab counts as `indentUnit`'s width when the unit is
 * spaces, else as four columns.
 */
export function indentColumns(line: string, indentUnit: string): number {
  const tabColumns = /^ +$/.test(indentUnit) ? indentUnit.length : DEFAULT_TAB_COLUMNS;
  let columns = 0;
  for (const ch of leadingWhitespace(line)) columns += ch === '\t' ? tabColumns : 1;
  return columns;
}

/** True for an empty or whitespace-only line. */
export function isBlank(line: string): boolean {
  return line.trim() === '';
}

/**
 * Guesses a document's indent unit from its indented lines: a tab when most indented lines start
 * with a tab, else the most common positive difference between consecutive indentation widths.
 * Falls back to `fallback` (the editor's setting) when the document has no indentation.
 */
export function inferIndentUnit(text: string, fallback = '  '): string {
  let tabLines = 0;
  let spaceLines = 0;
  const stepCounts = new Map<number, number>();
  let previous = 0;
  for (const line of text.split('\n')) {
    if (isBlank(line)) continue;
    const indent = leadingWhitespace(line);
    if (indent.startsWith('\t')) {
      tabLines++;
      continue;
    }
    if (indent.length > 0) spaceLines++;
    const step = indent.length - previous;
    if (step > 0 && step <= 8) stepCounts.set(step, (stepCounts.get(step) ?? 0) + 1);
    previous = indent.length;
  }
  if (tabLines === 0 && spaceLines === 0) return fallback;
  if (tabLines > spaceLines) return '\t';
  let best = 0;
  let bestCount = 0;
  for (const [step, count] of stepCounts) {
    if (count > bestCount || (count === bestCount && step < best)) {
      best = step;
      bestCount = count;
    }
  }
  return best > 0 ? ' '.repeat(best) : fallback;
}
