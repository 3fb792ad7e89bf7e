/**
 * The GPT-2 inference graph, built over the IR from a WeightSource.
 *
 * Inputs:  input_ids int64 [B,S], position_ids int64 [B,S], logits_index int64 [K] (positions within the
 *          S new tokens whose logits are wanted), past_key_i / past_value_i float32 [B,H,P,D] per layer.
 * Outputs: logits [B,K,V], present_key_i / present_value_i [B,H,P+S,D].
 *
 * Op choices (ORT 1.30 CPU):
 * - Attention is com.microsoft MultiHeadAttention with unidirectional=1 and past_key/past_value in BNSH.
 *   Its causal mask is offset by the past length (query j of S sees keys 0..P+j), it accepts P = 0, and
 *   it adds the c_attn bias to Q, K and V itself; checked against a plain reference for P = 0 and P > 0
 *   with S > 1. com.microsoft Attention would also take GPT-2's merged [E,3E] weight, but it wants one
 *   stacked past [2,B,H,P,D], so separate per-layer K/V would cost a Concat in and a Split out on every
 *   step; MHA reads and writes them directly.
 * - SkipLayerNormalization fuses residual add + bias + LayerNorm and returns the residual sum as its 4th
 *   output, so every bias of the block is folded into an op that runs anyway.
 * - FastGelu is gelu_new (the tanh approximation), with the c_fc bias fused.
 * - The last block's MLP and the head run only on the logits_index rows: nothing after the last
 *   attention mixes positions, so the other rows are dead work (the head is the costliest matmul).
 * - The head is tied to wte and reads it in place (FusedMatMul with transB): measured as fast as a
 *   stored transposed copy (decode 48.4 vs 48.3 ms/token, 1 thread), which would add 154 MB to the file.
 *
 * Known cost: MHA writes every present in full on every step, and onnxruntime-node 1.30 returns each
 * output as a copy in fresh JS memory (a pre-allocated output too: the tensor handed back does not
 * alias it), so a decode step's overhead grows with the context, ~0.6 ms per MB of KV on the bench
 * machine (gpt2-small at context 1000 holds 74 MB). A GroupQueryAttention buffer shared between past
 * and present is still an output, so it pays the same copy, at full capacity.
 */
import type { GPT2Config } from './config';
import { headDim, parameterShapes } from './config';
import { GraphBuilder, MS_DOMAIN, attr, type Graph, type Value } from './onnx/ir';
import type { WeightSource } from './weights';

/** Bump whenever the graph built here changes: cached compiled graphs are keyed by it. */
export const GPT2_GRAPH_VERSION = 1;

export const pastKeyName = (layer: number) => `past_key_${layer}`;
export const pastValueName = (layer: number) => `past_value_${layer}`;
export const presentKeyName = (layer: number) => `present_key_${layer}`;
export const presentValueName = (layer: number) => `present_value_${layer}`;

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
  const pasts = Array.from({ length: c.nLayer }, (_, i) => ({
    key: g.input(pastKeyName(i), 'float32', ['batch', H, 'past_sequence', D]),
    value: g.input(pastValueName(i), 'float32', ['batch', H, 'past_sequence', D]),
  }));

  const wte = w('wte.weight');
  const tokens = g.gather(wte, inputIds, 0);
  const positions = g.gather(w('wpe.weight'), positionIds, 0);

  // Each block's ln_1 is the SkipLayerNorm that closes the previous block's residual add (the first
  // adds the embeddings); `residual` carries x, `normed` the LayerNorm input of the next sublayer.
  let { normed, sum: residual } = g.skipLayerNorm(tokens, positions, w('h.0.ln_1.weight'), w('h.0.ln_1.bias'), null, eps);
  for (let i = 0; i < c.nLayer; i++) {
    const p = `h.${i}.`;
    const qkv = g.matMul(normed, w(p + 'attn.c_attn.weight'));
    const [q, k, v] = g.split(qkv, [E, E, E], 2);
    const att = g.multiHeadAttention(q, k, v, {
      numHeads: H, bias: w(p + 'attn.c_attn.bias'), pastKey: pasts[i].key, pastValue: pasts[i].value, unidirectional: true,
    });
    g.output(att.presentKey, presentKeyName(i));
    g.output(att.presentValue, presentValueName(i));
    const proj = g.matMul(att.output, w(p + 'attn.c_proj.weight'));
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
