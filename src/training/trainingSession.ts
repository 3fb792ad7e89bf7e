/**
 * A GPT-2 training step on onnxruntime-node: one session.run of the training graph
 * (trainingGraph.ts) returns L1, L2, L3 and dL3/dθ for every trainable tensor. Trainable values are
 * fed as graph inputs on each call (no copy: bench/MACHINE.md); the caller owns and updates them.
 * losses() runs a second, forward-only graph (LossSession), opened on first use: onnxruntime runs
 * every node of a graph whatever outputs are fetched, so the training graph would pay for its
 * backward pass. With LoRA dropout, step() draws the layers' masks from its seed into buffers
 * allocated once (loraDropout.ts); losses() never applies dropout.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as ort from 'onnxruntime-node';
import type { DeviceInfo } from '../engine/model';
import { chooseExecutionProvider, type ExecutionChoice } from '../engine/executionProvider';
import { type Graph } from '../engine/onnx/ir';
import { EXTERNAL_DATA_THRESHOLD, initializerBytes, serializeModel, writeModel } from '../engine/onnx/protoWriter';
import { sessionOptions } from '../engine/ortModel';
import type { WeightSource } from '../engine/weights';
import type { LoraConfig } from './lora';
import { fillDropoutMask } from './loraDropout';
import type { LossSession as LossSessionLike, Losses, StepOptions, TrainableParam, TrainingSessionLike } from './objective';
import { GRAD_SQ_NORM, INPUT_IDS, L1_MASK, L2_MASK, LAMBDA, LOSS_NAMES, buildTrainingGraph, gradName } from './trainingGraph';

export type { LoraConfig } from './lora';
export type { TrainableParam } from './objective';

/**
 * Token ids and per-target weights, [rows, T] row-major (or ids as rows). Fewer rows or a shorter T
 * than the session's are padded (token 0, weight 0), which changes no loss or gradient: attention is
 * causal, so positions after a row's end do not affect it. A flat batch whose T differs from the
 * session's says so with `seqLen` (objective.ts' PackedBatch does).
 */
export interface TrainBatch {
  inputIds: Int32Array | number[][];
  l1Mask: Float32Array;
  l2Mask: Float32Array;
  seqLen?: number;
}

export interface TrainingSessionOptions {
  weights: WeightSource;
  method: 'full' | 'lora';
  lora?: LoraConfig;
  batch: number;
  seqLen: number;
  device?: string;
  threads?: number;
}

export class TrainingSession implements TrainingSessionLike {
  private lossSession: Promise<LossSession> | undefined;
  private readonly masks: { name: string; shape: [number, number]; data: Float32Array }[];

  private constructor(
    private readonly opts: TrainingSessionOptions,
    private readonly choice: ExecutionChoice,
    private readonly graph: OpenGraph,
    readonly params: TrainableParam[],
    private readonly dropout: number,
    masks: { name: string; shape: [number, number] }[],
  ) {
    this.masks = masks.map((m) => ({ ...m, data: new Float32Array(m.shape[0] * m.shape[1]) }));
  }

  static async create(opts: TrainingSessionOptions): Promise<TrainingSession> {
    const choice = await chooseExecutionProvider({ device: opts.device, threads: opts.threads });
    const built = buildTrainingGraph(opts.weights, { method: opts.method, lora: opts.lora, batch: opts.batch, seqLen: opts.seqLen });
    return new TrainingSession(opts, choice, await openGraph(built.graph, choice), built.params, built.dropout, built.dropoutMasks);
  }

  /** Names of the LoRA dropout mask inputs (none without dropout). */
  get dropoutMasks(): string[] {
    return this.masks.map((m) => m.name);
  }

  get device(): DeviceInfo {
    return this.choice.device;
  }

  /**
   * Losses and gradients of one batch, and Σ of the gradients' squares (for clipping); LoRA dropout
   * masks come from options.seed (default 0).
   */
  async step(batch: TrainBatch, values: Map<string, Float32Array>, lambda: number, options: StepOptions = {}): Promise<Losses & { grads: Map<string, Float32Array>; gradSqNorm: number }> {
    const input = feeds(this.opts, this.params, batch, values, lambda);
    const seed = options.seed ?? 0;
    for (const m of this.masks) {
      fillDropoutMask(m.data, this.dropout, seed, m.name);
      input[m.name] = new ort.Tensor('float32', m.data, m.shape);
    }
    const out = await this.graph.session.run(input);
    const grads = new Map<string, Float32Array>();
    for (const p of this.params) grads.set(p.name, out[gradName(p.name)].data as Float32Array);
    return { ...readLosses(out), grads, gradSqNorm: (out[GRAD_SQ_NORM].data as Float32Array)[0] };
  }

  /** Losses from the forward-only graph, opened on first use. */
  async losses(batch: TrainBatch, values: Map<string, Float32Array>, lambda: number): Promise<Losses> {
    this.lossSession ??= LossSession.open(this.opts, this.choice);
    return (await this.lossSession).losses(batch, values, lambda);
  }

  async dispose(): Promise<void> {
    await closeGraph(this.graph);
    if (this.lossSession) await (await this.lossSession).dispose();
  }
}

/** The forward pass and the losses only: evaluation, and `loss` without gradients. */
export class LossSession implements LossSessionLike {
  private constructor(private readonly opts: TrainingSessionOptions, private readonly graph: OpenGraph, readonly params: TrainableParam[]) {}

  static async create(opts: TrainingSessionOptions): Promise<LossSession> {
    return LossSession.open(opts, await chooseExecutionProvider({ device: opts.device, threads: opts.threads }));
  }

  static async open(opts: TrainingSessionOptions, choice: ExecutionChoice): Promise<LossSession> {
    const built = buildTrainingGraph(opts.weights, { method: opts.method, lora: opts.lora, batch: opts.batch, seqLen: opts.seqLen, gradients: false });
    return new LossSession(opts, await openGraph(built.graph, choice), built.params);
  }

  async losses(batch: TrainBatch, values: Map<string, Float32Array>, lambda: number): Promise<Losses> {
    return readLosses(await this.graph.session.run(feeds(this.opts, this.params, batch, values, lambda)));
  }

  async dispose(): Promise<void> {
    await closeGraph(this.graph);
  }
}

/** The graph's inputs for one run; trainable values are wrapped, not copied. */
function feeds(
  opts: TrainingSessionOptions, params: readonly TrainableParam[], batch: TrainBatch, values: Map<string, Float32Array>, lambda: number,
): Record<string, ort.Tensor> {
  const { batch: B, seqLen: T } = opts;
  const shape = [B, T];
  const padded = padBatch(batch, B, T, opts.weights.config.vocabSize);
  if (!Number.isFinite(lambda)) throw new Error(`training step: lambda ${lambda} is not a finite number`);
  const out: Record<string, ort.Tensor> = {
    [INPUT_IDS]: new ort.Tensor('int64', padded.ids, shape),
    [L1_MASK]: new ort.Tensor('float32', padded.l1, shape),
    [L2_MASK]: new ort.Tensor('float32', padded.l2, shape),
    [LAMBDA]: new ort.Tensor('float32', Float32Array.of(lambda), []),
  };
  for (const p of params) {
    const v = values.get(p.name);
    const n = p.shape.reduce((a, b) => a * b, 1);
    if (!v || v.length !== n) throw new Error(`training step: ${p.name} needs ${n} values [${p.shape.join(', ')}] (got ${v ? v.length : 'none'})`);
    out[p.name] = new ort.Tensor('float32', v, p.shape);
  }
  return out;
}

function readLosses(out: ort.InferenceSession.OnnxValueMapType): Losses {
  const [l1, l2, l3] = LOSS_NAMES.map((n) => (out[n].data as Float32Array)[0]);
  return { l1, l2, l3 };
}

/** The batch as the session's [B, T]: ids as int64, masks copied only when padding is needed. */
export function padBatch(batch: TrainBatch, B: number, T: number, vocab: number): { ids: BigInt64Array; l1: Float32Array; l2: Float32Array } {
  let rows: number, t: number, idAt: (r: number, s: number) => number;
  if (Array.isArray(batch.inputIds)) {
    const list = batch.inputIds;
    rows = list.length;
    t = rows > 0 ? list[0].length : 0;
    if (list.some((row) => row.length !== t)) throw new Error('training batch: rows of different lengths');
    idAt = (r, s) => list[r][s];
  } else {
    const flat = batch.inputIds;
    t = batch.seqLen ?? T;
    rows = flat.length / t;
    idAt = (r, s) => flat[r * t + s];
  }
  if (!Number.isInteger(rows) || rows < 1 || rows > B || t < 1 || t > T) {
    throw new Error(`training batch: ${rows} rows of ${t} tokens do not fit the session's ${B} × ${T}`);
  }
  if (batch.l1Mask.length !== rows * t || batch.l2Mask.length !== rows * t) {
    throw new Error(`training batch: masks of ${batch.l1Mask.length} and ${batch.l2Mask.length} values for ${rows} × ${t} ids`);
  }
  const ids = new BigInt64Array(B * T);
  for (let r = 0; r < rows; r++) {
    for (let s = 0; s < t; s++) {
      const id = idAt(r, s);
      if (!Number.isInteger(id) || id < 0 || id >= vocab) throw new Error(`training batch: token ${id} outside the vocabulary (0..${vocab - 1})`);
      ids[r * T + s] = BigInt(id);
    }
  }
  if (rows === B && t === T) return { ids, l1: batch.l1Mask, l2: batch.l2Mask };
  const pad = (m: Float32Array) => {
    const out = new Float32Array(B * T);
    for (let r = 0; r < rows; r++) out.set(m.subarray(r * t, (r + 1) * t), r * T);
    return out;
  };
  return { ids, l1: pad(batch.l1Mask), l2: pad(batch.l2Mask) };
}

interface OpenGraph {
  session: ort.InferenceSession;
  /** A temp folder holding the model file, for graphs above the protobuf cap; removed on close. */
  tempDir?: string;
}

/** A session over `graph`; above the 2 GB protobuf cap (LoRA on a large base) via a temp file with external data. */
async function openGraph(graph: Graph, choice: ExecutionChoice): Promise<OpenGraph> {
  const options = sessionOptions(choice);
  if (initializerBytes(graph) <= EXTERNAL_DATA_THRESHOLD) {
    return { session: await ort.InferenceSession.create(serializeModel(graph), options) };
  }
  const tempDir = fs.mkdtempSync(path.join(os.tmpdir(), 'gpt2-train-'));
  try {
    const file = path.join(tempDir, 'train.onnx');
    await writeModel(graph, file, { externalData: true });
    return { session: await ort.InferenceSession.create(file, options), tempDir };
  } catch (e) {
    fs.rmSync(tempDir, { recursive: true, force: true });
    throw e;
  }
}

async function closeGraph(g: OpenGraph): Promise<void> {
  await g.session.release();
  if (g.tempDir) fs.rmSync(g.tempDir, { recursive: true, force: true });
}
