/**
 * Baseline (a), in-file copy: code repeats itself, so complete the line the way the nearest line
 * above that started the same way went on.
 * - Something typed: the rest of the most recent line above the cursor that starts with it (both
 *   without indentation) and goes on past it.
 * - Nothing typed (a line start): the line that followed the most recent earlier copy of the line
 *   above the cursor (blank lines skipped), e.g. the second of two paired lines in a repeated
 *   block. Nothing when the line above occurs only once.
 */
import { cursorLine, linesAbove } from './cursorLine';

export function inFileCopy(document: string, offset: number): string {
  const { lineStart, typed } = cursorLine(document, offset);
  const lines = linesAbove(document, lineStart);
  if (typed !== '') {
    for (let i = lines.length - 1; i >= 0; i--) {
      const line = lines[i].trimStart();
      if (!line.startsWith(typed)) continue;
      const rest = line.slice(typed.length).trimEnd();
      if (rest.trim() !== '') return rest;
    }
    return '';
  }
  let above = lines.length - 1;
  while (above >= 0 && lines[above].trim() === '') above--;
  if (above < 0) return '';
  const previous = lines[above].trim();
  for (let i = above - 1; i >= 0; i--) {
    if (lines[i].trim() !== previous) continue;
    let next = i + 1;
    while (lines[next].trim() === '') next++; // stops at `above` at the latest
    return lines[next].trim();
  }
  return '';
}
