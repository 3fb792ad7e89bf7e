/**
 * Retrieval-aware training windows: examples built the way the completion pipeline builds a prompt
 * once workspace context is on (src/completion/engineCompletion.ts, snippetsFor + buildPrompt), so
 * the model learns that the comment-prefixed snippets before the file window are there to be copied
 * from. Snippets come from the other files of the same source (an npm package, or the Python
 * library), the "workspace" a file of that source would be edited in, chosen by the pipeline's own
 * similarity (ChunkIndex: BM25 over the words of the lines above the cursor) and written by its own
 * header format (snippetHeader: `// path: lib/x.js` then the chunk as comment lines).
 *
 * An example is: the prompt for a cursor in a file (snippet header, then the window before the
 * cursor that buildPrompt chooses for the pipeline's token budget), then the file's text after the
 * cursor up to the model's context. The loss is on the file's tokens only: the header is the
 * example's context (L1 has weight 0 in pre-training), the window and what follows the cursor its
 * continuation, so the positions right after the cursor, the ones a completion asks for, are trained
 * with the snippets in view.
 */
import { ChunkIndex, queryText } from '../../src/completion/context/chunkIndex';
import { snippetHeader } from '../../src/completion/context/snippets';
import { DEFAULT_RETRIEVAL, type RetrievalOptions } from '../../src/completion/engineCompletion';
import { languageIdForPath } from '../../src/completion/languageIds';
import { buildPrompt, promptSource } from '../../src/completion/prompt';
import type { Tokenizer } from '../../src/engine/tokenizer';
import { hashToUnit } from '../../src/training/data/seededHash';
import type { TokenExample } from '../../src/training/objective';
import { fileTokens, type CorpusFile, type LoadedCorpus } from './corpus';

/** The extension's default `gpt2Complete.maxTokens`: the pipeline's prompt budget is the context minus this. */
export const PIPELINE_MAX_TOKENS = 64;

export interface RetrievalExample {
  example: TokenExample;
  /** Tokens of the snippet header (with its line break); 0 when no snippet was found or fitted. */
  headerTokens: number;
  /** Snippets the header holds. */
  snippets: number;
  /** Tokens of the prompt (header and window): the cursor is there, what follows is what a completion would ask for. */
  promptTokens: number;
}

export interface RetrievalExampleOptions {
  /** The source's files, indexed as the pipeline indexes a workspace (sourceIndex). */
  index: ChunkIndex;
  /** The file's key in the index (its path in the source; what the snippet header names). */
  file: string;
  text: string;
  /** Character offset of the cursor in `text`. */
  cursor: number;
  nPositions: number;
  tokenizer: Pick<Tokenizer, 'encode'>;
  retrieval?: RetrievalOptions;
  /** Tokens the pipeline reserves for generation (default PIPELINE_MAX_TOKENS). */
  maxTokens?: number;
}

/** A source's files as one chunk index, as WorkspaceCache indexes a workspace's files. */
export function sourceIndex(files: Iterable<{ path: string; text: string }>): ChunkIndex {
  const index = new ChunkIndex();
  for (const f of files) index.setFile(f.path, f.text);
  return index;
}

/** One example: the pipeline's prompt at `cursor` (snippets from other files, then the window), then the file after the cursor. */
export function retrievalExample(o: RetrievalExampleOptions): RetrievalExample {
  const retrieval = o.retrieval ?? DEFAULT_RETRIEVAL;
  const maxTokens = Math.max(1, Math.min(o.maxTokens ?? PIPELINE_MAX_TOKENS, Math.floor(o.nPositions / 2)));
  const tokenBudget = o.nPositions - maxTokens;
  const countTokens = (t: string): number => o.tokenizer.encode(t).length;
  const cursor = Math.max(0, Math.min(o.cursor, o.text.length));
  // What the pipeline sees: the text before the cursor (promptSource), the query from its last lines.
  const source = promptSource(o.text, cursor);
  const chunks = o.index.search(queryText(source.text), retrieval.k, o.file, retrieval.ranking);
  const header = chunks.length === 0
    ? ''
    : snippetHeader(chunks, languageIdForPath(o.file), (f) => f, Math.floor(tokenBudget * retrieval.share), countTokens);
  const built = buildPrompt(source.text, source.text.length, { tokenBudget, countTokens, header: header === '' ? undefined : header });
  const window = source.text.slice(built.windowStartOffset);
  const headerText = built.prompt.slice(0, built.prompt.length - window.length);
  // Enough text after the cursor to fill the context (GPT-2 tokens are at least one byte).
  const after = o.text.slice(cursor, cursor + 8 * o.nPositions);
  // Encoded as one text, as the engine encodes a prompt: the header's last line break may merge
  // with the window's indentation into one token, which then counts as the file's.
  const ids = o.tokenizer.encode(headerText + window + after).slice(0, o.nPositions);
  const commonPrefix = (part: number[]): number => {
    let n = 0;
    while (n < part.length && n < ids.length && part[n] === ids[n]) n++;
    return n;
  };
  const contextLength = headerText === '' ? 0 : commonPrefix(o.tokenizer.encode(headerText));
  // Without a header the first token is the context (plain windows are cut the same way).
  const c = Math.max(1, contextLength);
  return {
    example: { contextIds: ids.slice(0, c), continuationIds: ids.slice(c) },
    headerTokens: contextLength,
    snippets: headerText === '' ? 0 : chunks.length,
    promptTokens: Math.max(c, commonPrefix(o.tokenizer.encode(built.prompt))),
  };
}

/** Where a stream position falls: the files of a split as lmWindows streams them (EOT, then the file). */
export class SplitStream {
  readonly files: CorpusFile[];
  /** Stream offset of each file's EOT. */
  private readonly starts: number[] = [];
  readonly length: number;

  constructor(corpus: LoadedCorpus, split: CorpusFile['split']) {
    this.files = corpus.manifest.files.filter((f) => f.split === split);
    let at = 0;
    for (const f of this.files) {
      this.starts.push(at);
      at += f.tokens + 1;
    }
    this.length = at;
  }

  /** The file at stream position `p` and the token index in it (an EOT counts as the file's first token). */
  at(p: number): { file: CorpusFile; token: number } {
    let lo = 0;
    let hi = this.starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.starts[mid] <= p) lo = mid;
      else hi = mid - 1;
    }
    return { file: this.files[lo], token: Math.max(0, p - this.starts[lo] - 1) };
  }
}

/** Which windows of a stage become retrieval examples: a seeded hash of their position in the data stream. */
export function isRetrievalWindow(seed: number, position: number, share: number): boolean {
  return share > 0 && hashToUnit(seed, 'retrieval-window', position) < share;
}

/** The character offset of the start of the line holding token `token` of `ids` (whose text is `text`). */
function lineStartOfToken(tokenizer: Pick<Tokenizer, 'decodeBytes'>, ids: Uint16Array, token: number, text: string, bytes: Buffer): number {
  const byteOffset = tokenizer.decodeBytes(Array.from(ids.subarray(0, token))).length;
  const lineStartByte = byteOffset === 0 ? 0 : bytes.lastIndexOf(10, byteOffset - 1) + 1;
  const chars = bytes.subarray(0, lineStartByte).toString('utf8').length;
  return Math.min(chars, text.length);
}

export interface CorpusRetrievalOptions {
  corpus: LoadedCorpus;
  split: CorpusFile['split'];
  /** Window indices (window w covers stream positions [w·T, (w + 1)·T)) to build examples for. */
  windows: readonly number[];
  nPositions: number;
  tokenizer: Pick<Tokenizer, 'encode' | 'decode' | 'decodeBytes'>;
  retrieval?: RetrievalOptions;
  log?: (line: string) => void;
}

export interface CorpusRetrievalStats {
  examples: number;
  withSnippets: number;
  headerTokens: number;
  fileTokens: number;
}

/**
 * Retrieval examples for the given windows of a split's stream: for window w, the cursor is the start
 * of the line holding stream position w·T + (T − maxTokens) (where a full pipeline prompt would end),
 * in the file found there; the snippets come from the training files of that file's source (never a
 * held-out file: training must not read them, and a held-out file is scored against the workspace it
 * would be edited in). Sources are indexed one at a time, so memory holds one source's chunks.
 */
export function corpusRetrievalExamples(o: CorpusRetrievalOptions): { examples: Map<number, TokenExample>; details: Map<number, RetrievalExample>; stats: CorpusRetrievalStats } {
  const T = o.nPositions;
  const stream = new SplitStream(o.corpus, o.split);
  const bySource = new Map<string, { window: number; file: CorpusFile; token: number }[]>();
  for (const w of o.windows) {
    const { file, token } = stream.at(w * T + (T - PIPELINE_MAX_TOKENS));
    const list = bySource.get(file.source) ?? [];
    list.push({ window: w, file, token });
    bySource.set(file.source, list);
  }
  const examples = new Map<number, TokenExample>();
  const details = new Map<number, RetrievalExample>();
  const stats: CorpusRetrievalStats = { examples: 0, withSnippets: 0, headerTokens: 0, fileTokens: 0 };
  const sources = [...bySource.keys()].sort();
  for (const name of sources) {
    const wanted = bySource.get(name)!;
    const texts = new Map<number, string>();
    const textOf = (f: CorpusFile): string => {
      let t = texts.get(f.id);
      if (t === undefined) {
        t = o.tokenizer.decode(Array.from(fileTokens(o.corpus, f)));
        texts.set(f.id, t);
      }
      return t;
    };
    const index = sourceIndex(o.corpus.manifest.files.filter((f) => f.source === name && f.split === 'train').map((f) => ({ path: f.path, text: textOf(f) })));
    for (const { window, file, token } of wanted) {
      const text = textOf(file);
      const ids = fileTokens(o.corpus, file);
      const cursor = lineStartOfToken(o.tokenizer, ids, token, text, Buffer.from(text, 'utf8'));
      const r = retrievalExample({ index, file: file.path, text, cursor, nPositions: T, tokenizer: o.tokenizer, retrieval: o.retrieval });
      examples.set(window, r.example);
      details.set(window, r);
      stats.examples++;
      if (r.headerTokens > 0) stats.withSnippets++;
      stats.headerTokens += r.headerTokens;
      stats.fileTokens += r.example.continuationIds.length;
    }
    o.log?.(`  retrieval windows: ${name}: ${wanted.length}`);
  }
  return { examples, details, stats };
}

/**
 * The same file tokens without the header: the context is the header's last token alone (a line
 * break, as before any line of a file), so both examples have exactly the same targets and the
 * difference of their losses is what the snippets were worth to the model.
 */
export function withoutHeader(e: TokenExample): TokenExample {
  return { contextIds: e.contextIds.slice(-1), continuationIds: e.continuationIds };
}

/**
 * What a completion at the example's cursor is scored on: the tokens after the cursor, given the
 * prompt with its snippet header, or given the window alone (the same targets). Snippets are chosen
 * by the lines just above the cursor, so this is where they should help, if anywhere.
 */
export function completionPair(r: RetrievalExample): { withHeader: TokenExample; bare: TokenExample } {
  const all = [...r.example.contextIds, ...r.example.continuationIds];
  const p = Math.min(r.promptTokens, all.length - 1);
  const continuationIds = all.slice(p);
  return {
    withHeader: { contextIds: all.slice(0, p), continuationIds },
    bare: { contextIds: all.slice(Math.min(r.headerTokens, p - 1), p), continuationIds },
  };
}

export interface SnippetCoverage {
  examples: number;
  withSnippets: number;
  /** Examples with snippets whose first line after the cursor (of at least 10 characters, trimmed) is in the snippets verbatim, or in the window. */
  nextLineInSnippets: number;
  nextLineInWindow: number;
}

/**
 * How often the snippets hold what a completion at the cursor should write: an upper bound of what
 * learning to copy from them can give (a line that is in no snippet cannot be copied from one).
 */
export function snippetCoverage(examples: Iterable<RetrievalExample>, tokenizer: Pick<Tokenizer, 'decode'>): SnippetCoverage {
  const c: SnippetCoverage = { examples: 0, withSnippets: 0, nextLineInSnippets: 0, nextLineInWindow: 0 };
  for (const r of examples) {
    c.examples++;
    if (r.headerTokens === 0) continue;
    c.withSnippets++;
    const all = [...r.example.contextIds, ...r.example.continuationIds];
    const next = tokenizer.decode(all.slice(r.promptTokens)).split('\n').map((l) => l.trim()).find((l) => l.length >= 10);
    if (next === undefined) continue;
    if (tokenizer.decode(all.slice(0, r.headerTokens)).includes(next)) c.nextLineInSnippets++;
    if (tokenizer.decode(all.slice(r.headerTokens, r.promptTokens)).includes(next)) c.nextLineInWindow++;
  }
  return c;
}
