/**
 * A small typed graph IR for ONNX: values with dtype and (possibly symbolic) shape, nodes as plain
 * data, and a builder that infers every output's type through the op table (ops.ts). The inference
 * graph and, later, the training graphs (reverse-mode over these same nodes) are both built here, then
 * serialized by protoWriter.ts.
 */
import { inferOutputs, onnxDataType } from './ops';

export { addDims, mulDims, broadcastShapes, onnxDataType, dtypeFromOnnx } from './ops';

export type DType = 'float32' | 'float16' | 'int64' | 'int32' | 'int8' | 'uint8' | 'bool';
/** A dimension: a size, or a symbol (`'batch'`, `'past+seq'`) that ONNX stores as dim_param. */
export type Dim = number | string;
export type Shape = readonly Dim[];

export interface TensorType {
  readonly dtype: DType;
  readonly shape: Shape;
}

/** A named value in a graph: a graph input, an initializer or a node output. */
export interface Value extends TensorType {
  readonly name: string;
}

/** Data for a tensor of `dtype`: float16 is carried as its raw bits, bool as bytes. */
export type TensorData = Float32Array | Uint16Array | BigInt64Array | Int32Array | Int8Array | Uint8Array;

export type Attribute =
  | { readonly kind: 'int'; readonly value: number }
  | { readonly kind: 'float'; readonly value: number }
  | { readonly kind: 'string'; readonly value: string }
  | { readonly kind: 'ints'; readonly value: readonly number[] }
  | { readonly kind: 'floats'; readonly value: readonly number[] }
  | { readonly kind: 'strings'; readonly value: readonly string[] };
export type Attributes = Readonly<Record<string, Attribute>>;

/** Attribute constructors; ints and floats must be told apart because ONNX types them. */
export const attr = {
  int: (value: number): Attribute => ({ kind: 'int', value }),
  float: (value: number): Attribute => ({ kind: 'float', value }),
  string: (value: string): Attribute => ({ kind: 'string', value }),
  ints: (value: readonly number[]): Attribute => ({ kind: 'ints', value }),
  floats: (value: readonly number[]): Attribute => ({ kind: 'floats', value }),
  strings: (value: readonly string[]): Attribute => ({ kind: 'strings', value }),
};

/** One operator application. An empty input name is an omitted optional input, as in ONNX. */
export interface Node {
  readonly name: string;
  readonly op: string;
  /** '' is the default ONNX domain (ai.onnx). */
  readonly domain: string;
  inputs: string[];
  outputs: string[];
  readonly attributes: Attributes;
}

/**
 * A constant tensor stored with the model. `data` may be a function so that a multi-gigabyte model
 * is read from its checkpoint one tensor at a time while the writer streams it out.
 */
export interface Initializer extends Value {
  readonly shape: readonly number[];
  readonly data: TensorData | (() => TensorData);
}

export interface OpsetImport {
  readonly domain: string;
  readonly version: number;
}

export interface Graph {
  readonly name: string;
  /** Every value by name (inputs, initializers, node outputs) with its dtype and shape. */
  readonly values: ReadonlyMap<string, Value>;
  readonly inputs: readonly Value[];
  readonly outputs: readonly Value[];
  readonly nodes: readonly Node[];
  readonly initializers: readonly Initializer[];
  readonly opsets: readonly OpsetImport[];
}

export const MS_DOMAIN = 'com.microsoft';
/** ai.onnx opset 20: LayerNormalization-17, Gelu-20, ReduceSum with an axes input. */
export const DEFAULT_OPSETS: readonly OpsetImport[] = [
  { domain: '', version: 20 },
  { domain: MS_DOMAIN, version: 1 },
];

export function elementCount(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

export function resolveData(init: Initializer): TensorData {
  return typeof init.data === 'function' ? init.data() : init.data;
}

/** The typed array that holds data of `dtype` (float16 as raw bits, bool as bytes). */
export function dataMatches(dtype: DType, data: TensorData): boolean {
  switch (dtype) {
    case 'float32': return data instanceof Float32Array;
    case 'float16': return data instanceof Uint16Array;
    case 'int64': return data instanceof BigInt64Array;
    case 'int32': return data instanceof Int32Array;
    case 'int8': return data instanceof Int8Array;
    case 'uint8': case 'bool': return data instanceof Uint8Array;
  }
}

export interface NodeOptions {
  domain?: string;
  /** Output count (names generated) or explicit output names; default one output. */
  outputs?: number | readonly string[];
  name?: string;
}

/**
 * Builds a Graph. Every node goes through `node()`, which asks the op table for its output types, so
 * a shape mistake surfaces where the node is made, not as an error from the runtime.
 */
export class GraphBuilder {
  private readonly values = new Map<string, Value>();
  private readonly nodes: Node[] = [];
  private readonly inits: Initializer[] = [];
  private readonly initByName = new Map<string, Initializer>();
  private readonly graphInputs: Value[] = [];
  private readonly graphOutputs: Value[] = [];
  private counter = 0;

  constructor(readonly name: string, private readonly opsets: readonly OpsetImport[] = DEFAULT_OPSETS) {}

  /** A fresh name with `prefix`, unique in this graph. */
  uniqueName(prefix: string): string {
    let n: string;
    do n = `${prefix}_${this.counter++}`;
    while (this.values.has(n));
    return n;
  }

  value(name: string): Value {
    const v = this.values.get(name);
    if (!v) throw new Error(`graph ${this.name}: no value named ${name}`);
    return v;
  }

  /** The nodes added so far, in order (reverse-mode differentiation walks them backwards). */
  currentNodes(): readonly Node[] {
    return this.nodes;
  }

  /** An initializer's data when it is held in memory (shape constants), else undefined. */
  constantData(name: string): TensorData | undefined {
    const init = this.initByName.get(name);
    return init && typeof init.data !== 'function' ? init.data : undefined;
  }

  input(name: string, dtype: DType, shape: Shape): Value {
    const v = this.define({ name, dtype, shape });
    this.graphInputs.push(v);
    return v;
  }

  initializer(name: string, dtype: DType, shape: readonly number[], data: TensorData | (() => TensorData)): Value {
    if (typeof data !== 'function') checkData(name, dtype, shape, data);
    const init: Initializer = { name, dtype, shape, data };
    this.define(init);
    this.inits.push(init);
    this.initByName.set(name, init);
    return init;
  }

  /** A small in-memory constant (shapes, axes, indices) under a generated name. */
  constInt64(values: readonly number[], shape: readonly number[] = [values.length], prefix = 'const'): Value {
    return this.initializer(this.uniqueName(prefix), 'int64', shape, BigInt64Array.from(values, (v) => BigInt(v)));
  }

  constFloat(values: readonly number[], shape: readonly number[] = [values.length], prefix = 'const'): Value {
    return this.initializer(this.uniqueName(prefix), 'float32', shape, Float32Array.from(values));
  }

  /** Marks `v` a graph output, renaming it to `name` (the producing node's output is renamed too). */
  output(v: Value, name: string = v.name): Value {
    const out = name === v.name ? v : this.rename(v, name);
    this.graphOutputs.push(out);
    return out;
  }

  /**
   * Adds a node; its output types come from the op table. `inputs` entries may be null for omitted
   * optional inputs (trailing nulls are dropped).
   */
  node(op: string, inputs: readonly (Value | null)[], attributes: Attributes = {}, opts: NodeOptions = {}): Value[] {
    const domain = opts.domain ?? '';
    const ins = [...inputs];
    while (ins.length > 0 && ins[ins.length - 1] === null) ins.pop();
    const name = opts.name ?? this.uniqueName(op);
    const types = inferOutputs(domain, op, {
      inputs: ins.map((v) => v ?? undefined),
      attributes,
      constant: (i) => {
        const v = ins[i];
        return v ? this.constantData(v.name) : undefined;
      },
      symbol: (hint) => this.uniqueName(`${name}_${hint}`),
    });
    const requested = opts.outputs ?? 1;
    const outNames = typeof requested === 'number'
      ? Array.from({ length: requested }, (_, i) => (i === 0 ? `${name}_out` : `${name}_out${i}`))
      : [...requested];
    if (outNames.length > types.length) {
      throw new Error(`${op}: asked for ${outNames.length} outputs; the op has ${types.length}`);
    }
    const outs = outNames.map((n, i) => (n === '' ? null : this.define({ name: n, dtype: types[i].dtype, shape: types[i].shape })));
    this.nodes.push({
      name,
      op,
      domain,
      inputs: ins.map((v) => v?.name ?? ''),
      outputs: outNames,
      attributes,
    });
    // Omitted outputs ('' names) are not returned as values; callers index by position.
    return outs.map((v, i) => v ?? { name: '', dtype: types[i].dtype, shape: types[i].shape });
  }

  build(): Graph {
    if (this.graphOutputs.length === 0) throw new Error(`graph ${this.name} has no outputs`);
    return {
      name: this.name,
      values: new Map(this.values),
      inputs: [...this.graphInputs],
      outputs: [...this.graphOutputs],
      nodes: this.nodes.map((n) => ({ ...n, inputs: [...n.inputs], outputs: [...n.outputs] })),
      initializers: [...this.inits],
      opsets: this.opsets,
    };
  }

  // ---- typed helpers for the ops in the table (one output unless said) ----

  add(a: Value, b: Value): Value { return this.node('Add', [a, b])[0]; }
  sub(a: Value, b: Value): Value { return this.node('Sub', [a, b])[0]; }
  mul(a: Value, b: Value): Value { return this.node('Mul', [a, b])[0]; }
  div(a: Value, b: Value): Value { return this.node('Div', [a, b])[0]; }
  matMul(a: Value, b: Value): Value { return this.node('MatMul', [a, b])[0]; }
  gemm(a: Value, b: Value, c: Value | null, o: { transA?: boolean; transB?: boolean; alpha?: number; beta?: number } = {}): Value {
    const at: Record<string, Attribute> = {};
    if (o.transA) at.transA = attr.int(1);
    if (o.transB) at.transB = attr.int(1);
    if (o.alpha !== undefined) at.alpha = attr.float(o.alpha);
    if (o.beta !== undefined) at.beta = attr.float(o.beta);
    return this.node('Gemm', [a, b, c], at)[0];
  }
  gather(data: Value, indices: Value, axis = 0): Value {
    return this.node('Gather', [data, indices], { axis: attr.int(axis) })[0];
  }
  reshape(x: Value, shape: readonly number[]): Value {
    return this.node('Reshape', [x, this.constInt64(shape, [shape.length], 'shape')])[0];
  }
  transpose(x: Value, perm: readonly number[]): Value {
    return this.node('Transpose', [x], { perm: attr.ints(perm) })[0];
  }
  /** Splits `x` along `axis` into parts of the given sizes. */
  split(x: Value, sizes: readonly number[], axis = 0): Value[] {
    return this.node('Split', [x, this.constInt64(sizes, [sizes.length], 'split')], { axis: attr.int(axis) }, { outputs: sizes.length });
  }
  /** Split with sizes given at run time (an int64 [n] value, e.g. a graph input): n outputs. */
  splitAt(x: Value, sizes: Value, axis: number): Value[] {
    const n = sizes.shape[0];
    if (typeof n !== 'number') throw new Error('splitAt: the sizes must have a known length');
    return this.node('Split', [x, sizes], { axis: attr.int(axis) }, { outputs: n });
  }
  concat(xs: readonly Value[], axis: number): Value {
    return this.node('Concat', xs, { axis: attr.int(axis) })[0];
  }
  unsqueeze(x: Value, axes: readonly number[]): Value {
    return this.node('Unsqueeze', [x, this.constInt64(axes, [axes.length], 'axes')])[0];
  }
  softmax(x: Value, axis = -1): Value { return this.node('Softmax', [x], { axis: attr.int(axis) })[0]; }
  tanh(x: Value): Value { return this.node('Tanh', [x])[0]; }
  identity(x: Value): Value { return this.node('Identity', [x])[0]; }
  cast(x: Value, to: DType): Value { return this.node('Cast', [x], { to: attr.int(onnxDataType(to)) })[0]; }
  layerNorm(x: Value, scale: Value, bias: Value | null, epsilon: number, axis = -1): Value {
    return this.node('LayerNormalization', [x, scale, bias], { axis: attr.int(axis), epsilon: attr.float(epsilon) })[0];
  }

  /** com.microsoft FastGelu: GPT-2's gelu_new (tanh approximation) of x + bias. */
  fastGelu(x: Value, bias: Value | null): Value {
    return this.node('FastGelu', [x, bias], {}, { domain: MS_DOMAIN })[0];
  }

  /**
   * com.microsoft SkipLayerNormalization: `normed` = LayerNorm(input + skip + bias) and `sum` = input + skip + bias
   * (the residual stream, its fourth output).
   */
  skipLayerNorm(input: Value, skip: Value, gamma: Value, beta: Value | null, bias: Value | null, epsilon: number): { normed: Value; sum: Value } {
    const name = this.uniqueName('SkipLayerNorm');
    const [normed, , , sum] = this.node('SkipLayerNormalization', [input, skip, gamma, beta, bias], { epsilon: attr.float(epsilon) },
      { domain: MS_DOMAIN, name, outputs: [`${name}_out`, '', '', `${name}_sum`] });
    return { normed, sum };
  }

  /**
   * com.microsoft MultiHeadAttention over separate Q, K, V [B,S,E] with a past in BNSH [B,H,P,D];
   * returns the attention output [B,S,E] and the presents [B,H,P+S,D].
   */
  multiHeadAttention(q: Value, k: Value, v: Value, o: {
    numHeads: number; bias?: Value; pastKey: Value; pastValue: Value; unidirectional: boolean; scale?: number;
  }): { output: Value; presentKey: Value; presentValue: Value } {
    const at: Record<string, Attribute> = { num_heads: attr.int(o.numHeads), unidirectional: attr.int(o.unidirectional ? 1 : 0) };
    if (o.scale !== undefined) at.scale = attr.float(o.scale);
    const [output, presentKey, presentValue] = this.node('MultiHeadAttention',
      [q, k, v, o.bias ?? null, null, null, o.pastKey, o.pastValue], at, { domain: MS_DOMAIN, outputs: 3 });
    return { output, presentKey, presentValue };
  }

  private define<V extends Value>(v: V): V {
    if (this.values.has(v.name)) throw new Error(`graph ${this.name}: value ${v.name} defined twice`);
    this.values.set(v.name, v);
    return v;
  }

  private rename(v: Value, name: string): Value {
    if (this.values.has(name)) throw new Error(`graph ${this.name}: value ${name} already exists`);
    if (this.initByName.has(v.name) || this.graphInputs.some((g) => g.name === v.name)) {
      throw new Error(`graph ${this.name}: ${v.name} is an input or initializer; it cannot be renamed`);
    }
    const renamed: Value = { name, dtype: v.dtype, shape: v.shape };
    this.values.delete(v.name);
    this.values.set(name, renamed);
    for (const n of this.nodes) {
      n.inputs = n.inputs.map((x) => (x === v.name ? name : x));
      n.outputs = n.outputs.map((x) => (x === v.name ? name : x));
    }
    const i = this.graphOutputs.findIndex((g) => g.name === v.name);
    if (i >= 0) this.graphOutputs[i] = renamed;
    return renamed;
  }
}

function checkData(name: string, dtype: DType, shape: readonly number[], data: TensorData): void {
  if (!dataMatches(dtype, data)) throw new Error(`initializer ${name}: ${data.constructor.name} does not hold ${dtype}`);
  if (data.length !== elementCount(shape)) {
    throw new Error(`initializer ${name}: ${data.length} elements for shape [${shape.join(',')}]`);
  }
}
