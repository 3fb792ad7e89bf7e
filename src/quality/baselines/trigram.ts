/**
 * Baseline (c), a token trigram model of the training files (GPT-2 tokens): greedy decoding from
 * the last two tokens before the cursor until a token holds a line break or 48 tokens, backing off
 * to the bigram and then the unigram when a context was never seen.
 *
 * It models the files' non-blank lines without their indentation: GPT-2 spells each space of an
 * indentation as a token of its own, so over the raw text the commonest token after two spaces is
 * a third, and at a line start the model would only ever predict more indentation (which the
 * editor has already typed anyway).
 *
 * Only the most frequent next token of each context is kept: every trigram is packed into one
 * double ((a·V + b)·V + c < 2^53), the array sorted once, and each run of equal (a, b) reduced to
 * its commonest c (ties to the smallest id). Building over a few million tokens takes seconds.
 */
import { getTokenizer, type Tokenizer } from '../../engine/tokenizer';
import { cursorLine, previousLine } from './cursorLine';

const V = 50257;
export const TRIGRAM_MAX_TOKENS = 48;
const NEWLINE = 10;

/** Growable array of packed n-gram codes. */
class Codes {
  data = new Float64Array(1 << 16);
  length = 0;
  push(code: number): void {
    if (this.length === this.data.length) {
      const grown = new Float64Array(this.data.length * 2);
      grown.set(this.data);
      this.data = grown;
    }
    this.data[this.length++] = code;
  }
  /** Context (code / V) → the commonest last token (code mod V). */
  commonestNext(): Map<number, number> {
    const sorted = this.data.subarray(0, this.length).sort();
    const out = new Map<number, number>();
    let i = 0;
    while (i < sorted.length) {
      const context = Math.floor(sorted[i] / V);
      let best = -1;
      let bestCount = 0;
      while (i < sorted.length && Math.floor(sorted[i] / V) === context) {
        const code = sorted[i];
        let j = i;
        while (j < sorted.length && sorted[j] === code) j++;
        if (j - i > bestCount) {
          bestCount = j - i;
          best = code - context * V;
        }
        i = j;
      }
      out.set(context, best);
    }
    return out;
  }
}

export class TrigramModel {
  private readonly trigram: Map<number, number>;
  private readonly bigram: Map<number, number>;
  private readonly unigram: number;
  /** Tokens counted. */
  readonly tokens: number;

  constructor(texts: Iterable<string>, private readonly tokenizer: Tokenizer = getTokenizer()) {
    const tri = new Codes();
    const bi = new Codes();
    const uni = new Float64Array(V);
    let tokens = 0;
    for (const text of texts) {
      const ids = tokenizer.encode(dedentedLines(text));
      tokens += ids.length;
      for (let k = 0; k < ids.length; k++) {
        uni[ids[k]]++;
        if (k >= 1) bi.push(ids[k - 1] * V + ids[k]);
        if (k >= 2) tri.push((ids[k - 2] * V + ids[k - 1]) * V + ids[k]);
      }
    }
    this.tokens = tokens;
    this.trigram = tri.commonestNext();
    this.bigram = bi.commonestNext();
    let best = 0;
    for (let id = 1; id < V; id++) if (uni[id] > uni[best]) best = id;
    this.unigram = best;
  }

  /**
   * The rest of the line after the cursor, from the line above and what is typed (both without
   * indentation, as the model was counted). Trailing spaces typed are left out of the context
   * (GPT-2 spells a space with the word after it) and taken off the front of the output.
   */
  suggest(document: string, offset: number): string {
    const { lineStart, typed } = cursorLine(document, offset);
    const above = previousLine(document, lineStart);
    const before = above === null ? typed : `${above}\n${typed}`;
    const context = before.replace(/[ \t]+$/, '');
    const dropped = before.slice(context.length);
    const ids = this.tokenizer.encode(context);
    let a = ids.length >= 2 ? ids[ids.length - 2] : -1;
    let b = ids.length >= 1 ? ids[ids.length - 1] : -1;
    const out: number[] = [];
    while (out.length < TRIGRAM_MAX_TOKENS) {
      const next = (a >= 0 ? this.trigram.get(a * V + b) : undefined) ?? (b >= 0 ? this.bigram.get(b) : undefined) ?? this.unigram;
      out.push(next);
      if (this.tokenizer.tokenBytes(next).includes(NEWLINE)) break;
      a = b;
      b = next;
    }
    let text = this.tokenizer.decode(out);
    const newline = text.indexOf('\n');
    if (newline >= 0) text = text.slice(0, newline);
    if (text.startsWith(dropped)) text = text.slice(dropped.length);
    if (typed === '') text = text.trimStart();
    return text.trimEnd();
  }
}

/** The text's non-blank lines, each without leading and trailing whitespace. */
export function dedentedLines(text: string): string {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '')
    .join('\n');
}
