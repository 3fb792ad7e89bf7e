import type { PostprocessStep } from './types';

/**
 * Outside an empty block the suggestion is one line: everything from the first line break on is
 * dropped (a completion that starts with a break becomes empty, and is dropped later).
 */
export const cutToSingleLine: PostprocessStep = (completion, ctx) => {
  if (ctx.multiline) return completion;
  const newline = completion.indexOf('\n');
  return newline < 0 ? completion : completion.slice(0, newline);
};
