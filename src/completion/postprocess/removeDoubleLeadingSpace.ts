/**
 * GPT-2's tokens carry their leading space (" foo"), so after a typed space it often proposes
 * another: `x = ` + ` 1`. The completion's leading spaces go when the line already ends with
 * one after some text (not when the line is only indentation, where spaces may be deliberate).
 */
import type { PostprocessStep } from './types';

export const removeDoubleLeadingSpace: PostprocessStep = (completion, ctx) => {
  if (!/[ \t]$/.test(ctx.prefixOnLine) || ctx.prefixOnLine.trim() === '') return completion;
  return completion.replace(/^ +/, '');
};
