/**
 * L1, L2, L3 and (optionally) dL3/dθ of a set of examples taken as ONE batch — token-level means
 * over all of them — computed in chunks of rows so that memory stays bounded: the LM head's
 * [tokens, vocab] tensors of a few thousand examples at once would not fit. The chunks are combined
 * exactly as one batch (objective.ts: combineLosses, microBatchWeights), so the result does not
 * depend on the chunk size beyond float rounding.
 */
import { parameterShapes } from '../engine/config';
import type { WeightSource } from '../engine/weights';
import { combineLosses, fitLengths, makeBatch, microBatchWeights, type CountedLosses, type PackedBatch, type TokenExample } from './objective';
import { LossSession, TrainingSession } from './trainingSession';

/** Tokens (rows × length) per chunk: ~0.8 GB per [tokens, 50257] float tensor of the head. */
export const DEFAULT_CHUNK_TOKENS = 4096;

export interface BatchLossOptions {
  lambda: number;
  /** Also return dL3/dθ for every parameter (full method). */
  gradients: boolean;
  device?: string;
  threads?: number;
  chunkTokens?: number;
}

export interface BatchLoss {
  losses: CountedLosses;
  /** Examples whose context was cut from the left to fit the model's positions. */
  truncated: number;
  grads?: Map<string, Float32Array>;
}

export async function batchLoss(weights: WeightSource, examples: readonly TokenExample[], opts: BatchLossOptions): Promise<BatchLoss> {
  const config = weights.config;
  if (examples.length === 0) throw new Error('batchLoss: no examples');
  const longest = Math.max(...examples.map((e) => e.contextIds.length + e.continuationIds.length));
  const seqLen = Math.max(2, Math.min(longest, config.nPositions));
  const rows = Math.min(examples.length, Math.max(1, Math.floor((opts.chunkTokens ?? DEFAULT_CHUNK_TOKENS) / seqLen)));
  const batches: PackedBatch[] = [];
  for (let i = 0; i < examples.length; i += rows) {
    const group = Array.from({ length: Math.min(rows, examples.length - i) }, (_, k) => i + k);
    batches.push(makeBatch(examples, group, { rows, seqLen }));
  }
  const truncated = examples.filter((e) => fitLengths(e, seqLen).context < e.contextIds.length).length;
  const counted = (b: PackedBatch, l: { l1: number; l2: number }) => ({ l1: l.l1, l2: l.l2, l3: 0, l1Targets: b.l1Targets, l2Targets: b.l2Targets });
  // Every parameter is a graph input of the full-method graph: read each once, here.
  const names = [...parameterShapes(config).keys()];
  const values = new Map(names.map((n) => [n, weights.tensor(n)]));
  const session = { weights, method: 'full' as const, batch: rows, seqLen, device: opts.device, threads: opts.threads };

  if (!opts.gradients) {
    const s = await LossSession.create(session);
    try {
      const parts: CountedLosses[] = [];
      for (const b of batches) parts.push(counted(b, await s.losses(b, values, opts.lambda)));
      return { losses: combineLosses(parts, opts.lambda), truncated };
    } finally {
      await s.dispose();
    }
  }

  const s = await TrainingSession.create(session);
  try {
    const shares = microBatchWeights(batches, opts.lambda);
    const parts: CountedLosses[] = [];
    let grads: Map<string, Float32Array> | undefined;
    for (const [i, b] of batches.entries()) {
      const r = await s.step(b, values, shares[i].lambda);
      parts.push(counted(b, r));
      if (batches.length === 1 && shares[i].gradScale === 1) {
        grads = r.grads;
        continue;
      }
      grads ??= new Map(names.map((n) => [n, new Float32Array(values.get(n)!.length)]));
      for (const [n, g] of r.grads) {
        const sum = grads.get(n)!;
        for (let k = 0; k < g.length; k++) sum[k] += shares[i].gradScale * g[k];
      }
    }
    return { losses: combineLosses(parts, opts.lambda), truncated, grads };
  } finally {
    await s.dispose();
  }
}
