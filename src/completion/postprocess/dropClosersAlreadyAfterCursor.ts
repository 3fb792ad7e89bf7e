/**
 * No duplicated closing brackets or quotes: when the completion ends with closers (and `;`, `,`,
 * `:`) of things opened before it, and the line after the cursor already starts with those same
 * characters (editor auto-closing put them there), they are dropped: `foo(|)` + `x)` → `x`.
 * Closers of the completion's own brackets stay: `foo(|)` + `bar()` keeps `bar()`.
 */
import { openQuoteAtEnd, scanCode, CLOSERS } from './codeScan';
import type { PostprocessStep } from './types';

/** Characters a duplicated tail may consist of. */
const CLOSING_CHARACTERS = new Set([...')]}>"\'`;,:', ' ', '\t']);

export const dropClosersAlreadyAfterCursor: PostprocessStep = (completion, ctx) => {
  const following = ctx.suffixOnLine.replace(/\s+/g, '');
  if (following === '') return completion;
  const startQuote = openQuoteAtEnd(ctx.prefixOnLine, ctx.languageId);
  const scan = scanCode(completion, ctx.languageId, startQuote);
  const outer = new Set(scan.outerClosers);

  let tailStart = completion.length;
  while (tailStart > 0 && CLOSING_CHARACTERS.has(completion[tailStart - 1])) tailStart--;
  // Try the longest tail first; a tail qualifies when every bracket or quote in it closes
  // something opened before the completion, and the suffix starts with it.
  for (let at = tailStart; at < completion.length; at++) {
    const tail = completion.slice(at);
    if (tail.trim() === '' || !following.startsWith(tail.replace(/\s+/g, ''))) continue;
    let foreign = true;
    for (let i = at; i < completion.length && foreign; i++) {
      const ch = completion[i];
      if (CLOSERS.includes(ch)) foreign = outer.has(i);
      else if (ch === '"' || ch === "'" || ch === '`') foreign = scan.outerQuoteClose === i;
      else if (ch === '>') foreign = scan.before[i].quote === null;
    }
    if (foreign) {
      // Inside a string, spaces before the cut are text, not layout.
      const head = completion.slice(0, at);
      return scan.before[at].quote === null ? head.trimEnd() : head;
    }
  }
  return completion;
};
