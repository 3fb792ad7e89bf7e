/**
 * A test-only stand-in for TrainingSession: a bigram model whose parameters are a logit table
 * W [V, V] and a bias b [V] (logits after token x are W[x] + b), with exact gradients of
 * L3 = L2 + λ·L1 under the objective's masks. Deterministic, pure TypeScript, fast.
 * Also the same model as a LanguageModel, so inference-side scoring can be checked against it.
 */
import type { GPT2Config } from '../../../src/engine/config';
import type { DeviceInfo, ForwardResult, KVCache, LanguageModel } from '../../../src/engine/model';
import { Rng } from '../../../src/engine/random';
import type { Losses, TrainBatch, TrainableParam, TrainingSessionLike } from '../../../src/training/objective';

export const W = 'bigram.weight';
export const B = 'bigram.bias';

export class BigramSession implements TrainingSessionLike {
  readonly params: TrainableParam[];
  stepCalls = 0;
  lossCalls = 0;

  constructor(readonly vocab: number, readonly rows: number, readonly seqLen: number) {
    this.params = [
      { name: W, shape: [vocab, vocab] },
      { name: B, shape: [vocab] },
    ];
  }

  async step(batch: TrainBatch, values: Map<string, Float32Array>, lambda: number): Promise<Losses & { grads: Map<string, Float32Array> }> {
    this.stepCalls++;
    await new Promise<void>((resolve) => setImmediate(resolve));
    return this.compute(batch, values, lambda, true) as Losses & { grads: Map<string, Float32Array> };
  }

  async losses(batch: TrainBatch, values: Map<string, Float32Array>, lambda: number): Promise<Losses> {
    this.lossCalls++;
    const { l1, l2, l3 } = this.compute(batch, values, lambda, false);
    return { l1, l2, l3 };
  }

  compute(batch: TrainBatch, values: Map<string, Float32Array>, lambda: number, withGrads: boolean): Losses & { grads?: Map<string, Float32Array> } {
    const V = this.vocab;
    const T = batch.inputIds.length / this.rows;
    if (!Number.isInteger(T) || T > this.seqLen) throw new Error(`bigram: batch of ${batch.inputIds.length} ids does not fit ${this.rows} rows of ${this.seqLen}`);
    const w = values.get(W)!;
    const b = values.get(B)!;
    let n1 = 0;
    let n2 = 0;
    for (let i = 0; i < batch.l1Mask.length; i++) {
      n1 += batch.l1Mask[i];
      n2 += batch.l2Mask[i];
    }
    const dW = withGrads ? new Float64Array(V * V) : null;
    const dB = withGrads ? new Float64Array(V) : null;
    const logits = new Float64Array(V);
    let s1 = 0;
    let s2 = 0;
    for (let r = 0; r < this.rows; r++) {
      for (let t = 0; t < T - 1; t++) {
        const i = r * T + t;
        const m1 = batch.l1Mask[i];
        const m2 = batch.l2Mask[i];
        if (m1 === 0 && m2 === 0) continue;
        const prev = batch.inputIds[i];
        const next = batch.inputIds[i + 1];
        let max = -Infinity;
        for (let v = 0; v < V; v++) {
          logits[v] = w[prev * V + v] + b[v];
          if (logits[v] > max) max = logits[v];
        }
        let sum = 0;
        for (let v = 0; v < V; v++) sum += Math.exp(logits[v] - max);
        const lse = max + Math.log(sum);
        const nll = lse - logits[next];
        s1 += m1 * nll;
        s2 += m2 * nll;
        if (dW && dB) {
          const c = (n2 > 0 ? m2 / n2 : 0) + lambda * (n1 > 0 ? m1 / n1 : 0);
          for (let v = 0; v < V; v++) {
            const g = c * (Math.exp(logits[v] - lse) - (v === next ? 1 : 0));
            dW[prev * V + v] += g;
            dB[v] += g;
          }
        }
      }
    }
    const l1 = n1 > 0 ? s1 / n1 : 0;
    const l2 = n2 > 0 ? s2 / n2 : 0;
    const out: Losses & { grads?: Map<string, Float32Array> } = { l1, l2, l3: l2 + lambda * l1 };
    if (dW && dB) out.grads = new Map([[W, Float32Array.from(dW)], [B, Float32Array.from(dB)]]);
    return out;
  }
}

export function bigramValues(vocab: number, seed: number, scale = 0.01): Map<string, Float32Array> {
  const rng = new Rng(seed);
  const w = new Float32Array(vocab * vocab);
  for (let i = 0; i < w.length; i++) w[i] = scale * rng.normal();
  return new Map([[W, w], [B, new Float32Array(vocab)]]);
}

export function cloneValues(values: Map<string, Float32Array>): Map<string, Float32Array> {
  return new Map([...values].map(([k, v]) => [k, Float32Array.from(v)]));
}

/** A token stream from a Markov chain: next = (3·prev + 1) mod V with probability `p`, else uniform. */
export function markovTokens(vocab: number, length: number, seed: number, p = 0.85): number[] {
  const rng = new Rng(seed);
  const out = [Math.floor(rng.next() * vocab)];
  while (out.length < length) {
    const prev = out[out.length - 1];
    out.push(rng.next() < p ? (3 * prev + 1) % vocab : Math.floor(rng.next() * vocab));
  }
  return out;
}

export interface SyntheticExample {
  file: string;
  cut: number;
  context: string;
  continuation: string;
  contextIds: number[];
  continuationIds: number[];
}

/** Examples cut from a Markov stream: contexts of 1–8 tokens, continuations of 1–4. */
export function markovExamples(vocab: number, count: number, seed: number): SyntheticExample[] {
  const rng = new Rng(seed ^ 0x5bd1e995);
  const stream = markovTokens(vocab, count * 12 + 16, seed);
  const out: SyntheticExample[] = [];
  let at = 0;
  for (let i = 0; i < count; i++) {
    const c = 1 + Math.floor(rng.next() * 8);
    const y = 1 + Math.floor(rng.next() * 4);
    const contextIds = stream.slice(at, at + c);
    const continuationIds = stream.slice(at + c, at + c + y);
    out.push({ file: `f${seed}-${i % 5}.txt`, cut: at + c, context: contextIds.join(' '), continuation: continuationIds.join(' '), contextIds, continuationIds });
    at += c + y;
  }
  return out;
}

/** The bigram as an inference model: logits W[x] + b at the requested positions (no real cache). */
export class BigramModel implements LanguageModel {
  readonly precision = 'fp32' as const;
  readonly config: GPT2Config;
  readonly device: DeviceInfo = { provider: 'cpu', reason: 'bigram test model', threads: 1 };

  constructor(private readonly values: Map<string, Float32Array>, vocab: number, nPositions = 64) {
    this.config = { vocabSize: vocab, nPositions, nEmbd: 4, nLayer: 1, nHead: 1, layerNormEpsilon: 1e-5 };
  }

  async forward(tokens: number[][], _past: KVCache | null, logitPositions?: number[]): Promise<ForwardResult> {
    const V = this.config.vocabSize;
    const w = this.values.get(W)!;
    const b = this.values.get(B)!;
    const positions = logitPositions ?? [tokens[0].length - 1];
    const logits = new Float32Array(tokens.length * positions.length * V);
    tokens.forEach((row, r) => {
      positions.forEach((p, j) => {
        for (let v = 0; v < V; v++) logits[(r * positions.length + j) * V + v] = w[row[p] * V + v] + b[v];
      });
    });
    return { logits, cache: { length: tokens[0].length, batch: tokens.length } };
  }

  truncate(cache: KVCache): KVCache {
    return cache;
  }
  expand(cache: KVCache): KVCache {
    return cache;
  }
  selectRow(cache: KVCache): KVCache {
    return cache;
  }
  async dispose(): Promise<void> {}
}
