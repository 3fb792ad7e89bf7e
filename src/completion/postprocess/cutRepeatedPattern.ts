/**
 * A small model at temperature 0 loops inside a line too: `from "../../../../../..` to the end of
 * the line, `self.get_name, self.get_name, self.get_name,`. A short pattern (up to MAX_PATTERN
 * characters, at least one of them not a space or punctuation repeated alone) that occurs three or
 * more times in a row up to the end of the line, or five or more times anywhere, is a loop: the
 * line is cut where the loop starts, keeping one occurrence. A model in a loop stays in it until the
 * token limit; a run that ends and gives way to more code is the code (`"../../../locales/en.ts"`,
 * which cutting lost on the quality sets). Two in a row stay (`../../` and `a, a` happen). Line by
 * line; other lines are left alone.
 */
import type { PostprocessStep } from './types';

const MAX_PATTERN = 24;
const LOOP_RUN = 3;
/** Repetitions that are a loop even when the line goes on after them. */
const LONG_RUN = 5;

/** Index where a run of LOOP_RUN or more repetitions of one pattern ends its first occurrence, or -1. */
function loopCut(line: string): number {
  for (let start = 0; start < line.length; start++) {
    for (let p = 1; p <= MAX_PATTERN && start + p * (LOOP_RUN - 1) < line.length; p++) {
      const pattern = line.slice(start, start + p);
      // Runs of one character (`----`, `    `, `====`) are drawing and padding, not loops.
      if (new Set(pattern).size === 1) continue;
      let runs = 1;
      while (line.startsWith(pattern, start + runs * p)) runs++;
      const tail = line.slice(start + runs * p).trimEnd();
      const toEnd = tail.length < p && pattern.startsWith(tail);
      // A last occurrence cut short by the token limit counts when most of it is there.
      if (toEnd && tail.length >= Math.max(2, p / 2)) runs++;
      if (runs >= LONG_RUN || (runs >= LOOP_RUN && toEnd)) return start + p;
    }
  }
  return -1;
}

export const cutRepeatedPattern: PostprocessStep = (completion) => {
  const lines = completion.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const cut = loopCut(lines[i]);
    if (cut >= 0) return [...lines.slice(0, i), lines[i].slice(0, cut)].join('\n');
  }
  return completion;
};
