/**
 * Weight precision of inference graphs, and the weight quantizers behind it, in the exact layouts of
 * onnxruntime's CPU contrib ops (com.microsoft):
 * - int8: DynamicQuantizeMatMul. B is [K,N] int8, one scale per output column (b_scale [N]), zero
 *   point 0 (symmetric): W[k,n] = B[k,n]·scale[n]. Activations are quantized at run time (uint8,
 *   one scale per tensor). Codes use 7 bits (±63, onnxruntime's reduce_range): x86 CPUs without VNNI
 *   multiply uint8·int8 pairs into a saturating int16 (vpmaddubsw), and 2·255·127 overflows it
 *   while 2·255·63 does not. uint8 weights avoid that too, but ran int8 prefill 1.5-2.3× slower here
 *   (a 256×768·768×3072 product: 6.3 vs 14.4 ms, 1 thread); 7 bits cost no measurable loss.
 * - int4: MatMulNBits (bits 4). Each output column n is cut along K into blocks of `blockSize`;
 *   B is [N][nBlocks][blockSize/2] bytes, two codes a byte, the even k in the low nibble; scales
 *   [N·nBlocks]; zero points packed two a byte in [N][ceil(nBlocks/2)] (even block low).
 *   W[k,n] = (code − zp)·scale of k's block. K need not be a multiple of blockSize: the last block's
 *   padding codes are zero-weight filler the op never multiplies.
 * The dequantize functions are the op definitions written out, so tests can hold the runtime to them.
 */
import { UserError } from './errors';

export const PRECISIONS = ['fp32', 'int8', 'int4'] as const;
export type Precision = (typeof PRECISIONS)[number];
/** What a user may ask for: a precision, or `auto` (autoPrecision picks per device). */
export type PrecisionSetting = Precision | 'auto';
export const PRECISION_SETTINGS: readonly PrecisionSetting[] = ['auto', ...PRECISIONS];

/** MatMulNBits block along K: 32 is what onnxruntime's own 4-bit quantizer defaults to. */
export const INT4_BLOCK_SIZE = 32;
/** MatMulNBits accuracy_level 4 (int8 compute of A): 4.5 vs 7.5 ms per gpt2 token at level 0 (bench/MACHINE.md). */
export const INT4_ACCURACY_LEVEL = 4;

/** `value` as a precision setting, or a one-line UserError naming the choices. */
export function parsePrecision(value: unknown, where = 'precision'): PrecisionSetting {
  const v = typeof value === 'string' ? value.trim().toLowerCase() : value;
  if (typeof v === 'string' && (PRECISION_SETTINGS as readonly string[]).includes(v)) return v as PrecisionSetting;
  throw new UserError(`${where} "${String(value)}" is not one of ${PRECISION_SETTINGS.join(', ')}; pick one of those`);
}

/**
 * The precision `auto` means on a device (execution provider). Measured (bench/RESULTS.md,
 * "Precision", 2-vCPU Xeon, 2 threads, two runs): on the CPU int8 decodes a gpt2-sized model 2.4-2.6×
 * as fast as fp32 (one model run per token, context 64: 38.7-45.9 vs 16.1-17.8 tokens/s) and prefills
 * ~2× as fast, for +0.00004 nats/token (0.001%) of held-out loss on the embedded model. int4 decodes
 * a little faster at short context (49.3-52.6 tokens/s; equal at context 1000) but prefills 2× slower
 * than int8 (no faster than fp32) and costs 10× the loss (+0.00045). So the CPU gets
 * int8. GPU providers get fp32: the quantized ops were measured as CPU kernels only (bench/MACHINE.md; a GPU
 * provider without them runs those nodes on the CPU, copying between), no GPU was available to
 * measure, and a GPU is not bandwidth-starved the way two CPU cores are.
 */
export function autoPrecision(provider: string): Precision {
  return provider === 'cpu' ? 'int8' : 'fp32';
}

export function resolvePrecision(setting: PrecisionSetting, provider: string): Precision {
  return setting === 'auto' ? autoPrecision(provider) : setting;
}

/**
 * How a float matrix with K rows (the reduction axis) and N columns lies in memory:
 * 'KN': row-major [K,N] (GPT-2's Conv1D weights); 'NK': row-major [N,K] (wte, read as the tied head).
 */
export type MatrixLayout = 'KN' | 'NK';

/** Rows of this many columns are walked together: reading across rows of a big matrix is cache misses. */
const TILE = 32;

/** w as row-major [N,K] (each column's K values contiguous): w itself for 'NK', a tiled transpose for 'KN'. */
function columnsContiguous(w: Float32Array, K: number, N: number, layout: MatrixLayout): Float32Array {
  if (layout === 'NK') return w;
  const out = new Float32Array(K * N);
  for (let k0 = 0; k0 < K; k0 += TILE) {
    for (let n0 = 0; n0 < N; n0 += TILE) {
      const k1 = Math.min(K, k0 + TILE), n1 = Math.min(N, n0 + TILE);
      for (let k = k0; k < k1; k++) for (let n = n0; n < n1; n++) out[n * K + k] = w[k * N + n];
    }
  }
  return out;
}

function checkSize(w: Float32Array, K: number, N: number): void {
  if (!(Number.isInteger(K) && Number.isInteger(N) && K > 0 && N > 0) || w.length !== K * N) {
    throw new Error(`quantize: ${w.length} values for a ${K}x${N} matrix`);
  }
}

/** Round half to even, as onnxruntime's QuantizeLinear does (Math.round takes ties upward). */
function roundEven(x: number): number {
  const r = Math.round(x);
  return r - x === 0.5 && (r & 1) !== 0 ? r - 1 : r;
}

const clamp = (x: number, lo: number, hi: number) => (x < lo ? lo : x > hi ? hi : x);

/** DynamicQuantizeMatMul's B ([K,N] int8, row-major) and b_scale ([N]); the zero point is 0. */
export interface Int8Matrix {
  readonly K: number;
  readonly N: number;
  readonly data: Int8Array;
  readonly scales: Float32Array;
}

/** The largest int8 weight code (7 bits; see the file comment). */
export const INT8_WEIGHT_LIMIT = 63;

/** Symmetric per-column int8: scale[n] = max_k |W[k,n]| / INT8_WEIGHT_LIMIT, codes within ±INT8_WEIGHT_LIMIT. */
export function quantizeInt8(w: Float32Array, K: number, N: number, layout: MatrixLayout): Int8Matrix {
  checkSize(w, K, N);
  const scales = new Float32Array(N);
  const data = new Int8Array(K * N);
  const code = (x: number, n: number) => clamp(roundEven(x / scales[n]), -INT8_WEIGHT_LIMIT, INT8_WEIGHT_LIMIT);
  if (layout === 'KN') {
    const amax = new Float32Array(N);
    for (let k = 0; k < K; k++) for (let n = 0; n < N; n++) amax[n] = Math.max(amax[n], Math.abs(w[k * N + n]));
    for (let n = 0; n < N; n++) scales[n] = amax[n] > 0 ? amax[n] / INT8_WEIGHT_LIMIT : 1;
    for (let k = 0; k < K; k++) for (let n = 0; n < N; n++) data[k * N + n] = code(w[k * N + n], n);
  } else {
    for (let n = 0; n < N; n++) {
      let amax = 0;
      for (let k = 0; k < K; k++) amax = Math.max(amax, Math.abs(w[n * K + k]));
      scales[n] = amax > 0 ? amax / INT8_WEIGHT_LIMIT : 1;
    }
    // Transposing into [K,N]: a tile of columns at a time, so that reads stay in cache.
    for (let n0 = 0; n0 < N; n0 += TILE) {
      const n1 = Math.min(N, n0 + TILE);
      for (let k = 0; k < K; k++) for (let n = n0; n < n1; n++) data[k * N + n] = code(w[n * K + k], n);
    }
  }
  return { K, N, data, scales };
}

/** [K,N] float: B[k,n]·scale[n] (zero point 0), DynamicQuantizeMatMul's reading of its weights. */
export function dequantizeInt8(q: Int8Matrix): Float32Array {
  const out = new Float32Array(q.K * q.N);
  for (let k = 0; k < q.K; k++) for (let n = 0; n < q.N; n++) out[k * q.N + n] = q.data[k * q.N + n] * q.scales[n];
  return out;
}

/** MatMulNBits' B, scales and zero_points for bits = 4 (layouts in the file comment). */
export interface Int4Matrix {
  readonly K: number;
  readonly N: number;
  readonly blockSize: number;
  /** ceil(K / blockSize). */
  readonly nBlocks: number;
  /** [N, nBlocks, blockSize/2]. */
  readonly data: Uint8Array;
  /** [N·nBlocks]. */
  readonly scales: Float32Array;
  /** [N·ceil(nBlocks/2)]. */
  readonly zeroPoints: Uint8Array;
}

/**
 * Asymmetric 4-bit per block (onnxruntime's MatMul4BitsQuantizer default): the block's range, widened
 * to include 0 so that 0 is exact, is cut into 15 steps; zp = round(−min/scale).
 */
export function quantizeInt4(w: Float32Array, K: number, N: number, layout: MatrixLayout, blockSize = INT4_BLOCK_SIZE): Int4Matrix {
  checkSize(w, K, N);
  if (!Number.isInteger(blockSize) || blockSize < 16 || (blockSize & (blockSize - 1)) !== 0) {
    throw new Error(`quantize: MatMulNBits block size must be a power of two >= 16 (got ${blockSize})`);
  }
  const cols = columnsContiguous(w, K, N, layout);
  const nBlocks = Math.ceil(K / blockSize);
  const blob = blockSize / 2;
  const zpBytes = Math.ceil(nBlocks / 2);
  const data = new Uint8Array(N * nBlocks * blob);
  const scales = new Float32Array(N * nBlocks);
  const zeroPoints = new Uint8Array(N * zpBytes);
  for (let n = 0; n < N; n++) {
    for (let b = 0; b < nBlocks; b++) {
      const k0 = b * blockSize, k1 = Math.min(K, k0 + blockSize);
      let lo = 0, hi = 0;
      for (let k = k0; k < k1; k++) {
        const x = cols[n * K + k];
        if (x < lo) lo = x;
        if (x > hi) hi = x;
      }
      const scale = hi > lo ? (hi - lo) / 15 : 1;
      const zp = clamp(roundEven(-lo / scale), 0, 15);
      scales[n * nBlocks + b] = scale;
      zeroPoints[n * zpBytes + (b >> 1)] |= zp << ((b & 1) * 4);
      const base = (n * nBlocks + b) * blob;
      for (let k = k0; k < k1; k++) {
        const code = clamp(roundEven(cols[n * K + k] / scale) + zp, 0, 15);
        const i = k - k0;
        data[base + (i >> 1)] |= code << ((i & 1) * 4);
      }
    }
  }
  return { K, N, blockSize, nBlocks, data, scales, zeroPoints };
}

/** [K,N] float: (code − zp)·scale per block, MatMulNBits' reading of its weights. */
export function dequantizeInt4(q: Int4Matrix): Float32Array {
  const { K, N, blockSize, nBlocks } = q;
  const blob = blockSize / 2, zpBytes = Math.ceil(nBlocks / 2);
  const out = new Float32Array(K * N);
  for (let n = 0; n < N; n++) {
    for (let k = 0; k < K; k++) {
      const b = Math.floor(k / blockSize), i = k % blockSize;
      const code = (q.data[(n * nBlocks + b) * blob + (i >> 1)] >> ((i & 1) * 4)) & 15;
      const zp = (q.zeroPoints[n * zpBytes + (b >> 1)] >> ((b & 1) * 4)) & 15;
      out[k * N + n] = (code - zp) * q.scales[n * nBlocks + b];
    }
  }
  return out;
}

/** [K,N] float from a matrix of `layout` (tests compare dequantized weights in one layout). */
export function toKN(w: Float32Array, K: number, N: number, layout: MatrixLayout): Float32Array {
  if (layout === 'KN') return w;
  const out = new Float32Array(K * N);
  for (let n = 0; n < N; n++) for (let k = 0; k < K; k++) out[k * N + n] = w[n * K + k];
  return out;
}
