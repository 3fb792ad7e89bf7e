/**
 * The GPT-2 inference graph, built over the IR from a WeightSource.
 *
 * Inputs:  input_ids int64 [B,S], position_ids int64 [B,S], logits_index int64 [K] (positions within the
 *          S new tokens whose logits are wanted);
 *          past_key_i / past_value_i float32 [B,H,C,D] per layer: the caller's KV buffers at their whole
 *          capacity C, of which the first P positions are the past (kvBuffer.ts);
 *          attention_bias float32 [S,C+S]: row i is new token i's additive mask over the C buffer
 *          positions (0 on the P past ones, MASK on the spare capacity) then the S new tokens (0 on
 *          j <= i, MASK above),
 *          attention_split int64 [2] = [C, S] (where the past columns of a probability row end).
 * Outputs: logits [B,K,V]; new_key_i / new_value_i [B,H,S,D]: only the new tokens' K/V, which the
 *          caller writes into its buffers at position P; hidden [B,K,E]: the final LayerNorm's output
 *          at the logits_index positions (GPT-1's h_l^m, which the acceptance head reads; K·E floats,
 *          so its copy costs nothing next to the logits); log_normalizer [B,K]: ln Σ exp of each
 *          logits row, the log-softmax's normaliser (see below).
 *
 * Why (measured on the bench machine, bench/MACHINE.md): onnxruntime-node copies every output into fresh JS
 * memory (~0.6-1 ms per MB), so returning whole presents cost ~40 ms per token at context 1000, while
 * inputs built on a Float32Array are not copied. So the cache lives in JS, goes in whole and untouched,
 * and only S positions per layer come back. Nothing in the graph may copy the past either (a Concat of
 * past and new K/V costs about what the output copy did), so attention runs in two parts:
 * - scores against the past buffer and against the new keys side by side, plus one bias, under
 *   one Softmax over all C+S keys; a Split at the run-time offset C (attention_split) gives each part
 *   its probabilities, which multiply that part's values, and the two products are added. (Graph v3
 *   and before took each part's mass through a MatMul with a 0/1 selector and a second Softmax per
 *   part: five more ops per layer.)
 * - Its price is a Concat of the [S,C] and [S,S] scores and an Add: prefill runs in chunks
 *   (ortModel.ts PREFILL_CHUNK) to keep the square small.
 * - Both buffers are [B,H,C,D]: K for Q·Kᵀ with FusedMatMul transB (MLAS's unpacked M = 1 kernel at
 *   decode, the fastest form for S > 1 too), V for p·V; new rows are contiguous blocks to write. A
 *   transposed V ([B,H,D,C], Vᵀ·pᵀ) reads faster at S = 1 only when pᵀ comes without a Transpose
 *   node; with one, ORT fuses it into a transB FusedMatMul that is slower than p·V.
 * - 1/√D scales Q, and is folded into c_attn's Q columns and bias when the graph is built (MLAS's M = 1
 *   kernel needs alpha = 1, FusedMatMul with alpha took twice as long, and a Mul is one more op per
 *   layer). GPT-2's head size is 64, so the factor is 1/8 and the fold is exact in floating point;
 *   quantization is unchanged by it (per-column and per-block ranges scale with their values).
 * - Every decode step runs ~20 small ops per layer beside the four weight products, at ~5–15 µs each
 *   on this CPU (bench/RESULTS.md), so an op removed is time saved where it costs nothing else: Q, K
 *   and V heads come from one Reshape, Transpose and Split of c_attn's output (graph v4 and before:
 *   a Split, then a Reshape and a Transpose for each, four ops more), and the past and causal masks are
 *   one input added once (v4: two Adds).
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
 * - log_normalizer comes from ORT's LogSoftmax (vectorised exp): the same sum in JS took 0.4 ms per
 *   row of 50,257, while the graph's decode step of the embedded model is ~0.9 ms, and the pipeline
 *   needs one per decoded token (mixing the cache model in, log P of the token) and per scored token.
 *   Logits minus log-softmax at column 0 is the normaliser: two [B,K] Gathers, no reduction op.
 * Precision (quantize.ts): int8 and int4 graphs replace the four weight MatMuls of each block and
 * the head with DynamicQuantizeMatMul / MatMulNBits over weights quantized here, at build time; the
 * embedding lookups, LayerNorms, biases and attention stay fp32. A quantized head is its own copy
 * of wte (int8 [E,V] or int4 blocks of wte's rows, 38 / 24 MB for gpt2) beside the fp32 wte the
 * Gather reads.
 */
import type { GPT2Config } from './config';
import { headDim, parameterShapes } from './config';
import { GraphBuilder, MS_DOMAIN, attr, type Graph, type Value } from './onnx/ir';
import {
  INT4_ACCURACY_LEVEL, INT4_BLOCK_SIZE, quantizeInt4, quantizeInt8, type Int4Matrix, type Int8Matrix, type MatrixLayout, type Precision,
} from './quantize';
import type { WeightSource } from './weights';

/** Bump whenever the graph built here changes: cached compiled graphs are keyed by it. */
export const GPT2_GRAPH_VERSION = 7;

export const pastKeyName = (layer: number) => `past_key_${layer}`;
export const pastValueName = (layer: number) => `past_value_${layer}`;
export const newKeyName = (layer: number) => `new_key_${layer}`;
export const newValueName = (layer: number) => `new_value_${layer}`;
export const ATTENTION_BIAS = 'attention_bias';
export const ATTENTION_SPLIT = 'attention_split';
/** The final LayerNorm's output at the logits_index positions (graph v6 on). */
export const HIDDEN_OUTPUT = 'hidden';
/** ln Σ exp of each logits row (graph v7 on). */
export const LOG_NORMALIZER_OUTPUT = 'log_normalizer';
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
  /** Weights of the block MatMuls and the head (default fp32). */
  precision?: Precision;
  /** int8/int4: whether the head is quantized too (default DEFAULT_QUANTIZE_HEAD). */
  quantizeHead?: boolean;
  /** int4: MatMulNBits accuracy_level (default INT4_ACCURACY_LEVEL; 0 computes in fp32, for tests). */
  int4AccuracyLevel?: number;
  /** int4: MatMulNBits block along K (default INT4_BLOCK_SIZE). */
  int4BlockSize?: number;
}

/**
 * Measured (bench/RESULTS.md, "Precision", the embedded model on held-out Python): quantizing the head
 * costs nothing measurable at int8 (+0.00001 nats/token either way) and +0.0004 nats/token (0.013%)
 * at int4, while the head is 31% of gpt2's weights and the largest single read per token. So it is
 * quantized with the rest.
 */
export const DEFAULT_QUANTIZE_HEAD = true;

/**
 * The graph cache's precision field for these options: the precision, plus a suffix for each
 * non-default variant, so that every distinct graph has its own entry.
 */
export function graphVariantName(opts: Gpt2GraphOptions = {}): string {
  const precision = opts.precision ?? 'fp32';
  let name: string = precision;
  if (precision !== 'fp32' && (opts.quantizeHead ?? DEFAULT_QUANTIZE_HEAD) !== DEFAULT_QUANTIZE_HEAD) {
    name += opts.quantizeHead ? '_qhead' : '_fp32head';
  }
  if (precision === 'int4' && (opts.int4AccuracyLevel ?? INT4_ACCURACY_LEVEL) !== INT4_ACCURACY_LEVEL) name += `_acc${opts.int4AccuracyLevel}`;
  if (precision === 'int4' && (opts.int4BlockSize ?? INT4_BLOCK_SIZE) !== INT4_BLOCK_SIZE) name += `_b${opts.int4BlockSize}`;
  const head = opts.head ?? DEFAULT_HEAD_LAYOUT;
  return head === DEFAULT_HEAD_LAYOUT ? name : `${name}_${head}`;
}

export function buildGpt2Graph(weights: WeightSource, opts: Gpt2GraphOptions = {}): Graph {
  const c: GPT2Config = weights.config;
  const E = c.nEmbd, H = c.nHead, D = headDim(c), V = c.vocabSize;
  const eps = c.layerNormEpsilon;
  const head = opts.head ?? DEFAULT_HEAD_LAYOUT;
  const precision = opts.precision ?? 'fp32';
  const int4Block = opts.int4BlockSize ?? INT4_BLOCK_SIZE;
  const g = new GraphBuilder('gpt2');
  const shapes = parameterShapes(c);
  const qScale = 1 / Math.sqrt(D);
  /** A parameter as the graph uses it: c_attn's Q columns and bias pre-multiplied by 1/√D. */
  const tensor = (name: string): Float32Array => {
    const t = weights.tensor(name);
    return /\.attn\.c_attn\.(weight|bias)$/.test(name) ? scaleColumns(t, 3 * E, 0, E, qScale) : t;
  };
  const w = (name: string): Value => {
    const shape = shapes.get(name);
    if (!shape) throw new Error(`no GPT-2 parameter ${name}`);
    return g.initializer(name, 'float32', shape, () => tensor(name));
  };

  const inputIds = g.input('input_ids', 'int64', ['batch', 'sequence']);
  const positionIds = g.input('position_ids', 'int64', ['batch', 'sequence']);
  const logitsIndex = g.input('logits_index', 'int64', ['logit_positions']);
  const attentionBias = g.input(ATTENTION_BIAS, 'float32', ['sequence', 'attention_columns']);
  const split = g.input(ATTENTION_SPLIT, 'int64', [2]);
  const pasts = Array.from({ length: c.nLayer }, (_, i) => ({
    key: g.input(pastKeyName(i), 'float32', ['batch', H, 'past_capacity', D]),
    value: g.input(pastValueName(i), 'float32', ['batch', H, 'past_capacity', D]),
  }));
  const quantized = (x: Value, name: string, K: number, N: number, layout: MatrixLayout): Value =>
    precision === 'int8' ? int8MatMul(g, x, name, K, N, () => quantizeInt8(tensor(name), K, N, layout))
      : int4MatMul(g, x, name, K, N, opts.int4AccuracyLevel ?? INT4_ACCURACY_LEVEL, int4Block,
        () => quantizeInt4(tensor(name), K, N, layout, int4Block));
  /** x · W (+ bias) for a Conv1D weight [K,N] at the graph's precision. */
  const linear = (x: Value, name: string, biasName?: string): Value => {
    if (precision === 'fp32') {
      const y = g.matMul(x, w(name));
      return biasName === undefined ? y : g.add(y, w(biasName));
    }
    const [K, N] = shapes.get(name)!;
    // Not the products' own bias input: with it, DynamicQuantizeMatMul took 18 instead of 15.5 ms per
    // gpt2 token (1 thread) and MatMulNBits 3% longer, more than the Add it saves.
    const y = quantized(x, name, K, N, 'KN');
    return biasName === undefined ? y : g.add(y, w(biasName));
  };
  const matMulT = (a: Value, b: Value): Value => g.node('FusedMatMul', [a, b], { transB: attr.int(1) }, { domain: MS_DOMAIN })[0];

  const wte = w('wte.weight');
  const tokens = g.gather(wte, inputIds, 0);
  const positions = g.gather(w('wpe.weight'), positionIds, 0);

  // Each block's ln_1 is the SkipLayerNorm that closes the previous block's residual add (the first
  // adds the embeddings); `residual` carries x, `normed` the LayerNorm input of the next sublayer.
  let { normed, sum: residual } = g.skipLayerNorm(tokens, positions, w('h.0.ln_1.weight'), w('h.0.ln_1.bias'), null, eps);
  for (let i = 0; i < c.nLayer; i++) {
    const p = `h.${i}.`;
    const qkv = linear(normed, p + 'attn.c_attn.weight', p + 'attn.c_attn.bias');
    // [B,S,3E] -> [B,S,3H,D] -> [B,3H,S,D], cut into Q, K and V heads [B,H,S,D] (Q already scaled by 1/√D).
    const [qh, kNew, vNew] = g.split(g.transpose(g.reshape(qkv, [0, 0, 3 * H, D]), [0, 2, 1, 3]), [H, H, H], 1);
    // The new rows of the [B,H,C,D] key and value buffers.
    const kh = g.output(kNew, newKeyName(i));
    const vh = g.output(vNew, newValueName(i));
    // Scores against the past buffer [B,H,S,C] and the new keys [B,H,S,S] side by side, one bias for
    // both, one softmax over all C+S columns, cut back into the past's C and the new tokens' S.
    const scores = g.add(g.concat([matMulT(qh, pasts[i].key), matMulT(qh, kh)], 3), attentionBias);
    const [pPast, pOwn] = g.splitAt(g.softmax(scores), split, 3);
    const attn = g.add(g.matMul(pPast, pasts[i].value), g.matMul(pOwn, vh)); // [B,H,S,D]
    const merged = g.reshape(g.transpose(attn, [0, 2, 1, 3]), [0, 0, E]); // [B,S,E]
    const proj = linear(merged, p + 'attn.c_proj.weight');
    ({ normed, sum: residual } = g.skipLayerNorm(proj, residual, w(p + 'ln_2.weight'), w(p + 'ln_2.bias'), w(p + 'attn.c_proj.bias'), eps));
    const last = i === c.nLayer - 1;
    if (last) {
      normed = g.gather(normed, logitsIndex, 1);
      residual = g.gather(residual, logitsIndex, 1);
    }
    const fc = g.fastGelu(linear(normed, p + 'mlp.c_fc.weight'), w(p + 'mlp.c_fc.bias'));
    const mlp = linear(fc, p + 'mlp.c_proj.weight');
    const lnW = last ? w('ln_f.weight') : w(`h.${i + 1}.ln_1.weight`);
    const lnB = last ? w('ln_f.bias') : w(`h.${i + 1}.ln_1.bias`);
    ({ normed, sum: residual } = g.skipLayerNorm(mlp, residual, lnW, lnB, w(p + 'mlp.c_proj.bias'), eps));
  }

  normed = g.output(normed, HIDDEN_OUTPUT);
  let logits: Value;
  if (precision !== 'fp32' && (opts.quantizeHead ?? DEFAULT_QUANTIZE_HEAD)) {
    // wte [V,E] is the head's B in the NK layout: logits = normed · wteᵀ.
    logits = quantized(normed, 'wte.weight', E, V, 'NK');
  } else if (head === 'transB') {
    logits = g.node('FusedMatMul', [normed, wte], { transB: attr.int(1), alpha: attr.float(1) }, { domain: MS_DOMAIN })[0];
  } else {
    const wteT = g.initializer('wte.weight.T', 'float32', [E, V], () => transpose2d(weights.tensor('wte.weight'), V, E));
    logits = g.matMul(normed, wteT);
  }
  logits = g.output(logits, 'logits');
  const column0 = (x: Value) => g.gather(x, g.constInt64([0], [], 'column'), 2);
  const logSoftmax = g.node('LogSoftmax', [logits], { axis: attr.int(-1) })[0];
  g.output(g.node('Sub', [column0(logits), column0(logSoftmax)])[0], LOG_NORMALIZER_OUTPUT);
  return g.build();
}

/**
 * Parts of one quantized weight, each an initializer read lazily: the quantizer runs once, when the
 * writer reads the first part, and its result is dropped after the last is read (the writer streams
 * initializers one at a time; a gpt2 head in int8 alone is 38 MB).
 */
function lazyParts<T extends object>(make: () => T, parts: number): () => T {
  let held: T | undefined;
  let reads = 0;
  return () => {
    const value = held ?? make();
    reads++;
    held = reads % parts === 0 ? undefined : value;
    return value;
  };
}

/** DynamicQuantizeMatMul: x [..., K] · int8 B [K,N] with per-column scales. */
function int8MatMul(g: GraphBuilder, x: Value, name: string, K: number, N: number, make: () => Int8Matrix): Value {
  const q = lazyParts(make, 2);
  const b = g.initializer(`${name}.int8`, 'int8', [K, N], () => q().data);
  const scale = g.initializer(`${name}.int8_scale`, 'float32', [N], () => q().scales);
  return g.node('DynamicQuantizeMatMul', [x, b, scale], {}, { domain: MS_DOMAIN })[0];
}

/** MatMulNBits (4 bits): x [..., K] · blockwise-quantized B. */
function int4MatMul(g: GraphBuilder, x: Value, name: string, K: number, N: number, accuracyLevel: number, blockSize: number, make: () => Int4Matrix): Value {
  const q = lazyParts(make, 3);
  const nBlocks = Math.ceil(K / blockSize);
  const b = g.initializer(`${name}.int4`, 'uint8', [N, nBlocks, blockSize / 2], () => q().data);
  const scales = g.initializer(`${name}.int4_scale`, 'float32', [N * nBlocks], () => q().scales);
  const zp = g.initializer(`${name}.int4_zero_point`, 'uint8', [N * Math.ceil(nBlocks / 2)], () => q().zeroPoints);
  return g.node('MatMulNBits', [x, b, scales, zp], {
    K: attr.int(K), N: attr.int(N), bits: attr.int(4), block_size: attr.int(blockSize), accuracy_level: attr.int(accuracyLevel),
  }, { domain: MS_DOMAIN })[0];
}

/** A copy of row-major [rows, cols] (or a vector of cols) with columns [from, to) multiplied by `factor`. */
function scaleColumns(a: Float32Array, cols: number, from: number, to: number, factor: number): Float32Array {
  const out = a.slice();
  for (let r = 0; r < out.length; r += cols) for (let j = from; j < to; j++) out[r + j] *= factor;
  return out;
}

function transpose2d(a: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(a.length);
  for (let r = 0; r < rows; r++) for (let j = 0; j < cols; j++) out[j * rows + r] = a[r * cols + j];
  return out;
}
