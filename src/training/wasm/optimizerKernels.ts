/**
 * AdamW's update and the sum of squares behind global-norm clipping, as WebAssembly SIMD kernels
 * with the plain JS loops beside them as reference and fallback. A JS loop does one element at a
 * time in doubles (11–38 ns per AdamW element on GPT-2 small); f32x4 lanes bring both passes near
 * memory bandwidth.
 *
 * The weights and gradients stay in the caller's Float32Arrays (ORT inputs and outputs, checkpoint
 * data), so the drivers stream them through a fixed scratch region of the module's memory in chunks
 * small enough to stay in L2: copy in, run the kernel, copy the results back. AdamW's m and v, which
 * only the optimizer touches, and the weights (onnxruntime reads inputs wherever they are) can live
 * in the memory itself (optimizerKernelsWithState, AdamW.adopt): then only the gradients are copied.
 * A memory is allocated once and never grows, so its views stay valid.
 */
import {
  BLOCK_VOID, F32, F64, FunctionBody, I32, Op, Simd, V128, encodeModule,
} from './wasmEncoder';

/** The scalars of one AdamW update, as AdamW.step derives them from lr and the step count. */
export interface AdamWCoefficients {
  beta1: number;
  beta2: number;
  /** 1 − β1 */
  c1: number;
  /** 1 − β2 */
  c2: number;
  /** 1 − lr·wd for decayed tensors, else 1. */
  keep: number;
  /** lr / (1 − β1ᵗ) */
  stepSize: number;
  /** 1 / √(1 − β2ᵗ) */
  invSqrtBc2: number;
  eps: number;
  /** Multiplies each gradient first (clipping's factor). */
  gradScale: number;
}

// ---- reference (and fallback) ----

/** The update in doubles, element by element: the definition the kernel is checked against. */
export function adamwStepReference(w: Float32Array, g: Float32Array, m: Float32Array, v: Float32Array, k: AdamWCoefficients): void {
  const { beta1, beta2, c1, c2, keep, stepSize, invSqrtBc2, eps, gradScale } = k;
  for (let i = 0; i < m.length; i++) {
    const gi = g[i] * gradScale;
    const mi = beta1 * m[i] + c1 * gi;
    const vi = beta2 * v[i] + c2 * gi * gi;
    m[i] = mi;
    v[i] = vi;
    w[i] = w[i] * keep - (stepSize * mi) / (Math.sqrt(vi) * invSqrtBc2 + eps);
  }
}

/**
 * Σ g² in doubles with four independent accumulators: one accumulator chains every add on the
 * previous one's latency, which made this ~2× slower.
 */
export function sumOfSquaresReference(g: Float32Array): number {
  let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  const n = g.length, n4 = n - (n & 3);
  let i = 0;
  for (; i < n4; i += 4) {
    const a = g[i], b = g[i + 1], c = g[i + 2], d = g[i + 3];
    s0 += a * a;
    s1 += b * b;
    s2 += c * c;
    s3 += d * d;
  }
  for (; i < n; i++) s0 += g[i] * g[i];
  return s0 + s1 + s2 + s3;
}

// ---- the module ----

/**
 * Elements per array per chunk: w, g, m and v chunks take 4 × 64 KiB = 256 KiB, well inside one
 * core's L2 (1–2 MiB) with room for the source and destination lines of the copies.
 */
export const CHUNK = 16384;
const CHUNK_BYTES = CHUNK * 4;
const W_AT = 0;
const G_AT = CHUNK_BYTES;
const M_AT = 2 * CHUNK_BYTES;
const V_AT = 3 * CHUNK_BYTES;
const PAGE = 65536;
const PAGES = Math.ceil((4 * CHUNK_BYTES) / PAGE);

/** v128.load / store address = pointer local + byte index local. */
function address(f: FunctionBody, ptr: number, i: number): FunctionBody {
  return f.get(ptr).get(i).op(Op.i32Add);
}

/**
 * adamw(w, g, m, v, n, β1, β2, c1, c2, keep, stepSize, invSqrtBc2, eps, gradScale): the update of
 * adamwStepReference with the same operation order, in f32 (as PyTorch computes it on f32
 * tensors): four lanes at a time, then a scalar tail for n % 4. Pointers are byte addresses,
 * 16-byte aligned.
 */
function adamwKernel(): FunctionBody {
  const f = new FunctionBody([I32, I32, I32, I32, I32, F32, F32, F32, F32, F32, F32, F32, F32, F32], []);
  const [w, g, m, v, n] = [0, 1, 2, 3, 4];
  const scalars = [5, 6, 7, 8, 9, 10, 11, 12, 13];
  const [sB1, sB2, sC1, sC2, sKeep, sStep, sInv, sEps, sScale] = scalars;
  const i = f.local(I32);
  const vecEnd = f.local(I32);
  const end = f.local(I32);
  const splat = scalars.map(() => f.local(V128));
  const [xB1, xB2, xC1, xC2, xKeep, xStep, xInv, xEps, xScale] = splat;
  const xg = f.local(V128);
  const xm = f.local(V128);
  const xv = f.local(V128);
  const gi = f.local(F32);
  const mi = f.local(F32);
  const vi = f.local(F32);

  scalars.forEach((s, k) => f.get(s).simd(Simd.f32x4Splat).set(splat[k]));
  f.get(n).i32(2).op(Op.i32Shl).set(end);
  f.get(n).i32(-4).op(Op.i32And).i32(2).op(Op.i32Shl).set(vecEnd);

  f.op(Op.block, BLOCK_VOID, Op.loop, BLOCK_VOID);
  f.get(i).get(vecEnd).op(Op.i32GeU).op(Op.brIf, 1);
  // g·scale
  address(f, g, i).simdMem(Simd.v128Load).get(xScale).simd(Simd.f32x4Mul).set(xg);
  // m ← β1·m + c1·g
  address(f, m, i);
  f.get(xB1);
  address(f, m, i).simdMem(Simd.v128Load).simd(Simd.f32x4Mul);
  f.get(xC1).get(xg).simd(Simd.f32x4Mul).simd(Simd.f32x4Add).tee(xm).simdMem(Simd.v128Store);
  // v ← β2·v + c2·g·g
  address(f, v, i);
  f.get(xB2);
  address(f, v, i).simdMem(Simd.v128Load).simd(Simd.f32x4Mul);
  f.get(xC2).get(xg).simd(Simd.f32x4Mul).get(xg).simd(Simd.f32x4Mul).simd(Simd.f32x4Add).tee(xv).simdMem(Simd.v128Store);
  // w ← w·keep − stepSize·m / (√v·invSqrtBc2 + ε)
  address(f, w, i);
  address(f, w, i).simdMem(Simd.v128Load).get(xKeep).simd(Simd.f32x4Mul);
  f.get(xStep).get(xm).simd(Simd.f32x4Mul);
  f.get(xv).simd(Simd.f32x4Sqrt).get(xInv).simd(Simd.f32x4Mul).get(xEps).simd(Simd.f32x4Add);
  f.simd(Simd.f32x4Div).simd(Simd.f32x4Sub).simdMem(Simd.v128Store);
  f.get(i).i32(16).op(Op.i32Add).set(i);
  f.op(Op.br, 0, Op.end, Op.end);

  // The same, one element at a time.
  const load = (ptr: number) => address(f, ptr, i).mem(Op.f32Load, 2);
  f.op(Op.block, BLOCK_VOID, Op.loop, BLOCK_VOID);
  f.get(i).get(end).op(Op.i32GeU).op(Op.brIf, 1);
  load(g).get(sScale).op(Op.f32Mul).set(gi);
  address(f, m, i);
  f.get(sB1);
  load(m).op(Op.f32Mul).get(sC1).get(gi).op(Op.f32Mul).op(Op.f32Add).tee(mi).mem(Op.f32Store, 2);
  address(f, v, i);
  f.get(sB2);
  load(v).op(Op.f32Mul).get(sC2).get(gi).op(Op.f32Mul).get(gi).op(Op.f32Mul).op(Op.f32Add).tee(vi).mem(Op.f32Store, 2);
  address(f, w, i);
  load(w).get(sKeep).op(Op.f32Mul);
  f.get(sStep).get(mi).op(Op.f32Mul);
  f.get(vi).op(Op.f32Sqrt).get(sInv).op(Op.f32Mul).get(sEps).op(Op.f32Add);
  f.op(Op.f32Div, Op.f32Sub).mem(Op.f32Store, 2);
  f.get(i).i32(4).op(Op.i32Add).set(i);
  f.op(Op.br, 0, Op.end, Op.end);
  return f;
}

/** Lanes 2 and 3 of an f32x4 moved to lanes 0 and 1, for f64x2.promote_low. */
const HIGH_HALF = [8, 9, 10, 11, 12, 13, 14, 15, 8, 9, 10, 11, 12, 13, 14, 15];

/**
 * sumsq(g, n) → f64: Σ g² with every square and sum in f64 (an f32 product is exact in f64), as the
 * reference does; eight elements a step into four f64x2 accumulators so adds do not wait on each
 * other, then a scalar tail.
 */
function sumsqKernel(): FunctionBody {
  const f = new FunctionBody([I32, I32], [F64]);
  const [g, n] = [0, 1];
  const i = f.local(I32);
  const vecEnd = f.local(I32);
  const end = f.local(I32);
  const x = f.local(V128);
  const p = f.local(V128);
  const acc = [f.local(V128), f.local(V128), f.local(V128), f.local(V128)];
  const sq = f.local(F64);
  const tail = f.local(F64);
  const total = f.local(V128);

  f.get(n).i32(2).op(Op.i32Shl).set(end);
  f.get(n).i32(-8).op(Op.i32And).i32(2).op(Op.i32Shl).set(vecEnd);
  // Locals start at zero, v128 ones included: no accumulator initialisation needed.
  const square = (a: number) => f.tee(p).get(p).simd(Simd.f64x2Mul).get(a).simd(Simd.f64x2Add).set(a);

  f.op(Op.block, BLOCK_VOID, Op.loop, BLOCK_VOID);
  f.get(i).get(vecEnd).op(Op.i32GeU).op(Op.brIf, 1);
  for (const [half, offset] of [[0, 0], [1, 16]]) {
    address(f, g, i).simdMem(Simd.v128Load, offset).set(x);
    f.get(x).simd(Simd.f64x2PromoteLowF32x4);
    square(acc[2 * half]);
    f.get(x).get(x).simd(Simd.i8x16Shuffle, ...HIGH_HALF).simd(Simd.f64x2PromoteLowF32x4);
    square(acc[2 * half + 1]);
  }
  f.get(i).i32(32).op(Op.i32Add).set(i);
  f.op(Op.br, 0, Op.end, Op.end);

  f.op(Op.block, BLOCK_VOID, Op.loop, BLOCK_VOID);
  f.get(i).get(end).op(Op.i32GeU).op(Op.brIf, 1);
  address(f, g, i).mem(Op.f32Load, 2).op(Op.f64PromoteF32).tee(sq).get(sq).op(Op.f64Mul);
  f.get(tail).op(Op.f64Add).set(tail);
  f.get(i).i32(4).op(Op.i32Add).set(i);
  f.op(Op.br, 0, Op.end, Op.end);

  f.get(acc[0]).get(acc[1]).simd(Simd.f64x2Add).get(acc[2]).get(acc[3]).simd(Simd.f64x2Add).simd(Simd.f64x2Add).set(total);
  f.get(total).simd(Simd.f64x2ExtractLane, 0).get(total).simd(Simd.f64x2ExtractLane, 1).op(Op.f64Add);
  f.get(tail).op(Op.f64Add);
  return f;
}

/** The kernels' module: memory `env.memory` imported, `adamw` and `sumsq` exported. */
export const OPTIMIZER_MODULE: Uint8Array = encodeModule({
  memory: { module: 'env', field: 'memory', minPages: PAGES },
  functions: [
    { name: 'adamw', body: adamwKernel() },
    { name: 'sumsq', body: sumsqKernel() },
  ],
});

// ---- instantiation ----

/** The part of the WebAssembly JS API used here (the project's lib settings leave out the DOM typings). */
export interface WasmApi {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: Record<string, unknown> };
  Memory: new (descriptor: { initial: number; maximum?: number }) => { buffer: ArrayBuffer };
}

type AdamWKernel = (w: number, g: number, m: number, v: number, n: number,
  beta1: number, beta2: number, c1: number, c2: number, keep: number, stepSize: number, invSqrtBc2: number, eps: number, gradScale: number) => void;

/** An instance with its scratch views (each CHUNK elements long). */
export interface OptimizerKernels {
  adamw: AdamWKernel;
  sumsq: (g: number, n: number) => number;
  /** The instance's memory: arrays viewing it are used in place. */
  buffer: ArrayBuffer;
  w: Float32Array;
  g: Float32Array;
  m: Float32Array;
  v: Float32Array;
}

const globalWasm = (): WasmApi | null => (globalThis as { WebAssembly?: WasmApi }).WebAssembly ?? null;

/**
 * The kernels, or null where the runtime has no WebAssembly or no SIMD (validation fails).
 * `extraPages` of memory follow the scratch region (optimizerKernelsWithState's arrays).
 */
export function loadOptimizerKernels(api: WasmApi | null = globalWasm(), extraPages = 0): OptimizerKernels | null {
  if (!api || !api.validate(OPTIMIZER_MODULE)) return null;
  const pages = PAGES + extraPages;
  const memory = new api.Memory({ initial: pages, maximum: pages });
  const { exports } = new api.Instance(new api.Module(OPTIMIZER_MODULE), { env: { memory } });
  const view = (at: number) => new Float32Array(memory.buffer, at, CHUNK);
  return {
    adamw: exports.adamw as AdamWKernel,
    sumsq: exports.sumsq as OptimizerKernels['sumsq'],
    buffer: memory.buffer,
    w: view(W_AT),
    g: view(G_AT),
    m: view(M_AT),
    v: view(V_AT),
  };
}

/** wasm32 addresses 4 GiB. */
const MAX_PAGES = 65536;

/**
 * Kernels of their own whose memory also holds zeroed float arrays of the given lengths (AdamW's m
 * and v, and room for the values AdamW.adopt moves in), which adamwStep then updates in place. Null where the kernels cannot load, JS is forced,
 * or the memory cannot be had (over 4 GiB, or refused): the caller keeps ordinary arrays.
 */
export function optimizerKernelsWithState(lengths: readonly number[], api: WasmApi | null = globalWasm()): { kernels: OptimizerKernels; arrays: Float32Array[] } | null {
  if (forceJs) return null;
  // Each array starts on a 16-byte boundary (the kernels' v128 loads).
  const offsets: number[] = [];
  let bytes = PAGES * PAGE;
  for (const n of lengths) {
    offsets.push(bytes);
    bytes += Math.ceil(n / 4) * 16;
  }
  const pages = Math.ceil(bytes / PAGE);
  if (pages > MAX_PAGES) return null;
  let k: OptimizerKernels | null;
  try {
    k = loadOptimizerKernels(api, pages - PAGES);
  } catch {
    return null; // RangeError: the runtime would not reserve that much memory
  }
  if (!k) return null;
  const buffer = k.buffer;
  return { kernels: k, arrays: lengths.map((n, i) => new Float32Array(buffer, offsets[i], n)) };
}

/** undefined until first needed: a process that never trains allocates nothing. */
let loaded: OptimizerKernels | null | undefined;
let forceJs = false;

function kernels(): OptimizerKernels | null {
  if (forceJs) return null;
  if (loaded === undefined) loaded = loadOptimizerKernels();
  return loaded;
}

/** Runs the JS reference instead of the kernels (tests and the benchmark compare the two). */
export function forceJsOptimizerKernels(force: boolean): void {
  forceJs = force;
}

/** Which implementation adamwStep and sumOfSquares use now. */
export function optimizerKernelBackend(): 'wasm-simd' | 'js' {
  return kernels() ? 'wasm-simd' : 'js';
}

// ---- chunked drivers ----

/**
 * One AdamW update of w, m and v in place (AdamW.step's inner loop for one tensor), by `own`
 * kernels when given (m and v in their memory are updated there), else the shared ones.
 */
export function adamwStep(w: Float32Array, g: Float32Array, m: Float32Array, v: Float32Array, c: AdamWCoefficients, own?: OptimizerKernels): void {
  const n = m.length;
  if (w.length !== n || g.length !== n || v.length !== n) throw new RangeError(`adamwStep: lengths ${w.length}, ${g.length}, ${m.length}, ${v.length} differ`);
  const k = forceJs ? null : own ?? kernels();
  if (!k) {
    adamwStepReference(w, g, m, v, c);
    return;
  }
  const resident = m.buffer === k.buffer && v.buffer === k.buffer;
  const residentW = w.buffer === k.buffer;
  for (let at = 0; at < n; at += CHUNK) {
    const len = Math.min(CHUNK, n - at);
    const end = at + len;
    if (!residentW) k.w.set(w.subarray(at, end));
    k.g.set(g.subarray(at, end));
    if (!resident) {
      k.m.set(m.subarray(at, end));
      k.v.set(v.subarray(at, end));
    }
    const wAt = residentW ? w.byteOffset + at * 4 : W_AT;
    const mAt = resident ? m.byteOffset + at * 4 : M_AT, vAt = resident ? v.byteOffset + at * 4 : V_AT;
    k.adamw(wAt, G_AT, mAt, vAt, len, c.beta1, c.beta2, c.c1, c.c2, c.keep, c.stepSize, c.invSqrtBc2, c.eps, c.gradScale);
    const full = len === CHUNK;
    if (!residentW) w.set(full ? k.w : k.w.subarray(0, len), at);
    if (!resident) {
      m.set(full ? k.m : k.m.subarray(0, len), at);
      v.set(full ? k.v : k.v.subarray(0, len), at);
    }
  }
}

/** Σ g², accumulated in f64. */
export function sumOfSquares(g: Float32Array): number {
  const k = kernels();
  if (!k) return sumOfSquaresReference(g);
  let sum = 0;
  for (let at = 0; at < g.length; at += CHUNK) {
    const len = Math.min(CHUNK, g.length - at);
    k.g.set(g.subarray(at, at + len));
    sum += k.sumsq(G_AT, len);
  }
  return sum;
}
