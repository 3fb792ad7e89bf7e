/**
 * The checkpoint's vocabulary against the GPT-2 tokenizer's, where the two meet (loading a model to
 * complete or score text). Ids 0..50256 are all the tokenizer makes. A larger vocabulary is the
 * common padding to a multiple of 64 (50304, nanoGPT and others): the extra rows are never looked
 * up and their logits could only yield ids the tokenizer cannot decode, so they are cut off here and
 * the model runs as a 50257-token one. A smaller one belongs to another tokenizer and is refused.
 */
import type { GPT2Config } from './config';
import { UserError } from './errors';
import { EOT } from './tokenizer';
import type { WeightSource } from './weights';

export const TOKENIZER_VOCAB_SIZE = EOT + 1;

export function fitVocabularyToTokenizer(weights: WeightSource, source: string): WeightSource {
  const V = weights.config.vocabSize;
  if (V === TOKENIZER_VOCAB_SIZE) return weights;
  if (V < TOKENIZER_VOCAB_SIZE) {
    throw new UserError(
      `${source}: vocab_size is ${V}, but the GPT-2 tokenizer has ${TOKENIZER_VOCAB_SIZE} tokens; this checkpoint was trained with another tokenizer and cannot be used here`,
    );
  }
  return new TrimmedVocabulary(weights);
}

/** The first 50257 rows of the token embedding (and so of the tied output head). */
class TrimmedVocabulary implements WeightSource {
  readonly config: GPT2Config;

  constructor(private readonly inner: WeightSource) {
    this.config = { ...inner.config, vocabSize: TOKENIZER_VOCAB_SIZE };
  }

  tensor(name: string): Float32Array {
    const t = this.inner.tensor(name);
    return name === 'wte.weight' ? t.subarray(0, TOKENIZER_VOCAB_SIZE * this.config.nEmbd) : t;
  }
}
