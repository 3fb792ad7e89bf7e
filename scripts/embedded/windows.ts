/**
 * The corpus as training data for plain language modelling, in the trainer's (context →
 * continuation) examples, and the held-out cut points for next-line exact match.
 *
 * Language modelling with the trainer as it is: each example is a window of T tokens given as a
 * one-token context and a T − 1 token continuation. Every position then predicts its next token
 * under L2 (the trainer's main loss, the one it evaluates and early-stops on) and L1 has no targets
 * (objective.ts: a one-token context gives L1 = 0), so λ plays no part.
 *
 * Windows are cut from one stream of the split's files, each file preceded by <|endoftext|>, as
 * GPT-2 was trained: no padding is wasted on short files, and a window may start mid-file, as a
 * completion prompt does. (Fine-tuning keeps one example per row because its examples are separate
 * (x, y) pairs; here the stream is one text and EOT is the document boundary the model learns.)
 */
import { Rng } from '../../src/engine/random';
import { EOT, getTokenizer } from '../../src/engine/tokenizer';
import { FileText, examplesWanted, mineFileExamples, type Example } from '../../src/training/data/examples';
import { hashToUnit } from '../../src/training/data/seededHash';
import { exampleSeed } from '../../src/training/data/split';
import { evalCases, EXACT_MATCH_MAX_TOKENS } from '../../src/training/evaluate';
import type { TokenExample } from '../../src/training/objective';
import { fileTokens, type CorpusFile, type LoadedCorpus } from './corpus';

/** The split's files as the model reads them: EOT, then the file's tokens. */
export function* fileStreams(corpus: LoadedCorpus, split: CorpusFile['split']): Generator<Uint16Array> {
  for (const f of corpus.manifest.files) {
    if (f.split !== split) continue;
    const s = new Uint16Array(f.tokens + 1);
    s[0] = EOT;
    s.set(fileTokens(corpus, f), 1);
    yield s;
  }
}

/** Non-overlapping windows of `seqLen` tokens over the split's stream; a last partial window is dropped. */
export function lmWindows(corpus: LoadedCorpus, split: CorpusFile['split'], seqLen: number): TokenExample[] {
  const out: TokenExample[] = [];
  let buf: number[] = [];
  for (const s of fileStreams(corpus, split)) {
    for (let i = 0; i < s.length; i++) {
      buf.push(s[i]);
      if (buf.length === seqLen) {
        out.push({ contextIds: [buf[0]], continuationIds: buf.slice(1) });
        buf = [];
      }
    }
  }
  return out;
}

/** `count` windows chosen by hash of (seed, index), in index order: a fixed evaluation set. */
export function sampleWindows(windows: readonly TokenExample[], count: number, seed: number): TokenExample[] {
  return windows
    .map((w, i) => ({ w, i, k: hashToUnit(seed, 'eval-window', i) }))
    .sort((a, b) => a.k - b.k || a.i - b.i)
    .slice(0, count)
    .sort((a, b) => a.i - b.i)
    .map((x) => x.w);
}

/**
 * Next-line exact-match cases: cut points mined from the held-out files exactly as fine-tuning
 * mines them (examples.ts, with the evaluation-cuts seed of split.ts), with as much context as
 * leaves room for the completion in the model's window, then evalCases' fixed hash-chosen subset.
 */
export function exactMatchCases(corpus: LoadedCorpus, nPositions: number, max: number, seed: number): Example[] {
  const tokenizer = getTokenizer();
  const contextTokens = nPositions - EXACT_MATCH_MAX_TOKENS;
  const all: Example[] = [];
  for (const f of corpus.manifest.files) {
    if (f.split !== 'heldout') continue;
    const text = corpus.heldOutTexts.get(f.id);
    if (text === undefined) throw new Error(`corpus: no held-out text for file ${f.id} (${f.source}:${f.path})`);
    const name = `${f.source}:${f.path}`;
    const rng = new Rng(exampleSeed(seed, 'heldout', name));
    all.push(...mineFileExamples(name, new FileText(text, tokenizer), examplesWanted(f.tokens, { contextTokens }), rng, { contextTokens }));
  }
  return evalCases(all, { max, seed });
}
