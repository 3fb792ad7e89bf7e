/**
 * Retrieved chunks as the prompt's first lines: each chunk as comment lines under a comment naming
 * its file (`# path: pkg/util.py`), in a stable order (by path, then line) so that the prompt's
 * prefix, and the engine's KV cache with it, does not change while the same snippets are chosen.
 * The snippets get at most their token budget: a chunk that does not fit whole keeps the lines
 * that do (at least MIN_LINES of them), the best-ranked chunks first.
 */
import { languageSyntax } from '../languages';
import type { Chunk } from './chunkIndex';

const MIN_LINES = 3;

export function snippetHeader(
  chunks: readonly Chunk[],
  languageId: string,
  relativePath: (file: string) => string,
  tokenBudget: number,
  countTokens: (text: string) => number,
): string {
  const syntax = languageSyntax(languageId);
  // Best-ranked first for the budget, then written in a stable order.
  const kept: { chunk: Chunk; text: string }[] = [];
  let used = 0;
  for (const chunk of chunks) {
    const lines = [syntax.comment(`path: ${relativePath(chunk.file)}`), ...chunk.text.split('\n').map((l) => syntax.comment(l).trimEnd())];
    for (let n = lines.length; n > MIN_LINES; n--) {
      const text = lines.slice(0, n).join('\n');
      const tokens = countTokens(`${text}\n`);
      if (used + tokens <= tokenBudget) {
        kept.push({ chunk, text });
        used += tokens;
        break;
      }
    }
  }
  kept.sort((a, b) => (a.chunk.file < b.chunk.file ? -1 : a.chunk.file > b.chunk.file ? 1 : a.chunk.line - b.chunk.line));
  return kept.map((k) => k.text).join('\n');
}
