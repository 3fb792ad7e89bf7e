import type { PostprocessStep } from './types';

/** Trailing spaces on every line, and trailing blank lines, are noise the user would delete. */
export const trimTrailingWhitespace: PostprocessStep = (completion) =>
  completion
    .split('\n')
    .map((line) => line.trimEnd())
    .join('\n')
    .trimEnd();
