/**
 * Mining (context x → continuation y) examples from one file's text, at the places people type.
 *
 * x is built the way the completion prompt is (src/completion/prompt.ts): the text before the cut
 * from a line start, as many whole lines as fit in `contextTokens`, tokenized on its own —
 * `encode(x)`, never a slice of the whole file's tokens, because BPE merges across the cut (the
 * "foo" of "foobar") would leak the answer into x. y is tokenized on its own too, as the model
 * generates it after the prompt. Line breaks are LF (the prompt builder turns CRLF into LF), so
 * `cut` is an offset into the file's text after that normalization.
 */
import { Rng } from '../../engine/random';
import { Tokenizer, getTokenizer } from '../../engine/tokenizer';

export interface Example {
  /** Path relative to the mined folder, `/`-separated. */
  readonly file: string;
  /** Character offset of the cut in the file's text (LF line breaks). */
  readonly cut: number;
  /** x: the text that ends exactly at the cut. */
  readonly context: string;
  /** y: the text that starts at the cut. */
  readonly continuation: string;
  /** encode(context). */
  readonly contextIds: number[];
  /** encode(continuation), at most `continuationTokens` long. */
  readonly continuationIds: number[];
}

export interface MiningOptions {
  /** N: at most this many tokens of context (default 256). */
  readonly contextTokens?: number;
  /** M: at most this many tokens of continuation (default 64). */
  readonly continuationTokens?: number;
  /** p: chance that y runs on for 1–`maxMoreLines` more lines after the cut's line (default 0.25). */
  readonly moreLinesProbability?: number;
  /** Default 3. */
  readonly maxMoreLines?: number;
  /** One example per this many tokens of file (default N / 2: each token lands in about two contexts). */
  readonly tokensPerExample?: number;
  /** Cap per file (default 256), so one huge file does not drown the rest. */
  readonly maxExamplesPerFile?: number;
  /**
   * Share of cuts at line starts rather than mid-line (default 2/3), and of those, the share at
   * block starts, the first line after one ending with an opener (default 1/2): a third of each
   * kind, as the editor asks (the quality benchmark's mid-line, line-start and after-opener cuts).
   */
  readonly lineStartShare?: number;
  readonly blockStartShare?: number;
}

interface ResolvedMining {
  contextTokens: number;
  continuationTokens: number;
  moreLinesProbability: number;
  maxMoreLines: number;
  tokensPerExample: number;
  maxExamplesPerFile: number;
  lineStartShare: number;
  blockStartShare: number;
}

export function resolveMiningOptions(options: MiningOptions = {}): ResolvedMining {
  const contextTokens = Math.max(1, Math.floor(options.contextTokens ?? 256));
  return {
    contextTokens,
    continuationTokens: Math.max(1, Math.floor(options.continuationTokens ?? 64)),
    moreLinesProbability: options.moreLinesProbability ?? 0.25,
    maxMoreLines: Math.max(0, Math.floor(options.maxMoreLines ?? 3)),
    tokensPerExample: Math.max(1, options.tokensPerExample ?? contextTokens / 2),
    maxExamplesPerFile: Math.max(1, Math.floor(options.maxExamplesPerFile ?? 256)),
    lineStartShare: options.lineStartShare ?? 2 / 3,
    blockStartShare: options.blockStartShare ?? 0.5,
  };
}

/** The text the model sees: LF line breaks, as the prompt builder produces. */
export function normalizeLineBreaks(text: string): string {
  return text.replace(/\r\n/g, '\n');
}

/** How many examples a file of `fileTokens` tokens should give: proportional to its size, at least 1, capped. */
export function examplesWanted(fileTokens: number, options: MiningOptions = {}): number {
  const o = resolveMiningOptions(options);
  return Math.min(o.maxExamplesPerFile, Math.max(1, Math.round(fileTokens / o.tokensPerExample)));
}

const WORD = /[\p{L}\p{N}_$]/u;
const AFTER_PUNCTUATION = new Set(['.', '(', '[', '{', ',', ':']);
const isBlank = (c: string) => c === ' ' || c === '\t' || c === '\n' || c === '\r' || c === '\f' || c === '\v';

/**
 * Cut points where a completion is asked for:
 * - line starts: after the indentation of a non-blank line (where the editor puts the cursor
 *   after Enter); y is then the whole line; block starts are those whose line above (the last
 *   non-blank one) ends with `{`, `(`, `[`, `:` or `=>`, where a block's body begins;
 * - mid-line: after an identifier or number, after `.`, `(`, `[`, `{`, `,`, `:`, after `=` (not
 *   inside `==` or `=>`), and after a space that follows a token — always with something
 *   non-blank left on the line, so y is never empty.
 */
export function cutCandidates(text: string): { lineStarts: number[]; midLine: number[]; blockStarts: number[] } {
  const lineStarts: number[] = [];
  const midLine: number[] = [];
  const blockStarts: number[] = [];
  let afterOpener = false;
  for (let start = 0; start < text.length; ) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    let first = start;
    while (first < end && isBlank(text[first])) first++;
    let last = end - 1;
    while (last >= first && isBlank(text[last])) last--;
    if (first < end) {
      if (first > 0) lineStarts.push(first);
      if (first > 0 && afterOpener) blockStarts.push(first);
      const content = text.slice(first, last + 1);
      afterOpener = /[{([:]$|=>$/.test(content);
      // c is the cut: text[c - 1] is the last typed character, text[c .. last] is left to type.
      for (let c = first + 1; c <= last; c++) {
        const prev = text[c - 1];
        const next = text[c];
        const ok =
          (WORD.test(prev) && !WORD.test(next)) ||
          AFTER_PUNCTUATION.has(prev) ||
          (prev === '=' && next !== '=' && next !== '>') ||
          (prev === ' ' && !isBlank(next) && !isBlank(text[c - 2]));
        if (ok) midLine.push(c);
      }
    }
    start = end + 1;
  }
  return { lineStarts, midLine, blockStarts };
}

/**
 * One file's text with what mining needs at every cut: line starts, and the whole-file
 * tokenization's pre-token ends, which give a cheap, nearly exact token count for any window
 * (exact counts then settle the window).
 */
export class FileText {
  readonly lineStarts: number[] = [0];
  /** End offsets of the whole file's pre-tokens, ascending, and the ids produced up to each. */
  private readonly pieceEnds: number[] = [];
  private readonly idsUpTo: number[] = [];
  readonly tokenCount: number;

  constructor(
    readonly text: string,
    readonly tokenizer: Tokenizer = getTokenizer(),
  ) {
    for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) this.lineStarts.push(i + 1);
    const ids: number[] = [];
    tokenizer.encodeFrom(text, 0, ids, (end) => {
      this.pieceEnds.push(end);
      this.idsUpTo.push(ids.length);
    });
    this.tokenCount = ids.length;
  }

  /** Index of the line containing offset `at`. */
  lineOf(at: number): number {
    let low = 0;
    let high = this.lineStarts.length - 1;
    while (low < high) {
      const middle = (low + high + 1) >> 1;
      if (this.lineStarts[middle] <= at) low = middle;
      else high = middle - 1;
    }
    return low;
  }

  /** Whole-file tokens whose pre-token ends at or before `at`. */
  private idsBefore(at: number): number {
    let low = 0;
    let high = this.pieceEnds.length;
    while (low < high) {
      const middle = (low + high) >> 1;
      if (this.pieceEnds[middle] <= at) low = middle + 1;
      else high = middle;
    }
    return low === 0 ? 0 : this.idsUpTo[low - 1];
  }

  /** Estimated tokens of text[start, cut): exact up to merges at the two ends. */
  estimateTokens(start: number, cut: number): number {
    return this.idsBefore(cut) - this.idsBefore(start) + 1;
  }

  countTokens(start: number, cut: number): number {
    return this.tokenizer.encode(this.text.slice(start, cut)).length;
  }

  /**
   * Start of the longest non-empty window ending at `cut` with at most `budget` tokens: the
   * earliest line start that fits or, when no whole line does, the earliest point that does.
   */
  contextStart(cut: number, budget: number): number {
    const cutLine = this.lineOf(cut);
    // Estimates shrink as the start moves right: binary search for the first line start that seems to fit...
    let low = 0;
    let high = cutLine + 1;
    while (low < high) {
      const middle = (low + high) >> 1;
      if (this.estimateTokens(this.lineStarts[middle], cut) <= budget) high = middle;
      else low = middle + 1;
    }
    // ...then settle with exact counts (merges across line starts make the estimate a little off).
    let line = low;
    const fits = (l: number) => this.countTokens(this.lineStarts[l], cut) <= budget;
    for (let steps = 0; steps < 8 && line > 0 && fits(line - 1); steps++) line--;
    while (line <= cutLine && !fits(line)) line++;
    if (line <= cutLine && this.lineStarts[line] < cut) return this.lineStarts[line];
    // No whole line fits: the longest tail of the cut's line, or of the line before when the cut
    // sits at the very start of its line.
    const tailLine = this.lineStarts[cutLine] < cut ? cutLine : Math.max(0, cutLine - 1);
    return this.tailStart(this.lineStarts[tailLine], cut, budget);
  }

  /** Earliest start in [from, cut] whose window fits, by binary search; never between a surrogate pair. */
  private tailStart(from: number, cut: number, budget: number): number {
    let low = Math.max(from, cut - budget * 8); // no GPT-2 token averages anywhere near 8 characters
    let high = cut;
    while (low < high) {
      const middle = (low + high) >> 1;
      if (this.countTokens(middle, cut) <= budget) high = middle;
      else low = middle + 1;
    }
    const code = this.text.charCodeAt(high);
    return high < cut && code >= 0xdc00 && code <= 0xdfff ? high + 1 : high;
  }
}

/**
 * The continuation at `cut`: the rest of the line (with its line break, so the model learns where
 * a line ends), or with probability p also 1..maxMoreLines following lines; cut at a pre-token
 * boundary to at most M tokens. Null when nothing but whitespace would be left.
 */
function continuationAt(
  file: FileText,
  cut: number,
  rng: Rng,
  o: ResolvedMining,
): { text: string; ids: number[] } | null {
  const text = file.text;
  let lines = 1;
  if (o.maxMoreLines > 0 && rng.next() < o.moreLinesProbability) lines += 1 + Math.floor(rng.next() * o.maxMoreLines);
  let end = cut;
  for (let l = 0; l < lines && end < text.length; l++) {
    const newline = text.indexOf('\n', end);
    end = newline < 0 ? text.length : newline + 1;
  }
  const y = text.slice(cut, end);
  const ends: number[] = [];
  const counts: number[] = [];
  const ids: number[] = [];
  file.tokenizer.encodeFrom(y, 0, ids, (pieceEnd) => {
    ends.push(pieceEnd);
    counts.push(ids.length);
  });
  let k = counts.length - 1;
  while (k >= 0 && counts[k] > o.continuationTokens) k--;
  // Re-encode the kept prefix: continuationIds must be exactly encode(continuation).
  for (; k >= 0; k--) {
    const kept = y.slice(0, ends[k]);
    if (kept.trim() === '') return null;
    const keptIds = file.tokenizer.encode(kept);
    if (keptIds.length <= o.continuationTokens) return { text: kept, ids: keptIds };
  }
  return null;
}

/**
 * Up to `count` examples from one file, at distinct cut points drawn with `rng`, sorted by cut.
 * `text` must already have LF line breaks (normalizeLineBreaks).
 */
export function mineFileExamples(
  file: string,
  text: string | FileText,
  count: number,
  rng: Rng,
  options: MiningOptions = {},
): Example[] {
  const o = resolveMiningOptions(options);
  const fileText = typeof text === 'string' ? new FileText(text) : text;
  const { lineStarts, midLine, blockStarts } = cutCandidates(fileText.text);
  const examples: Example[] = [];
  if (lineStarts.length + midLine.length === 0) return examples;
  const tried = new Set<number>();
  for (let attempt = 0; examples.length < count && attempt < count * 4; attempt++) {
    const atLineStart = rng.next() < o.lineStartShare;
    let pool = midLine.length === 0 || (atLineStart && lineStarts.length > 0) ? lineStarts : midLine;
    if (pool === lineStarts && blockStarts.length > 0 && rng.next() < o.blockStartShare) pool = blockStarts;
    const cut = pool[Math.floor(rng.next() * pool.length)];
    if (tried.has(cut)) continue;
    tried.add(cut);
    const continuation = continuationAt(fileText, cut, rng, o);
    if (continuation === null) continue;
    const context = fileText.text.slice(fileText.contextStart(cut, o.contextTokens), cut);
    const contextIds = fileText.tokenizer.encode(context);
    if (contextIds.length === 0) continue;
    examples.push({
      file,
      cut,
      context,
      continuation: continuation.text,
      contextIds,
      continuationIds: continuation.ids,
    });
  }
  return examples.sort((a, b) => a.cut - b.cut);
}
