/**
 * GPT-2 sees no suffix, so it often writes out what already follows the cursor: `foo(|)` + `a, b)`
 * or `x = "|";` + `hi";`. The completion is cut where it starts repeating the rest of the line,
 * at a point outside its own brackets and strings (so `bar(1), 2)` before `)` keeps `bar(1), 2`).
 *
 * With nested auto-closed brackets (`f(g(|)` + `x));`) the suffix's `)` closes the innermost
 * bracket, so the cut goes at the last repetition that still closes a bracket open on the line:
 * `x)`, giving `f(g(x))`. Without brackets open on the line, the first repetition is the cut.
 */
import { openQuoteAtEnd, scanCode } from './codeScan';
import type { PostprocessStep } from './types';

export const stopAtSuffixRepetition: PostprocessStep = (completion, ctx) => {
  const suffix = ctx.suffixOnLine.trim();
  if (suffix === '') return completion;
  const startQuote = openQuoteAtEnd(ctx.prefixOnLine, ctx.languageId);
  const openOnLine = scanCode(ctx.prefixOnLine, ctx.languageId).openAtEnd.length;
  const scan = scanCode(completion, ctx.languageId, startQuote);

  let cut = -1;
  for (let at = completion.indexOf(suffix); at >= 0; at = completion.indexOf(suffix, at + 1)) {
    const state = scan.before[at];
    if (state.depth !== 0 || state.quote !== startQuote || state.inComment) continue;
    const closedBefore = scan.outerClosers.filter((index) => index < at).length;
    if (cut >= 0 && closedBefore >= openOnLine) break;
    cut = at;
  }
  if (cut < 0) return completion;
  // Inside a string, spaces before the cut are text ("Name: |"), not layout.
  const head = completion.slice(0, cut);
  return scan.before[cut].quote === null ? head.trimEnd() : head;
};
