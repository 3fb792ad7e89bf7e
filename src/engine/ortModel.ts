/**
 * GPT-2 on onnxruntime-node: builds the graph (or takes it from the on-disk cache), opens an
 * InferenceSession on the chosen execution provider, and runs tokens after a KV cache.
 */
import * as ort from 'onnxruntime-node';
import type { GPT2Config } from './config';
import { headDim } from './config';
import { UserError } from './errors';
import { chooseExecutionProvider, type ExecutionChoice } from './executionProvider';
import {
  DEFAULT_HEAD_LAYOUT, GPT2_GRAPH_VERSION, buildGpt2Graph, pastKeyName, pastValueName, presentKeyName, presentValueName,
  type Gpt2GraphOptions,
} from './gpt2Graph';
import { loadOrBuildGraph } from './graphCache';
import type { DeviceInfo, ForwardResult, KVCache, LanguageModel } from './model';
import { EXTERNAL_DATA_THRESHOLD, initializerBytes, serializeModel } from './onnx/protoWriter';
import type { WeightSource } from './weights';

export type Precision = 'fp32';

export interface OrtModelOptions {
  weights: WeightSource;
  /** Where compiled graphs are cached; needs `checkpointHash`. Without it the graph is built in memory. */
  cacheDir?: string;
  checkpointHash?: string;
  /** auto | cpu | cuda | dml | coreml | webgpu (default auto). */
  device?: string;
  /** Intra-op threads (default: all cores but one). */
  threads?: number;
  precision?: Precision;
  /** Cache files with external weight data: 'auto' (above ~1.5 GB), or forced. */
  externalData?: 'auto' | boolean;
  /** Graph variants, for benchmarks; a non-default variant is cached under its own name. */
  graph?: Gpt2GraphOptions;
  /** Extra session options (benchmarks); merged over the defaults. */
  sessionOptions?: ort.InferenceSession.SessionOptions;
}

/** Where the compiled graph came from. */
export interface GraphSource {
  path?: string;
  fromCache: boolean;
}

/** Keys and values per layer, each [batch, heads, length, headDim]; never written after creation. */
class OrtKVCache implements KVCache {
  constructor(
    readonly owner: OrtModel,
    readonly batch: number,
    readonly length: number,
    readonly keys: readonly ort.Tensor[],
    readonly values: readonly ort.Tensor[],
  ) {}
}

export class OrtModel implements LanguageModel {
  private readonly heads: number;
  private readonly headSize: number;
  private readonly emptyPasts = new Map<number, ort.Tensor>();

  private constructor(
    private readonly session: ort.InferenceSession,
    readonly config: GPT2Config,
    readonly device: DeviceInfo,
    readonly graphSource: GraphSource,
  ) {
    this.heads = config.nHead;
    this.headSize = headDim(config);
  }

  static async load(opts: OrtModelOptions): Promise<OrtModel> {
    const precision = opts.precision ?? 'fp32';
    if (precision !== 'fp32') throw new UserError(`precision "${String(precision)}" is not supported; use fp32`);
    if (opts.cacheDir && !opts.checkpointHash) throw new Error('OrtModel.load: cacheDir needs checkpointHash');
    const choice = await chooseExecutionProvider({ device: opts.device, threads: opts.threads });
    const build = () => buildGpt2Graph(opts.weights, opts.graph);
    let model: string | Uint8Array;
    let source: GraphSource;
    if (opts.cacheDir && opts.checkpointHash) {
      const head = opts.graph?.head ?? DEFAULT_HEAD_LAYOUT;
      const entry = await loadOrBuildGraph(
        opts.cacheDir,
        {
          checkpointHash: opts.checkpointHash,
          graphVersion: GPT2_GRAPH_VERSION,
          precision: head === DEFAULT_HEAD_LAYOUT ? precision : `${precision}_${head}`,
        },
        build,
        { externalData: opts.externalData, metadata: { graph_version: String(GPT2_GRAPH_VERSION), checkpoint: opts.checkpointHash } },
      );
      model = entry.modelPath;
      source = { path: entry.modelPath, fromCache: entry.hit };
    } else {
      const graph = build();
      if (initializerBytes(graph) > EXTERNAL_DATA_THRESHOLD) {
        throw new Error('OrtModel.load: a model this large is written with external data; pass cacheDir and checkpointHash');
      }
      model = serializeModel(graph);
      source = { fromCache: false };
    }
    const session = await openSession(model, choice, opts);
    return new OrtModel(session.session, opts.weights.config, session.device, source);
  }

  async forward(tokens: number[][], past: KVCache | null, logitPositions?: number[]): Promise<ForwardResult> {
    const c = this.config;
    const batch = tokens.length;
    if (batch === 0) throw new Error('forward: no rows');
    const seq = tokens[0].length;
    if (seq === 0) throw new Error('forward: no tokens');
    if (tokens.some((row) => row.length !== seq)) throw new Error('forward: rows of different lengths');
    const cache = past === null ? null : this.own(past);
    if (cache && cache.batch !== batch) throw new Error(`forward: ${batch} rows after a cache of ${cache.batch}`);
    const pastLen = cache?.length ?? 0;
    if (pastLen + seq > c.nPositions) {
      throw new RangeError(`forward: ${pastLen} cached + ${seq} new tokens exceed the model's ${c.nPositions} positions`);
    }
    const positions = logitPositions ?? [seq - 1];
    if (positions.length === 0 || positions.some((p) => !Number.isInteger(p) || p < 0 || p >= seq)) {
      throw new Error(`forward: logit positions must be in 0..${seq - 1}`);
    }

    const ids = new BigInt64Array(batch * seq);
    const pos = new BigInt64Array(batch * seq);
    for (let b = 0; b < batch; b++) {
      for (let s = 0; s < seq; s++) {
        const t = tokens[b][s];
        if (!Number.isInteger(t) || t < 0 || t >= c.vocabSize) throw new Error(`forward: token ${t} outside the vocabulary (0..${c.vocabSize - 1})`);
        ids[b * seq + s] = BigInt(t);
        pos[b * seq + s] = BigInt(pastLen + s);
      }
    }
    const feeds: Record<string, ort.Tensor> = {
      input_ids: new ort.Tensor('int64', ids, [batch, seq]),
      position_ids: new ort.Tensor('int64', pos, [batch, seq]),
      logits_index: new ort.Tensor('int64', BigInt64Array.from(positions, (p) => BigInt(p)), [positions.length]),
    };
    for (let i = 0; i < c.nLayer; i++) {
      feeds[pastKeyName(i)] = cache ? cache.keys[i] : this.emptyPast(batch);
      feeds[pastValueName(i)] = cache ? cache.values[i] : this.emptyPast(batch);
    }
    const out = await this.session.run(feeds);
    const keys: ort.Tensor[] = [], values: ort.Tensor[] = [];
    for (let i = 0; i < c.nLayer; i++) {
      keys.push(out[presentKeyName(i)] as ort.Tensor);
      values.push(out[presentValueName(i)] as ort.Tensor);
    }
    return {
      logits: out.logits.data as Float32Array,
      cache: new OrtKVCache(this, batch, pastLen + seq, keys, values),
    };
  }

  truncate(cache: KVCache, length: number): KVCache {
    const kv = this.own(cache);
    if (!Number.isInteger(length) || length < 0 || length > kv.length) {
      throw new Error(`truncate: length ${length} outside 0..${kv.length}`);
    }
    if (length === kv.length) return kv;
    // Positions are axis 2 of [B,H,L,D]: each (b,h) keeps its first `length` rows of D.
    const cut = (t: ort.Tensor): ort.Tensor => {
      const src = t.data as Float32Array;
      const rows = kv.batch * this.heads;
      const inStride = kv.length * this.headSize, outStride = length * this.headSize;
      const dst = new Float32Array(rows * outStride);
      for (let r = 0; r < rows; r++) dst.set(src.subarray(r * inStride, r * inStride + outStride), r * outStride);
      return this.kvTensor(dst, kv.batch, length);
    };
    return new OrtKVCache(this, kv.batch, length, kv.keys.map(cut), kv.values.map(cut));
  }

  expand(cache: KVCache, batch: number): KVCache {
    const kv = this.own(cache);
    if (kv.batch !== 1) throw new Error(`expand: needs a batch-1 cache (got ${kv.batch})`);
    if (!Number.isInteger(batch) || batch < 1) throw new Error(`expand: bad batch ${batch}`);
    if (batch === 1) return kv;
    const tile = (t: ort.Tensor): ort.Tensor => {
      const src = t.data as Float32Array;
      const dst = new Float32Array(src.length * batch);
      for (let b = 0; b < batch; b++) dst.set(src, b * src.length);
      return this.kvTensor(dst, batch, kv.length);
    };
    return new OrtKVCache(this, batch, kv.length, kv.keys.map(tile), kv.values.map(tile));
  }

  selectRow(cache: KVCache, row: number): KVCache {
    const kv = this.own(cache);
    if (!Number.isInteger(row) || row < 0 || row >= kv.batch) throw new Error(`selectRow: row ${row} outside 0..${kv.batch - 1}`);
    if (kv.batch === 1) return kv;
    // Batch is the outermost axis, so a row is one contiguous block.
    const pick = (t: ort.Tensor): ort.Tensor => {
      const size = this.heads * kv.length * this.headSize;
      return this.kvTensor((t.data as Float32Array).slice(row * size, (row + 1) * size), 1, kv.length);
    };
    return new OrtKVCache(this, 1, kv.length, kv.keys.map(pick), kv.values.map(pick));
  }

  async dispose(): Promise<void> {
    await this.session.release();
  }

  private own(cache: KVCache): OrtKVCache {
    if (!(cache instanceof OrtKVCache) || cache.owner !== this) throw new Error('KV cache from another model');
    return cache;
  }

  private kvTensor(data: Float32Array, batch: number, length: number): ort.Tensor {
    return new ort.Tensor('float32', data, [batch, this.heads, length, this.headSize]);
  }

  private emptyPast(batch: number): ort.Tensor {
    let t = this.emptyPasts.get(batch);
    if (!t) {
      t = this.kvTensor(new Float32Array(0), batch, 0);
      this.emptyPasts.set(batch, t);
    }
    return t;
  }
}

/**
 * Session options: full graph optimization, the chosen threads, and no inter-op pool (the graph is a
 * chain; a second pool only competes with the editor). Worker threads do not spin between ops: with
 * 2 threads that cost the same decode speed (27.4 vs 28.1 ms/token, within noise) but ~20% more CPU,
 * taken from the editor. MatMul weights stay pre-packed: +200 MB RSS on gpt2-small (790 vs 584 MiB)
 * for 5-10% faster decode and prefill.
 */
export function sessionOptions(choice: ExecutionChoice, overrides: ort.InferenceSession.SessionOptions = {}): ort.InferenceSession.SessionOptions {
  return {
    executionProviders: choice.executionProviders,
    graphOptimizationLevel: 'all',
    executionMode: 'sequential',
    intraOpNumThreads: choice.device.threads,
    interOpNumThreads: 1,
    extra: { session: { intra_op: { allow_spinning: '0' } } },
    ...overrides,
  };
}

async function openSession(model: string | Uint8Array, choice: ExecutionChoice, opts: OrtModelOptions): Promise<{ session: ort.InferenceSession; device: DeviceInfo }> {
  const create = (c: ExecutionChoice) => {
    const options = sessionOptions(c, opts.sessionOptions);
    return typeof model === 'string' ? ort.InferenceSession.create(model, options) : ort.InferenceSession.create(model, options);
  };
  try {
    return { session: await create(choice), device: choice.device };
  } catch (e) {
    const provider = choice.device.provider;
    const auto = (opts.device ?? 'auto').trim().toLowerCase() === 'auto';
    if (provider === 'cpu' || !auto) {
      if (provider === 'cpu') throw e;
      throw new UserError(`device "${provider}": the model failed to load (${firstLine(e)}); set device to "auto" or "cpu"`);
    }
    // auto picked a GPU that initialises but cannot run this graph: CPU still can.
    const cpu: ExecutionChoice = {
      executionProviders: ['cpu'],
      device: { provider: 'cpu', threads: choice.device.threads, reason: `auto: ${provider} could not load the model (${firstLine(e)}); using CPU` },
    };
    return { session: await create(cpu), device: cpu.device };
  }
}

function firstLine(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  return (msg.split('\n').find((l) => l.trim()) ?? msg).trim().slice(0, 200);
}
