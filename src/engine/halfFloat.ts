/**
 * IEEE fp16 and bfloat16 <-> fp32 conversion, scalar and bulk. Encoding rounds to nearest even,
 * as PyTorch and numpy do, so a round trip through our writer matches theirs bit for bit.
 * Bulk functions work on bit patterns (Uint32Array views), so NaN payloads and signs survive.
 */

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

function floatBits(x: number): number {
  f32[0] = x;
  return u32[0];
}

function bitsFloat(bits: number): number {
  u32[0] = bits;
  return f32[0];
}

/** fp32 bit patterns of all 65536 halves: decoding is then one table load per element. */
let halfTable: Uint32Array | null = null;

function halfToFloatBits(h: number): number {
  const sign = (h & 0x8000) << 16;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0x1f) return (sign | 0x7f800000 | (mant << 13)) >>> 0; // inf / NaN keep their payload
  const magnitude = exp === 0 ? mant * 2 ** -24 : (1024 + mant) * 2 ** (exp - 25);
  return (sign | floatBits(magnitude)) >>> 0;
}

function table(): Uint32Array {
  if (!halfTable) {
    halfTable = new Uint32Array(65536);
    for (let h = 0; h < 65536; h++) halfTable[h] = halfToFloatBits(h);
  }
  return halfTable;
}

/** fp32 bit pattern -> fp16 bit pattern, round to nearest even; overflow -> inf, NaN stays NaN. */
function floatBitsToHalf(bits: number): number {
  const sign = (bits >>> 16) & 0x8000;
  const x = bits & 0x7fffffff;
  if (x >= 0x47800000) {
    // >= 65536 (overflows even after rounding), inf or NaN. NaN keeps its top payload bits (as
    // numpy does, so fp16 NaNs round-trip exactly); a payload only in the low bits becomes quiet.
    if (x > 0x7f800000) return sign | 0x7c00 | ((x >>> 13) & 0x3ff || 0x200);
    return sign | 0x7c00;
  }
  if (x < 0x38800000) {
    // Below the smallest normal half (2^-14): a subnormal or zero. Shift the full mantissa down
    // to units of 2^-24 with round-to-nearest-even, in integers (no double rounding).
    const e = x >>> 23;
    if (e < 102) return sign; // < 2^-25: rounds to zero
    const mant = (x & 0x7fffff) | 0x800000;
    const shift = 126 - e; // 14..24
    const q = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    return sign | (q + (rem > half || (rem === half && q & 1) ? 1 : 0));
  }
  // Normal: rebias the exponent and round the 13 dropped mantissa bits to nearest even; a carry
  // out of the mantissa correctly bumps the exponent (up to inf).
  const odd = (x >>> 13) & 1;
  return sign | ((x - 0x38000000 + 0xfff + odd) >>> 13);
}

/** fp32 bit pattern -> bf16 bit pattern, round to nearest even; NaN stays a (quiet) NaN. */
function floatBitsToBf16(bits: number): number {
  if ((bits & 0x7fffffff) > 0x7f800000) return (bits >>> 16) | 0x40;
  return (bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16;
}

export function f16ToF32(h: number): number {
  return bitsFloat(table()[h & 0xffff]);
}

export function f32ToF16(x: number): number {
  return floatBitsToHalf(floatBits(x));
}

export function bf16ToF32(b: number): number {
  return bitsFloat(((b & 0xffff) << 16) >>> 0);
}

export function f32ToBf16(x: number): number {
  return floatBitsToBf16(floatBits(x));
}

function bitsOf(a: Float32Array): Uint32Array {
  return new Uint32Array(a.buffer, a.byteOffset, a.length);
}

function checkLengths(src: { length: number }, dst: { length: number }): void {
  if (dst.length < src.length) throw new RangeError(`destination holds ${dst.length} elements, source ${src.length}`);
}

export function decodeF16(src: Uint16Array, dst: Float32Array = new Float32Array(src.length)): Float32Array {
  checkLengths(src, dst);
  const t = table();
  const out = bitsOf(dst);
  for (let i = 0; i < src.length; i++) out[i] = t[src[i]];
  return dst;
}

export function encodeF16(src: Float32Array, dst: Uint16Array = new Uint16Array(src.length)): Uint16Array {
  checkLengths(src, dst);
  const bits = bitsOf(src);
  for (let i = 0; i < src.length; i++) dst[i] = floatBitsToHalf(bits[i]);
  return dst;
}

export function decodeBF16(src: Uint16Array, dst: Float32Array = new Float32Array(src.length)): Float32Array {
  checkLengths(src, dst);
  const out = bitsOf(dst);
  for (let i = 0; i < src.length; i++) out[i] = src[i] << 16;
  return dst;
}

export function encodeBF16(src: Float32Array, dst: Uint16Array = new Uint16Array(src.length)): Uint16Array {
  checkLengths(src, dst);
  const bits = bitsOf(src);
  for (let i = 0; i < src.length; i++) dst[i] = floatBitsToBf16(bits[i]);
  return dst;
}
