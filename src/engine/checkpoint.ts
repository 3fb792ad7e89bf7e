/**
 * A Hugging Face GPT-2 checkpoint folder (config.json + model.safetensors) as a WeightSource.
 * Everything about the folder is checked when it is opened, so later failures are bugs, not data;
 * tensors are read from disk on each request, so a caller streaming a 6 GB model holds one at a time.
 */
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import * as os from 'os';
import { writeJsonAtomic } from './atomicFile';
import { checkFitsInMemory, configFromHuggingFace, configToHuggingFace, parameterShapes, type GPT2Config } from './config';
import { UserError } from './errors';
import { describeKind, pathKind } from './pathKind';
import { sampleHash } from './sampleHash';
import { openSafetensors, writeSafetensors, type FloatDtype, isFloatDtype, type SafetensorsFile, type TensorToWrite } from './safetensors';
import { InMemoryWeights, type WeightSource } from './weights';

export const CONFIG_FILE = 'config.json';
export const WEIGHTS_FILE = 'model.safetensors';
/** Memoized content hash, keyed by the files' size and mtime: hashing gpt2-xl takes seconds. */
export const HASH_SIDECAR = '.gpt2-complete-hash.json';

const PREFIX = 'transformer.';
const LM_HEAD = 'lm_head.weight';
const HOWTO = 'a checkpoint folder must contain config.json and model.safetensors from a Hugging Face GPT-2 checkpoint';

/**
 * The one place that maps stored names to canonical ones: GPT2LMHeadModel saves `transformer.h.0...`,
 * GPT2Model saves `h.0...`. Buffers (`attn.bias`, `attn.masked_bias`) keep names that are simply
 * not parameters, and are ignored with every other unknown tensor.
 */
export function canonicalTensorName(stored: string): string {
  return stored.startsWith(PREFIX) ? stored.slice(PREFIX.length) : stored;
}

function shapeText(shape: number[]): string {
  return `[${shape.join(', ')}]`;
}

function sameShape(a: number[], b: number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

export class Checkpoint implements WeightSource {
  readonly files: { config: string; weights: string };
  private hashMemo: { key: string; hash: string } | null = null;

  /** Use openCheckpoint(); `stored` maps canonical names to the names in `file`. */
  constructor(
    readonly dir: string,
    readonly config: GPT2Config,
    private readonly file: SafetensorsFile,
    private readonly stored: Map<string, string>,
  ) {
    this.files = { config: path.join(dir, CONFIG_FILE), weights: path.join(dir, WEIGHTS_FILE) };
  }

  /**
   * fp32 data of a canonical parameter, read from disk now (nothing is cached). A NaN or infinite
   * value is refused here, naming the tensor: every graph is built from these reads, and such a value
   * otherwise surfaces only at the first completion, as logits that cannot be sampled.
   */
  tensor(name: string): Float32Array {
    const stored = this.stored.get(name);
    if (stored === undefined) throw new Error(`${this.files.weights}: ${name} is not a GPT-2 parameter`);
    const data = this.file.readFloat32(stored);
    const bad = firstNonFinite(data);
    if (bad >= 0) {
      throw new UserError(
        `${this.files.weights}: tensor "${stored}" holds ${data[bad]} at element ${bad}; the weights are damaged (or training diverged), use another copy of the model`,
      );
    }
    return data;
  }

  /** The dtype a parameter is stored in (F32, F16 or BF16). */
  dtype(name: string): FloatDtype {
    const stored = this.stored.get(name);
    const info = stored === undefined ? undefined : this.file.tensors.get(stored);
    if (!info || !isFloatDtype(info.dtype)) throw new Error(`${this.files.weights}: ${name} is not a GPT-2 parameter`);
    return info.dtype;
  }

  /**
   * SHA-256 (hex) of config.json's bytes followed by model.safetensors' bytes: the identity of the
   * model for caches. Memoized here and in a sidecar file keyed by each file's size, mtime and
   * sampled-block hash; a read-only folder just means hashing again next time.
   */
  contentHash(): string {
    // Size and mtime alone miss a file replaced by another of the same size with its old mtime
    // (cp -p, a restore, some sync tools); a hash of a few sampled blocks does not (sampleHash.ts).
    const key = JSON.stringify([CONFIG_FILE, WEIGHTS_FILE].map((f) => {
      const file = path.join(this.dir, f);
      const st = fs.statSync(file);
      return { file: f, size: st.size, mtimeMs: st.mtimeMs, sample: sampleHash(file) };
    }));
    if (this.hashMemo?.key === key) return this.hashMemo.hash;
    const sidecar = path.join(this.dir, HASH_SIDECAR);
    let hash = readSidecar(sidecar, key);
    if (hash === null) {
      hash = hashFiles([this.files.config, this.files.weights]);
      writeSidecar(sidecar, key, hash);
    }
    this.hashMemo = { key, hash };
    return hash;
  }

  close(): void {
    this.file.close();
  }
}

function hashFiles(files: string[]): string {
  const h = crypto.createHash('sha256');
  const buf = Buffer.allocUnsafe(8 << 20);
  for (const f of files) {
    const fd = fs.openSync(f, 'r');
    try {
      for (let n; (n = fs.readSync(fd, buf, 0, buf.length, null)) > 0; ) h.update(buf.subarray(0, n));
    } finally {
      fs.closeSync(fd);
    }
  }
  return h.digest('hex');
}

/**
 * Index of the first NaN or ±Infinity, or -1. The common all-finite case is one pass of additions
 * (x * 0 is 0 for every finite x and NaN otherwise, so the sum stays 0 exactly when all are finite).
 */
export function firstNonFinite(data: Float32Array): number {
  let probe = 0;
  for (let i = 0; i < data.length; i++) probe += data[i] * 0;
  if (probe === 0) return -1;
  for (let i = 0; i < data.length; i++) if (!Number.isFinite(data[i])) return i;
  return -1;
}

function readSidecar(file: string, key: string): string | null {
  try {
    const j = JSON.parse(fs.readFileSync(file, 'utf8')) as { key?: unknown; sha256?: unknown };
    if (j.key === key && typeof j.sha256 === 'string' && /^[0-9a-f]{64}$/.test(j.sha256)) return j.sha256;
  } catch {
    // Missing or damaged: hash again.
  }
  return null;
}

function writeSidecar(file: string, key: string, hash: string): void {
  try {
    writeJsonAtomic(file, { key, sha256: hash }, { indent: 0 });
  } catch {
    // Read-only folder, full disk: the memo is an optimisation only (and leaves no temp file).
  }
}

function readConfig(dir: string): GPT2Config {
  const file = path.join(dir, CONFIG_FILE);
  const kind = pathKind(file);
  if (kind === 'missing') throw new UserError(`${dir}: no ${CONFIG_FILE}; ${HOWTO}`);
  if (kind !== 'file') throw new UserError(`${file}: ${describeKind(kind)}; ${HOWTO}`);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new UserError(`${dir}: no ${CONFIG_FILE}; ${HOWTO}`);
    throw new UserError(`${file}: cannot read (${code ?? (e as Error).message}); ${HOWTO}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new UserError(`${file}: not valid JSON (${(e as Error).message.replace(/\s+/g, ' ')}); ${HOWTO}`);
  }
  return configFromHuggingFace(json, file);
}

function lexists(p: string): boolean {
  try {
    fs.lstatSync(p);
    return true;
  } catch {
    return false;
  }
}

function missingWeightsError(dir: string): UserError {
  const has = (f: string): boolean => fs.existsSync(path.join(dir, f));
  let hint = '';
  if (has('model.safetensors.index.json')) hint = ' (found a sharded model.safetensors.index.json: only a single model.safetensors is supported)';
  else if (has('pytorch_model.bin')) hint = ' (found pytorch_model.bin: only safetensors weights are supported; download model.safetensors from the same repository)';
  return new UserError(`${dir}: no ${WEIGHTS_FILE}; ${HOWTO}${hint}`);
}

/** Canonical name -> stored name, refusing files that hold the same parameter twice. */
function mapNames(file: SafetensorsFile): Map<string, string> {
  const stored = new Map<string, string>();
  for (const name of file.tensors.keys()) {
    const canonical = canonicalTensorName(name);
    const other = stored.get(canonical);
    if (other !== undefined) {
      throw new UserError(`${file.path}: tensor ${canonical} is stored twice (as "${other}" and "${name}")`);
    }
    stored.set(canonical, name);
  }
  return stored;
}

function checkParameters(file: SafetensorsFile, config: GPT2Config, stored: Map<string, string>): void {
  for (const [name, expected] of parameterShapes(config)) {
    const s = stored.get(name);
    if (s === undefined) {
      throw new UserError(`${file.path}: tensor ${name} is missing (expected shape ${shapeText(expected)}); does config.json belong to these weights?`);
    }
    const info = file.tensors.get(s)!;
    if (!isFloatDtype(info.dtype)) {
      throw new UserError(`${file.path}: tensor "${s}": dtype ${info.dtype} is not a floating-point weight type (expected F32, F16 or BF16)`);
    }
    if (!sameShape(info.shape, expected)) {
      const transposed = expected.length === 2 && sameShape(info.shape, [expected[1], expected[0]]);
      const hint = transposed ? ' (transposed: GPT-2 stores Conv1D weights as [in, out])' : '; does config.json belong to these weights?';
      throw new UserError(`${file.path}: tensor "${s}" has shape ${shapeText(info.shape)}, expected ${shapeText(expected)}${hint}`);
    }
  }
}

/**
 * A stored `lm_head.weight` is fine when it is a copy of `wte.weight` (tied, saved anyway); an
 * untied head would need a second vocab-sized matrix in every graph, which we do not support.
 * A spread sample of values decides it without reading the whole 150-300 MB matrix.
 */
function checkTiedHead(file: SafetensorsFile, config: GPT2Config, stored: Map<string, string>): void {
  const head = stored.get(LM_HEAD);
  if (head === undefined) return;
  const untied = `${file.path}: ${LM_HEAD} differs from wte.weight (an untied output head); only GPT-2 checkpoints whose output head is tied to the token embedding are supported`;
  const headInfo = file.tensors.get(head)!;
  if (!isFloatDtype(headInfo.dtype) || !sameShape(headInfo.shape, [config.vocabSize, config.nEmbd])) throw new UserError(untied);
  const wte = stored.get('wte.weight')!;
  const V = config.vocabSize;
  const E = config.nEmbd;
  const rows = Math.min(V, 16);
  const count = Math.min(E, 16);
  for (let i = 0; i < rows; i++) {
    const row = rows === 1 ? 0 : Math.floor((i * (V - 1)) / (rows - 1));
    const start = row * E + ((i * 37) % (E - count + 1));
    const a = file.readFloat32Slice(wte, start, count);
    const b = file.readFloat32Slice(head, start, count);
    for (let j = 0; j < count; j++) {
      // Tolerant enough for a head saved in another float dtype, far too tight for a trained one.
      const same = a[j] === b[j] || (Number.isNaN(a[j]) && Number.isNaN(b[j])) || Math.abs(a[j] - b[j]) <= 1e-3 + 1e-2 * Math.abs(a[j]);
      if (!same) throw new UserError(untied);
    }
  }
}

export function openCheckpoint(dir: string): Checkpoint {
  const abs = path.resolve(dir);
  const kind = pathKind(abs);
  if (kind === 'missing') throw new UserError(`${abs}: no such folder; ${HOWTO}`);
  if (kind !== 'folder') throw new UserError(`${abs}: ${kind === 'file' ? 'not a folder' : describeKind(kind)}; ${HOWTO}`);
  const config = readConfig(abs);
  // Sized from the config before anything is allocated for it (parameterShapes, the header check).
  checkFitsInMemory(config, os.totalmem(), path.join(abs, CONFIG_FILE));
  // lstat: a link that loops or dangles is reported by openSafetensors, not as a missing file.
  if (!lexists(path.join(abs, WEIGHTS_FILE))) throw missingWeightsError(abs);
  const file = openSafetensors(path.join(abs, WEIGHTS_FILE));
  try {
    const stored = mapNames(file);
    checkParameters(file, config, stored);
    checkTiedHead(file, config, stored);
    return new Checkpoint(abs, config, file, stored);
  } catch (e) {
    file.close();
    throw e;
  }
}

export interface WriteCheckpointOptions {
  /** Storage dtype of every tensor (default F32). */
  dtype?: FloatDtype;
  /** Store names as `transformer.h.0...` (GPT2LMHeadModel) instead of `h.0...` (GPT2Model). */
  prefix?: boolean;
  /** Also store the `attn.bias` / `attn.masked_bias` buffers older Hugging Face files carry. */
  extraBuffers?: boolean;
  /** Also store `lm_head.weight` (a copy of `wte.weight`), as some exporters do. */
  lmHead?: boolean;
}

/**
 * Writes `config.json` and `model.safetensors` into `dir` (created if needed). Tensors are fetched
 * from `weights` one at a time as they are written. model.safetensors goes first and config.json
 * last, so a folder with a config.json is a complete one.
 */
export function writeCheckpoint(
  dir: string,
  config: GPT2Config,
  weights: WeightSource | Map<string, Float32Array>,
  opts: WriteCheckpointOptions = {},
): void {
  const source = weights instanceof Map ? new InMemoryWeights(config, weights) : weights;
  const dtype = opts.dtype ?? 'F32';
  const stored = (name: string): string => (opts.prefix ? PREFIX + name : name);
  const tensors: TensorToWrite[] = [];
  for (const [name, shape] of parameterShapes(config)) {
    tensors.push({ name: stored(name), dtype, shape, data: () => source.tensor(name) });
  }
  if (opts.extraBuffers) {
    const P = config.nPositions;
    for (let i = 0; i < config.nLayer; i++) {
      tensors.push({ name: stored(`h.${i}.attn.bias`), dtype, shape: [1, 1, P, P], data: () => causalMask(P) });
      tensors.push({ name: stored(`h.${i}.attn.masked_bias`), dtype, shape: [], data: () => Float32Array.of(-1e4) });
    }
  }
  if (opts.lmHead) tensors.push({ name: LM_HEAD, dtype, shape: [config.vocabSize, config.nEmbd], data: () => source.tensor('wte.weight') });

  fs.mkdirSync(dir, { recursive: true });
  // transformers refuses safetensors files whose metadata lacks a known "format".
  writeSafetensors(path.join(dir, WEIGHTS_FILE), tensors, { format: 'pt' });
  const configFile = path.join(dir, CONFIG_FILE);
  fs.writeFileSync(configFile + '.tmp', JSON.stringify(configToHuggingFace(config), null, 2) + '\n');
  fs.renameSync(configFile + '.tmp', configFile);
}

/** The lower-triangular ones matrix old GPT-2 files store as `attn.bias`. */
function causalMask(P: number): Float32Array {
  const m = new Float32Array(P * P);
  for (let r = 0; r < P; r++) m.fill(1, r * P, r * P + r + 1);
  return m;
}
