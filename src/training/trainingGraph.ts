/**
 * The GPT-2 training graph: the forward pass in standard ONNX ops (the inference graph's contrib
 * attention and fused layer norms have no gradient rules), GPT-1's combined objective, and the
 * gradient of L3 for every trainable tensor, so one session.run gives the losses and all gradients.
 *
 * Inputs:  input_ids int64 [B,T]; l1_mask, l2_mask float32 [B,T] (the weight of the target at
 *          position t, which is token t + 1; the last position has none and its weight is ignored);
 *          lambda float32 scalar; the trainable tensors under their names.
 * Outputs: l1, l2, l3 (scalars) and, unless built for losses only, grad.<name> per trainable and
 *          grad_sq_norm, Σ of every gradient's squares (what clipping needs, computed by onnxruntime's
 *          threads instead of another single-threaded pass over the gradients in JS).
 *
 * Full fine-tuning trains every parameter (canonical names). LoRA trains A [r,in] and B [out,r] per
 * adapted Conv1D (PEFT names), with the base frozen as initializers: y = x·W + b + s·(x·Aᵀ)·Bᵀ,
 * s = alpha/r. With LoRA dropout p > 0 the gradient graph also takes one mask input per adapted
 * layer, `lora_dropout.h.<i>.<target>` [B·T, in] (0 or 1/(1 − p), loraDropout.ts), and the adapter
 * reads x·mask: PEFT's lora_B(lora_A(dropout(x))). The losses-only graph (evaluation) has none.
 *
 * Shapes are fixed at build time ([B,T] of the session); shorter batches are padded by the session.
 */
import { headDim, parameterShapes, type GPT2Config } from '../engine/config';
import { GraphBuilder, attr, type Graph, type Value } from '../engine/onnx/ir';
import type { WeightSource } from '../engine/weights';
import { addVectorJacobianProduct } from './autodiff/gradient';
import { loraModules, loraParams, loraScaling, validateLoraConfig, type LoraConfig, type LoraModule } from './lora';
import { dropoutMaskName } from './loraDropout';
import type { TrainableParam } from './objective';

export const INPUT_IDS = 'input_ids';
export const L1_MASK = 'l1_mask';
export const L2_MASK = 'l2_mask';
export const LAMBDA = 'lambda';
export const LOSS_NAMES = ['l1', 'l2', 'l3'] as const;
export const gradName = (param: string): string => `grad.${param}`;
export const GRAD_SQ_NORM = 'grad_sq_norm';

/** Added to the scores a query may not see: exp(−1e9 − max) is exactly 0 in float32. */
const MASKED_SCORE = -1e9;

export interface TrainingGraphOptions {
  method: 'full' | 'lora';
  lora?: LoraConfig;
  batch: number;
  seqLen: number;
  /** Build the backward pass too (default true); false: the losses only, for evaluation. */
  gradients?: boolean;
}

export interface TrainingGraph {
  graph: Graph;
  params: TrainableParam[];
  /** LoRA dropout mask inputs (empty without dropout), and the probability they are drawn with. */
  dropoutMasks: { name: string; shape: [number, number] }[];
  dropout: number;
}

/** How the forward pass reads a parameter, and which LoRA adapter (if any) a Conv1D has. */
interface Params {
  w(name: string): Value;
  adapter(conv: string): Adapter | undefined;
}

interface Adapter {
  a: Value;
  b: Value;
  scaling: number;
  /** Dropout factors for the adapter's input rows, when training with dropout. */
  mask?: Value;
}

export function buildTrainingGraph(weights: WeightSource, opts: TrainingGraphOptions): TrainingGraph {
  const c = weights.config;
  const { batch: B, seqLen: T } = opts;
  if (!(Number.isInteger(B) && B >= 1)) throw new Error(`training graph: batch ${B} must be a positive integer`);
  if (!(Number.isInteger(T) && T >= 2 && T <= c.nPositions)) throw new Error(`training graph: seqLen ${T} must be in 2..${c.nPositions}`);
  const g = new GraphBuilder(`gpt2_train_${opts.method}`);
  const ids = g.input(INPUT_IDS, 'int64', [B, T]);
  const l1Mask = g.input(L1_MASK, 'float32', [B, T]);
  const l2Mask = g.input(L2_MASK, 'float32', [B, T]);
  const lambda = g.input(LAMBDA, 'float32', []);

  const shapes = parameterShapes(c);
  const trainable: Value[] = [];
  let params: Params;
  const masks: { name: string; shape: [number, number] }[] = [];
  let dropout = 0;
  if (opts.method === 'full') {
    const inputs = new Map([...shapes].map(([name, shape]) => [name, g.input(name, 'float32', shape)]));
    trainable.push(...inputs.values());
    params = { w: (name) => inputs.get(name)!, adapter: () => undefined };
  } else {
    if (!opts.lora) throw new Error('training graph: method lora needs a LoRA config');
    const lora = validateLoraConfig(opts.lora, c);
    const frozen = new Map<string, Value>();
    const adapters = new Map<string, Adapter>();
    dropout = opts.gradients !== false ? lora.dropout : 0;
    for (const m of loraModules(c, lora)) {
      const a = g.input(m.a, 'float32', [lora.rank, m.in]);
      const b = g.input(m.b, 'float32', [m.out, lora.rank]);
      trainable.push(a, b);
      let mask: Value | undefined;
      if (dropout > 0) {
        const shape: [number, number] = [B * T, m.in];
        mask = g.input(dropoutMaskName(convName(m)), 'float32', shape);
        masks.push({ name: mask.name, shape });
      }
      adapters.set(convName(m), { a, b, scaling: loraScaling(lora), mask });
    }
    params = {
      w: (name) => {
        let v = frozen.get(name);
        if (!v) {
          v = g.initializer(name, 'float32', shapes.get(name)!, () => weights.tensor(name));
          frozen.set(name, v);
        }
        return v;
      },
      adapter: (conv) => adapters.get(conv),
    };
  }

  const { h, logits } = gpt2Forward(g, c, params, ids, B, T);
  const losses = objective(g, logits, ids, l1Mask, l2Mask, lambda, B, T);
  let grads: Map<string, Value> | undefined;
  if (opts.gradients !== false) {
    const head = headGradient(g, losses, h, params.w('wte.weight'), opts.method === 'full');
    grads = addVectorJacobianProduct(g, h, head.dh, trainable, head.dwte ? new Map([['wte.weight', head.dwte]]) : undefined);
  }
  // Outputs are named last: naming renames a value, which every node already reading it follows.
  for (const name of LOSS_NAMES) g.output(losses[name], name);
  if (grads) {
    const squares = trainable.map((p) => g.node('ReduceSumSquare', [grads!.get(p.name)!], { keepdims: attr.int(0) })[0]);
    g.output(g.node('Sum', squares)[0], GRAD_SQ_NORM);
    for (const p of trainable) g.output(grads.get(p.name)!, gradName(p.name));
  }

  const list: TrainableParam[] = opts.method === 'full'
    ? [...shapes].map(([name, shape]) => ({ name, shape }))
    : loraParams(c, opts.lora!);
  return { graph: g.build(), params: list, dropoutMasks: masks, dropout };
}

function convName(m: LoraModule): string {
  return `h.${m.layer}.${m.target}`;
}

/** Logits [B·T, V] of every position (embeddings, the blocks, ln_f and the tied head), and h = ln_f's output. */
function gpt2Forward(g: GraphBuilder, c: GPT2Config, p: Params, ids: Value, B: number, T: number): { h: Value; logits: Value } {
  const E = c.nEmbd;
  // x = wte[ids] + wpe[0..T): Gather's gradient scatter-adds, the Add's sums wpe's over the batch.
  const tok = g.gather(p.w('wte.weight'), ids, 0);
  const pos = g.gather(p.w('wpe.weight'), g.constInt64(span(T), [T], 'positions'), 0);
  let x = g.reshape(g.add(tok, pos), [B * T, E]);
  const causal = g.initializer('causal_mask', 'float32', [T, T], causalMask(T));
  for (let i = 0; i < c.nLayer; i++) x = block(g, c, p, `h.${i}.`, x, causal, B, T);
  const h = layerNorm(g, p, 'ln_f', x, c.layerNormEpsilon);
  // Tied head: logits = h·wteᵀ, Gemm reading wte [V,E] with transB (no transposed copy).
  return { h, logits: g.gemm(h, p.w('wte.weight'), null, { transB: true }) };
}

/** x + attn(ln_1(x)), then + mlp(ln_2(x)): GPT-2's pre-norm block on rows [B·T, E]. */
function block(g: GraphBuilder, c: GPT2Config, p: Params, prefix: string, x: Value, causal: Value, B: number, T: number): Value {
  const eps = c.layerNormEpsilon;
  const qkv = conv1d(g, p, prefix + 'attn.c_attn', layerNorm(g, p, prefix + 'ln_1', x, eps));
  x = g.add(x, conv1d(g, p, prefix + 'attn.c_proj', attention(g, c, qkv, causal, B, T)));
  const fc = g.fastGelu(conv1d(g, p, prefix + 'mlp.c_fc', layerNorm(g, p, prefix + 'ln_2', x, eps)), null);
  return g.add(x, conv1d(g, p, prefix + 'mlp.c_proj', fc));
}

/** LayerNormalization with its mean and 1/σ outputs, which its backward rule reads. */
function layerNorm(g: GraphBuilder, p: Params, name: string, x: Value, eps: number): Value {
  return g.node('LayerNormalization', [x, p.w(name + '.weight'), p.w(name + '.bias')],
    { axis: attr.int(-1), epsilon: attr.float(eps) }, { outputs: 3 })[0];
}

/** Conv1D y = x·W + b (W [in,out]), plus the LoRA delta s·(dropout(x)·Aᵀ)·Bᵀ when the layer is adapted. */
function conv1d(g: GraphBuilder, p: Params, name: string, x: Value): Value {
  const y = g.gemm(x, p.w(name + '.weight'), p.w(name + '.bias'));
  const lora = p.adapter(name);
  if (!lora) return y;
  const down = g.gemm(lora.mask ? g.mul(x, lora.mask) : x, lora.a, null, { transB: true });
  return g.add(y, g.gemm(down, lora.b, null, { transB: true, alpha: lora.scaling }));
}

/** Causal multi-head self-attention of [B·T, 3E] q|k|v rows, back to [B·T, E]. */
function attention(g: GraphBuilder, c: GPT2Config, qkv: Value, causal: Value, B: number, T: number): Value {
  const E = c.nEmbd, H = c.nHead, D = headDim(c);
  const [q, k, v] = g.split(qkv, [E, E, E], 1);
  const heads = (t: Value, perm: number[]) => g.transpose(g.reshape(t, [B, T, H, D]), perm);
  const q4 = g.mul(heads(q, [0, 2, 1, 3]), g.constFloat([1 / Math.sqrt(D)], [], 'attn_scale'));
  const scores = g.matMul(q4, heads(k, [0, 2, 3, 1])); // [B,H,T,T]
  // The causal mask is added (0 or −1e9) rather than selected with Where: an Add passes its
  // gradient through untouched, where Where's backward is another pass over [B,H,T,T].
  const out = g.matMul(g.softmax(g.add(scores, causal), -1), heads(v, [0, 2, 1, 3])); // [B,H,T,D]
  return g.reshape(g.transpose(out, [0, 2, 1, 3]), [B * T, E]);
}

/** The objective's values the backward pass starts from. */
interface Objective {
  l1: Value;
  l2: Value;
  l3: Value;
  /** log softmax(logits) [B·T, V], the targets [B·T, 1], and dL3/dnll per position [B·T, 1]. */
  logProb: Value;
  targets: Value;
  weight: Value;
}

/**
 * L1 and L2: token-level means of the NLL of token t + 1 at position t, weighted by the masks,
 * Σ(nll·m)/max(Σm, 1), so a batch without targets of a kind has that loss 0; L3 = L2 + λ·L1.
 * The NLL is LogSoftmax over the last axis and a GatherElements, not SoftmaxCrossEntropyLoss: the
 * CPU build runs that op as its ONNX function, a LogSoftmax over axis 1 of [B·T, V, 1], which was
 * ~4× slower than over the last axis (13% of a tiny model's step).
 */
function objective(
  g: GraphBuilder, logits: Value, ids: Value, l1Mask: Value, l2Mask: Value, lambda: Value, B: number, T: number,
): Objective {
  const next = g.node('Slice', [ids, g.constInt64([1]), g.constInt64([T]), g.constInt64([1])])[0];
  const pad = g.initializer(g.uniqueName('no_target'), 'int64', [B, 1], new BigInt64Array(B));
  const targets = g.reshape(g.concat([next, pad], 1), [B * T, 1]);
  const logProb = g.node('LogSoftmax', [logits], { axis: attr.int(-1) })[0];
  const picked = g.node('GatherElements', [logProb, targets], { axis: attr.int(1) })[0];
  const nll = g.node('Neg', [g.reshape(picked, [B, T])])[0];
  const hasTarget = g.constFloat(span(T).map((t) => (t < T - 1 ? 1 : 0)), [T], 'has_target');
  const one = g.constFloat([1], [], 'one');
  // Per-position weights m/max(Σm, 1): the loss is Σ nll·weight, and dL/dnll is the weight.
  const weights = (mask: Value): Value => {
    const m = g.mul(mask, hasTarget);
    return g.div(m, g.node('Max', [sumAll(g, m), one])[0]);
  };
  const w1 = weights(l1Mask);
  const w2 = weights(l2Mask);
  const l1 = sumAll(g, g.mul(nll, w1));
  const l2 = sumAll(g, g.mul(nll, w2));
  const weight = g.reshape(g.add(w2, g.mul(lambda, w1)), [B * T, 1]);
  return { l1, l2, l3: g.add(l2, g.mul(lambda, l1)), logProb, targets, weight };
}

/**
 * The head's backward by hand, from dL3/dlogits = diag(w)·(softmax − onehot(target)): softmax is
 * exp(log_prob), already computed, and −1 is scatter-added at each target in place. The row weights
 * w are applied on the narrow side of the two head products, never to the [B·T, V] matrix (one pass
 * over it fewer, ~3% of a tiny model's step):
 *   dh = diag(w)·(P − Y)·wte  [B·T, E],   dwte = (P − Y)ᵀ·(diag(w)·h)  [V, E] (full fine-tuning only).
 */
function headGradient(g: GraphBuilder, o: Objective, h: Value, wte: Value, trainsWte: boolean): { dh: Value; dwte?: Value } {
  const rows = o.targets.shape[0] as number;
  const minusOne = g.constFloat(new Array<number>(rows).fill(-1), [rows, 1], 'minus_one');
  const residual = g.node('ScatterElements', [g.node('Exp', [o.logProb])[0], o.targets, minusOne], { axis: attr.int(1), reduction: attr.string('add') })[0];
  const dh = g.mul(g.gemm(residual, wte, null), o.weight);
  return { dh, dwte: trainsWte ? g.gemm(residual, g.mul(h, o.weight), null, { transA: true }) : undefined };
}

function sumAll(g: GraphBuilder, x: Value): Value {
  return g.node('ReduceSum', [x], { keepdims: attr.int(0) })[0];
}

function span(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

/** [T,T]: 0 where query t may see key s (s ≤ t), MASKED_SCORE above the diagonal. */
function causalMask(T: number): Float32Array {
  const m = new Float32Array(T * T);
  for (let t = 0; t < T; t++) m.fill(MASKED_SCORE, t * T + t + 1, (t + 1) * T);
  return m;
}
