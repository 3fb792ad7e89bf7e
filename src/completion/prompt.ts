/**
 * The model prompt: the text before the cursor, cut to a window of at most `tokenBudget` tokens.
 * This module is the one place the window is chosen: `promptSource` bounds what crosses to the
 * engine (in characters, far above any budget), `buildPrompt` picks the window in tokens there.
 *
 * GPT-2 has no fill-in-the-middle, so the prompt is prefix only (the suffix is used later, by
 * post-processing). Prefill dominates local latency, and the engine reuses its KV cache for the
 * longest common token prefix of consecutive prompts, so the window's START must not move on every
 * keystroke. It is therefore chosen from coarse candidates: the first line start at or after each
 * multiple of `chunkChars`, and the window starts at the earliest candidate whose window fits.
 * Typing at the end only grows the window; the start stays until the window overflows, then jumps
 * a whole chunk (about a quarter of the window) at once. The choice depends only on the text and
 * cursor (plus an optional hint, the previous start, that damps flicker at the exact budget).
 */
import { languageSyntax } from './languages';

export interface PromptOptions {
  /** Token budget for the whole prompt (header included): the context size minus the tokens to generate. */
  readonly tokenBudget: number;
  /** Tokens in a text, e.g. `(t) => tokenizer.encode(t).length`. */
  readonly countTokens: (text: string) => number;
  /**
   * Step between candidate window starts, in characters (default `tokenBudget`: at 3-4 characters
   * per token, a quarter to a third of a full window).
   */
  readonly chunkChars?: number;
  /**
   * A first line put before the window (e.g. from `pathHeader`). Off by default: GPT-2 was not
   * trained with such headers, so it helps only a model fine-tuned with them.
   */
  readonly header?: string;
  /**
   * The window start of the previous prompt for this document, if any. Optional; it only keeps
   * the start from flickering when the window is right at the budget (see buildPrompt).
   */
  readonly previousWindowStart?: number;
}

export interface BuiltPrompt {
  /** The text to feed the model: header line (if any) + window, with CRLF turned into LF. */
  readonly prompt: string;
  /** Offset in the document where the window starts (the prompt covers [windowStartOffset, cursor)). */
  readonly windowStartOffset: number;
  /** `countTokens(prompt)`. */
  readonly tokenCount: number;
}

/** A one-line comment naming the file, in the language's comment syntax: `// path: src/a.ts`. */
export function pathHeader(languageId: string, relativePath: string): string {
  return languageSyntax(languageId).comment(`path: ${relativePath}`);
}

/**
 * The prompt window is at most 1024 tokens (a few thousand characters), so only this much text
 * before the cursor is sent to the engine and hashed: per-keystroke cost stays flat in huge files.
 * It starts at a multiple of PROMPT_SOURCE_ALIGN so that it moves rarely (the engine's window, and
 * so its KV cache, is chosen inside it).
 */
const PROMPT_SOURCE_CHARS = 64 * 1024;
const PROMPT_SOURCE_ALIGN = 16 * 1024;

/** The text before the cursor that the prompt is built from, and where it starts in the document. */
export interface PromptSource {
  readonly text: string;
  readonly start: number;
}

export function promptSource(text: string, offset: number): PromptSource {
  const start = Math.floor(Math.max(0, offset - PROMPT_SOURCE_CHARS) / PROMPT_SOURCE_ALIGN) * PROMPT_SOURCE_ALIGN;
  return { text: text.slice(start, offset), start };
}

function normalizeLineBreaks(text: string): string {
  return text.replace(/\r\n/g, '\n');
}

/** The first line start at or after `position` (the start of the line after it, or itself). */
function lineStartAtOrAfter(text: string, position: number): number {
  if (position === 0 || text.charCodeAt(position - 1) === 10) return position;
  const newline = text.indexOf('\n', position);
  return newline < 0 ? text.length : newline + 1;
}

/** Builds the prompt for a cursor at `offset` in `text`. */
export function buildPrompt(text: string, offset: number, options: PromptOptions): BuiltPrompt {
  const cursor = Math.max(0, Math.min(offset, text.length));
  const { countTokens } = options;
  let header = options.header === undefined ? '' : `${options.header}\n`;
  let headerTokens = header === '' ? 0 : countTokens(header);
  if (headerTokens >= options.tokenBudget) {
    // A header that leaves no room for the document is worse than none.
    header = '';
    headerTokens = 0;
  }
  const budget = Math.max(0, options.tokenBudget - headerTokens);
  const chunk = Math.max(1, Math.floor(options.chunkChars ?? options.tokenBudget));
  const cursorLineStart = text.lastIndexOf('\n', cursor - 1) + 1;
  const candidates = new WindowCandidates(text, cursor, cursorLineStart, chunk);
  const windowTokens = (start: number): number => countTokens(normalizeLineBreaks(text.slice(start, cursor)));
  const fits = (start: number): boolean => windowTokens(start) <= budget;

  // Estimate with per-segment counts (each segment tokenized once, from the cursor backwards)...
  let chosen = 0;
  let estimate = 0;
  for (let i = candidates.last, end = cursor; i >= 0; i--) {
    const start = candidates.at(i);
    const segment = start < end ? countTokens(normalizeLineBreaks(text.slice(start, end))) : 0;
    if (estimate + segment > budget) {
      chosen = i + 1;
      break;
    }
    estimate += segment;
    end = Math.min(end, start);
  }
  // ...then settle on exact counts, since tokens can merge across a segment boundary.
  while (chosen > 0 && fits(candidates.at(chosen - 1))) chosen--;
  while (chosen <= candidates.last && !fits(candidates.at(chosen))) chosen++;
  if (chosen > candidates.last) return finish(tailThatFits(text, cursor, budget, windowTokens));

  // Token counts are not monotone under typing (a typed letter can merge two tokens), so a window
  // right at the budget could flip between two neighbouring starts; keeping the previous start
  // while it still fits and is at most one step ahead stops that.
  let start = candidates.at(chosen);
  const previous = options.previousWindowStart;
  if (
    previous !== undefined &&
    previous > start &&
    previous <= cursorLineStart &&
    (previous === 0 || text.charCodeAt(previous - 1) === 10) &&
    previous <= candidates.at(Math.min(chosen + 1, candidates.last)) &&
    fits(previous)
  ) {
    start = previous;
  }
  return finish([start, windowTokens(start)]);

  function finish([windowStart, tokens]: [number, number]): BuiltPrompt {
    return {
      prompt: header + normalizeLineBreaks(text.slice(windowStart, cursor)),
      windowStartOffset: windowStart,
      tokenCount: headerTokens + tokens,
    };
  }
}

/**
 * The possible window starts, ascending: the first line start at or after each multiple of
 * `chunk` up to the cursor's line, then (for a cursor line too long to fit whole) points inside
 * the cursor line every chunk / 8 characters, so a huge line still gets a nearly full window.
 */
class WindowCandidates {
  private readonly lineCandidates: number;
  private readonly inLineStep: number;
  /** Index of the last candidate (the one closest to the cursor). */
  readonly last: number;

  constructor(
    private readonly text: string,
    cursor: number,
    private readonly cursorLineStart: number,
    private readonly chunk: number,
  ) {
    this.lineCandidates = Math.floor(cursorLineStart / chunk) + 1;
    this.inLineStep = Math.max(1, Math.floor(chunk / 8));
    this.last = this.lineCandidates - 1 + Math.floor((cursor - cursorLineStart) / this.inLineStep);
  }

  at(index: number): number {
    if (index < this.lineCandidates) return lineStartAtOrAfter(this.text, index * this.chunk);
    return this.cursorLineStart + (index - this.lineCandidates + 1) * this.inLineStep;
  }
}

/**
 * Fallback when even the last candidate overflows (one enormous line, or many tokens per character):
 * the longest tail of the prefix that fits, found by binary search on its start.
 */
function tailThatFits(
  text: string,
  cursor: number,
  budget: number,
  windowTokens: (start: number) => number,
): [number, number] {
  let low = Math.max(0, cursor - budget * 8); // no GPT-2 token is near 8 characters on average
  let high = cursor; // an empty window always fits
  while (low < high) {
    const middle = Math.floor((low + high) / 2);
    if (windowTokens(middle) <= budget) high = middle;
    else low = middle + 1;
  }
  // Do not start between a surrogate pair's halves.
  let start = high;
  if (start < cursor && start > 0 && /[\uDC00-\uDFFF]/.test(text[start])) start++;
  return [start, windowTokens(start)];
}
