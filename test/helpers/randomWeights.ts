/**
 * Random GPT-2 weights for graph-vs-reference tests: src/engine/randomCheckpoint's seeded weights
 * with noisy biases and layer norms, and embeddings and Q/K/V projections scaled up. GPT-2's own init
 * (std 0.02) makes attention nearly uniform and logits tiny, which would let a wrong mask or a dropped
 * bias slip under a 1e-4 tolerance; these weights make every part of the block change the logits.
 */
import { parameterShapes, type GPT2Config } from '../../src/engine/config';
import { randomWeights } from '../../src/engine/randomCheckpoint';
import { InMemoryWeights } from '../../src/engine/weights';

const SCALE: Record<string, number> = { 'wte.weight': 20, 'wpe.weight': 20, 'attn.c_attn.weight': 10, 'mlp.c_fc.weight': 5 };

export function testWeights(config: GPT2Config, seed: number): InMemoryWeights {
  const base = randomWeights(config, seed, { biasStd: 0.1, lnStd: 0.2 });
  const m = new Map<string, Float32Array>();
  for (const name of parameterShapes(config).keys()) {
    const key = Object.keys(SCALE).find((k) => name === k || name.endsWith('.' + k));
    const t = Float32Array.from(base.tensor(name));
    if (key) for (let i = 0; i < t.length; i++) t[i] *= SCALE[key];
    m.set(name, t);
  }
  return new InMemoryWeights(config, m);
}

/** A small config: every part of the graph, fast enough to check against the plain reference. */
export const SMALL_CONFIG: GPT2Config = { vocabSize: 512, nPositions: 64, nEmbd: 48, nLayer: 2, nHead: 4, layerNormEpsilon: 1e-5 };
