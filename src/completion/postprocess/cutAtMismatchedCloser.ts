/**
 * Bracket balance: a closer in the completion must match the bracket it would close, either one
 * the completion opened or one still open on the cursor's line (`foo(a, b]` is cut before `]`).
 * When the cursor's line has nothing open, a closer may close a bracket from an earlier line, so
 * it is kept.
 */
import { closerOf, openQuoteAtEnd, scanCode } from './codeScan';
import type { PostprocessStep } from './types';

export const cutAtMismatchedCloser: PostprocessStep = (completion, ctx) => {
  const openOnLine = [...scanCode(ctx.prefixOnLine, ctx.languageId).openAtEnd];
  const startQuote = openQuoteAtEnd(ctx.prefixOnLine, ctx.languageId);
  const scan = scanCode(completion, ctx.languageId, startQuote);
  const mismatched = new Set(scan.mismatchedClosers);
  const candidates = [...scan.outerClosers, ...scan.mismatchedClosers].sort((a, b) => a - b);
  for (const index of candidates) {
    if (!mismatched.has(index)) {
      const opener = openOnLine.pop();
      if (opener === undefined || closerOf(opener) === completion[index]) continue;
    }
    return completion.slice(0, index).trimEnd();
  }
  return completion;
};
