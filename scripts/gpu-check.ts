/**
 * `npm run gpu:check -- [--device webgpu|cuda] [--threads N] [--train-shape 8x128] [--train-rows 16]`
 *
 * Checks GPU execution of the engine and the trainer against the CPU provider on random models
 * (no downloads), one JSON line per check:
 *   1. inference: logits of a tiny model on the device vs CPU, and KV-cache decoding vs recomputation;
 *   2. decode speed: gpt2-small-shaped model, ms per token at context 64 and ~1000, device vs CPU;
 *   3. training: one step's losses and gradients on the device vs CPU (tiny model), then training
 *      throughput (tokens/s) at the embedded model's shape.
 * --correctness-only runs 1 and 3's first half. Exits non-zero when the device cannot start or a result disagrees with the CPU.
 */
import { NAMED_CONFIGS, type GPT2Config } from '../src/engine/config';
import type { KVCache } from '../src/engine/model';
import { OrtModel } from '../src/engine/ortModel';
import { randomWeights, randomWeightSource } from '../src/engine/randomCheckpoint';
import { initialValues } from '../src/training/trainer';
import { TrainingSession } from '../src/training/trainingSession';

const arg = (name: string, fallback: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
};
const DEVICE = arg('device', 'webgpu');
const THREADS = Number(arg('threads', '2'));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const report = (check: string, data: Record<string, unknown>) => console.log(JSON.stringify({ check, device: DEVICE, ...data }));
let failed = false;

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

function tokens(n: number, seed: number, vocab: number): number[] {
  let s = seed;
  return Array.from({ length: n }, () => ((s = (s * 1103515245 + 12345) >>> 0) % vocab));
}

async function inference(): Promise<void> {
  const config = NAMED_CONFIGS.tiny;
  const weights = randomWeightSource(config, 1);
  const cpu = await OrtModel.load({ weights, device: 'cpu', threads: THREADS });
  const dev = await OrtModel.load({ weights, device: DEVICE, threads: THREADS });
  const ids = tokens(40, 7, config.vocabSize);
  const positions = ids.map((_, i) => i);
  const a = await cpu.forward([ids], null, positions);
  const b = await dev.forward([ids], null, positions);
  // KV decoding on the device: the prefix, then one token at a time, against the full run's logits.
  let cache: KVCache | null = (await dev.forward([ids.slice(0, 30)], null)).cache;
  let kvDiff = 0;
  const V = config.vocabSize;
  for (let i = 30; i < ids.length; i++) {
    const r = await dev.forward([[ids[i]]], cache);
    cache = r.cache;
    kvDiff = Math.max(kvDiff, maxAbsDiff(r.logits, b.logits.subarray(i * V, (i + 1) * V)));
  }
  const diff = maxAbsDiff(a.logits, b.logits);
  const ok = diff < 1e-3 && kvDiff < 1e-3;
  failed ||= !ok;
  report('inference', { provider: dev.device.provider, reason: dev.device.reason, maxAbsDiffVsCpu: diff, kvDecodeVsFull: kvDiff, ok });
  await cpu.dispose();
  await dev.dispose();
}

async function decodeSpeed(device: string): Promise<Record<string, number>> {
  const config = NAMED_CONFIGS.small;
  const t0 = performance.now();
  const model = await OrtModel.load({ weights: randomWeightSource(config, 2), device, threads: THREADS });
  const loadMs = performance.now() - t0;
  const out: Record<string, number> = { loadMs: Math.round(loadMs) };
  for (const ctx of [64, 1000]) {
    let cache: KVCache | null = (await model.forward([tokens(ctx, 3, config.vocabSize)], null)).cache;
    const times: number[] = [];
    for (let i = 0; i < 24; i++) {
      const t = performance.now();
      cache = (await model.forward([[i + 100]], cache)).cache;
      times.push(performance.now() - t);
    }
    out[`decodeMsAt${ctx}`] = Number(median(times.slice(4)).toFixed(2));
  }
  await model.dispose();
  return out;
}

async function trainingStep(): Promise<void> {
  const config = NAMED_CONFIGS.tiny;
  const B = 2, T = 32;
  const ids = Int32Array.from(tokens(B * T, 11, config.vocabSize));
  const l1 = new Float32Array(B * T).fill(1);
  const l2 = new Float32Array(B * T).fill(1);
  for (let r = 0; r < B; r++) { l1[r * T] = 0; l2[r * T] = 0; }
  const results = [];
  for (const device of ['cpu', DEVICE]) {
    const session = await TrainingSession.create({ weights: randomWeights(config, 0), method: 'full', batch: B, seqLen: T, device, threads: THREADS });
    const values = initialValues(session.params, { method: 'full', base: randomWeights(config, 0) });
    results.push(await session.step({ inputIds: ids, l1Mask: l1, l2Mask: l2 }, values, 0.5));
    await session.dispose();
  }
  const [c, d] = results;
  let gradRel = 0;
  for (const [name, g] of c.grads) {
    const h = d.grads.get(name)!;
    let num = 0, den = 0;
    for (let i = 0; i < g.length; i++) { num += (g[i] - h[i]) ** 2; den += g[i] ** 2; }
    gradRel = Math.max(gradRel, Math.sqrt(num / Math.max(den, 1e-30)));
  }
  const ok = Math.abs(c.l3 - d.l3) < 1e-3 && gradRel < 1e-2;
  failed ||= !ok;
  report('trainingStep', { cpu: { l1: c.l1, l2: c.l2, l3: c.l3 }, device: { l1: d.l1, l2: d.l2, l3: d.l3 }, worstGradRelErr: gradRel, ok });
}

async function trainingSpeed(device: string, shape: GPT2Config, rows: number, steps: number): Promise<number> {
  const T = shape.nPositions;
  const session = await TrainingSession.create({ weights: randomWeights(shape, 0), method: 'full', batch: rows, seqLen: T, device, threads: THREADS });
  const values = initialValues(session.params, { method: 'full', base: randomWeights(shape, 0) });
  const ids = Int32Array.from(tokens(rows * T, 5, shape.vocabSize));
  const mask = new Float32Array(rows * T).fill(1);
  const times: number[] = [];
  for (let i = 0; i < steps + 1; i++) {
    const t = performance.now();
    await session.step({ inputIds: ids, l1Mask: new Float32Array(rows * T), l2Mask: mask }, values, 0);
    times.push(performance.now() - t);
  }
  await session.dispose();
  return (rows * T) / (median(times.slice(1)) / 1000);
}

async function main(): Promise<void> {
  // --skip-inference: the training checks alone (no inference or decode checks) (a provider may fail inference but run training).
  if (!process.argv.includes('--skip-inference')) await inference();
  await trainingStep();
  // --correctness-only: for a software GPU (lavapipe) where speed means nothing.
  if (process.argv.includes('--correctness-only')) return;
  if (!process.argv.includes('--skip-inference')) {
    const dev = await decodeSpeed(DEVICE);
    const cpu = await decodeSpeed('cpu');
    report('decode-gpt2-small', { deviceMs: dev, cpuMs: cpu, threads: THREADS });
  }
  const m = /^(\d+)x(\d+)$/.exec(arg('train-shape', '8x128'))!;
  const shape: GPT2Config = { vocabSize: 50257, nPositions: 512, nEmbd: Number(m[2]), nLayer: Number(m[1]), nHead: Number(m[2]) / 64, layerNormEpsilon: 1e-5 };
  const rows = Number(arg('train-rows', '16'));
  const devTps = await trainingSpeed(DEVICE, shape, rows, 5);
  const cpuTps = await trainingSpeed('cpu', shape, 2, 3);
  report('training-throughput', { shape: arg('train-shape', '8x128'), deviceRows: rows, deviceTokPerSec: Math.round(devTps), cpuRows: 2, cpuTokPerSec: Math.round(cpuTps), threads: THREADS });
  if (failed) process.exitCode = 1;
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : e);
  process.exitCode = 1;
});
