/**
 * LoRA dropout as PEFT applies it: lora_B(lora_A(dropout(x))) · scaling, the base path untouched,
 * training only. The training graph takes one mask per adapted layer as an input (0 or 1/(1 − p)
 * per element of the layer's input rows), drawn here in JS from the step's seed: onnxruntime's
 * Dropout seeds once per session, so its masks would depend on how many steps the session has run
 * and a resumed run would draw different ones. Masks are a pure function of (seed, layer).
 */
import { hashToUint32 } from './data/seededHash';

/** The graph input holding the dropout mask of a Conv1D (`h.3.mlp.c_fc`). */
export const dropoutMaskName = (conv: string): string => `lora_dropout.${conv}`;

/**
 * Fills `out` with inverted-dropout factors: 0 with probability p, else 1/(1 − p), from a
 * xorshift32 stream seeded by hash(seed, stream). The same arguments give the same mask on every
 * platform (integer arithmetic only). No allocation: `out` is reused step after step.
 */
export function fillDropoutMask(out: Float32Array, p: number, seed: number, stream: string): void {
  if (!(p >= 0 && p < 1)) throw new Error(`dropout probability ${p} must be in [0, 1)`);
  const keep = 1 / (1 - p);
  // Keep iff a uniform uint32 ≥ p·2³²: the drop probability is p to within 2⁻³².
  const threshold = Math.floor(p * 4294967296);
  let x = hashToUint32('lora-dropout', seed, stream) || 0x9e3779b9; // xorshift32 must not start at 0
  for (let i = 0; i < out.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x >>> 0 < threshold ? 0 : keep;
  }
}
