/**
 * A small, strict reader and writer for the safetensors format
 * (https://huggingface.co/docs/safetensors): an 8-byte little-endian header length N, N bytes of
 * UTF-8 JSON ({name: {dtype, shape, data_offsets: [begin, end]}, __metadata__?: {k: v}}), then the
 * data region, offsets relative to its start.
 *
 * The reader never loads the file: it reads the header, checks every entry against the file's real
 * size, then reads one tensor at a time at exact offsets. Anything malformed is a UserError naming
 * the file (and tensor), since these files come from users and downloads.
 * Like the reference implementation we accept entries in any JSON order; unlike it we tolerate
 * unused gaps between tensors (they are never read, so they cannot be misread).
 */
import * as fs from 'fs';
import * as os from 'os';
import { UserError } from './errors';
import { decodeBF16, decodeF16, encodeBF16, encodeF16 } from './halfFloat';
import { describeKind, kindOf, pathKind } from './pathKind';

/** Bytes per element of every dtype the format defines; only the float ones read as weights. */
const DTYPE_SIZES: Record<string, number> = {
  BOOL: 1, U8: 1, I8: 1, F8_E4M3: 1, F8_E5M2: 1,
  I16: 2, U16: 2, F16: 2, BF16: 2,
  I32: 4, U32: 4, F32: 4,
  I64: 8, U64: 8, F64: 8,
};

export type FloatDtype = 'F32' | 'F16' | 'BF16';
export const FLOAT_DTYPES: readonly FloatDtype[] = ['F32', 'F16', 'BF16'];

export function isFloatDtype(dtype: string): dtype is FloatDtype {
  return (FLOAT_DTYPES as readonly string[]).includes(dtype);
}

export interface TensorInfo {
  dtype: string;
  shape: number[];
  /** Absolute position of the tensor's first byte in the file (not relative to the data region). */
  byteOffset: number;
  byteLength: number;
}

/** The reference implementation's limit: a larger header is a corrupt or hostile file. */
export const MAX_HEADER_BYTES = 100_000_000;

/** Elements converted per step when reading or writing fp16/bf16, to bound scratch memory. */
const CHUNK_ELEMENTS = 1 << 20;

function assertLittleEndianHost(): void {
  // Typed-array views are host-endian and the format is little-endian; every platform VS Code
  // runs on is little-endian, so we refuse rather than carry a byte-swapping path nobody tests.
  if (os.endianness() !== 'LE') throw new Error('safetensors: big-endian hosts are not supported');
}

/** Keeps user-controlled text (tensor names, parse errors) to one short line. */
function oneLine(s: string, max = 200): string {
  const flat = s.replace(/[\r\n\u2028\u2029]+/g, ' ');
  return flat.length > max ? flat.slice(0, max) + '…' : flat;
}

function quote(name: string): string {
  return oneLine(JSON.stringify(name));
}

function elementCount(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

export class SafetensorsFile {
  readonly tensors: Map<string, TensorInfo>;
  readonly metadata: Record<string, string>;
  readonly fileSize: number;
  private fd: number | null;

  /** Use openSafetensors(); the constructor takes an open descriptor it then owns. */
  constructor(readonly path: string, fd: number) {
    this.fd = fd;
    try {
      this.fileSize = fs.fstatSync(fd).size;
      const parsed = this.parseHeader();
      this.tensors = parsed.tensors;
      this.metadata = parsed.metadata;
    } catch (e) {
      this.close();
      throw e;
    }
  }

  /** The tensor's data as fp32: F32 read straight into the result, F16/BF16 converted in chunks. */
  readFloat32(name: string): Float32Array {
    const info = this.info(name);
    if (!isFloatDtype(info.dtype)) {
      throw this.error(`dtype ${info.dtype} is not a floating-point weight type (expected F32, F16 or BF16)`, name);
    }
    return this.readElements(name, info, 0, elementCount(info.shape));
  }

  /** Elements [start, start + count) of a float tensor, flat in row-major order, as fp32. */
  readFloat32Slice(name: string, start: number, count: number): Float32Array {
    const info = this.info(name);
    if (!isFloatDtype(info.dtype)) {
      throw this.error(`dtype ${info.dtype} is not a floating-point weight type (expected F32, F16 or BF16)`, name);
    }
    const n = elementCount(info.shape);
    if (!Number.isInteger(start) || !Number.isInteger(count) || start < 0 || count < 0 || start + count > n) {
      throw new RangeError(`slice [${start}, ${start + count}) outside tensor ${name} of ${n} elements`);
    }
    return this.readElements(name, info, start, count);
  }

  /** The tensor's bytes as stored (little-endian), whatever the dtype. */
  readRaw(name: string): Uint8Array {
    const info = this.info(name);
    const out = new Uint8Array(info.byteLength);
    this.readAt(out, info.byteOffset, name);
    return out;
  }

  close(): void {
    if (this.fd !== null) {
      fs.closeSync(this.fd);
      this.fd = null;
    }
  }

  private info(name: string): TensorInfo {
    const info = this.tensors.get(name);
    if (!info) throw new Error(`${this.path}: no tensor ${quote(name)}`);
    return info;
  }

  private readElements(name: string, info: TensorInfo, start: number, count: number): Float32Array {
    const size = DTYPE_SIZES[info.dtype];
    const out = new Float32Array(count);
    const position = info.byteOffset + start * size;
    if (info.dtype === 'F32') {
      this.readAt(new Uint8Array(out.buffer), position, name);
      return out;
    }
    const decode = info.dtype === 'F16' ? decodeF16 : decodeBF16;
    const scratch = new Uint16Array(Math.min(count, CHUNK_ELEMENTS));
    for (let done = 0; done < count; done += scratch.length) {
      const n = Math.min(scratch.length, count - done);
      const part = scratch.subarray(0, n);
      this.readAt(new Uint8Array(part.buffer, 0, n * 2), position + done * 2, name);
      decode(part, out.subarray(done, done + n));
    }
    return out;
  }

  /** Fills `into` from `position`; every caller's range was checked against the file size. */
  private readAt(into: Uint8Array, position: number, tensor?: string): void {
    if (this.fd === null) throw new Error(`${this.path}: read after close`);
    if (position + into.length > this.fileSize) {
      throw this.error(`read of ${into.length} bytes at ${position} passes the end of the file (${this.fileSize} bytes)`, tensor);
    }
    let done = 0;
    while (done < into.length) {
      // readSync caps one call below 2 GiB; loop in 1 GiB steps and on short reads.
      const len = Math.min(into.length - done, 1 << 30);
      const n = fs.readSync(this.fd, into, done, len, position + done);
      if (n === 0) throw this.error(`file ended early (it shrank while open?) at byte ${position + done}`, tensor);
      done += n;
    }
  }

  private error(problem: string, tensor?: string): UserError {
    const where = tensor === undefined ? '' : ` tensor ${quote(tensor)}:`;
    return new UserError(`${oneLine(this.path, 500)}:${where} ${problem}`);
  }

  private parseHeader(): { tensors: Map<string, TensorInfo>; metadata: Record<string, string> } {
    const size = this.fileSize;
    if (size < 8) throw this.error(`not a safetensors file: ${size} bytes, shorter than the 8-byte header length`);
    const lenBytes = new Uint8Array(8);
    this.readAt(lenBytes, 0);
    const headerLength = new DataView(lenBytes.buffer).getBigUint64(0, true);
    if (headerLength > BigInt(MAX_HEADER_BYTES)) {
      throw this.error(`header length ${headerLength} is over the ${MAX_HEADER_BYTES}-byte limit (corrupt or not a safetensors file)`);
    }
    const n = Number(headerLength);
    if (8 + n > size) throw this.error(`header length ${n} runs past the end of the file (${size} bytes; truncated?)`);
    const headerBytes = new Uint8Array(n);
    this.readAt(headerBytes, 8);

    let text: string;
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(headerBytes);
    } catch {
      throw this.error('header is not valid UTF-8 (corrupt or not a safetensors file)');
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (e) {
      throw this.error(`header is not valid JSON (${oneLine((e as Error).message, 120)})`);
    }
    if (typeof json !== 'object' || json === null || Array.isArray(json)) {
      throw this.error('header is not a JSON object');
    }
    const twice = duplicateTopLevelKey(text);
    if (twice !== undefined) {
      throw this.error(`header names ${twice === '__metadata__' ? '__metadata__' : `tensor ${quote(twice)}`} twice (which copy is meant is ambiguous; the file is damaged or was edited by hand)`);
    }

    const dataStart = 8 + n;
    const dataLength = size - dataStart;
    const tensors = new Map<string, TensorInfo>();
    let metadata: Record<string, string> = {};
    const spans: { name: string; begin: number; end: number }[] = [];
    for (const [name, entry] of Object.entries(json as Record<string, unknown>)) {
      if (name === '__metadata__') {
        metadata = this.parseMetadata(entry);
        continue;
      }
      const { dtype, shape, begin, end } = this.parseEntry(name, entry);
      if (end > dataLength) {
        throw this.error(`data_offsets [${begin}, ${end}] leave the data region (${dataLength} bytes; truncated?)`, name);
      }
      tensors.set(name, { dtype, shape, byteOffset: dataStart + begin, byteLength: end - begin });
      spans.push({ name, begin, end });
    }
    spans.sort((a, b) => a.begin - b.begin || a.end - b.end);
    for (let i = 1; i < spans.length; i++) {
      const prev = spans[i - 1];
      const cur = spans[i];
      if (cur.begin < prev.end) {
        throw this.error(`data_offsets [${cur.begin}, ${cur.end}] overlap tensor ${quote(prev.name)} [${prev.begin}, ${prev.end}]`, cur.name);
      }
    }
    return { tensors, metadata };
  }

  private parseMetadata(entry: unknown): Record<string, string> {
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
      throw this.error('header __metadata__ is not an object of strings');
    }
    for (const [k, v] of Object.entries(entry)) {
      if (typeof v !== 'string') throw this.error(`header __metadata__ value for ${quote(k)} is not a string`);
    }
    return { ...(entry as Record<string, string>) };
  }

  private parseEntry(name: string, entry: unknown): { dtype: string; shape: number[]; begin: number; end: number } {
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
      throw this.error('header entry is not an object with dtype, shape and data_offsets', name);
    }
    const { dtype, shape, data_offsets: offsets } = entry as Record<string, unknown>;
    if (typeof dtype !== 'string') throw this.error('dtype is missing or not a string', name);
    if (!Object.prototype.hasOwnProperty.call(DTYPE_SIZES, dtype)) throw this.error(`unknown dtype ${quote(dtype)}`, name);
    const size = DTYPE_SIZES[dtype];
    const isIndex = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
    if (!Array.isArray(shape) || !shape.every(isIndex)) {
      throw this.error(`shape ${oneLine(JSON.stringify(shape) ?? 'missing', 80)} is not a list of non-negative integers`, name);
    }
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isIndex)) {
      throw this.error(`data_offsets ${oneLine(JSON.stringify(offsets) ?? 'missing', 80)} are not two non-negative integers`, name);
    }
    const [begin, end] = offsets as number[];
    if (end < begin) throw this.error(`data_offsets [${begin}, ${end}] end before they begin`, name);
    let bytes = size;
    for (const d of shape as number[]) {
      bytes *= d;
      if (!Number.isSafeInteger(bytes)) throw this.error(`shape [${shape.join(', ')}] is impossibly large`, name);
    }
    if (bytes !== end - begin) {
      throw this.error(`shape [${shape.join(', ')}] of ${dtype} needs ${bytes} bytes but data_offsets [${begin}, ${end}] hold ${end - begin}`, name);
    }
    return { dtype, shape: shape as number[], begin, end };
  }
}

export function openSafetensors(path: string): SafetensorsFile {
  assertLittleEndianHost();
  const where = oneLine(path, 500);
  // Named first, so a FIFO, socket or link loop gets its own message rather than an open error or a hang.
  const kind = pathKind(path);
  if (kind !== 'file' && kind !== 'missing') {
    throw new UserError(kind === 'folder' ? `${where}: is a folder, not a safetensors file` : `${where}: ${describeKind(kind)}; expected a safetensors file`);
  }
  let fd: number;
  try {
    // O_NONBLOCK: if the path became a FIFO since the check, opening it still returns at once.
    fd = fs.openSync(path, fs.constants.O_RDONLY | (fs.constants.O_NONBLOCK ?? 0));
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const why = err.code === 'ENOENT' ? 'no such file' : err.code === 'EACCES' ? 'permission denied' : oneLine(err.message, 160);
    throw new UserError(`${where}: cannot open (${why})`);
  }
  const opened = kindOf(fs.fstatSync(fd));
  if (opened !== 'file') {
    fs.closeSync(fd);
    throw new UserError(opened === 'folder' ? `${where}: is a folder, not a safetensors file` : `${where}: ${describeKind(opened)}; expected a safetensors file`);
  }
  return new SafetensorsFile(path, fd);
}

/**
 * The first top-level key of a JSON object text that occurs twice, or undefined. JSON.parse keeps the
 * last of duplicate keys silently, so a header naming one tensor twice would be read as whichever came
 * last; the text was already parsed, so this only tracks strings and nesting.
 */
export function duplicateTopLevelKey(text: string): string | undefined {
  const seen = new Set<string>();
  let depth = 0;
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      let end = i + 1;
      while (text.charCodeAt(end) !== 0x22) end += text.charCodeAt(end) === 0x5c /* \ */ ? 2 : 1;
      if (depth === 1 && expectKey) {
        const key = JSON.parse(text.slice(i, end + 1)) as string;
        if (seen.has(key)) return key;
        seen.add(key);
        expectKey = false;
      }
      i = end;
    } else if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      depth++;
      if (depth === 1) expectKey = true;
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      depth--;
    } else if (c === 0x2c /* , */ && depth === 1) {
      expectKey = true;
    }
  }
  return undefined;
}

export interface TensorToWrite {
  name: string;
  dtype: FloatDtype;
  shape: number[];
  /** The fp32 values, or a function producing them when the writer gets to this tensor, so a
   *  large model is generated or copied one tensor at a time instead of all at once. */
  data: Float32Array | (() => Float32Array);
}

/**
 * Writes a safetensors file: `path + '.tmp'` first, flushed, then renamed over `path`, so a crash
 * never leaves a half-written file under the real name. Tensors go out in the given order.
 */
export function writeSafetensors(path: string, tensors: TensorToWrite[], metadata?: Record<string, string>): void {
  assertLittleEndianHost();
  // No prototype: a tensor named "__proto__" must be a plain key, not a prototype change.
  const header: Record<string, unknown> = Object.create(null);
  if (metadata) header.__metadata__ = metadata;
  let offset = 0;
  for (const t of tensors) {
    if (t.name === '__metadata__' || Object.prototype.hasOwnProperty.call(header, t.name)) {
      throw new Error(`writeSafetensors: duplicate or reserved tensor name ${quote(t.name)}`);
    }
    if (!isFloatDtype(t.dtype)) throw new Error(`writeSafetensors: unsupported dtype ${t.dtype}`);
    const bytes = elementCount(t.shape) * DTYPE_SIZES[t.dtype];
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = JSON.stringify(header);
  // Pad with spaces so the data region starts 8-byte aligned, as the spec recommends.
  const jsonBytes = Buffer.byteLength(json, 'utf8');
  json += ' '.repeat((8 - (jsonBytes % 8)) % 8);
  const headerBytes = Buffer.from(json, 'utf8');
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(BigInt(headerBytes.length));

  const tmp = path + '.tmp';
  const fd = fs.openSync(tmp, 'w');
  let ok = false;
  try {
    writeAll(fd, prefix);
    writeAll(fd, headerBytes);
    for (const t of tensors) writeTensorData(fd, t);
    fs.fsyncSync(fd);
    ok = true;
  } finally {
    fs.closeSync(fd);
    if (!ok) fs.rmSync(tmp, { force: true });
  }
  fs.renameSync(tmp, path);
}

function writeTensorData(fd: number, t: TensorToWrite): void {
  const data = typeof t.data === 'function' ? t.data() : t.data;
  const n = elementCount(t.shape);
  if (data.length !== n) {
    throw new Error(`writeSafetensors: tensor ${t.name} has ${data.length} values, shape [${t.shape.join(', ')}] needs ${n}`);
  }
  if (t.dtype === 'F32') {
    writeAll(fd, new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    return;
  }
  const encode = t.dtype === 'F16' ? encodeF16 : encodeBF16;
  const scratch = new Uint16Array(Math.min(n, CHUNK_ELEMENTS));
  for (let done = 0; done < n; done += scratch.length) {
    const m = Math.min(scratch.length, n - done);
    encode(data.subarray(done, done + m), scratch);
    writeAll(fd, new Uint8Array(scratch.buffer, 0, m * 2));
  }
}

function writeAll(fd: number, bytes: Uint8Array): void {
  let done = 0;
  while (done < bytes.length) {
    done += fs.writeSync(fd, bytes, done, Math.min(bytes.length - done, 1 << 30));
  }
}
