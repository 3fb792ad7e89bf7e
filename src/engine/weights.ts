import type { GPT2Config } from './config';

/**
 * Where a model's parameters come from: a checkpoint on disk, or memory (tests, training).
 * `tensor` returns fp32 data for a canonical name of `parameterShapes(config)`; a checkpoint
 * reads it from disk on each call, so callers that stream (the graph writer) hold one at a time.
 */
export interface WeightSource {
  readonly config: GPT2Config;
  tensor(name: string): Float32Array;
}

/** A WeightSource over tensors already in memory. */
export class InMemoryWeights implements WeightSource {
  constructor(readonly config: GPT2Config, private readonly tensors: Map<string, Float32Array>) {}
  tensor(name: string): Float32Array {
    const t = this.tensors.get(name);
    if (!t) throw new Error(`no tensor ${name}`);
    return t;
  }
}
