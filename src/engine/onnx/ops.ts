/**
 * The op table: one entry per (domain, op type) with everything this code knows about that op.
 * Today an entry holds its output type inference; reverse-mode differentiation adds a `backward`
 * field to `OpDef` and fills it in beside each `infer`, so an op's forward and gradient rules sit
 * together (as in llm.c) and an op without a gradient rule is refused by name, not mis-differentiated.
 */
import type { Attribute, Attributes, Dim, DType, Shape, TensorData, TensorType } from './ir';
import type { GraphBuilder, Value } from './ir';

export interface InferContext {
  /** Input types by position; undefined for an omitted optional input. */
  readonly inputs: readonly (TensorType | undefined)[];
  readonly attributes: Attributes;
  /** The data of input `i` when it is an in-memory initializer (Reshape's shape, Split's sizes). */
  constant(i: number): TensorData | undefined;
  /** A fresh symbolic dim for a size that cannot be known before running. */
  symbol(hint: string): string;
}

/**
 * What the code knows about one op. Reverse-mode differentiation adds here an optional
 * `backward(ctx)` that, given the forward node's inputs, outputs and output gradients, emits standard
 * ONNX ops through a GraphBuilder and returns the input gradients; each entry below then gets its
 * rule written beside its `infer`.
 */
export interface OpDef {
  readonly domain: string;
  readonly op: string;
  /** Required inputs come first; `inputs[1]` is the most the op accepts. */
  readonly inputs: readonly [min: number, max: number];
  /** Output types, in output order, from the input types and attributes; throws when inconsistent. */
  infer(ctx: InferContext): TensorType[];
  /** Input gradients from output gradients (reverse mode); an op without one cannot be differentiated. */
  readonly backward?: BackwardRule;
}

/**
 * What a backward rule sees of one forward node. Shapes are static (training graphs are built for
 * a fixed batch), so a rule knows its reduction axes and zero tensors when it emits them.
 */
export interface BackwardContext {
  /** The graph being built: a rule appends its nodes to it. */
  readonly g: GraphBuilder;
  readonly inputs: readonly (Value | undefined)[];
  readonly outputs: readonly (Value | undefined)[];
  readonly attributes: Attributes;
  /** dLoss/d(output i); undefined where no gradient reaches that output. */
  readonly grads: readonly (Value | undefined)[];
  /** Whether input i's gradient is wanted; rules compute no other. */
  needs(i: number): boolean;
  /** The data of input i when it is an in-memory constant (axes, sizes). */
  constant(i: number): TensorData | undefined;
}

/**
 * A gradient contribution that adds `updates` at the rows `indices` name (ScatterND indices [..., 1]):
 * Gather's rule, i.e. an embedding gradient. The differentiation scatter-adds it in place onto the
 * sum of the value's other contributions (the tied head's gradient of wte), or onto zeros when there
 * are none, instead of first scattering into a zeros tensor of the whole table and then adding.
 */
export interface ScatterAdd {
  readonly scatterAdd: { readonly indices: Value; readonly updates: Value };
}

/** dLoss/d(input i) by input position; undefined for an input whose gradient is not wanted. */
export type BackwardRule = (ctx: BackwardContext) => (Value | ScatterAdd | undefined)[];

const table = new Map<string, OpDef>();

export function opKey(domain: string, op: string): string {
  return domain === '' || domain === 'ai.onnx' ? op : `${domain}.${op}`;
}

function define(def: OpDef): void {
  const key = opKey(def.domain, def.op);
  if (table.has(key)) throw new Error(`op ${key} defined twice`);
  table.set(key, def);
}

/** The entry for an op; unknown ops are an error, so every node the IR builds is one the table knows. */
export function opDef(domain: string, op: string): OpDef {
  const def = table.get(opKey(domain, op));
  if (!def) throw new Error(`op ${opKey(domain, op)} is not in the op table (src/engine/onnx/ops.ts)`);
  return def;
}

export function allOps(): readonly OpDef[] {
  return [...table.values()];
}

export function inferOutputs(domain: string, op: string, ctx: InferContext): TensorType[] {
  const def = opDef(domain, op);
  const [min, max] = def.inputs;
  const n = ctx.inputs.length;
  if (n < min || n > max) throw new Error(`${op}: ${n} inputs; takes ${min}..${max}`);
  for (let i = 0; i < min; i++) if (!ctx.inputs[i]) throw new Error(`${op}: input ${i} is required`);
  return def.infer(ctx);
}

// ---- dtype codes and dim arithmetic (ir.ts re-exports these; they live here to keep imports one-way) ----

const DTYPE_CODES: Readonly<Record<DType, number>> = { float32: 1, uint8: 2, int8: 3, int32: 6, int64: 7, bool: 9, float16: 10 };

/** ONNX TensorProto.DataType number of `dtype`. */
export function onnxDataType(dtype: DType): number {
  return DTYPE_CODES[dtype];
}

export function dtypeFromOnnx(code: number): DType {
  const found = (Object.keys(DTYPE_CODES) as DType[]).find((d) => DTYPE_CODES[d] === code);
  if (!found) throw new Error(`unsupported ONNX data type ${code}`);
  return found;
}

/** `a + b` for dims, kept symbolic when either side is. */
export function addDims(a: Dim, b: Dim): Dim {
  if (typeof a === 'number' && typeof b === 'number') return a + b;
  if (a === 0) return b;
  if (b === 0) return a;
  return `${a}+${b}`;
}

/** `a * b` for dims, kept symbolic when either side is. */
export function mulDims(a: Dim, b: Dim): Dim {
  if (typeof a === 'number' && typeof b === 'number') return a * b;
  if (a === 1) return b;
  if (b === 1) return a;
  const wrap = (d: Dim) => (typeof d === 'string' && /[+-]/.test(d) ? `(${d})` : String(d));
  return `${wrap(a)}*${wrap(b)}`;
}

// ---- helpers shared by the entries ----

function input(ctx: InferContext, i: number): TensorType {
  const t = ctx.inputs[i];
  if (!t) throw new Error(`input ${i} is required`);
  return t;
}

function intAttr(attrs: Attributes, name: string, fallback?: number): number {
  const a: Attribute | undefined = attrs[name];
  if (a === undefined) {
    if (fallback === undefined) throw new Error(`attribute ${name} is required`);
    return fallback;
  }
  if (a.kind !== 'int') throw new Error(`attribute ${name} must be an int`);
  return a.value;
}

function intsAttr(attrs: Attributes, name: string): readonly number[] | undefined {
  const a = attrs[name];
  if (a === undefined) return undefined;
  if (a.kind !== 'ints') throw new Error(`attribute ${name} must be ints`);
  return a.value;
}

function normAxis(axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) throw new Error(`axis ${axis} out of range for rank ${rank}`);
  return a;
}

function sameDType(op: string, ...ts: TensorType[]): DType {
  for (const t of ts) if (t.dtype !== ts[0].dtype) throw new Error(`${op}: mixed dtypes ${ts.map((x) => x.dtype).join(', ')}`);
  return ts[0].dtype;
}

function dimsEqual(a: Dim, b: Dim): boolean {
  return a === b;
}

/** Numpy-style multidirectional broadcasting; a symbol against a size takes the size (the symbol must be it or 1). */
export function broadcastShapes(a: Shape, b: Shape): Dim[] {
  const rank = Math.max(a.length, b.length);
  const out: Dim[] = [];
  for (let i = 0; i < rank; i++) {
    const x = a[a.length - rank + i] ?? 1;
    const y = b[b.length - rank + i] ?? 1;
    if (x === 1) out.push(y);
    else if (y === 1 || dimsEqual(x, y)) out.push(x);
    else if (typeof x === 'number' && typeof y === 'number') throw new Error(`cannot broadcast [${a.join(',')}] with [${b.join(',')}]`);
    else out.push(typeof x === 'number' ? x : y);
  }
  return out;
}

function toNumbers(data: TensorData): number[] {
  return Array.from(data as ArrayLike<number | bigint>, (v) => Number(v));
}

function expectRank(op: string, t: TensorType, ranks: readonly number[]): void {
  if (!ranks.includes(t.shape.length)) throw new Error(`${op}: rank ${t.shape.length} input; expected rank ${ranks.join(' or ')}`);
}

function elementwise(op: string): OpDef {
  return {
    domain: '', op, inputs: [2, 2],
    infer: (ctx) => {
      const a = input(ctx, 0), b = input(ctx, 1);
      return [{ dtype: sameDType(op, a, b), shape: broadcastShapes(a.shape, b.shape) }];
    },
    backward: ELEMENTWISE_BACKWARD[op],
  };
}

function unary(op: string, domain = ''): OpDef {
  return { domain, op, inputs: [1, 1], infer: (ctx) => [input(ctx, 0)], backward: UNARY_BACKWARD[op] };
}

// ---- helpers for backward rules: they emit nodes through the GraphBuilder they are handed ----

const attrOf = {
  int: (value: number): Attribute => ({ kind: 'int', value }),
  string: (value: string): Attribute => ({ kind: 'string', value }),
};

function floatAttr(attrs: Attributes, name: string, fallback: number): number {
  const a = attrs[name];
  if (a === undefined) return fallback;
  if (a.kind !== 'float') throw new Error(`attribute ${name} must be a float`);
  return a.value;
}

function span(from: number, to: number): number[] {
  return Array.from({ length: Math.max(0, to - from) }, (_, i) => from + i);
}

/** Every dim as a number: gradients are built for fixed shapes. */
export function staticShape(t: TensorType): number[] {
  return t.shape.map((d) => {
    if (typeof d !== 'number') throw new Error(`gradient: dim "${d}" is symbolic; backward graphs need fixed shapes`);
    return d;
  });
}

function bwIn(ctx: BackwardContext, i: number): Value {
  const v = ctx.inputs[i];
  if (!v) throw new Error(`backward: input ${i} is missing`);
  return v;
}

function bwOut(ctx: BackwardContext, i: number): Value {
  const v = ctx.outputs[i];
  if (!v) throw new Error(`backward: output ${i} is missing`);
  return v;
}

/** The gradient of output i; a rule runs only when some output has one, so for one-output ops it is there. */
function bwGrad(ctx: BackwardContext, i = 0): Value {
  const v = ctx.grads[i];
  if (!v) throw new Error(`backward: no gradient for output ${i}`);
  return v;
}

function scalar(g: GraphBuilder, x: number): Value {
  return g.constFloat([x], [], 'grad_const');
}

/** float32 zeros of `shape` (ConstantOfShape's default value), made at run time rather than stored. */
export function zeros(g: GraphBuilder, shape: readonly number[]): Value {
  return g.node('ConstantOfShape', [g.constInt64(shape, [shape.length], 'shape')])[0];
}

function reduce(g: GraphBuilder, op: 'ReduceSum' | 'ReduceMean', x: Value, axes: readonly number[], keepdims: boolean): Value {
  return g.node(op, [x, g.constInt64(axes, [axes.length], 'axes')], { keepdims: attrOf.int(keepdims ? 1 : 0) })[0];
}

function neg(g: GraphBuilder, x: Value): Value {
  return g.node('Neg', [x])[0];
}

/** A batch of matrices transposed: the last two axes swapped. */
function swapLast2(g: GraphBuilder, x: Value): Value {
  const r = x.shape.length;
  return g.transpose(x, [...span(0, r - 2), r - 1, r - 2]);
}

/** Sums `grad` over the axes broadcasting added or stretched, back to `shape` (numpy rules). */
export function sumToShape(g: GraphBuilder, grad: Value, shape: Shape): Value {
  const from = staticShape(grad), to = staticShape({ dtype: grad.dtype, shape });
  const lead = from.length - to.length;
  if (lead < 0) throw new Error(`sumToShape: [${from.join(',')}] has lower rank than [${to.join(',')}]`);
  const axes = from.flatMap((d, i) => (i < lead || (to[i - lead] === 1 && d !== 1) ? [i] : []));
  let out = axes.length > 0 ? reduce(g, 'ReduceSum', grad, axes, true) : grad;
  if (lead > 0) out = g.reshape(out, to);
  return out;
}

/** Adds `updates` into `data` at the index tuples in the last axis of `indices` (duplicates add). */
export function scatterAddND(g: GraphBuilder, data: Value, indices: Value, updates: Value): Value {
  return g.node('ScatterND', [data, indices, updates], { reduction: attrOf.string('add') })[0];
}

/** Rules of the binary elementwise ops; each input's gradient is summed back over its broadcast axes. */
const ELEMENTWISE_BACKWARD: Readonly<Record<string, BackwardRule>> = {
  Add: (ctx) => {
    const gy = bwGrad(ctx);
    return [0, 1].map((i) => (ctx.needs(i) ? sumToShape(ctx.g, gy, bwIn(ctx, i).shape) : undefined));
  },
  Sub: (ctx) => {
    const { g } = ctx, gy = bwGrad(ctx);
    return [
      ctx.needs(0) ? sumToShape(g, gy, bwIn(ctx, 0).shape) : undefined,
      ctx.needs(1) ? neg(g, sumToShape(g, gy, bwIn(ctx, 1).shape)) : undefined,
    ];
  },
  // d(a·b) = g·b da + g·a db
  Mul: (ctx) => {
    const { g } = ctx, gy = bwGrad(ctx), a = bwIn(ctx, 0), b = bwIn(ctx, 1);
    return [
      ctx.needs(0) ? sumToShape(g, g.mul(gy, b), a.shape) : undefined,
      ctx.needs(1) ? sumToShape(g, g.mul(gy, a), b.shape) : undefined,
    ];
  },
  // y = a/b: da = g/b, db = −g·y/b
  Div: (ctx) => {
    const { g } = ctx, gy = bwGrad(ctx), a = bwIn(ctx, 0), b = bwIn(ctx, 1);
    return [
      ctx.needs(0) ? sumToShape(g, g.div(gy, b), a.shape) : undefined,
      ctx.needs(1) ? neg(g, sumToShape(g, g.div(g.mul(gy, bwOut(ctx, 0)), b), b.shape)) : undefined,
    ];
  },
};

/** Rules of the one-input elementwise ops. */
const UNARY_BACKWARD: Readonly<Record<string, BackwardRule>> = {
  Identity: (ctx) => [bwGrad(ctx)],
  Neg: (ctx) => [neg(ctx.g, bwGrad(ctx))],
  // y = tanh x: dx = g·(1 − y²)
  Tanh: (ctx) => {
    const { g } = ctx, y = bwOut(ctx, 0);
    return [g.mul(bwGrad(ctx), g.sub(scalar(g, 1), g.mul(y, y)))];
  },
  // y = eˣ: dx = g·y
  Exp: (ctx) => [ctx.g.mul(bwGrad(ctx), bwOut(ctx, 0))],
};

// ---- standard ONNX ops ----

for (const op of ['Add', 'Sub', 'Mul', 'Div']) define(elementwise(op));
for (const op of ['Tanh', 'Identity']) define(unary(op));

define({
  domain: '', op: 'Cast', inputs: [1, 1],
  infer: (ctx) => {
    return [{ dtype: dtypeFromOnnx(intAttr(ctx.attributes, 'to')), shape: input(ctx, 0).shape }];
  },
});

define({
  domain: '', op: 'MatMul', inputs: [2, 2],
  infer: (ctx) => {
    const a = input(ctx, 0), b = input(ctx, 1);
    const dtype = sameDType('MatMul', a, b);
    if (a.shape.length < 2 || b.shape.length < 2) throw new Error('MatMul: 1-D operands are not supported here');
    const k1 = a.shape[a.shape.length - 1], k2 = b.shape[b.shape.length - 2];
    if (typeof k1 === 'number' && typeof k2 === 'number' && k1 !== k2) throw new Error(`MatMul: inner dims ${k1} and ${k2} differ`);
    const batch = broadcastShapes(a.shape.slice(0, -2), b.shape.slice(0, -2));
    return [{ dtype, shape: [...batch, a.shape[a.shape.length - 2], b.shape[b.shape.length - 1]] }];
  },
  // Y = A·B over broadcast batch dims: dA = G·Bᵀ, dB = Aᵀ·G, each summed back over its broadcast dims.
  // A rank-2 B under a batched A folds the batch into rows: one Gemm, no [batch, K, N] temporary.
  backward: (ctx) => {
    const { g } = ctx, a = bwIn(ctx, 0), b = bwIn(ctx, 1), gy = bwGrad(ctx);
    let da: Value | undefined, db: Value | undefined;
    if (ctx.needs(0)) {
      da = gy.shape.length === 2 && b.shape.length === 2 ? g.gemm(gy, b, null, { transB: true }) : g.matMul(gy, swapLast2(g, b));
      da = sumToShape(g, da, a.shape);
    }
    if (ctx.needs(1)) {
      if (b.shape.length === 2) {
        const [k, n] = staticShape(b);
        const a2 = a.shape.length === 2 ? a : g.reshape(a, [-1, k]);
        const g2 = gy.shape.length === 2 ? gy : g.reshape(gy, [-1, n]);
        db = g.gemm(a2, g2, null, { transA: true });
      } else {
        db = sumToShape(g, g.matMul(swapLast2(g, a), gy), b.shape);
      }
    }
    return [da, db];
  },
});

define({
  domain: '', op: 'Gemm', inputs: [2, 3],
  infer: (ctx) => {
    const a = input(ctx, 0), b = input(ctx, 1);
    expectRank('Gemm', a, [2]);
    expectRank('Gemm', b, [2]);
    const ta = intAttr(ctx.attributes, 'transA', 0), tb = intAttr(ctx.attributes, 'transB', 0);
    const [m, k1] = ta ? [a.shape[1], a.shape[0]] : [a.shape[0], a.shape[1]];
    const [k2, n] = tb ? [b.shape[1], b.shape[0]] : [b.shape[0], b.shape[1]];
    if (typeof k1 === 'number' && typeof k2 === 'number' && k1 !== k2) throw new Error(`Gemm: inner dims ${k1} and ${k2} differ`);
    return [{ dtype: sameDType('Gemm', a, b), shape: [m, n] }];
  },
  // Y = α·op(A)·op(B) + β·C: d op(A) = α·G·op(B)ᵀ and d op(B) = α·op(A)ᵀ·G, transposed back to A's and
  // B's layout through Gemm's own trans flags (no Transpose nodes); dC is G summed to C's shape.
  backward: (ctx) => {
    const { g } = ctx, a = bwIn(ctx, 0), b = bwIn(ctx, 1), c = ctx.inputs[2], gy = bwGrad(ctx);
    const ta = intAttr(ctx.attributes, 'transA', 0) === 1, tb = intAttr(ctx.attributes, 'transB', 0) === 1;
    const alpha = floatAttr(ctx.attributes, 'alpha', 1), beta = floatAttr(ctx.attributes, 'beta', 1);
    const al = alpha === 1 ? undefined : alpha;
    const da = !ctx.needs(0) ? undefined
      : ta ? g.gemm(b, gy, null, { transA: tb, transB: true, alpha: al })
      : g.gemm(gy, b, null, { transB: !tb, alpha: al });
    const db = !ctx.needs(1) ? undefined
      : tb && !ta && isTallNarrow(b.shape) ? g.transpose(g.gemm(a, gy, null, { transA: true, alpha: al }), [1, 0])
      : tb ? g.gemm(gy, a, null, { transA: true, transB: ta, alpha: al })
      : g.gemm(a, gy, null, { transA: !ta, alpha: al });
    let dc = c && ctx.needs(2) ? sumToShape(g, gy, c.shape) : undefined;
    if (dc && beta !== 1) dc = g.mul(dc, scalar(g, beta));
    return [da, db, dc];
  },
});

/**
 * B [N,K] read with transB whose gradient dYᵀ·A would make MLAS pack the [M,N] dY transposed: for
 * the tied head (N = 50257) at K = 256 that product took 235–283 ms, and (Aᵀ·dY)ᵀ 203–216 ms with
 * its Transpose; at K = 768 the two were level (bench/RESULTS.md, 2 threads). Packing grows with M·N
 * and the product with M·N·K, so the detour pays only for narrow K.
 */
function isTallNarrow(shape: Shape): boolean {
  const [n, k] = shape;
  return typeof n === 'number' && typeof k === 'number' && n >= 8 * k && k <= 512;
}

define({
  domain: '', op: 'Gather', inputs: [2, 2],
  infer: (ctx) => {
    const data = input(ctx, 0), idx = input(ctx, 1);
    if (idx.dtype !== 'int64' && idx.dtype !== 'int32') throw new Error('Gather: indices must be int32 or int64');
    const axis = normAxis(intAttr(ctx.attributes, 'axis', 0), data.shape.length);
    return [{ dtype: data.dtype, shape: [...data.shape.slice(0, axis), ...idx.shape, ...data.shape.slice(axis + 1)] }];
  },
  // The gathered rows' gradients are scatter-added into zeros (ScatterND, reduction add), so an id
  // that occurs several times gets the sum: the embedding gradient. Another axis is moved to the front.
  backward: (ctx) => {
    if (!ctx.needs(0)) return [];
    const { g } = ctx, data = bwIn(ctx, 0), gy = bwGrad(ctx);
    const shape = staticShape(data), rank = shape.length;
    const axis = normAxis(intAttr(ctx.attributes, 'axis', 0), rank);
    let idx = bwIn(ctx, 1);
    const ir = idx.shape.length;
    if (idx.dtype !== 'int64') idx = g.cast(idx, 'int64');
    idx = g.unsqueeze(idx, [ir]);
    if (axis === 0) return [{ scatterAdd: { indices: idx, updates: gy } }];
    // gy is [data[:axis], idx dims, data[axis+1:]]; scatter along [data[axis], data[:axis], data[axis+1:]].
    const updates = g.transpose(gy, [...span(axis, axis + ir), ...span(0, axis), ...span(axis + ir, gy.shape.length)]);
    const front = [shape[axis], ...shape.slice(0, axis), ...shape.slice(axis + 1)];
    const scattered = scatterAddND(g, zeros(g, front), idx, updates);
    return [g.transpose(scattered, [...span(1, axis + 1), 0, ...span(axis + 1, rank)])];
  },
});

define({
  domain: '', op: 'Reshape', inputs: [2, 2],
  infer: (ctx) => {
    const x = input(ctx, 0), s = input(ctx, 1);
    const data = ctx.constant(1);
    if (!data) {
      const n = s.shape[0];
      if (typeof n !== 'number') throw new Error('Reshape: shape input of unknown length');
      return [{ dtype: x.dtype, shape: Array.from({ length: n }, (_, i) => ctx.symbol(`d${i}`)) }];
    }
    const target = toNumbers(data);
    const out: Dim[] = target.map((d, i) => (d === 0 ? x.shape[i] : d));
    const inferred = out.indexOf(-1);
    if (inferred >= 0) {
      const known = out.filter((_, i) => i !== inferred).reduce<Dim>((p, d) => mulDims(p, d), 1);
      const total = x.shape.reduce<Dim>((p, d) => mulDims(p, d), 1);
      out[inferred] = typeof total === 'number' && typeof known === 'number' ? total / known : ctx.symbol('reshape');
    }
    return [{ dtype: x.dtype, shape: out }];
  },
  backward: (ctx) => [ctx.g.reshape(bwGrad(ctx), staticShape(bwIn(ctx, 0)))],
});

define({
  domain: '', op: 'Transpose', inputs: [1, 1],
  infer: (ctx) => {
    const x = input(ctx, 0);
    const perm = intsAttr(ctx.attributes, 'perm') ?? x.shape.map((_, i) => x.shape.length - 1 - i);
    if (perm.length !== x.shape.length) throw new Error(`Transpose: perm of length ${perm.length} for rank ${x.shape.length}`);
    return [{ dtype: x.dtype, shape: perm.map((p) => x.shape[p]) }];
  },
  // The inverse permutation: y.shape[i] = x.shape[perm[i]], so dx = transpose(g, inv) with inv[perm[i]] = i.
  backward: (ctx) => {
    const x = bwIn(ctx, 0);
    const perm = intsAttr(ctx.attributes, 'perm') ?? x.shape.map((_, i) => x.shape.length - 1 - i);
    const inv = new Array<number>(perm.length);
    perm.forEach((p, i) => { inv[p] = i; });
    return [ctx.g.transpose(bwGrad(ctx), inv)];
  },
});

define({
  domain: '', op: 'Split', inputs: [1, 2],
  infer: (ctx) => {
    const x = input(ctx, 0);
    const axis = normAxis(intAttr(ctx.attributes, 'axis', 0), x.shape.length);
    const sizes = ctx.constant(1);
    if (!sizes) {
      // Sizes known only at run time (a graph input): one output per entry, each a fresh symbolic dim.
      const given = input(ctx, 1);
      const n = given.shape[0];
      if (given.dtype !== 'int64' || given.shape.length !== 1 || typeof n !== 'number') throw new Error('Split: run-time sizes must be int64 [n] with n known');
      return Array.from({ length: n }, (_, i) => ({ dtype: x.dtype, shape: x.shape.map((d, j) => (j === axis ? ctx.symbol(`part${i}`) : d)) }));
    }
    const parts = toNumbers(sizes);
    const total = parts.reduce((a, b) => a + b, 0);
    if (typeof x.shape[axis] === 'number' && x.shape[axis] !== total) throw new Error(`Split: sizes sum to ${total}, axis has ${x.shape[axis]}`);
    return parts.map((p) => ({ dtype: x.dtype, shape: x.shape.map((d, i) => (i === axis ? p : d)) }));
  },
  // The parts' gradients side by side again; a part no gradient reaches contributes zeros.
  backward: (ctx) => {
    const { g } = ctx;
    const axis = normAxis(intAttr(ctx.attributes, 'axis', 0), bwIn(ctx, 0).shape.length);
    const parts = ctx.outputs.map((o, i) => ctx.grads[i] ?? zeros(g, staticShape(o ?? bwOut(ctx, i))));
    return [g.concat(parts, axis)];
  },
});

define({
  domain: '', op: 'Concat', inputs: [1, Infinity],
  infer: (ctx) => {
    const xs = ctx.inputs.map((_, i) => input(ctx, i));
    const axis = normAxis(intAttr(ctx.attributes, 'axis'), xs[0].shape.length);
    const shape = [...xs[0].shape];
    shape[axis] = xs.slice(1).reduce<Dim>((s, t) => addDims(s, t.shape[axis]), xs[0].shape[axis]);
    return [{ dtype: sameDType('Concat', ...xs), shape }];
  },
  backward: (ctx) => {
    const axis = normAxis(intAttr(ctx.attributes, 'axis'), bwIn(ctx, 0).shape.length);
    const sizes = ctx.inputs.map((_, i) => staticShape(bwIn(ctx, i))[axis]);
    const parts = ctx.g.split(bwGrad(ctx), sizes, axis);
    return parts.map((p, i) => (ctx.needs(i) ? p : undefined));
  },
});

define({
  domain: '', op: 'Unsqueeze', inputs: [2, 2],
  infer: (ctx) => {
    const x = input(ctx, 0);
    const axesData = ctx.constant(1);
    if (!axesData) throw new Error('Unsqueeze: needs its axes as a constant input');
    const rank = x.shape.length + axesData.length;
    const axes = new Set(toNumbers(axesData).map((a) => normAxis(a, rank)));
    const rest = [...x.shape];
    return [{ dtype: x.dtype, shape: Array.from({ length: rank }, (_, i) => (axes.has(i) ? 1 : rest.shift() as Dim)) }];
  },
  backward: (ctx) => [ctx.g.reshape(bwGrad(ctx), staticShape(bwIn(ctx, 0)))],
});

/** Softmax and LogSoftmax: the output has the input's type; the axis must be in range. */
function inferKeepsShapeAlongAxis(ctx: InferContext): TensorType[] {
  const x = input(ctx, 0);
  normAxis(intAttr(ctx.attributes, 'axis', -1), x.shape.length);
  return [x];
}

define({
  domain: '', op: 'Softmax', inputs: [1, 1],
  infer: inferKeepsShapeAlongAxis,
  // y = softmax(x): dx = y·(g − Σ g·y) along the axis (no SoftmaxGrad in the CPU build).
  backward: (ctx) => {
    const { g } = ctx, y = bwOut(ctx, 0), gy = bwGrad(ctx);
    const axis = normAxis(intAttr(ctx.attributes, 'axis', -1), y.shape.length);
    return [g.mul(y, g.sub(gy, reduce(g, 'ReduceSum', g.mul(gy, y), [axis], true)))];
  },
});

define({
  domain: '', op: 'LayerNormalization', inputs: [2, 3],
  infer: (ctx) => {
    const x = input(ctx, 0);
    const axis = normAxis(intAttr(ctx.attributes, 'axis', -1), x.shape.length);
    // Mean and inverse std dev (kept for a backward pass) have the normalized axes reduced to 1.
    const stat: TensorType = { dtype: x.dtype, shape: x.shape.map((d, i) => (i < axis ? d : 1)) };
    return [x, stat, stat];
  },
  // From the saved mean and 1/σ (no LayerNormalizationGrad in the CPU build), x̂ = (x − μ)/σ:
  //   dγ = Σ g·x̂, dβ = Σ g (over the leading axes), dx = (1/σ)·(dx̂ − mean(dx̂) − x̂·mean(dx̂·x̂)), dx̂ = g·γ.
  backward: (ctx) => {
    const { g } = ctx, x = bwIn(ctx, 0), scale = bwIn(ctx, 1), bias = ctx.inputs[2], gy = bwGrad(ctx);
    if (ctx.grads[1] || ctx.grads[2]) throw new Error('LayerNormalization: Mean and InvStdDev are saved statistics; no gradient flows into them');
    const mean = ctx.outputs[1], invStd = ctx.outputs[2];
    if (!mean || !invStd) throw new Error('LayerNormalization: differentiating it needs its Mean and InvStdDev outputs (build the node with 3 outputs)');
    const rank = x.shape.length;
    const axes = span(normAxis(intAttr(ctx.attributes, 'axis', -1), rank), rank);
    const xhat = g.mul(g.sub(x, mean), invStd);
    const dScale = ctx.needs(1) ? sumToShape(g, g.mul(gy, xhat), scale.shape) : undefined;
    const dBias = bias && ctx.needs(2) ? sumToShape(g, gy, bias.shape) : undefined;
    let dx: Value | undefined;
    if (ctx.needs(0)) {
      const dxhat = g.mul(gy, scale);
      const m1 = reduce(g, 'ReduceMean', dxhat, axes, true);
      const m2 = reduce(g, 'ReduceMean', g.mul(dxhat, xhat), axes, true);
      dx = g.mul(g.sub(g.sub(dxhat, m1), g.mul(xhat, m2)), invStd);
    }
    return [dx, dScale, dBias];
  },
});

// ---- more standard ops, for training graphs and the backward passes of the ones above ----

for (const op of ['Neg', 'Exp']) define(unary(op));

/**
 * Max and Sum have no rule: training graphs use them only on paths no gradient takes (target counts,
 * the gradients' squared norm).
 */
for (const op of ['Max', 'Sum']) {
  define({
    domain: '', op, inputs: [1, Infinity],
    infer: (ctx) => {
      const xs = ctx.inputs.map((_, i) => input(ctx, i));
      return [{ dtype: sameDType(op, ...xs), shape: xs.slice(1).reduce<Dim[]>((s, t) => broadcastShapes(s, t.shape), [...xs[0].shape]) }];
    },
  });
}

/** The axes a ReduceSum/ReduceMean (axes as an input, opset 18+) reduces over. */
function reductionAxes(op: string, rank: number, hasAxes: boolean, axes: TensorData | undefined, noopWithEmptyAxes: boolean): number[] {
  if (hasAxes && !axes) throw new Error(`${op}: needs its axes as a constant input`);
  const list = axes ? toNumbers(axes).map((a) => normAxis(a, rank)) : [];
  if (list.length > 0) return list;
  return noopWithEmptyAxes ? [] : span(0, rank);
}

function reduction(op: 'ReduceSum' | 'ReduceMean' | 'ReduceSumSquare'): OpDef {
  const axesOf = (ctx: { inputs: readonly unknown[]; attributes: Attributes; constant(i: number): TensorData | undefined }, rank: number) =>
    reductionAxes(op, rank, ctx.inputs[1] !== undefined, ctx.constant(1), intAttr(ctx.attributes, 'noop_with_empty_axes', 0) === 1);
  return {
    domain: '', op, inputs: [1, 2],
    infer: (ctx) => {
      const x = input(ctx, 0);
      const axes = new Set(axesOf(ctx, x.shape.length));
      const keep = intAttr(ctx.attributes, 'keepdims', 1) === 1;
      const shape = keep ? x.shape.map((d, i) => (axes.has(i) ? 1 : d)) : x.shape.filter((_, i) => !axes.has(i));
      return [{ dtype: x.dtype, shape }];
    },
    // Each input element got the output element it was reduced into (÷ count for the mean): the
    // gradient is expanded back over the reduced axes. ReduceSumSquare (the gradients' norm) has none.
    backward: op === 'ReduceSumSquare' ? undefined : (ctx) => {
      const { g } = ctx, x = bwIn(ctx, 0), gy = bwGrad(ctx);
      const shape = staticShape(x);
      const axes = axesOf(ctx, shape.length);
      const kept = shape.map((d, i) => (axes.includes(i) ? 1 : d));
      let d = intAttr(ctx.attributes, 'keepdims', 1) === 1 ? gy : g.reshape(gy, kept);
      if (op === 'ReduceMean') d = g.mul(d, scalar(g, 1 / axes.reduce((n, a) => n * shape[a], 1)));
      return [g.node('Expand', [d, g.constInt64(shape, [shape.length], 'shape')])[0]];
    },
  };
}
define(reduction('ReduceSum'));
define(reduction('ReduceSumSquare'));
define(reduction('ReduceMean'));

define({
  domain: '', op: 'Expand', inputs: [2, 2],
  infer: (ctx) => {
    const x = input(ctx, 0);
    const shape = ctx.constant(1);
    if (!shape) throw new Error('Expand: needs its shape as a constant input');
    return [{ dtype: x.dtype, shape: broadcastShapes(x.shape, toNumbers(shape)) }];
  },
  backward: (ctx) => [sumToShape(ctx.g, bwGrad(ctx), bwIn(ctx, 0).shape)],
});

define({
  domain: '', op: 'LogSoftmax', inputs: [1, 1],
  infer: inferKeepsShapeAlongAxis,
  // y = x − logΣeˣ: dx = g − softmax(x)·Σg, with softmax(x) = eʸ.
  backward: (ctx) => {
    const { g } = ctx, y = bwOut(ctx, 0), gy = bwGrad(ctx);
    const axis = normAxis(intAttr(ctx.attributes, 'axis', -1), y.shape.length);
    return [g.sub(gy, g.mul(g.node('Exp', [y])[0], reduce(g, 'ReduceSum', gy, [axis], true)))];
  },
});

define({
  domain: '', op: 'GatherElements', inputs: [2, 2],
  infer: (ctx) => {
    const data = input(ctx, 0), idx = input(ctx, 1);
    if (idx.dtype !== 'int64' && idx.dtype !== 'int32') throw new Error('GatherElements: indices must be int32 or int64');
    if (idx.shape.length !== data.shape.length) throw new Error('GatherElements: indices must have the rank of data');
    normAxis(intAttr(ctx.attributes, 'axis', 0), data.shape.length);
    return [{ dtype: data.dtype, shape: idx.shape }];
  },
  // Picked elements' gradients scatter-added back into zeros (a repeated index adds up).
  backward: (ctx) => {
    const { g } = ctx, data = bwIn(ctx, 0);
    const axis = normAxis(intAttr(ctx.attributes, 'axis', 0), data.shape.length);
    return [g.node('ScatterElements', [zeros(g, staticShape(data)), bwIn(ctx, 1), bwGrad(ctx)],
      { axis: attrOf.int(axis), reduction: attrOf.string('add') })[0]];
  },
});

define({
  domain: '', op: 'SoftmaxCrossEntropyLoss', inputs: [2, 2],
  infer: (ctx) => {
    const scores = input(ctx, 0), labels = input(ctx, 1);
    if (scores.shape.length !== 2 || labels.shape.length !== 1) throw new Error('SoftmaxCrossEntropyLoss: only scores [N,C] with labels [N] are supported here');
    if (labels.dtype !== 'int64' && labels.dtype !== 'int32') throw new Error('SoftmaxCrossEntropyLoss: labels must be int32 or int64');
    const reduction = ctx.attributes.reduction;
    if (reduction?.kind !== 'string' || reduction.value !== 'none') throw new Error('SoftmaxCrossEntropyLoss: only reduction "none" is supported here');
    if (ctx.attributes.ignore_index !== undefined) throw new Error('SoftmaxCrossEntropyLoss: ignore_index is not supported here (weight the losses instead)');
    return [{ dtype: scores.dtype, shape: [scores.shape[0]] }, scores];
  },
  // loss_n = −log_prob[n, label_n]: dscores = g_n·(softmax − onehot) = g_n·exp(log_prob), then −g_n
  // scatter-added at the label: three nodes over [N,C] (the LM head's [tokens, vocab]) where the
  // LogSoftmax and GatherElements rules emit six.
  backward: (ctx) => {
    const { g } = ctx, scores = bwIn(ctx, 0), gy = bwGrad(ctx);
    if (ctx.grads[1]) throw new Error('SoftmaxCrossEntropyLoss: differentiating through its log_prob output is not supported; use LogSoftmax');
    const logProb = ctx.outputs[1] ?? g.node('LogSoftmax', [scores], { axis: attrOf.int(1) })[0];
    const column = (v: Value) => g.unsqueeze(v, [1]);
    let labels = bwIn(ctx, 1);
    if (labels.dtype !== 'int64') labels = g.cast(labels, 'int64');
    const spread = g.mul(g.node('Exp', [logProb])[0], column(gy));
    return [g.node('ScatterElements', [spread, column(labels), column(neg(g, gy))], { axis: attrOf.int(1), reduction: attrOf.string('add') })[0]];
  },
});

/** ScatterElements and ScatterND (opset 18: reduction none/add/mul/min/max): only in backward passes. */
for (const op of ['ScatterElements', 'ScatterND']) {
  define({
    domain: '', op, inputs: [3, 3],
    infer: (ctx) => {
      const data = input(ctx, 0), idx = input(ctx, 1), updates = input(ctx, 2);
      if (idx.dtype !== 'int64' && idx.dtype !== 'int32') throw new Error(`${op}: indices must be int32 or int64`);
      sameDType(op, data, updates);
      return [data];
    },
  });
}

define({
  domain: '', op: 'ConstantOfShape', inputs: [1, 1],
  infer: (ctx) => {
    const shape = ctx.constant(0);
    if (!shape) throw new Error('ConstantOfShape: needs its shape as a constant input');
    // The IR has no tensor attributes, so `value` is always the default: float32 zeros.
    if (ctx.attributes.value !== undefined) throw new Error('ConstantOfShape: a value attribute is not supported here (float32 zeros only)');
    return [{ dtype: 'float32', shape: toNumbers(shape) }];
  },
});

define({
  domain: '', op: 'Where', inputs: [3, 3],
  infer: (ctx) => {
    const c = input(ctx, 0), x = input(ctx, 1), y = input(ctx, 2);
    if (c.dtype !== 'bool') throw new Error('Where: the condition must be bool');
    return [{ dtype: sameDType('Where', x, y), shape: broadcastShapes(broadcastShapes(c.shape, x.shape), y.shape) }];
  },
  // Each branch gets the gradient where it was chosen, zero elsewhere (the causal mask's −∞ side gets none).
  backward: (ctx) => {
    const { g } = ctx, c = bwIn(ctx, 0), gy = bwGrad(ctx);
    const zero = scalar(g, 0);
    return [
      undefined,
      ctx.needs(1) ? sumToShape(g, g.node('Where', [c, gy, zero])[0], bwIn(ctx, 1).shape) : undefined,
      ctx.needs(2) ? sumToShape(g, g.node('Where', [c, zero, gy])[0], bwIn(ctx, 2).shape) : undefined,
    ];
  },
});

/** Slice's [start, end) and step per axis, clamped as ONNX does; every axis of `shape` is listed. */
function sliceRanges(shape: readonly number[], ctx: { constant(i: number): TensorData | undefined; inputs: readonly unknown[] }): { start: number; end: number; step: number }[] {
  const need = (i: number, what: string) => {
    const d = ctx.constant(i);
    if (!d) throw new Error(`Slice: needs its ${what} as a constant input`);
    return toNumbers(d);
  };
  const starts = need(1, 'starts'), ends = need(2, 'ends');
  const axes = ctx.inputs[3] ? need(3, 'axes').map((a) => normAxis(a, shape.length)) : span(0, starts.length);
  const steps = ctx.inputs[4] ? need(4, 'steps') : starts.map(() => 1);
  const out = shape.map((d) => ({ start: 0, end: d, step: 1 }));
  axes.forEach((axis, i) => {
    const dim = shape[axis], step = steps[i];
    if (step === 0) throw new Error('Slice: step 0');
    const at = (v: number, lo: number, hi: number) => Math.min(Math.max(v < 0 ? v + dim : v, lo), hi);
    out[axis] = step > 0 ? { start: at(starts[i], 0, dim), end: at(ends[i], 0, dim), step } : { start: at(starts[i], -1, dim - 1), end: at(ends[i], -1, dim - 1), step };
  });
  return out;
}

define({
  domain: '', op: 'Slice', inputs: [3, 5],
  infer: (ctx) => {
    const x = input(ctx, 0);
    const ranges = sliceRanges(staticShape(x), ctx);
    return [{ dtype: x.dtype, shape: ranges.map((r) => Math.max(0, Math.ceil((r.end - r.start) / r.step))) }];
  },
  // The slice's gradient padded with zeros back to the input's extent (unit steps only).
  backward: (ctx) => {
    const x = bwIn(ctx, 0), shape = staticShape(x);
    const ranges = sliceRanges(shape, ctx);
    if (ranges.some((r) => r.step !== 1)) throw new Error('Slice: only unit steps can be differentiated here');
    const pads = [...ranges.map((r) => r.start), ...ranges.map((r, i) => shape[i] - Math.max(r.start, r.end))];
    return [ctx.g.node('Pad', [bwGrad(ctx), ctx.g.constInt64(pads, [pads.length], 'pads')])[0]];
  },
});

/** Pad (constant mode, pads for every axis); only in backward passes. */
define({
  domain: '', op: 'Pad', inputs: [2, 3],
  infer: (ctx) => {
    const x = input(ctx, 0);
    const pads = ctx.constant(1);
    if (!pads) throw new Error('Pad: needs its pads as a constant input');
    const p = toNumbers(pads), r = x.shape.length;
    if (p.length !== 2 * r) throw new Error(`Pad: ${p.length} pads for rank ${r}`);
    return [{ dtype: x.dtype, shape: x.shape.map((d, i) => (p[i] === 0 && p[r + i] === 0 ? d : addDims(addDims(d, p[i]), p[r + i]))) }];
  },
});

// ---- com.microsoft contrib ops (CPU kernels checked: bench/MACHINE.md) ----

const MS = 'com.microsoft';

define({
  domain: MS, op: 'FastGelu', inputs: [1, 2],
  infer: (ctx) => [input(ctx, 0)],
  // gelu_new(u) = ½u(1 + t), t = tanh(c(u + a·u³)), u = x + bias; by formula (no FastGeluGrad on CPU):
  //   d/du = ½(1 + t) + ½u(1 − t²)·c(1 + 3a·u²)
  backward: (ctx) => {
    const { g } = ctx, x = bwIn(ctx, 0), bias = ctx.inputs[1], gy = bwGrad(ctx);
    const c = Math.sqrt(2 / Math.PI), a = 0.044715;
    const u = bias ? g.add(x, bias) : x;
    const u2 = g.mul(u, u);
    const t = g.tanh(g.mul(u, g.add(g.mul(u2, scalar(g, a * c)), scalar(g, c))));
    const one = scalar(g, 1);
    const dt = g.mul(g.sub(one, g.mul(t, t)), g.add(g.mul(u2, scalar(g, 3 * a * c)), scalar(g, c)));
    const du = g.mul(gy, g.mul(g.add(g.add(one, t), g.mul(u, dt)), scalar(g, 0.5)));
    return [ctx.needs(0) ? sumToShape(g, du, x.shape) : undefined, bias && ctx.needs(1) ? sumToShape(g, du, bias.shape) : undefined];
  },
});

define({
  domain: MS, op: 'FusedMatMul', inputs: [2, 2],
  infer: (ctx) => {
    const a = input(ctx, 0), b = input(ctx, 1);
    if (a.shape.length < 2 || b.shape.length < 2) throw new Error('FusedMatMul: operands must have rank >= 2');
    const last2 = (t: TensorType, trans: number): [Dim, Dim] => {
      const [r, c] = t.shape.slice(-2);
      return trans ? [c, r] : [r, c];
    };
    const [m, k1] = last2(a, intAttr(ctx.attributes, 'transA', 0));
    const [k2, n] = last2(b, intAttr(ctx.attributes, 'transB', 0));
    if (typeof k1 === 'number' && typeof k2 === 'number' && k1 !== k2) throw new Error(`FusedMatMul: inner dims ${k1} and ${k2} differ`);
    const batch = broadcastShapes(a.shape.slice(0, -2), b.shape.slice(0, -2));
    return [{ dtype: sameDType('FusedMatMul', a, b), shape: [...batch, m, n] }];
  },
});

define({
  domain: MS, op: 'SkipLayerNormalization', inputs: [3, 5],
  infer: (ctx) => {
    const x = input(ctx, 0), skip = input(ctx, 1);
    expectRank('SkipLayerNormalization', x, [2, 3]);
    const dtype = sameDType('SkipLayerNormalization', x, skip);
    const stat: TensorType = { dtype: 'float32', shape: [...x.shape.slice(0, -1), 1] };
    // output, mean, inv_std_var, input_skip_bias_sum
    return [{ dtype, shape: x.shape }, stat, stat, { dtype, shape: x.shape }];
  },
});

define({
  domain: MS, op: 'MultiHeadAttention', inputs: [1, 10],
  infer: (ctx) => {
    const q = input(ctx, 0), k = ctx.inputs[1], v = ctx.inputs[2];
    if (!k || !v || q.shape.length !== 3 || k.shape.length !== 3) {
      throw new Error('MultiHeadAttention: only separate query/key/value of shape [B,S,E] are supported here');
    }
    const heads = intAttr(ctx.attributes, 'num_heads');
    const [b, s, e] = q.shape;
    const ve = v.shape[2];
    const pastKey = ctx.inputs[6], pastValue = ctx.inputs[7];
    if (!!pastKey !== !!pastValue) throw new Error('MultiHeadAttention: past_key and past_value go together');
    if (typeof e !== 'number' || e % heads !== 0) throw new Error(`MultiHeadAttention: hidden size ${e} not divisible by ${heads} heads`);
    const headSize = e / heads;
    const vHead = typeof ve === 'number' ? ve / heads : ctx.symbol('v_head');
    const total = pastKey ? addDims(pastKey.shape[2], k.shape[1]) : k.shape[1];
    const dtype = sameDType('MultiHeadAttention', q, k, v);
    return [
      { dtype, shape: [b, s, ve] },
      { dtype, shape: [b, heads, total, headSize] },
      { dtype, shape: [b, heads, total, vHead] },
      { dtype, shape: [b, heads, s, total] },
    ];
  },
});

/** The dims of `t` before its last: the rows a matmul over its last axis keeps. */
const leading = (t: TensorType): Dim[] => t.shape.slice(0, -1) as Dim[];

function elementsOf(t: TensorType): number | undefined {
  return t.shape.every((d): d is number => typeof d === 'number') ? (t.shape as number[]).reduce((a, b) => a * b, 1) : undefined;
}

/**
 * Y = A · ((B − b_zero_point)·b_scale): B [K,N] int8/uint8 weights, one scale (and zero point) per
 * tensor or per column; A float [..., K] is quantized to uint8 at run time, per tensor.
 */
define({
  domain: MS, op: 'DynamicQuantizeMatMul', inputs: [3, 5],
  infer: (ctx) => {
    const a = input(ctx, 0), b = input(ctx, 1), scale = input(ctx, 2), zp = ctx.inputs[3], bias = ctx.inputs[4];
    if (a.dtype !== 'float32' || scale.dtype !== 'float32') throw new Error('DynamicQuantizeMatMul: A and b_scale must be float32');
    if (b.dtype !== 'int8' && b.dtype !== 'uint8') throw new Error('DynamicQuantizeMatMul: B must be int8 or uint8');
    if (a.shape.length < 2 || b.shape.length !== 2) throw new Error('DynamicQuantizeMatMul: A must have rank >= 2 and B rank 2');
    const [k, n] = b.shape;
    const ka = a.shape[a.shape.length - 1];
    if (typeof ka === 'number' && typeof k === 'number' && ka !== k) throw new Error(`DynamicQuantizeMatMul: inner dims ${ka} and ${k} differ`);
    const count = elementsOf(scale);
    if (count !== undefined && count !== 1 && count !== n) throw new Error(`DynamicQuantizeMatMul: b_scale has ${count} values; needs 1 or N = ${n}`);
    if (zp && (zp.dtype !== b.dtype || elementsOf(zp) !== count)) throw new Error('DynamicQuantizeMatMul: b_zero_point must match B\'s dtype and b_scale\'s shape');
    if (bias && (bias.dtype !== 'float32' || elementsOf(bias) !== n)) throw new Error(`DynamicQuantizeMatMul: bias must be float32 [${n}]`);
    return [{ dtype: 'float32', shape: [...leading(a), n] }];
  },
});

/**
 * Y = A · dequant(B): B [N, ceil(K/block_size), block_size·bits/8] uint8, codes packed low-first
 * along K; scales [N·n_blocks]; zero_points packed [N·ceil(n_blocks·bits/8)] (default 2^(bits−1));
 * optional g_idx (unused here) and bias [N]. A float [..., K].
 */
define({
  domain: MS, op: 'MatMulNBits', inputs: [3, 6],
  infer: (ctx) => {
    const a = input(ctx, 0), b = input(ctx, 1), scales = input(ctx, 2), zp = ctx.inputs[3], gIdx = ctx.inputs[4], bias = ctx.inputs[5];
    const K = intAttr(ctx.attributes, 'K'), N = intAttr(ctx.attributes, 'N');
    const bits = intAttr(ctx.attributes, 'bits', 4), block = intAttr(ctx.attributes, 'block_size');
    if (![2, 4, 8].includes(bits)) throw new Error(`MatMulNBits: bits ${bits}; expected 2, 4 or 8`);
    if (block < 16 || (block & (block - 1)) !== 0) throw new Error(`MatMulNBits: block_size ${block} must be a power of two >= 16`);
    if (a.dtype !== 'float32' || scales.dtype !== 'float32') throw new Error('MatMulNBits: A and scales must be float32 here');
    const ka = a.shape[a.shape.length - 1];
    if (a.shape.length < 2 || (typeof ka === 'number' && ka !== K)) throw new Error(`MatMulNBits: A must be [..., K = ${K}]`);
    const nBlocks = Math.ceil(K / block);
    const want = [N, nBlocks, (block * bits) / 8];
    if (b.dtype !== 'uint8' || b.shape.length !== 3 || b.shape.some((d, i) => d !== want[i])) {
      throw new Error(`MatMulNBits: B must be uint8 [${want.join(',')}]`);
    }
    if (elementsOf(scales) !== N * nBlocks) throw new Error(`MatMulNBits: scales must hold N·n_blocks = ${N * nBlocks} values`);
    const zpBytes = N * Math.ceil((nBlocks * bits) / 8);
    if (zp && (zp.dtype !== 'uint8' || elementsOf(zp) !== zpBytes)) throw new Error(`MatMulNBits: packed zero_points must be uint8 with ${zpBytes} values`);
    if (gIdx) throw new Error('MatMulNBits: g_idx is not supported here');
    if (bias && (bias.dtype !== 'float32' || elementsOf(bias) !== N)) throw new Error(`MatMulNBits: bias must be float32 [${N}]`);
    return [{ dtype: 'float32', shape: [...leading(a), N] }];
  },
});
