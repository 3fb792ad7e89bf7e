/**
 * GPT-2 on onnxruntime-node: builds the graph (or takes it from the on-disk cache), opens an
 * InferenceSession on the chosen execution provider, and runs tokens after a KV cache.
 *
 * KV caches: a cache is a view of the first `length` positions of a JS-owned buffer (kvBuffer.ts)
 * that every run reads without a copy. forward() appends to that buffer in place and returns the
 * grown cache; truncate() is O(1), a shorter view of the same buffer; expand() and selectRow() copy
 * into new buffers. A cache stays usable until a forward() from a shorter view of its buffer
 * overwrites its positions (continuing from the newest cache, as the generator does, never does);
 * any use of it after that throws StaleKVCacheError rather than read another sequence's keys.
 */
import * as ort from 'onnxruntime-node';
import type { GPT2Config } from './config';
import { headDim } from './config';
import { UserError } from './errors';
import { chooseExecutionProvider, type ExecutionChoice } from './executionProvider';
import {
  ATTENTION_BIAS, ATTENTION_SPLIT, GPT2_GRAPH_VERSION, HIDDEN_OUTPUT, LOG_NORMALIZER_OUTPUT, MASK, buildGpt2Graph, graphVariantName, newKeyName, newValueName,
  pastKeyName, pastValueName, type Gpt2GraphOptions,
} from './gpt2Graph';
import { GraphCacheWriteError, loadOrBuildGraph } from './graphCache';
import { KVBuffer, grownCapacity } from './kvBuffer';
import type { DeviceInfo, ForwardResult, KVCache, LanguageModel } from './model';
import { EXTERNAL_DATA_THRESHOLD, initializerBytes, serializeModel } from './onnx/protoWriter';
import { parsePrecision, resolvePrecision, type Precision, type PrecisionSetting } from './quantize';
import type { WeightSource } from './weights';

export type { Precision, PrecisionSetting } from './quantize';

export interface OrtModelOptions {
  weights: WeightSource;
  /** Where compiled graphs are cached; needs `checkpointHash`. Without it the graph is built in memory. */
  cacheDir?: string;
  checkpointHash?: string;
  /** auto | cpu | cuda | dml | coreml | webgpu (default auto). */
  device?: string;
  /** Intra-op threads (default: all cores but one). */
  threads?: number;
  /**
   * Weight precision: fp32 (default), int8, int4, or auto (autoPrecision: by the chosen device).
   * Anything else is a UserError. Wins over `graph.precision`.
   */
  precision?: PrecisionSetting | string;
  /** Cache files with external weight data: 'auto' (above ~1.5 GB), or forced. */
  externalData?: 'auto' | boolean;
  /** Graph variants, for benchmarks; a non-default variant is cached under its own name. */
  graph?: Gpt2GraphOptions;
  /** Extra session options (benchmarks); merged over the defaults. */
  sessionOptions?: ort.InferenceSession.SessionOptions;
  /** Longest run of new tokens per session run (default PREFILL_CHUNK; 0: no limit). For benchmarks. */
  prefillChunk?: number;
}

/**
 * Long inputs run in chunks of this many tokens, each after the K/V of the ones before. The graph
 * takes the new tokens' [S,S] scores through more passes than MultiHeadAttention did (gpt2Graph.ts),
 * and chunks keep that square small and skip most of its masked half: a 1024-token prompt took
 * 3.7-4.1 s of CPU in one run and 3.0-3.2 s in chunks of 256 (1 thread); chunks of 128 were slower.
 */
export const PREFILL_CHUNK = 256;

/** Where the compiled graph came from. */
export interface GraphSource {
  path?: string;
  fromCache: boolean;
  /** Set when the graph cache could not be written and the graph was built in memory instead: one line saying so. */
  cacheWarning?: string;
}

/**
 * A view of the first `length` positions of a KVBuffer, as it was at `generation`. forward() appends
 * to the buffer in place, so a cache is only good until a forward() from a shorter view of the same
 * buffer overwrites its positions; using it after that throws (see kvBuffer.ts).
 */
class OrtKVCache implements KVCache {
  constructor(
    readonly owner: OrtModel,
    readonly buffer: KVBuffer,
    readonly length: number,
    readonly generation: number,
  ) {}

  get batch(): number {
    return this.buffer.batch;
  }
}

export class OrtModel implements LanguageModel {
  private readonly heads: number;
  private readonly headSize: number;
  private readonly chunk: number;

  private constructor(
    private readonly session: ort.InferenceSession,
    readonly config: GPT2Config,
    readonly device: DeviceInfo,
    readonly graphSource: GraphSource,
    prefillChunk: number,
    /** The weight precision the graph was built with (`auto` resolved). */
    readonly precision: Precision,
  ) {
    this.heads = config.nHead;
    this.headSize = headDim(config);
    this.chunk = prefillChunk > 0 ? prefillChunk : Infinity;
  }

  static async load(opts: OrtModelOptions): Promise<OrtModel> {
    const setting = parsePrecision(opts.precision ?? opts.graph?.precision ?? 'fp32');
    if (opts.cacheDir && !opts.checkpointHash) throw new Error('OrtModel.load: cacheDir needs checkpointHash');
    const chunk = opts.prefillChunk ?? PREFILL_CHUNK;
    if (!Number.isInteger(chunk) || chunk < 0) throw new Error(`OrtModel.load: bad prefillChunk ${chunk}`);
    const choice = await chooseExecutionProvider({ device: opts.device, threads: opts.threads });
    // auto is decided by the device chosen, before the graph: a GPU that then fails to load keeps
    // its fp32 graph on the CPU fallback (correct, only slower).
    const precision = resolvePrecision(setting, choice.device.provider);
    const graphOptions: Gpt2GraphOptions = { ...opts.graph, precision };
    const build = () => buildGpt2Graph(opts.weights, graphOptions);
    let model: string | Uint8Array | undefined;
    let source: GraphSource = { fromCache: false };
    let cacheFailure: string | undefined;
    if (opts.cacheDir && opts.checkpointHash) {
      try {
        const entry = await loadOrBuildGraph(
          opts.cacheDir,
          {
            checkpointHash: opts.checkpointHash,
            graphVersion: GPT2_GRAPH_VERSION,
            precision: graphVariantName(graphOptions),
          },
          build,
          { externalData: opts.externalData, metadata: { graph_version: String(GPT2_GRAPH_VERSION), checkpoint: opts.checkpointHash } },
        );
        model = entry.modelPath;
        source = { path: entry.modelPath, fromCache: entry.hit };
      } catch (e) {
        // A cache that cannot be written (full disk, read-only or missing folder) costs only the
        // cache: the graph is built again in memory, and the caller is told why.
        if (!(e instanceof GraphCacheWriteError)) throw e;
        cacheFailure = e.message;
        source = { fromCache: false, cacheWarning: `${cacheFailure}; built the model in memory instead, so the next load builds it again` };
      }
    }
    if (model === undefined) {
      const graph = build();
      if (initializerBytes(graph) > EXTERNAL_DATA_THRESHOLD) {
        if (cacheFailure) {
          throw new UserError(`${cacheFailure}, and a model this large (over ${(EXTERNAL_DATA_THRESHOLD / 1e9).toFixed(1)} GB) loads only through it; free some space there and try again`);
        }
        throw new Error('OrtModel.load: a model this large is written with external data; pass cacheDir and checkpointHash');
      }
      model = serializeModel(graph);
    }
    const session = await openSession(model, choice, opts);
    return new OrtModel(session.session, opts.weights.config, session.device, source, chunk, precision);
  }

  async forward(tokens: number[][], past: KVCache | null, logitPositions?: number[]): Promise<ForwardResult> {
    const c = this.config;
    const batch = tokens.length;
    if (batch === 0) throw new Error('forward: no rows');
    const seq = tokens[0].length;
    if (seq === 0) throw new Error('forward: no tokens');
    if (tokens.some((row) => row.length !== seq)) throw new Error('forward: rows of different lengths');
    const cache = past === null ? null : this.live(past);
    if (cache && cache.batch !== batch) throw new Error(`forward: ${batch} rows after a cache of ${cache.batch}`);
    const pastLen = cache?.length ?? 0;
    if (pastLen + seq > c.nPositions) {
      throw new RangeError(`forward: ${pastLen} cached + ${seq} new tokens exceed the model's ${c.nPositions} positions`);
    }
    const positions = logitPositions ?? [seq - 1];
    if (positions.length === 0 || positions.some((p) => !Number.isInteger(p) || p < 0 || p >= seq)) {
      throw new Error(`forward: logit positions must be in 0..${seq - 1}`);
    }
    for (const row of tokens) {
      for (const t of row) {
        if (!Number.isInteger(t) || t < 0 || t >= c.vocabSize) throw new Error(`forward: token ${t} outside the vocabulary (0..${c.vocabSize - 1})`);
      }
    }

    let buffer = cache?.buffer ?? null;
    // Every run attends over the buffer's whole capacity (masked past the cache): a short view of a
    // large buffer continues in a right-sized copy (the old buffer and its caches stay as they were).
    if (buffer && buffer.capacity >= 2 * grownCapacity(pastLen + seq, c.nPositions)) {
      buffer = buffer.select(Array.from({ length: batch }, (_, b) => b), pastLen);
    }
    if (seq <= this.chunk) {
      const { logits, hidden, logNormalizers, buffer: grown, generation } = await this.run(tokens, buffer, pastLen, positions);
      return { logits, hidden, logNormalizers, cache: new OrtKVCache(this, grown, pastLen + seq, generation) };
    }
    // Chunks in order; each is asked for the logits it holds (or its last position, discarded).
    const V = c.vocabSize, E = c.nEmbd;
    const logits = new Float32Array(batch * positions.length * V);
    const hidden = new Float32Array(batch * positions.length * E);
    const logNormalizers = new Float32Array(batch * positions.length);
    let done = 0, generation = 0;
    while (done < seq) {
      const n = Math.min(this.chunk, seq - done);
      const picks = positions.flatMap((p, j) => (p >= done && p < done + n ? [[p - done, j]] : []));
      const local = picks.length > 0 ? picks.map(([p]) => p) : [n - 1];
      const out = await this.run(tokens.map((row) => row.slice(done, done + n)), buffer, pastLen + done, local);
      for (let b = 0; b < batch; b++) {
        picks.forEach(([, j], i) => {
          const row = b * local.length + i;
          logits.set(out.logits.subarray(row * V, (row + 1) * V), (b * positions.length + j) * V);
          hidden.set(out.hidden.subarray(row * E, (row + 1) * E), (b * positions.length + j) * E);
          logNormalizers[b * positions.length + j] = out.logNormalizers[row];
        });
      }
      ({ buffer, generation } = out);
      done += n;
    }
    return { logits, hidden, logNormalizers, cache: new OrtKVCache(this, buffer!, pastLen + seq, generation) };
  }

  truncate(cache: KVCache, length: number): KVCache {
    const kv = this.live(cache);
    if (!Number.isInteger(length) || length < 0 || length > kv.length) {
      throw new Error(`truncate: length ${length} outside 0..${kv.length}`);
    }
    if (length === kv.length) return kv;
    return new OrtKVCache(this, kv.buffer, length, kv.buffer.current);
  }

  expand(cache: KVCache, batch: number): KVCache {
    const kv = this.live(cache);
    if (kv.batch !== 1) throw new Error(`expand: needs a batch-1 cache (got ${kv.batch})`);
    if (!Number.isInteger(batch) || batch < 1) throw new Error(`expand: bad batch ${batch}`);
    if (batch === 1) return kv;
    const tiled = kv.buffer.select(new Array<number>(batch).fill(0), kv.length);
    return new OrtKVCache(this, tiled, kv.length, tiled.current);
  }

  selectRow(cache: KVCache, row: number): KVCache {
    const kv = this.live(cache);
    if (!Number.isInteger(row) || row < 0 || row >= kv.batch) throw new Error(`selectRow: row ${row} outside 0..${kv.batch - 1}`);
    if (kv.batch === 1) return kv;
    const one = kv.buffer.select([row], kv.length);
    return new OrtKVCache(this, one, kv.length, one.current);
  }

  async dispose(): Promise<void> {
    await this.session.release();
  }

  /** `cache` if it is this model's and none of its positions has been overwritten since it was made. */
  private live(cache: KVCache): OrtKVCache {
    if (!(cache instanceof OrtKVCache) || cache.owner !== this) throw new Error('KV cache from another model');
    cache.buffer.check(cache.length, cache.generation);
    return cache;
  }

  /**
   * One session run of `tokens` after the first `pastLen` positions of `buffer` (null: none); the
   * new K/V are written into the buffer at pastLen (a new buffer when there was none, a larger one
   * when it is full), which is returned with the generation of that write.
   */
  private async run(tokens: number[][], buffer: KVBuffer | null, pastLen: number, positions: readonly number[]):
    Promise<{ logits: Float32Array; hidden: Float32Array; logNormalizers: Float32Array; buffer: KVBuffer; generation: number }> {
    const c = this.config;
    const batch = tokens.length, seq = tokens[0].length;
    const H = this.heads, D = this.headSize;
    const ids = new BigInt64Array(batch * seq);
    const pos = new BigInt64Array(batch * seq);
    for (let b = 0; b < batch; b++) {
      for (let s = 0; s < seq; s++) {
        ids[b * seq + s] = BigInt(tokens[b][s]);
        pos[b * seq + s] = BigInt(pastLen + s);
      }
    }
    const cap = buffer?.capacity ?? 0;
    const feeds: Record<string, ort.Tensor> = {
      input_ids: new ort.Tensor('int64', ids, [batch, seq]),
      position_ids: new ort.Tensor('int64', pos, [batch, seq]),
      logits_index: new ort.Tensor('int64', BigInt64Array.from(positions, (p) => BigInt(p)), [positions.length]),
      [ATTENTION_BIAS]: new ort.Tensor('float32', attentionBias(cap, pastLen, seq), [seq, cap + seq]),
      [ATTENTION_SPLIT]: new ort.Tensor('int64', BigInt64Array.from([BigInt(cap), BigInt(seq)]), [2]),
    };
    const empty = new Float32Array(0);
    for (let i = 0; i < c.nLayer; i++) {
      feeds[pastKeyName(i)] = new ort.Tensor('float32', buffer ? buffer.keys[i] : empty, [batch, H, cap, D]);
      feeds[pastValueName(i)] = new ort.Tensor('float32', buffer ? buffer.values[i] : empty, [batch, H, cap, D]);
    }
    const generation = buffer?.current ?? 0;
    const out = await this.session.run(feeds);
    // A concurrent forward() from a shorter cache may have rewritten the past this run read.
    buffer?.check(pastLen, generation);
    const target = buffer ?? new KVBuffer(c.nLayer, batch, H, D, c.nPositions, grownCapacity(seq, c.nPositions));
    target.reserve(pastLen + seq, pastLen);
    for (let i = 0; i < c.nLayer; i++) {
      target.write(i, pastLen, seq, out[newKeyName(i)].data as Float32Array, out[newValueName(i)].data as Float32Array);
    }
    return {
      logits: out.logits.data as Float32Array,
      hidden: out[HIDDEN_OUTPUT].data as Float32Array,
      logNormalizers: out[LOG_NORMALIZER_OUTPUT].data as Float32Array,
      buffer: target,
      generation: target.commit(pastLen, seq),
    };
  }
}

/**
 * The graph's attention_bias [S, C+S]: new token i sees the P past positions of the C-position buffer
 * and new tokens j <= i (0); the spare capacity and later new tokens are masked.
 */
export function attentionBias(capacity: number, pastLen: number, seq: number): Float32Array {
  const width = capacity + seq;
  const bias = new Float32Array(seq * width).fill(MASK);
  for (let i = 0; i < seq; i++) {
    bias.fill(0, i * width, i * width + pastLen);
    bias.fill(0, i * width + capacity, i * width + capacity + i + 1);
  }
  return bias;
}

/**
 * Session options: full graph optimization, the chosen threads, and no inter-op pool (the graph is a
 * chain; a second pool only competes with the editor). Worker threads spin between the ops of a run
 * and stop when it returns (force_spinning_stop): a quantized decode step is ~270 ops of 5-15 µs
 * beside its weight products, and waking a sleeping worker for each parallel one cost 2-10%
 * (gpt2 int8, 2 threads, alternating runs: 106.8 / 108.4 -> 109.3 / 116.5 tokens/s; int4 115.6 /
 * 116.5 -> 124.6 / 130.5; fp32 level), for the run's CPU going from 1.67 to 1.88 cores of its 2. No
 * worker spins between runs, so an idle or waiting engine takes nothing from the editor; with one
 * thread (the default on 2 cores) there are no workers at all. MatMul weights stay pre-packed:
 * +200 MB RSS on gpt2-small (790 vs 584 MiB) for 5-10% faster decode and prefill.
 */
export function sessionOptions(choice: ExecutionChoice, overrides: ort.InferenceSession.SessionOptions = {}): ort.InferenceSession.SessionOptions {
  return {
    executionProviders: choice.executionProviders,
    graphOptimizationLevel: 'all',
    executionMode: 'sequential',
    intraOpNumThreads: choice.device.threads,
    interOpNumThreads: 1,
    extra: { session: { intra_op: { allow_spinning: '1' }, force_spinning_stop: '1' } },
    ...overrides,
  };
}

/**
 * Inference runs without ORT's CPU memory arena: the arena grows in powers of two around the largest
 * prefill chunk and keeps it, 130-150 MiB of gpt2-small's serving RSS (1036-1106 vs 896-920 MiB
 * added, fp32, 2026-11-26), while decode and prefill speed did not move beyond run-to-run noise.
 */
const INFERENCE_SESSION_OPTIONS: ort.InferenceSession.SessionOptions = { enableCpuMemArena: false };

async function openSession(model: string | Uint8Array, choice: ExecutionChoice, opts: OrtModelOptions): Promise<{ session: ort.InferenceSession; device: DeviceInfo }> {
  const create = (c: ExecutionChoice) => {
    const options = sessionOptions(c, { ...INFERENCE_SESSION_OPTIONS, ...opts.sessionOptions });
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
