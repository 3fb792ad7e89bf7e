/**
 * ModelProto serialization by hand (protobuf wire format, field numbers from onnx.proto), in two modes:
 * - inline: graph and weights in one message (protobuf caps a message at 2 GB), as a Uint8Array or
 *   streamed to a file;
 * - external: a small .onnx plus a data file beside it (TensorProto.data_location = EXTERNAL).
 * Files are written tensor by tensor (lazy initializers are read as they are written), so a 6 GB model
 * is never held in memory, let alone twice.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Attribute, Graph, Initializer, TensorData, Value } from './ir';
import { elementCount, onnxDataType, resolveData, dataMatches } from './ir';

/** ONNX IR version 9 goes with ai.onnx opset 20 (ORT 1.30 reads up to 11). */
export const IR_VERSION = 9;
/** Above this much weight data, `auto` writes external data: the 2 GB protobuf cap, with headroom. */
export const EXTERNAL_DATA_THRESHOLD = 1.5 * 1024 ** 3;
/** External tensors start on 4 KiB boundaries so the runtime can map them straight from the page cache. */
const EXTERNAL_ALIGNMENT = 4096;
/**
 * Smaller tensors stay inline even in external mode: shape inference must read constants such as
 * Reshape's shape and Split's sizes from the model itself (ORT refuses external ones), and it is
 * onnx's own default cut-off.
 */
const EXTERNAL_MIN_BYTES = 1024;

export interface ModelInfo {
  producerName?: string;
  producerVersion?: string;
  docString?: string;
  /** ModelProto.metadata_props: e.g. the graph version and the checkpoint it came from. */
  metadata?: Readonly<Record<string, string>>;
}

// ---- protobuf wire format ----

const WIRE_VARINT = 0;
const WIRE_LEN = 2;
const WIRE_I32 = 5;

/** Bytes whose length is known now and whose content is produced only when written (tensor data). */
interface LazyBytes {
  readonly byteLength: number;
  get(): Uint8Array;
}
type Chunk = Uint8Array | LazyBytes;

/**
 * A protobuf message under construction: byte chunks, concatenated (or streamed to a file) once at
 * the end. Lazy chunks let a length prefix be written before the tensor data it covers is read.
 */
class Message {
  readonly chunks: Chunk[] = [];
  length = 0;

  private push(b: Chunk): void {
    this.chunks.push(b);
    this.length += b.byteLength;
  }

  private varint(v: number | bigint): void {
    let x = typeof v === 'bigint' ? BigInt.asUintN(64, v) : v;
    const out: number[] = [];
    if (typeof x === 'number') {
      if (x < 0 || !Number.isSafeInteger(x)) { this.varint(BigInt(x)); return; }
      while (x >= 0x80) { out.push((x % 0x80) | 0x80); x = Math.floor(x / 0x80); }
      out.push(x);
    } else {
      while (x >= 0x80n) { out.push(Number(x & 0x7fn) | 0x80); x >>= 7n; }
      out.push(Number(x));
    }
    this.push(Uint8Array.from(out));
  }

  private tag(field: number, wire: number): void {
    this.varint(field * 8 + wire);
  }

  int(field: number, v: number | bigint): this {
    this.tag(field, WIRE_VARINT);
    this.varint(v);
    return this;
  }

  float(field: number, v: number): this {
    this.tag(field, WIRE_I32);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, v, true);
    this.push(b);
    return this;
  }

  bytes(field: number, b: Chunk): this {
    this.tag(field, WIRE_LEN);
    this.varint(b.byteLength);
    this.push(b);
    return this;
  }

  string(field: number, s: string): this {
    return this.bytes(field, Buffer.from(s, 'utf8'));
  }

  message(field: number, m: Message): this {
    this.tag(field, WIRE_LEN);
    this.varint(m.length);
    for (const c of m.chunks) this.push(c);
    return this;
  }

  packedInts(field: number, vs: readonly (number | bigint)[]): this {
    const inner = new Message();
    for (const v of vs) inner.varint(v);
    return this.message(field, inner);
  }

  packedFloats(field: number, vs: readonly number[]): this {
    const b = new Uint8Array(vs.length * 4);
    const dv = new DataView(b.buffer);
    vs.forEach((v, i) => dv.setFloat32(i * 4, v, true));
    return this.bytes(field, b);
  }

  toBytes(): Uint8Array {
    const out = new Uint8Array(this.length);
    let off = 0;
    for (const c of this.chunks) { out.set(resolve(c), off); off += c.byteLength; }
    return out;
  }

  /** Streams the message to `file`, resolving lazy chunks one at a time. */
  async writeTo(file: fs.promises.FileHandle): Promise<void> {
    // Small chunks are gathered so the file is not written a few bytes per system call.
    let pending: Uint8Array[] = [];
    let pendingBytes = 0;
    const flush = async () => {
      if (pendingBytes === 0) return;
      await writeAll(file, Buffer.concat(pending, pendingBytes));
      pending = [];
      pendingBytes = 0;
    };
    for (const c of this.chunks) {
      if (c instanceof Uint8Array && c.byteLength < 1 << 16) {
        pending.push(c);
        pendingBytes += c.byteLength;
        if (pendingBytes >= 1 << 20) await flush();
      } else {
        await flush();
        await writeAll(file, resolve(c));
      }
    }
    await flush();
  }
}

function resolve(c: Chunk): Uint8Array {
  if (c instanceof Uint8Array) return c;
  const b = c.get();
  if (b.byteLength !== c.byteLength) throw new Error(`lazy chunk produced ${b.byteLength} bytes, expected ${c.byteLength}`);
  return b;
}

// ---- onnx.proto messages ----

// AttributeProto.AttributeType
const ATTR_TYPE: Record<Attribute['kind'], number> = { float: 1, int: 2, string: 3, floats: 6, ints: 7, strings: 8 };

function attributeProto(name: string, a: Attribute): Message {
  const m = new Message().string(1, name).int(20, ATTR_TYPE[a.kind]);
  switch (a.kind) {
    case 'float': return m.float(2, a.value);
    case 'int': return m.int(3, a.value);
    case 'string': return m.string(4, a.value);
    case 'floats': return m.packedFloats(7, a.value);
    case 'ints': return m.packedInts(8, a.value);
    case 'strings': a.value.forEach((s) => m.string(9, s)); return m;
  }
}

function valueInfoProto(v: Value): Message {
  const shape = new Message();
  for (const d of v.shape) {
    shape.message(1, typeof d === 'number' ? new Message().int(1, d) : new Message().string(2, d));
  }
  const tensorType = new Message().int(1, onnxDataType(v.dtype)).message(2, shape);
  return new Message().string(1, v.name).message(2, new Message().message(1, tensorType));
}

function bytesOf(data: TensorData): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

function tensorHeader(init: Initializer): Message {
  return new Message().packedInts(1, init.shape).int(2, onnxDataType(init.dtype)).string(8, init.name);
}

function checkedData(init: Initializer): TensorData {
  const data = resolveData(init);
  if (!dataMatches(init.dtype, data) || data.length !== elementCount(init.shape)) {
    throw new Error(`initializer ${init.name}: data does not match ${init.dtype}[${init.shape.join(',')}]`);
  }
  return data;
}

function nodeProto(n: Graph['nodes'][number]): Message {
  const m = new Message();
  for (const i of n.inputs) m.string(1, i);
  for (const o of n.outputs) m.string(2, o);
  m.string(3, n.name).string(4, n.op);
  for (const [k, a] of Object.entries(n.attributes)) m.message(5, attributeProto(k, a));
  if (n.domain !== '') m.string(7, n.domain);
  return m;
}

function graphProto(g: Graph, initializers: Message[]): Message {
  const m = new Message();
  for (const n of g.nodes) m.message(1, nodeProto(n));
  m.string(2, g.name);
  for (const t of initializers) m.message(5, t);
  for (const v of g.inputs) m.message(11, valueInfoProto(v));
  for (const v of g.outputs) m.message(12, valueInfoProto(v));
  return m;
}

function modelProto(g: Graph, graph: Message, info: ModelInfo): Message {
  const m = new Message().int(1, IR_VERSION)
    .string(2, info.producerName ?? 'gpt2-complete')
    .string(3, info.producerVersion ?? '');
  if (info.docString) m.string(6, info.docString);
  m.message(7, graph);
  for (const o of g.opsets) m.message(8, new Message().string(1, o.domain).int(2, o.version));
  for (const [k, v] of Object.entries(info.metadata ?? {})) m.message(14, new Message().string(1, k).string(2, v));
  return m;
}

function assertLittleEndian(): void {
  // raw_data is little-endian by definition; typed arrays are host order.
  if (os.endianness() !== 'LE') throw new Error('ONNX writing needs a little-endian host');
}

const DTYPE_BYTES = { float32: 4, float16: 2, int64: 8, int32: 4, int8: 1, uint8: 1, bool: 1 } as const;

function dataBytes(t: Initializer): number {
  return elementCount(t.shape) * DTYPE_BYTES[t.dtype];
}

/** Total bytes of initializer data (without reading lazy data). */
export function initializerBytes(g: Graph): number {
  return g.initializers.reduce((n, t) => n + dataBytes(t), 0);
}

function inlineTensors(g: Graph): Message[] {
  return g.initializers.map((t) => tensorHeader(t).bytes(9, { byteLength: dataBytes(t), get: () => bytesOf(checkedData(t)) }));
}

function checkInlineSize(g: Graph): void {
  const bytes = initializerBytes(g);
  if (bytes > 2 * 1024 ** 3 - 64 * 1024 ** 2) {
    throw new Error(`${(bytes / 1024 ** 3).toFixed(2)} GB of weights do not fit a 2 GB protobuf; write external data`);
  }
}

/** The whole model in one buffer, weights inline (for models under the 2 GB protobuf cap). */
export function serializeModel(g: Graph, info: ModelInfo = {}): Uint8Array {
  assertLittleEndian();
  checkInlineSize(g);
  return modelProto(g, graphProto(g, inlineTensors(g)), info).toBytes();
}

export interface WrittenModel {
  modelPath: string;
  /** The external data file, when one was written. */
  dataPath?: string;
  modelBytes: number;
  dataBytes: number;
}

export interface WriteOptions extends ModelInfo {
  /** 'auto' (default): external data above EXTERNAL_DATA_THRESHOLD; true forces it; false forbids it. */
  externalData?: 'auto' | boolean;
  /**
   * The name stored in the model for the data file (resolved by the runtime relative to the model's
   * folder); default `<model file name>.data`. Lets a writer use a temporary path and rename after.
   */
  dataLocation?: string;
  /** Where to write the data file; default beside the model under `dataLocation`. */
  dataPath?: string;
}

/**
 * Writes `g` to `modelPath`, inline or with external data. Either way tensors are pulled one at a time
 * (lazy initializers are called here) and streamed out, so peak memory is about one tensor, and the
 * event loop gets a turn between writes.
 */
export async function writeModel(g: Graph, modelPath: string, opts: WriteOptions = {}): Promise<WrittenModel> {
  assertLittleEndian();
  const external = opts.externalData === true || (opts.externalData !== false && initializerBytes(g) > EXTERNAL_DATA_THRESHOLD);
  if (!external) {
    checkInlineSize(g);
    const model = modelProto(g, graphProto(g, inlineTensors(g)), opts);
    await withFile(modelPath, (f) => model.writeTo(f));
    return { modelPath, modelBytes: model.length, dataBytes: 0 };
  }
  const location = opts.dataLocation ?? `${path.basename(modelPath)}.data`;
  const dataPath = opts.dataPath ?? path.join(path.dirname(modelPath), location);
  const inits: Message[] = [];
  let offset = 0;
  await withFile(dataPath, async (f) => {
    for (const t of g.initializers) {
      if (dataBytes(t) < EXTERNAL_MIN_BYTES) {
        inits.push(tensorHeader(t).bytes(9, bytesOf(checkedData(t))));
        continue;
      }
      const pad = (EXTERNAL_ALIGNMENT - (offset % EXTERNAL_ALIGNMENT)) % EXTERNAL_ALIGNMENT;
      if (pad > 0) offset += await writeAll(f, new Uint8Array(pad));
      const start = offset;
      const length = await writeAll(f, bytesOf(checkedData(t)));
      offset += length;
      const entry = (k: string, v: string) => new Message().string(1, k).string(2, v);
      inits.push(tensorHeader(t)
        .message(13, entry('location', location))
        .message(13, entry('offset', String(start)))
        .message(13, entry('length', String(length)))
        .int(14, 1)); // data_location = EXTERNAL
    }
  });
  const model = modelProto(g, graphProto(g, inits), opts);
  await withFile(modelPath, (f) => model.writeTo(f));
  return { modelPath, dataPath, modelBytes: model.length, dataBytes: offset };
}

async function withFile(p: string, write: (f: fs.promises.FileHandle) => Promise<void>): Promise<void> {
  const f = await fs.promises.open(p, 'w');
  try {
    await write(f);
    await f.sync();
  } finally {
    await f.close();
  }
}

async function writeAll(f: fs.promises.FileHandle, bytes: Uint8Array): Promise<number> {
  // One write() moves at most ~2 GB on Linux; slices keep each call well under that.
  const step = 64 * 1024 * 1024;
  for (let off = 0; off < bytes.byteLength; off += step) {
    const part = bytes.subarray(off, Math.min(off + step, bytes.byteLength));
    let done = 0;
    while (done < part.byteLength) done += (await f.write(part, done)).bytesWritten;
  }
  return bytes.byteLength;
}
