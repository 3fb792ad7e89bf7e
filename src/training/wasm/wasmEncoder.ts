/**
 * A minimal WebAssembly binary encoder: just enough to build the optimizer's SIMD kernels in code
 * (no toolchain, no .wasm file to ship). One imported memory, functions with typed params and
 * locals, exports; the function bodies are written as opcode lists. Binary format from the
 * WebAssembly core spec (sections 5.x) and the fixed-width SIMD proposal (merged in 2.0).
 */

/** Value types. */
export const I32 = 0x7f;
export const F32 = 0x7d;
export const F64 = 0x7c;
export const V128 = 0x7b;
export type ValType = typeof I32 | typeof F32 | typeof F64 | typeof V128;

/** Core opcodes the kernels use. */
export const Op = {
  block: 0x02,
  loop: 0x03,
  br: 0x0c,
  brIf: 0x0d,
  end: 0x0b,
  localGet: 0x20,
  localSet: 0x21,
  localTee: 0x22,
  f32Load: 0x2a,
  f32Store: 0x38,
  i32Const: 0x41,
  i32GeU: 0x4f,
  i32Add: 0x6a,
  i32Sub: 0x6b,
  i32And: 0x71,
  i32Shl: 0x74,
  f32Sqrt: 0x91,
  f32Add: 0x92,
  f32Sub: 0x93,
  f32Mul: 0x94,
  f32Div: 0x95,
  f64Add: 0xa0,
  f64Mul: 0xa2,
  f64PromoteF32: 0xbb,
} as const;

/** A block with no result (block type ε). */
export const BLOCK_VOID = 0x40;

/** The SIMD prefix byte; the sub-opcode follows as a LEB128 u32. */
export const SIMD_PREFIX = 0xfd;

/** SIMD sub-opcodes the kernels use. */
export const Simd = {
  v128Load: 0x00,
  v128Store: 0x0b,
  i8x16Shuffle: 0x0d,
  f32x4Splat: 0x13,
  f64x2ExtractLane: 0x21,
  f64x2PromoteLowF32x4: 0x5f,
  f32x4Sqrt: 0xe3,
  f32x4Add: 0xe4,
  f32x4Sub: 0xe5,
  f32x4Mul: 0xe6,
  f32x4Div: 0xe7,
  f64x2Add: 0xf0,
  f64x2Mul: 0xf2,
} as const;

const SECTION_TYPE = 1;
const SECTION_IMPORT = 2;
const SECTION_FUNCTION = 3;
const SECTION_EXPORT = 7;
const SECTION_CODE = 10;
const FUNC_TYPE = 0x60;
const EXTERN_FUNC = 0x00;
const EXTERN_MEMORY = 0x02;
const LIMITS_MIN_ONLY = 0x00;

export function uleb(v: number): number[] {
  if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`uleb: ${v} is not an unsigned integer`);
  const out: number[] = [];
  do {
    let b = v % 0x80;
    v = Math.floor(v / 0x80);
    if (v !== 0) b |= 0x80;
    out.push(b);
  } while (v !== 0);
  return out;
}

export function sleb(v: number): number[] {
  if (!Number.isSafeInteger(v)) throw new RangeError(`sleb: ${v} is not an integer`);
  const out: number[] = [];
  for (;;) {
    const b = v & 0x7f;
    v = Math.floor(v / 0x80); // arithmetic shift that also works past 32 bits
    if ((v === 0 && (b & 0x40) === 0) || (v === -1 && (b & 0x40) !== 0)) {
      out.push(b);
      return out;
    }
    out.push(b | 0x80);
  }
}

function name(s: string): number[] {
  const bytes = [...Buffer.from(s, 'utf8')];
  return [...uleb(bytes.length), ...bytes];
}

function vec(items: number[][]): number[] {
  return [...uleb(items.length), ...items.flat()];
}

function section(id: number, body: number[]): number[] {
  return [id, ...uleb(body.length), ...body];
}

/**
 * A function body under construction, with helpers that encode immediates. Locals are numbered
 * after the parameters, in the order `local()` hands them out.
 */
export class FunctionBody {
  readonly code: number[] = [];
  private readonly locals: ValType[] = [];

  constructor(readonly params: readonly ValType[], readonly results: readonly ValType[]) {}

  /** A new local of type t; returns its index. */
  local(t: ValType): number {
    this.locals.push(t);
    return this.params.length + this.locals.length - 1;
  }

  op(...bytes: number[]): this {
    this.code.push(...bytes);
    return this;
  }

  get(i: number): this { return this.op(Op.localGet, ...uleb(i)); }
  set(i: number): this { return this.op(Op.localSet, ...uleb(i)); }
  tee(i: number): this { return this.op(Op.localTee, ...uleb(i)); }
  i32(v: number): this { return this.op(Op.i32Const, ...sleb(v)); }

  /** A memory access: alignment as log2 of bytes, then a constant offset. */
  mem(opcode: number, alignLog2: number, offset = 0): this {
    return this.op(opcode, ...uleb(alignLog2), ...uleb(offset));
  }

  simd(sub: number, ...immediates: number[]): this {
    return this.op(SIMD_PREFIX, ...uleb(sub), ...immediates);
  }

  /** v128.load / v128.store with 16-byte alignment. */
  simdMem(sub: typeof Simd.v128Load | typeof Simd.v128Store, offset = 0): this {
    return this.simd(sub, ...uleb(4), ...uleb(offset));
  }

  /** The encoded body: local declarations (runs of one type) then code and `end`. */
  encode(): number[] {
    const runs: number[][] = [];
    for (const t of this.locals) {
      const last = runs[runs.length - 1];
      if (last && last[1] === t) last[0]++;
      else runs.push([1, t]);
    }
    const body = [...vec(runs.map(([count, t]) => [...uleb(count), t])), ...this.code, Op.end];
    return [...uleb(body.length), ...body];
  }
}

export interface ModuleSpec {
  /** An imported linear memory: module.field and its minimum size in 64 KiB pages. */
  memory: { module: string; field: string; minPages: number };
  functions: { name: string; body: FunctionBody }[];
}

/** The module's bytes: every function exported under its name; one type per function, unshared. */
export function encodeModule(spec: ModuleSpec): Uint8Array {
  const fns = spec.functions;
  const types = fns.map(({ body }) => [FUNC_TYPE, ...vec(body.params.map((t) => [t])), ...vec(body.results.map((t) => [t]))]);
  const imports = [[...name(spec.memory.module), ...name(spec.memory.field), EXTERN_MEMORY, LIMITS_MIN_ONLY, ...uleb(spec.memory.minPages)]];
  const bytes = [
    0x00, 0x61, 0x73, 0x6d, // "\0asm"
    0x01, 0x00, 0x00, 0x00, // version 1
    ...section(SECTION_TYPE, vec(types)),
    ...section(SECTION_IMPORT, vec(imports)),
    ...section(SECTION_FUNCTION, vec(fns.map((_, i) => uleb(i)))),
    ...section(SECTION_EXPORT, vec(fns.map((f, i) => [...name(f.name), EXTERN_FUNC, ...uleb(i)]))),
    ...section(SECTION_CODE, vec(fns.map((f) => f.body.encode()))),
  ];
  return Uint8Array.from(bytes);
}
