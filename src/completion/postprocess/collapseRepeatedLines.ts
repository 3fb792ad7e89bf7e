/**
 * Greedy decoding with a small model falls into loops (the same line again and again). A run of
 * three or more identical lines is a loop, not code: it is cut after the run's first line.
 * Two identical lines in a row stay (`i++; i++;` happens).
 */
import { isBlank } from '../indentation';
import type { PostprocessStep } from './types';

const LOOP_RUN = 3;

export const collapseRepeatedLines: PostprocessStep = (completion) => {
  const lines = completion.split('\n');
  for (let start = 0; start < lines.length; start++) {
    if (isBlank(lines[start])) continue;
    let end = start + 1;
    while (end < lines.length && lines[end].trim() === lines[start].trim()) end++;
    if (end - start >= LOOP_RUN) return lines.slice(0, start + 1).join('\n');
  }
  return completion;
};
