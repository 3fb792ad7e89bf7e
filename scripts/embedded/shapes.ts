/**
 * Choosing the embedded model's shape by measurement. Every candidate fits the 30 MB limit in fp16
 * (the 50257 × width embedding, which is also the output head, is most of it) and is trained from
 * the same seed on the same data for the same CPU time; then its held-out loss, its training speed
 * and its inference latency (prefill and per-token decode on the inference engine, one thread, as the
 * extension runs on a 2-core machine) are compared.
 *
 * The output head costs 2·width·50257 FLOPs per token forward (×3 with backward), a transformer
 * layer ~24·width², so at these widths depth is cheap and width is what the budget pays for.
 */
import * as fs from 'fs';
import * as path from 'path';
import { parameterCount } from '../../src/engine/config';
import { OrtModel } from '../../src/engine/ortModel';
import { InMemoryWeights } from '../../src/engine/weights';
import { sessionScorer } from '../../src/training/evaluate';
import type { TokenExample } from '../../src/training/objective';
import { configOf, pretrain, shapeName, type Hyper, type Shape } from './pretrain';

export const MAX_MODEL_BYTES = 30_000_000;

export interface ShapeMeasurement {
  shape: string;
  /** Peak learning rate of the measurement run. */
  lr: number;
  params: number;
  fp16Bytes: number;
  cpuSec: number;
  /** Absent in measurements restored from an earlier card (shape-measurements.json). */
  wallSec?: number;
  steps: number;
  tokens: number;
  /** Training tokens per CPU-second (both threads counted), and per wall-second. */
  tokensPerCpuSec: number;
  tokensPerSec?: number;
  heldOutLoss: number;
  /** Inference on one thread: a prompt of nPositions − 64 tokens, then one token at a time. */
  prefillMs: number;
  decodeMsPerToken: number;
}

/** Bytes of model.safetensors in fp16 (the header is a few kB more). */
export function fp16Bytes(s: Shape): number {
  return 2 * parameterCount(configOf(s));
}

async function latency(shape: Shape, values: Map<string, Float32Array>): Promise<{ prefillMs: number; decodeMsPerToken: number }> {
  const config = configOf(shape);
  const model = await OrtModel.load({ weights: new InMemoryWeights(config, values), device: 'cpu', threads: 1 });
  try {
    const prompt = Array.from({ length: config.nPositions - 64 }, (_, i) => (i * 7919) % 50000);
    const prefill: number[] = [];
    const decode: number[] = [];
    for (let rep = 0; rep < 5; rep++) {
      let t0 = performance.now();
      let { cache } = await model.forward([prompt], null);
      prefill.push(performance.now() - t0);
      t0 = performance.now();
      for (let k = 0; k < 32; k++) ({ cache } = await model.forward([[(k * 31) % 50000]], cache));
      decode.push((performance.now() - t0) / 32);
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
    return { prefillMs: median(prefill), decodeMsPerToken: median(decode) };
  } finally {
    await model.dispose();
  }
}

export async function measureShape(
  shape: Shape,
  o: { hyper: Hyper; train: readonly TokenExample[]; heldOut: readonly TokenExample[]; cpuBudgetSec: number; threads: number; workDir: string; log: (l: string) => void },
): Promise<ShapeMeasurement> {
  const outDir = path.join(o.workDir, shapeName(shape));
  fs.rmSync(outDir, { recursive: true, force: true });
  const config = configOf(shape);
  const run = await pretrain({
    shape,
    hyper: o.hyper,
    // A long nominal schedule with a flat rate after warm-up: the budget, not the schedule, ends the
    // run, and every candidate sees the same learning rate at the same step.
    steps: 1_000_000,
    train: o.train,
    checkpointEvery: 1_000_000,
    outDir,
    threads: o.threads,
    resume: false,
    cpuBudgetSec: o.cpuBudgetSec,
    log: o.log,
  });
  const scored = await sessionScorer(run.session, run.values, { rows: o.hyper.rows, seqLen: config.nPositions })(o.heldOut, 0);
  await run.session.dispose();
  const lat = await latency(shape, run.values);
  fs.rmSync(outDir, { recursive: true, force: true });
  return {
    shape: shapeName(shape),
    lr: o.hyper.lr,
    params: parameterCount(config),
    fp16Bytes: fp16Bytes(shape),
    cpuSec: run.cpuSec,
    wallSec: run.wallSec,
    steps: run.step,
    tokens: run.tokens,
    tokensPerCpuSec: run.tokens / run.cpuSec,
    tokensPerSec: run.tokens / run.wallSec,
    heldOutLoss: scored.l2,
    ...lat,
  };
}
