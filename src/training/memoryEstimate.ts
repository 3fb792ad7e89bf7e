/**
 * How much memory a training run will take, worked out before anything is allocated, so a run that
 * cannot fit is refused in a second with what would fit instead of being killed minutes later.
 *
 * All tensors are fp32. The parts:
 * - weights: every parameter once (trainable ones as our Float32Arrays, frozen ones as the graph's
 *   initializers);
 * - gradients: each step's come back as fresh arrays while the previous step's still wait for the
 *   garbage collector, so two sets (8 B per trainable parameter); AdamW m and v (8 B); an
 *   accumulation buffer (4 B) when gradients are accumulated over micro-batches;
 * - activations: the LoRA dropout masks (inputs, B·T·in floats per adapted layer), and the peak of the intermediate tensors of the training graph itself (graphMemory.ts
 *   walks the graph that would be built, so the vocabulary-sized logits, log-probabilities and their
 *   gradient, the attention scores and every saved activation are counted as the graph has them),
 *   times ARENA_FACTOR for what onnxruntime's allocator holds beyond the live bytes;
 * - a fixed overhead for the runtime and the process.
 * Calibrated against measured peak RSS (bench/RESULTS.md, training); it errs high: it is a gate, and
 * a refused run that would have fit costs less than a swapping machine.
 */
import * as os from 'os';
import { parameterCount, type GPT2Config } from '../engine/config';
import { UserError } from '../engine/errors';
import { graphMemory } from './graphMemory';
import { DEFAULT_LORA_CONFIG, loraModules, loraParams, type LoraConfig } from './lora';
import { buildTrainingGraph } from './trainingGraph';
import { formatBytes } from '../engine/units';

export interface MemoryRequest {
  config: GPT2Config;
  method: 'full' | 'lora';
  lora?: LoraConfig;
  rows: number;
  seqLen: number;
  /** Micro-batches per update (default 1); above 1 an accumulation buffer is needed. */
  accumulation?: number;
}

export interface MemoryEstimate {
  weights: number;
  gradients: number;
  optimizer: number;
  accumulation: number;
  activations: number;
  overhead: number;
  total: number;
  trainableParams: number;
}

const F32 = 4;
/**
 * Resident bytes per byte of the graph's live intermediates: onnxruntime's CPU arena grows in
 * power-of-two extensions and keeps what it took, and glibc keeps freed chunks. Measured peak RSS
 * less the other parts, over the simulated peak: 2.8–3.2 for tiny (4 × 256, full and LoRA) at 4×256.
 */
export const ARENA_FACTOR = 3;
/**
 * Frozen weights (LoRA) are the graph's initializers: the serialized model holds them while the
 * session is created, onnxruntime keeps its own copy, and its Gemm kernels pre-pack another.
 */
export const FROZEN_WEIGHT_COPIES = 3;
/**
 * An allowance for the rest of the process: node with onnxruntime loaded is ~55 MB resident at rest
 * (measured), the mined data up to ~60 MB (dataset.ts caps it at 20,000 examples of ~3 KB), the
 * serialized model while the session is created; the remainder is headroom for fragmentation.
 */
export const RUNTIME_OVERHEAD_BYTES = 300e6;

export function trainableParameterCount(req: Pick<MemoryRequest, 'config' | 'method' | 'lora'>): number {
  if (req.method === 'full') return parameterCount(req.config);
  if (!req.lora) throw new Error('trainableParameterCount: a LoRA run needs its LoraConfig');
  return loraParams(req.config, req.lora).reduce((n, p) => n + p.shape[0] * p.shape[1], 0);
}

/** Graph walks are cheap (milliseconds) but the alternatives search asks for many shapes. */
const liveCache = new Map<string, number>();

/**
 * Peak bytes of the training graph's intermediates for one [rows, seqLen] step (the gradient
 * outputs included), from the graph that would be built; no weights are read.
 */
export function activationBytes(config: GPT2Config, rows: number, seqLen: number, method: 'full' | 'lora' = 'full', lora: LoraConfig = DEFAULT_LORA_CONFIG): number {
  const key = JSON.stringify([config, rows, seqLen, method, method === 'lora' ? lora : null]);
  let peak = liveCache.get(key);
  if (peak === undefined) {
    // Blocks are alike, so the peak is affine in the layer count: walk 1- and 2-block graphs
    // (milliseconds) rather than the model's (seconds for gpt2-xl).
    const walk = (nLayer: number): number => {
      const c = { ...config, nLayer };
      const noWeights = { config: c, tensor: (name: string): Float32Array => { throw new Error(`activationBytes: ${name} is not read`); } };
      const l = lora.layers ? { ...lora, layers: undefined } : lora;
      return graphMemory(buildTrainingGraph(noWeights, { method, lora: l, batch: rows, seqLen }).graph).peak;
    };
    const one = walk(1);
    peak = one + (config.nLayer - 1) * (walk(2) - one);
    liveCache.set(key, peak);
  }
  return ARENA_FACTOR * peak;
}

export function estimateTrainingMemory(req: MemoryRequest): MemoryEstimate {
  const trainable = trainableParameterCount(req);
  const weights = F32 * parameterCount(req.config) * (req.method === 'lora' ? FROZEN_WEIGHT_COPIES : 1) + (req.method === 'lora' ? F32 * trainable : 0);
  const gradients = 2 * F32 * trainable;
  const optimizer = 2 * F32 * trainable;
  const accumulation = (req.accumulation ?? 1) > 1 ? F32 * trainable : 0;
  const seqLen = Math.min(req.seqLen, req.config.nPositions);
  // LoRA dropout masks are inputs (JS buffers the session keeps), one float per adapted layer input.
  const masks = req.method === 'lora' && req.lora && req.lora.dropout > 0
    ? F32 * req.rows * seqLen * loraModules(req.config, req.lora).reduce((n, m) => n + m.in, 0) : 0;
  const activations = activationBytes(req.config, req.rows, seqLen, req.method, req.lora) + masks;
  const overhead = RUNTIME_OVERHEAD_BYTES;
  return {
    weights,
    gradients,
    optimizer,
    accumulation,
    activations,
    overhead,
    total: weights + gradients + optimizer + accumulation + activations + overhead,
    trainableParams: trainable,
  };
}

export interface AvailableMemory {
  /** Bytes the run may use now. */
  free: number;
  total: number;
}

/**
 * Memory this process can take: the system's available memory (MemAvailable on Linux), lowered to
 * the container's limit less what the process already uses when a cgroup limit is set.
 */
export function availableMemory(): AvailableMemory {
  let free = os.freemem();
  let total = os.totalmem();
  const constrained = typeof process.constrainedMemory === 'function' ? process.constrainedMemory() : 0;
  if (constrained && constrained > 0 && constrained < total) {
    total = constrained;
    free = Math.min(free, constrained - process.memoryUsage().rss);
  }
  return { free: Math.max(0, free), total };
}


export interface MemoryCheckOptions {
  /** The model's name in messages (e.g. "gpt2-medium"). */
  modelName?: string;
  /** Share of free memory left alone for the editor and the OS (default 0.15). */
  margin?: number;
}

export interface MemoryAlternative {
  method: 'full' | 'lora';
  rows: number;
  seqLen: number;
  bytes: number;
}

function fits(req: MemoryRequest, budget: number): number | null {
  const bytes = estimateTrainingMemory(req).total;
  return bytes <= budget ? bytes : null;
}

/** The largest rows (halving from req.rows) at which `req` fits, or null. */
function largestRows(req: MemoryRequest, budget: number): MemoryAlternative | null {
  for (let rows = req.rows; rows >= 1; rows = rows === 1 ? 0 : Math.max(1, Math.floor(rows / 2))) {
    const bytes = fits({ ...req, rows }, budget);
    if (bytes !== null) return { method: req.method, rows, seqLen: req.seqLen, bytes };
  }
  return null;
}

/**
 * What would fit `budget` when `req` does not: LoRA instead of full fine-tuning (the biggest saving,
 * at the largest batch that fits), a smaller batch with the same method, and only when neither
 * fits, shorter sequences with one row.
 */
export function memoryAlternatives(req: MemoryRequest, budget: number, lora: LoraConfig): MemoryAlternative[] {
  const out: MemoryAlternative[] = [];
  if (req.method === 'full') {
    const asLora = largestRows({ ...req, method: 'lora', lora }, budget);
    if (asLora) out.push(asLora);
  }
  const smaller = req.rows > 1 ? largestRows({ ...req, rows: Math.floor(req.rows / 2) }, budget) : null;
  if (smaller) out.push(smaller);
  if (out.length === 0) {
    const method = req.method === 'full' ? 'lora' : req.method;
    const l = req.lora ?? lora;
    for (let seqLen = Math.floor(req.seqLen / 2); seqLen >= 32; seqLen = Math.floor(seqLen / 2)) {
      const bytes = fits({ ...req, method, lora: l, rows: 1, seqLen }, budget);
      if (bytes !== null) {
        out.push({ method, rows: 1, seqLen, bytes });
        break;
      }
    }
  }
  return out;
}

function describe(alt: MemoryAlternative, req: MemoryRequest): string {
  const parts: string[] = [];
  if (alt.method !== req.method) parts.push(`--method ${alt.method}`);
  if (alt.seqLen !== req.seqLen) parts.push(`examples of at most ${alt.seqLen} tokens`);
  if (alt.rows !== req.rows || alt.seqLen !== req.seqLen) parts.push(`--batch-tokens ${alt.rows * alt.seqLen}`);
  return parts.join(' with ');
}

/**
 * Refuses, with a UserError that says what would fit, a run whose estimate exceeds the free memory
 * less a margin; returns the estimate otherwise.
 */
export function checkTrainingMemory(
  req: MemoryRequest,
  available: AvailableMemory = availableMemory(),
  opts: MemoryCheckOptions & { lora?: LoraConfig } = {},
): MemoryEstimate {
  const estimate = estimateTrainingMemory(req);
  const budget = Math.min(available.free, available.total) * (1 - (opts.margin ?? 0.15));
  if (estimate.total <= budget) return estimate;
  const what = `${req.method === 'full' ? 'full fine-tuning' : 'LoRA fine-tuning'} of ${opts.modelName ?? 'this model'}`;
  const breakdown =
    `weights ${formatBytes(estimate.weights)}, gradients and AdamW state ${formatBytes(estimate.gradients + estimate.optimizer + estimate.accumulation)}, ` +
    `activations for ${req.rows}×${req.seqLen} tokens ${formatBytes(estimate.activations)}`;
  const head = `${what} needs ~${formatBytes(estimate.total)} (${breakdown}), ${formatBytes(available.free)} free`;
  const loraDefault = opts.lora ?? req.lora ?? { rank: 8, alpha: 16, dropout: 0, targets: ['attn.c_attn', 'attn.c_proj', 'mlp.c_fc', 'mlp.c_proj'] };
  const alts = memoryAlternatives(req, budget, loraDefault);
  if (alts.length === 0) {
    throw new UserError(`${head}: even LoRA with one short example per step would not fit; close other programs or choose a smaller model`);
  }
  throw new UserError(`${head}: use ${alts.map((a) => describe(a, req)).join(', or ')}`);
}

/** Sizes read the same everywhere (engine/units.ts). */
export { formatBytes };
