import type { PostprocessStep } from './types';

/** GPT-2's document separator; nothing after it belongs to this document. */
export const END_OF_TEXT_MARKER = '<|endoftext|>';

/** Cuts the completion at the first "<|endoftext|>" (special tokens must never leak into the editor). */
export const stripEndOfText: PostprocessStep = (completion) => {
  const at = completion.indexOf(END_OF_TEXT_MARKER);
  return at < 0 ? completion : completion.slice(0, at);
};
