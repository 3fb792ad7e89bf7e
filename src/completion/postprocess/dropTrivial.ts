/**
 * Nothing worth showing: empty or whitespace-only completions, and ones made only of punctuation
 * that already follows the cursor (on its line, or at the start of the next non-blank line).
 */
import { isBlank } from '../indentation';
import type { PostprocessStep } from './types';

const CLOSING_PUNCTUATION_ONLY = /^[)\]}>"'`;,:.]+$/;

export const dropTrivial: PostprocessStep = (completion, ctx) => {
  if (completion.trim() === '') return null;
  const content = completion.replace(/\s+/g, '');
  if (!CLOSING_PUNCTUATION_ONLY.test(content)) return completion;
  const following = ctx.suffixOnLine.replace(/\s+/g, '');
  const nextLine = (ctx.nextLines.find((line) => !isBlank(line)) ?? '').replace(/\s+/g, '');
  if (following.startsWith(content) || (following === '' && nextLine.startsWith(content))) return null;
  return completion;
};
