/**
 * The GPT-2 inference graph, built over the IR from a WeightSource.
 *
 * Inputs:  input_ids int64 [B,S], position_ids int64 [B,S], logits_index int64 [K] (positions within the
 *          S new tokens whose logits are wanted);
 *          past_key_i / past_value_i float32 [B,H,C,D] per layer: the caller's KV buffers at their whole
 *          capacity C, of which the first P positions are the past (kvBuffer.ts);
 *          past_bias float32 [1,C] (0 on the P past positions, MASK on the spare capacity),
 *          causal_bias float32 [S,S] (0 where new token i may see new token j <= i, MASK above),
 *          part_selector float32 [C+S,2] (column 0: 1 on the C past rows; column 1: 1 on the S new ones).
 * Outputs: logits [B,K,V]; new_key_i / new_value_i [B,H,S,D]: only the new tokens' K/V, which the
 *          caller writes into its buffers at position P.
 *
 * Why (measured on the bench machine, PERF.md): onnxruntime-node copies every output into fresh JS
 * memory (~0.6-1 ms per MB), so returning whole presents cost ~40 ms per token at context 1000, while
 * inputs built on a Float32Array are not copied. So the cache lives in JS, goes in whole and untouched,
 * and only S positions per layer come back. Nothing in the graph may copy the past either (a Concat of
 * past and new K/V costs about what the output copy did), so attention runs in two parts:
 * - scores against the past buffer and against the new keys, each plus its bias; one Softmax over both
 *   side by side gives each part's share of the probability mass (a MatMul with the selector); each
 *   part is then normalised on its own, multiplied with its values, and the two are mixed by their
 *   masses. That is softmax over all C+S keys exactly, without slicing at a run-time offset (the op
 *   table's Split needs constant sizes; ReduceMax/Exp/Log are not in its shape-checked set).
 * - Its price is one more Softmax, a Concat and an Add over the new tokens' [S,S] scores: prefill
 *   runs in chunks (ortModel.ts PREFILL_CHUNK) to keep that square small.
 * - Both buffers are [B,H,C,D]: K for Q·Kᵀ with FusedMatMul transB (MLAS's unpacked M = 1 kernel at
 *   decode, the fastest form for S > 1 too), V for p·V; new rows are contiguous blocks to write. A
 *   transposed V ([B,H,D,C], Vᵀ·pᵀ) reads faster at S = 1 only when pᵀ comes without a Transpose
 *   node; with one, ORT fuses it into a transB FusedMatMul that is slower than p·V.
 * - 1/√D scales Q before the score MatMuls: MLAS's M = 1 kernel needs alpha = 1, and FusedMatMul with
 *   alpha took twice as long.
 * - MASK is finite (-1e30): a row whose every past column is masked (P = 0) still has a finite
 *   per-part softmax, and its mass is exactly 0.
 * Elsewhere:
 * - SkipLayerNormalization fuses residual add + bias + LayerNorm and returns the residual sum as its 4th
 *   output, so every bias of the block is folded into an op that runs anyway.
 * - FastGelu is gelu_new (the tanh approximation), with the c_fc bias fused.
 * - The last block's MLP and the head run only on the logits_index rows: nothing after the last
 *   attention mixes positions, so the other rows are dead work (the head is the costliest matmul).
 * - The head is tied to wte and reads it in place (FusedMatMul with transB): measured as fast as a
 *   stored transposed copy (decode 48.4 vs 48.3 ms/token, 1 thread), which would add 154 MB to the file.
 */
import type { GPT2Config } from './config';
import { headDim, parameterShapes } from './config';
import { GraphBuilder, MS_DOMAIN, attr, type Graph, type Value } from './onnx/ir';
import type { WeightSource } from './weights';

/** Bump whenever the graph built here changes: cached compiled graphs are keyed by it. */
export const GPT2_GRAPH_VERSION = 2;

export const pastKeyName = (layer: number) => `past_key_${layer}`;
export const pastValueName = (layer: number) => `past_value_${layer}`;
export const newKeyName = (layer: number) => `new_key_${layer}`;
export const newValueName = (layer: number) => `new_value_${layer}`;
export const PAST_BIAS = 'past_bias';
export const CAUSAL_BIAS = 'causal_bias';
export const PART_SELECTOR = 'part_selector';
/** The additive mask of the bias inputs: finite, so that a row masked everywhere stays finite. */
export const MASK = -1e30;

/**
 * How the tied output head reads wte:
 * - 'transB' (default): one [V,E] initializer used by the embedding Gather and by a MatMul with
 *   transB (com.microsoft FusedMatMul);
 * - 'transposedCopy': Gather reads wte [V,E], the head a second, transposed [E,V] initializer
 *   (kept to measure against).
 */
export type HeadLayout = 'transB' | 'transposedCopy';
export const DEFAULT_HEAD_LAYOUT: HeadLayout = 'transB';

export interface Gpt2GraphOptions {
  head?: HeadLayout;
}

export function buildGpt2Graph(weights: WeightSource, opts: Gpt2GraphOptions = {}): Graph {
  const c: GPT2Config = weights.config;
  const E = c.nEmbd, H = c.nHead, D = headDim(c), V = c.vocabSize;
  const eps = c.layerNormEpsilon;
  const head = opts.head ?? DEFAULT_HEAD_LAYOUT;
  const g = new GraphBuilder('gpt2');
  const shapes = parameterShapes(c);
  const w = (name: string): Value => {
    const shape = shapes.get(name);
    if (!shape) throw new Error(`no GPT-2 parameter ${name}`);
    return g.initializer(name, 'float32', shape, () => weights.tensor(name));
  };

  const inputIds = g.input('input_ids', 'int64', ['batch', 'sequence']);
  const positionIds = g.input('position_ids', 'int64', ['batch', 'sequence']);
  const logitsIndex = g.input('logits_index', 'int64', ['logit_positions']);
  const pastBias = g.input(PAST_BIAS, 'float32', [1, 'past_capacity']);
  const causalBias = g.input(CAUSAL_BIAS, 'float32', ['sequence', 'sequence']);
  const selector = g.input(PART_SELECTOR, 'float32', ['past_capacity+sequence', 2]);
  const pasts = Array.from({ length: c.nLayer }, (_, i) => ({
    key: g.input(pastKeyName(i), 'float32', ['batch', H, 'past_capacity', D]),
    value: g.input(pastValueName(i), 'float32', ['batch', H, 'past_capacity', D]),
  }));
  const scale = g.constFloat([1 / Math.sqrt(D)], [1], 'scale');
  const matMulT = (a: Value, b: Value): Value => g.node('FusedMatMul', [a, b], { transB: attr.int(1) }, { domain: MS_DOMAIN })[0];
  /** [B,S,E] -> [B,S,H,D] -> permuted. */
  const heads = (x: Value, perm: readonly number[]): Value => g.transpose(g.reshape(x, [0, 0, H, D]), perm);

  const wte = w('wte.weight');
  const tokens = g.gather(wte, inputIds, 0);
  const positions = g.gather(w('wpe.weight'), positionIds, 0);

  // Each block's ln_1 is the SkipLayerNorm that closes the previous block's residual add (the first
  // adds the embeddings); `residual` carries x, `normed` the LayerNorm input of the next sublayer.
  let { normed, sum: residual } = g.skipLayerNorm(tokens, positions, w('h.0.ln_1.weight'), w('h.0.ln_1.bias'), null, eps);
  for (let i = 0; i < c.nLayer; i++) {
    const p = `h.${i}.`;
    const qkv = g.add(g.matMul(normed, w(p + 'attn.c_attn.weight')), w(p + 'attn.c_attn.bias'));
    const [q, k, v] = g.split(qkv, [E, E, E], 2);
    const qh = heads(g.mul(q, scale), [0, 2, 1, 3]); // [B,H,S,D]
    // The new rows of the [B,H,C,D] key and value buffers.
    const kh = g.output(heads(k, [0, 2, 1, 3]), newKeyName(i)); // [B,H,S,D]
    const vh = g.output(heads(v, [0, 2, 1, 3]), newValueName(i)); // [B,H,S,D]
    const past = g.add(matMulT(qh, pasts[i].key), pastBias); // [B,H,S,C]
    const own = g.add(matMulT(qh, kh), causalBias); // [B,H,S,S]
    // Masses of the two parts under one softmax over all C+S columns: [B,H,S,2] -> two [B,H,S,1].
    const [pastMass, ownMass] = g.split(g.matMul(g.softmax(g.concat([past, own], 3)), selector), [1, 1], 3);
    const fromPast = g.matMul(g.softmax(past), pasts[i].value); // [B,H,S,D]
    const fromOwn = g.matMul(g.softmax(own), vh);
    const attn = g.add(g.mul(fromPast, pastMass), g.mul(fromOwn, ownMass)); // [B,H,S,D]
    const merged = g.reshape(g.transpose(attn, [0, 2, 1, 3]), [0, 0, E]); // [B,S,E]
    const proj = g.matMul(merged, w(p + 'attn.c_proj.weight'));
    ({ normed, sum: residual } = g.skipLayerNorm(proj, residual, w(p + 'ln_2.weight'), w(p + 'ln_2.bias'), w(p + 'attn.c_proj.bias'), eps));
    const last = i === c.nLayer - 1;
    if (last) {
      normed = g.gather(normed, logitsIndex, 1);
      residual = g.gather(residual, logitsIndex, 1);
    }
    const fc = g.fastGelu(g.matMul(normed, w(p + 'mlp.c_fc.weight')), w(p + 'mlp.c_fc.bias'));
    const mlp = g.matMul(fc, w(p + 'mlp.c_proj.weight'));
    const lnW = last ? w('ln_f.weight') : w(`h.${i + 1}.ln_1.weight`);
    const lnB = last ? w('ln_f.bias') : w(`h.${i + 1}.ln_1.bias`);
    ({ normed, sum: residual } = g.skipLayerNorm(mlp, residual, lnW, lnB, w(p + 'mlp.c_proj.bias'), eps));
  }

  let logits: Value;
  if (head === 'transB') {
    logits = g.node('FusedMatMul', [normed, wte], { transB: attr.int(1), alpha: attr.float(1) }, { domain: MS_DOMAIN })[0];
  } else {
    const wteT = g.initializer('wte.weight.T', 'float32', [E, V], () => transpose2d(weights.tensor('wte.weight'), V, E));
    logits = g.matMul(normed, wteT);
  }
  g.output(logits, 'logits');
  return g.build();
}

function transpose2d(a: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(a.length);
  for (let r = 0; r < rows; r++) for (let j = 0; j < cols; j++) out[j * rows + r] = a[r * cols + j];
  return out;
}
