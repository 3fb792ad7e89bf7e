/**
 * GPT-2 likes to copy the line that follows the cursor. A single-line completion that makes the
 * cursor's line equal to the next non-blank line is dropped; a multi-line one is cut before its
 * first line equal to it. Lines of only punctuation (`}`) are left to the bracket steps.
 */
import { isBlank } from '../indentation';
import type { PostprocessStep } from './types';

function normalized(line: string): string {
  return line.trim().replace(/\s+/g, ' ');
}

const PUNCTUATION_ONLY = /^[\p{P}\p{S}\s]*$/u;

export const stopAtNextLineRepetition: PostprocessStep = (completion, ctx) => {
  const next = ctx.nextLines.find((line) => !isBlank(line));
  if (next === undefined || PUNCTUATION_ONLY.test(next)) return completion;
  const target = normalized(next);
  const lines = completion.split('\n');
  const cursorLine = ctx.prefixOnLine + lines[0] + (lines.length === 1 ? ctx.suffixOnLine : '');
  if (!isBlank(lines[0]) && normalized(cursorLine) === target) return null;
  for (let i = 1; i < lines.length; i++) {
    if (normalized(lines[i]) === target) return lines.slice(0, i).join('\n').trimEnd();
  }
  return completion;
};
