/**
 * U+FFFD is what broken UTF-8 decodes to: in a suggestion it means bytes that were not text (the
 * generator stops before those, but a model can also spell U+FFFD from its three valid bytes, and
 * other engines may not stop). Tab would insert it, so the suggestion is dropped unless the document
 * around the cursor has the character itself: then it is text the model may be copying.
 */
import type { PostprocessStep } from './types';

const REPLACEMENT = '\uFFFD';

export const dropReplacementCharacter: PostprocessStep = (completion, ctx) => {
  if (!completion.includes(REPLACEMENT)) return completion;
  const around = [ctx.prefixOnLine, ctx.suffixOnLine, ctx.previousLine ?? '', ...ctx.nextLines];
  return around.some((line) => line.includes(REPLACEMENT)) ? completion : null;
};
