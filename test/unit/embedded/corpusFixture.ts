/** A LoadedCorpus made in memory from a few texts (the embedded-training tests' corpus). */
import { getTokenizer } from '../../../src/engine/tokenizer';
import type { CorpusFile, CorpusManifest, LoadedCorpus } from '../../../scripts/embedded/corpus';

export function corpusOf(files: { source: string; path: string; split: CorpusFile['split']; text: string }[]): LoadedCorpus {
  const tokenizer = getTokenizer();
  const ids = files.map((f) => tokenizer.encode(f.text));
  const tokens = new Uint16Array(ids.reduce((n, x) => n + x.length, 0));
  const manifestFiles: CorpusFile[] = [];
  let offset = 0;
  files.forEach((f, id) => {
    tokens.set(ids[id], offset);
    manifestFiles.push({ id, source: f.source, path: f.path, split: f.split, tokens: ids[id].length, offset, sha256: '' });
    offset += ids[id].length;
  });
  const count = (split: string) => manifestFiles.filter((f) => f.split === split).reduce((n, f) => n + f.tokens, 0);
  const manifest = { files: manifestFiles, totals: { train: { files: 0, tokens: count('train') }, heldOut: { files: 0, tokens: count('heldout') } } } as unknown as CorpusManifest;
  return { manifest, tokens, heldOutTexts: new Map() };
}
