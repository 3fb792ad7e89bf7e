/**
 * How the engine side reads a suggestion it may show: the model's state after it (what the
 * acceptance head reads), the log P of its first tokens under the distribution the model decodes
 * from (the cache model mixed in), and how well it fits the line below the cursor. Each read runs
 * only what the generator's KV cache lacks (src/engine/generator.ts: scoreTail, logitsAt).
 */
import { blankTokens } from '../engine/cacheModel/cacheModel';
import type { TokenLogProb } from '../engine/cacheModel/mixture';
import type { CompletionEngine } from '../engine/engine';
import { commonPrefixLength, HISTORY_TAIL, type ScoredLogits } from '../engine/generator';
import { END_OF_TEXT_ID } from '../engine/stopRules';

/**
 * Tokens of a candidate whose log P is read: each costs the output head over the vocabulary and a
 * normaliser, and a line's first tokens are where candidates differ. 6 chose as well as 12 (the
 * same right lines on the quality sets, bench/QUALITY.md) at half the head's work.
 */
export const READ_TOKENS = 6;

/**
 * A suggestion read after the prompt window (`tokens`: prompt ++ shown, encoded together as the text
 * would be once accepted, after `dropped`): h at its last token; with `promptTokens` (a text the model
 * did not decode), each of its first READ_TOKENS tokens' log P under the distribution the model
 * decodes from (the cache model mixed in; the first scored token may carry the prompt's last
 * characters with it, as token healing decodes it); and how well it fits the line below
 * (readLineBelow's mean). All in one forward of what the KV cache lacks when prompt ++ shown ++ below
 * spells `tokens` first and fits the window (each forward is ~20 small ops per layer beside the
 * weights: one per candidate saved); else the line below takes a second forward, or none.
 */
export async function readCandidate(
  engine: CompletionEngine, tokens: readonly number[], prompt: string, dropped: number, shown: string, below: string,
  logProb: TokenLogProb, signal: AbortSignal | undefined, promptTokens?: readonly number[],
): Promise<{ h?: Float32Array; logprobs?: number[]; next?: number } | undefined> {
  let scoredAt: number[] = [];
  if (promptTokens !== undefined) {
    const from = commonPrefixLength(tokens, promptTokens);
    if (from >= tokens.length) return undefined;
    // The first token scored (the generator keeps the last nPositions when they are more).
    const start = Math.max(from, 1 + Math.max(0, tokens.length - engine.model.config.nPositions));
    scoredAt = Array.from({ length: Math.min(READ_TOKENS, tokens.length - start) }, (_, j) => start + j);
  }
  const withBelow = below === '' ? undefined : lineBelowPositions(engine, prompt + shown + below, dropped, tokens);
  if (withBelow !== undefined && withBelow.at[0] === tokens.length) {
    // The first row read for the line below is the state at the suggestion's last token: h.
    const at = [...scoredAt, ...withBelow.at];
    const out = await engine.generator.logitsAt(withBelow.tokens, at, signal);
    const E = engine.model.config.nEmbd, row = scoredAt.length;
    const lps = tokenLogProbs(engine, withBelow.tokens, at, out, logProb);
    return {
      h: out.hidden?.slice(row * E, (row + 1) * E),
      ...(promptTokens !== undefined ? { logprobs: lps.slice(0, row) } : {}),
      next: meanLineBelow(lps.slice(row)),
    };
  }
  let h: Float32Array | undefined, logprobs: number[] | undefined;
  if (promptTokens !== undefined) {
    const scored = await engine.generator.scoreTail(tokens, scoredAt[0], signal, READ_TOKENS);
    [h, logprobs] = [scored.hidden, tokenLogProbs(engine, tokens, scoredAt.slice(0, scored.count), scored, logProb)];
  } else {
    h = await suggestionState(engine, tokens, signal);
  }
  const next = withBelow === undefined ? undefined : await fitToLineBelow(engine, withBelow, logProb, signal);
  return { h, ...(logprobs !== undefined ? { logprobs } : {}), ...(next !== undefined ? { next } : {}) };
}

/** Log P of tokens[at[j]] from row j of `scored`, with the history the cache model reads before it. */
function tokenLogProbs(engine: CompletionEngine, tokens: readonly number[], at: readonly number[], scored: ScoredLogits, logProb: TokenLogProb): number[] {
  const vocab = engine.model.config.vocabSize;
  return at.map((t, j) => logProb(tokens.slice(Math.max(0, t - HISTORY_TAIL), t), scored.logits.subarray(j * vocab, (j + 1) * vocab), tokens[t], scored.logNorms?.[j]));
}

/** Words of the line below whose log P is read after a candidate (readLineBelow). */
export const LINE_BELOW_TOKENS = 4;

/**
 * What follows the cursor up to the end of the nearest non-blank line below: the rest of the
 * cursor's line, then the lines down to that one ('' when no non-blank line follows).
 */
export function lineBelow(textAfterCursor: string): string {
  const text = textAfterCursor.replace(/\r\n/g, '\n');
  let start = text.indexOf('\n');
  while (start >= 0) {
    const end = text.indexOf('\n', start + 1);
    const line = text.slice(start + 1, end < 0 ? text.length : end);
    if (line.trim() !== '') return text.slice(0, end < 0 ? text.length : end);
    start = end;
  }
  return '';
}

/**
 * How well a candidate fits what the user already wrote below it: the mean log P (mixed
 * distribution, each at least -10) of the first token after it (the line break, or the
 * candidate's end spelled together with it) and of the line below's first LINE_BELOW_TOKENS
 * non-blank tokens, read after prompt ++ candidate ++ `below`. A left-to-right model cannot see the
 * suffix while decoding; reading it after each candidate is the next best (the right candidate
 * makes the line below likelier). Undefined when there is no line below, or no room for it in the
 * context window. `shownTokens`: prompt ++
 * shown as encoded (after `dropped`), when the caller has them.
 */
export async function readLineBelow(
  engine: CompletionEngine, prompt: string, dropped: number, shown: string, below: string,
  logProb: TokenLogProb, signal: AbortSignal | undefined, shownTokens?: readonly number[],
): Promise<number | undefined> {
  if (below === '') return undefined;
  const read = lineBelowPositions(engine, prompt + shown + below, dropped, shownTokens ?? engine.tokenizer.encode(prompt + shown).slice(dropped));
  return read === undefined ? undefined : fitToLineBelow(engine, read, logProb, signal);
}

/** readLineBelow's measure at `read.at` of `read.tokens`, in one forward of its own. */
async function fitToLineBelow(
  engine: CompletionEngine, read: { tokens: number[]; at: number[] }, logProb: TokenLogProb, signal: AbortSignal | undefined,
): Promise<number | undefined> {
  return meanLineBelow(tokenLogProbs(engine, read.tokens, read.at, await engine.generator.logitsAt(read.tokens, read.at, signal), logProb));
}

/**
 * prompt ++ shown ++ below as encoded (after `dropped`), and the positions readLineBelow reads:
 * the first token after what `shownTokens` spells, then the next LINE_BELOW_TOKENS non-blank ones.
 * Undefined past the context window (a small maxTokens leaves the prompt little room): dropping the
 * front would rerun every position for each candidate, as the KV cache holds the window from its
 * start (bench:completion at 16 tokens: warm p90 84 → 336 ms), and reading only what fits still
 * cost p50 44 → 65 ms there.
 */
function lineBelowPositions(engine: CompletionEngine, text: string, dropped: number, shownTokens: readonly number[]): { tokens: number[]; at: number[] } | undefined {
  const tokens = engine.tokenizer.encode(text).slice(dropped);
  if (tokens.length > engine.model.config.nPositions) return undefined;
  const from = commonPrefixLength(shownTokens, tokens);
  const blank = blankTokensOf(engine);
  const at: number[] = [];
  // GPT-2 spends a token on each space of an indentation: near-certain, and not what tells candidates apart.
  for (let i = Math.max(1, from); i < tokens.length && at.length <= LINE_BELOW_TOKENS; i++) if (at.length === 0 || blank[tokens[i]] === 0) at.push(i);
  return at.length === 0 ? undefined : { tokens, at };
}

/** readLineBelow's measure: the mean log P, each at least -10. */
function meanLineBelow(logprobs: readonly number[]): number | undefined {
  return logprobs.length === 0 ? undefined : logprobs.reduce((sum, lp) => sum + Math.max(-10, lp), 0) / logprobs.length;
}

/**
 * h at the last of `tokens`: the prompt window ++ the shown suggestion, encoded together as the
 * model would read the accepted text; the generator's KV cache already holds the prompt and the raw
 * generation, so this runs only the tokens after their common prefix.
 */
export async function suggestionState(engine: CompletionEngine, tokens: readonly number[], signal: AbortSignal | undefined): Promise<Float32Array | undefined> {
  return engine.generator.hiddenAt(tokens.length > 0 ? tokens : [END_OF_TEXT_ID], signal);
}

const blankTables = new WeakMap<object, Uint8Array>();

/** The tokenizer's blank tokens, computed once per tokenizer. */
export function blankTokensOf(engine: CompletionEngine): Uint8Array {
  let table = blankTables.get(engine.tokenizer);
  if (table === undefined) {
    table = blankTokens((ids) => engine.tokenizer.decodeBytes(ids), engine.model.config.vocabSize);
    blankTables.set(engine.tokenizer, table);
  }
  return table;
}
