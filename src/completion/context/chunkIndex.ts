/**
 * Retrieval of similar code from other workspace files, for snippets put before the file window in
 * the prompt (Continue's and Tabby's "similar snippets"; RepoCoder/CrossCodeEval's retrieved
 * context). Files are cut into windows of CHUNK_LINES lines every CHUNK_STRIDE lines; a chunk is the
 * set of identifier-like words in it. The query is the words of the lines just above the cursor's
 * line (not the line being typed, so the snippets, and with them the prompt's prefix and the engine's
 * KV cache, stay put while a line is typed). Two rankings: BM25 over the words (with document
 * frequencies over all chunks) and Jaccard similarity of the word sets; `quality --ablate` measures both.
 */

export const CHUNK_LINES = 8;
export const CHUNK_STRIDE = 4;
/** Lines above the cursor's line that make the query. */
export const QUERY_LINES = 12;

export type Ranking = 'bm25' | 'jaccard';

export interface Chunk {
  readonly file: string;
  /** 0-based first line. */
  readonly line: number;
  readonly text: string;
  readonly words: ReadonlyMap<string, number>;
  readonly length: number;
}

const WORD = /[A-Za-z_$][A-Za-z0-9_$]*/g;
/** Words too common in code to say anything about similarity. */
const STOP = new Set([
  'the', 'a', 'an', 'of', 'to', 'in', 'is', 'if', 'else', 'for', 'while', 'return', 'const', 'let', 'var', 'function',
  'def', 'class', 'self', 'this', 'import', 'from', 'export', 'new', 'and', 'or', 'not', 'none', 'null', 'true', 'false',
  'undefined', 'await', 'async', 'as', 'with', 'try', 'except', 'catch', 'pass', 'type', 'string', 'number', 'int', 'str',
]);

/** Identifier-like words of `text` (lowercased, stop words and one-letter names left out) with counts. */
export function wordsOf(text: string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const m of text.matchAll(WORD)) {
    const w = m[0].toLowerCase();
    if (w.length < 2 || STOP.has(w)) continue;
    counts.set(w, (counts.get(w) ?? 0) + 1);
  }
  return counts;
}

/** The query for a cursor: the lines above its line (the line being typed left out). */
export function queryText(textBeforeCursor: string): string {
  const lineStart = textBeforeCursor.lastIndexOf('\n') + 1;
  const above = textBeforeCursor.slice(0, lineStart);
  const lines = above.split('\n');
  return lines.slice(Math.max(0, lines.length - 1 - QUERY_LINES)).join('\n');
}

/** A chunk of `file` from 0-based `line`, with its word counts. */
export function chunkOf(file: string, line: number, text: string): Chunk {
  const words = wordsOf(text);
  let length = 0;
  for (const n of words.values()) length += n;
  return { file, line, text, words, length };
}

export class ChunkIndex {
  private readonly chunks = new Map<string, Chunk[]>();
  private readonly df = new Map<string, number>();
  private total = 0;
  private totalLength = 0;

  get size(): number {
    return this.total;
  }

  setFile(file: string, text: string): void {
    this.removeFile(file);
    const lines = text.split('\n');
    const list: Chunk[] = [];
    for (let line = 0; line < lines.length; line += CHUNK_STRIDE) {
      const chunk = chunkOf(file, line, lines.slice(line, line + CHUNK_LINES).join('\n'));
      if (chunk.words.size === 0) continue;
      list.push(chunk);
      for (const w of chunk.words.keys()) this.df.set(w, (this.df.get(w) ?? 0) + 1);
      this.total++;
      this.totalLength += chunk.length;
      if (line + CHUNK_LINES >= lines.length) break;
    }
    this.chunks.set(file, list);
  }

  removeFile(file: string): void {
    const list = this.chunks.get(file);
    if (list === undefined) return;
    for (const c of list) {
      for (const w of c.words.keys()) {
        const n = (this.df.get(w) ?? 1) - 1;
        if (n === 0) this.df.delete(w);
        else this.df.set(w, n);
      }
      this.total--;
      this.totalLength -= c.length;
    }
    this.chunks.delete(file);
  }

  /** The `k` chunks most similar to `query` from files other than `exclude`, best first. */
  search(query: string, k: number, exclude: string | undefined, ranking: Ranking = 'bm25'): Chunk[] {
    const q = wordsOf(query);
    if (q.size === 0 || this.total === 0) return [];
    const scored: { chunk: Chunk; score: number }[] = [];
    const avg = this.totalLength / this.total;
    for (const [file, list] of this.chunks) {
      if (file === exclude) continue;
      for (const chunk of list) {
        const score = ranking === 'bm25' ? this.bm25(q, chunk, avg) : jaccard(q, chunk.words);
        if (score > 0) scored.push({ chunk, score });
      }
    }
    scored.sort((a, b) => b.score - a.score || (a.chunk.file < b.chunk.file ? -1 : a.chunk.file > b.chunk.file ? 1 : a.chunk.line - b.chunk.line));
    // Overlapping windows of one place would say the same twice: keep the best of each overlap.
    const picked: Chunk[] = [];
    for (const { chunk } of scored) {
      if (picked.some((p) => p.file === chunk.file && Math.abs(p.line - chunk.line) < CHUNK_LINES)) continue;
      picked.push(chunk);
      if (picked.length === k) break;
    }
    return picked;
  }

  private bm25(query: ReadonlyMap<string, number>, chunk: Chunk, avgLength: number): number {
    const k1 = 1.2;
    const b = 0.75;
    let score = 0;
    for (const w of query.keys()) {
      const tf = chunk.words.get(w);
      if (tf === undefined) continue;
      const df = this.df.get(w) ?? 0;
      const idf = Math.log(1 + (this.total - df + 0.5) / (df + 0.5));
      score += (idf * tf * (k1 + 1)) / (tf + k1 * (1 - b + (b * chunk.length) / avgLength));
    }
    return score;
  }
}

function jaccard(a: ReadonlyMap<string, number>, b: ReadonlyMap<string, number>): number {
  let inter = 0;
  for (const w of a.keys()) if (b.has(w)) inter++;
  const union = a.size + b.size - inter;
  return union === 0 ? 0 : inter / union;
}
