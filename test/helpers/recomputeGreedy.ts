import type { LanguageModel } from '../../src/engine/model';
import { argmax } from '../../src/engine/sampling';

/** Greedy decoding by recomputing the whole sequence for every token: no cache at all (the reference for KV-cache tests). */
export async function recomputeGreedy(model: LanguageModel, tokens: number[], count: number): Promise<number[]> {
  const seq = tokens.slice();
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    const { logits } = await model.forward([seq], null);
    const t = argmax(logits);
    out.push(t);
    seq.push(t);
  }
  return out;
}
