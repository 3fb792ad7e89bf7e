/**
 * Compiled graphs cached on disk as `<cacheDir>/<checkpoint hash>-<graph version>-<precision>.onnx`
 * (+ `.onnx.data` when weights are external) with a manifest `<name>.json` holding each file's size and
 * CRC-32. Files are written under temporary names and renamed into place, the manifest last, so a
 * crash leaves no entry that looks whole; an entry whose sizes or checksums disagree with its manifest
 * is deleted and rebuilt, never trusted. A different graph version is a different name: not found.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { createHash } from 'node:crypto';
import { writeJsonAtomic } from './atomicFile';
import type { Graph } from './onnx/ir';
import { writeModel, type ModelInfo } from './onnx/protoWriter';

export interface GraphCacheKey {
  /** Identifies the weights (Checkpoint.contentHash()). */
  checkpointHash: string;
  graphVersion: number;
  precision: string;
}

export interface CachedGraph {
  modelPath: string;
  dataPath?: string;
  /** True when the entry was already on disk and verified. */
  hit: boolean;
}

export interface StoreOptions extends ModelInfo {
  /** As protoWriter's: 'auto' (external above ~1.5 GB), or forced on/off. */
  externalData?: 'auto' | boolean;
}

const MANIFEST_FORMAT = 1;

interface ManifestFile {
  file: string;
  bytes: number;
  crc32: number;
}

interface Manifest {
  format: number;
  checkpointHash: string;
  graphVersion: number;
  precision: string;
  files: ManifestFile[];
}

/** `<hash>-<version>-<precision>`; a hash that is not filename-safe is replaced by its SHA-256. */
export function cacheEntryName(key: GraphCacheKey): string {
  const safe = /^[A-Za-z0-9._]{1,80}$/.test(key.checkpointHash)
    ? key.checkpointHash
    : createHash('sha256').update(key.checkpointHash).digest('hex');
  if (!/^[A-Za-z0-9_]+$/.test(key.precision)) throw new Error(`bad precision name ${key.precision}`);
  return `${safe}-${key.graphVersion}-${key.precision}`;
}

/** The verified cached graph for `key`, or undefined (a damaged entry is removed). */
export async function findCachedGraph(cacheDir: string, key: GraphCacheKey): Promise<CachedGraph | undefined> {
  const name = cacheEntryName(key);
  const manifestPath = path.join(cacheDir, `${name}.json`);
  let manifest: Manifest;
  try {
    manifest = JSON.parse(await fs.promises.readFile(manifestPath, 'utf8')) as Manifest;
  } catch {
    // Missing, or unreadable after a crash: either way nothing to trust.
    if (fs.existsSync(path.join(cacheDir, `${name}.onnx`))) await removeEntry(cacheDir, name);
    return undefined;
  }
  if (!(await verify(cacheDir, name, key, manifest))) {
    await removeEntry(cacheDir, name);
    return undefined;
  }
  // Marked used now: a cleanup in another process (graphCacheCleanup.ts) keeps what was used lately,
  // so it does not delete the graph between this check and the session reading it.
  const now = new Date();
  await fs.promises.utimes(manifestPath, now, now).catch(() => undefined);
  const modelPath = path.join(cacheDir, `${name}.onnx`);
  const data = manifest.files.find((f) => f.file === `${name}.onnx.data`);
  return { modelPath, dataPath: data ? path.join(cacheDir, data.file) : undefined, hit: true };
}

/**
 * The cache folder could not be written (a full disk, a quota, a read-only or missing folder): the
 * graph itself is fine, and a caller can build it in memory instead. `code` is the errno code.
 */
export class GraphCacheWriteError extends Error {
  readonly code: string;
  constructor(readonly cacheDir: string, override readonly cause: unknown) {
    const first = (cause instanceof Error ? cause.message : String(cause)).split('\n')[0].slice(0, 200);
    super(`the graph cache in ${cacheDir} cannot be written (${first})`);
    this.name = 'GraphCacheWriteError';
    this.code = (cause as NodeJS.ErrnoException).code ?? 'EIO';
  }
}

/**
 * Writes `graph` as the entry for `key` (replacing any), atomically. A failure to write is a
 * GraphCacheWriteError; errors from producing the graph's data (a weight refused on read) pass as they are.
 */
export async function storeGraph(cacheDir: string, key: GraphCacheKey, graph: Graph, opts: StoreOptions = {}): Promise<CachedGraph> {
  try {
    return await writeEntry(cacheDir, key, graph, opts);
  } catch (e) {
    if (e instanceof GraphCacheWriteError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    if (typeof code === 'string' && /^E[A-Z]+$/.test(code)) throw new GraphCacheWriteError(cacheDir, e);
    throw e;
  }
}

async function writeEntry(cacheDir: string, key: GraphCacheKey, graph: Graph, opts: StoreOptions): Promise<CachedGraph> {
  await fs.promises.mkdir(cacheDir, { recursive: true });
  const name = cacheEntryName(key);
  const tmp = `.tmp-${process.pid}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
  const modelFinal = path.join(cacheDir, `${name}.onnx`);
  const dataFinal = path.join(cacheDir, `${name}.onnx.data`);
  const modelTmp = modelFinal + tmp;
  const dataTmp = dataFinal + tmp;
  try {
    const written = await writeModel(graph, modelTmp, {
      ...opts,
      // The model names its data file by the final name, which it will have after the rename.
      dataLocation: path.basename(dataFinal),
      dataPath: dataTmp,
    });
    // A checksum of what is on disk, read back, rather than of what was meant to be written.
    const files: ManifestFile[] = [{ file: path.basename(modelFinal), bytes: written.modelBytes, crc32: await fileCrc32(modelTmp) }];
    if (written.dataPath) files.push({ file: path.basename(dataFinal), bytes: written.dataBytes, crc32: await fileCrc32(dataTmp) });
    const manifest: Manifest = { format: MANIFEST_FORMAT, ...key, files };
    await fs.promises.rm(path.join(cacheDir, `${name}.json`), { force: true });
    if (written.dataPath) await fs.promises.rename(dataTmp, dataFinal);
    else await fs.promises.rm(dataFinal, { force: true });
    await fs.promises.rename(modelTmp, modelFinal);
    // The manifest commits the entry; atomicFile turns a full disk into a UserError, which here
    // means only that the cache could not be written.
    try {
      writeJsonAtomic(path.join(cacheDir, `${name}.json`), manifest, { indent: 2 });
    } catch (e) {
      throw new GraphCacheWriteError(cacheDir, e);
    }
    return { modelPath: modelFinal, dataPath: written.dataPath ? dataFinal : undefined, hit: false };
  } finally {
    await Promise.all([modelTmp, dataTmp].map((p) => fs.promises.rm(p, { force: true })));
  }
}

/** The cached graph for `key`, built by `build` and stored when missing or damaged. */
export async function loadOrBuildGraph(
  cacheDir: string, key: GraphCacheKey, build: () => Graph, opts: StoreOptions = {},
): Promise<CachedGraph> {
  return (await findCachedGraph(cacheDir, key)) ?? storeGraph(cacheDir, key, build(), opts);
}

async function verify(cacheDir: string, name: string, key: GraphCacheKey, m: Manifest): Promise<boolean> {
  if (m.format !== MANIFEST_FORMAT || m.checkpointHash !== key.checkpointHash
    || m.graphVersion !== key.graphVersion || m.precision !== key.precision || !Array.isArray(m.files)) return false;
  if (!m.files.some((f) => f.file === `${name}.onnx`)) return false;
  for (const f of m.files) {
    const p = path.join(cacheDir, f.file);
    const st = await fs.promises.stat(p).catch(() => undefined);
    if (!st || st.size !== f.bytes) return false;
  }
  for (const f of m.files) if ((await fileCrc32(path.join(cacheDir, f.file))) !== f.crc32) return false;
  return true;
}

async function removeEntry(cacheDir: string, name: string): Promise<void> {
  // The manifest goes first: without it the rest is never trusted, even if a removal below fails.
  for (const f of [`${name}.json`, `${name}.onnx`, `${name}.onnx.data`]) {
    await fs.promises.rm(path.join(cacheDir, f), { force: true }).catch(() => undefined);
  }
}

/** CRC-32 (zlib's polynomial) of a file, read in 16 MiB slices. */
export async function fileCrc32(p: string): Promise<number> {
  const f = await fs.promises.open(p, 'r');
  try {
    const buf = Buffer.allocUnsafe(16 * 1024 * 1024);
    let crc = 0;
    for (;;) {
      const { bytesRead } = await f.read(buf, 0, buf.length, null);
      if (bytesRead === 0) return crc;
      crc = crc32(buf.subarray(0, bytesRead), crc);
    }
  } finally {
    await f.close();
  }
}

let table: Int32Array | undefined;

/**
 * CRC-32, continuing from `prev`. zlib.crc32 (Node >= 20.15, ~1 GB/s) when there is one; the editor's
 * older Node gets the table version. CRC rather than SHA-256: SHA runs at ~150 MB/s on these CPUs,
 * seconds per load for a large model, and the threat here is damage, not tampering.
 */
export function crc32(data: Uint8Array, prev = 0): number {
  const native = (zlib as { crc32?: (d: Uint8Array, v?: number) => number }).crc32;
  return native ? native(data, prev) : crc32Portable(data, prev);
}

/** The table-driven CRC-32 (exported so tests can hold it to zlib's). */
export function crc32Portable(data: Uint8Array, prev = 0): number {
  if (!table) {
    table = new Int32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      table[n] = c;
    }
  }
  let c = ~prev;
  for (let i = 0; i < data.length; i++) c = table[(c ^ data[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}
