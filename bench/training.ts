/**
 * Training throughput: tokens/s of whole optimizer steps (one session.run for losses and gradients,
 * global-norm clipping, AdamW), batch 4 × 256, on random weights:
 *   gpt2-shaped 124M, full fine-tuning and LoRA (DEFAULT_LORA_CONFIG)
 *   tiny: 4 layers, 256 wide, 4 heads, GPT-2's vocabulary (full and LoRA)
 * and the peak resident memory of each, every configuration in its own process so peaks do not mix.
 * Bars (PERF.md, same machine class): full 124M ≥ 150 tokens/s, tiny ≥ 1300; the PyTorch peer
 * trains at 177 and 1327 tokens/s on 2 threads.
 *
 *   npx tsx bench/training.ts [--threads 2] [--steps N] [--only small-full,tiny-lora,...]
 */
import { fork } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import { NAMED_CONFIGS, parameterCount, type GPT2Config } from '../src/engine/config';
import { randomWeightSource } from '../src/engine/randomCheckpoint';
import { DEFAULT_LORA_CONFIG } from '../src/training/lora';
import { AdamW, clipFactor, globalGradNorm } from '../src/training/optimizer';
import { initialValues } from '../src/training/trainer';
import { TrainingSession } from '../src/training/trainingSession';

const ROWS = 4;
const SEQ = 256;
/** Tokens of each row that are context (L1 targets); the rest is continuation (L2). */
const CONTEXT = 192;

const TINY: GPT2Config = { vocabSize: 50257, nPositions: 1024, nEmbd: 256, nLayer: 4, nHead: 4, layerNormEpsilon: 1e-5 };

interface Case {
  id: string;
  label: string;
  config: GPT2Config;
  method: 'full' | 'lora';
  steps: number;
  /** tokens/s the issue asks for, if any. */
  bar?: number;
  peer?: number;
}

const CASES: Case[] = [
  { id: 'small-full', label: 'gpt2 124M', config: NAMED_CONFIGS.small, method: 'full', steps: 3, bar: 150, peer: 177 },
  { id: 'small-lora', label: 'gpt2 124M', config: NAMED_CONFIGS.small, method: 'lora', steps: 3 },
  { id: 'tiny-full', label: 'tiny 4×256', config: TINY, method: 'full', steps: 10, bar: 1300, peer: 1327 },
  { id: 'tiny-lora', label: 'tiny 4×256', config: TINY, method: 'lora', steps: 10 },
];

interface Measured {
  id: string;
  trainable: number;
  createMs: number;
  stepMs: number[];
  peakRssMiB: number;
  provider: string;
  threads: number;
}

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function peakRssMiB(): number {
  const status = fs.readFileSync('/proc/self/status', 'utf8');
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? NaN) / 1024;
}

/** One configuration, in this (child) process. */
async function measure(c: Case, threads: number, steps: number): Promise<Measured> {
  const base = randomWeightSource(c.config, 1);
  let t0 = performance.now();
  const session = await TrainingSession.create({ weights: base, method: c.method, lora: DEFAULT_LORA_CONFIG, batch: ROWS, seqLen: SEQ, device: 'cpu', threads });
  const createMs = performance.now() - t0;
  const values = initialValues(session.params, c.method === 'full' ? { method: 'full', base } : { method: 'lora', lora: DEFAULT_LORA_CONFIG, model: c.config, seed: 1 });
  const optimizer = new AdamW(session.params);
  const ids = new Int32Array(ROWS * SEQ);
  let s = 12345;
  for (let i = 0; i < ids.length; i++) ids[i] = (s = (s * 1103515245 + 12345) % 2 ** 31) % 50000;
  const l1 = new Float32Array(ROWS * SEQ);
  const l2 = new Float32Array(ROWS * SEQ);
  for (let r = 0; r < ROWS; r++) for (let t = 0; t < SEQ - 1; t++) (t + 1 < CONTEXT ? l1 : l2)[r * SEQ + t] = 1;
  const stepMs: number[] = [];
  for (let i = 0; i <= steps; i++) {
    t0 = performance.now();
    const r = await session.step({ inputIds: ids, l1Mask: l1, l2Mask: l2 }, values, 0.5);
    const norm = globalGradNorm(session.params.map((p) => r.grads.get(p.name)!));
    optimizer.step(values, r.grads, 1e-4, clipFactor(norm, 1));
    if (i > 0) stepMs.push(performance.now() - t0); // the first step pays allocation and warm-up
  }
  const trainable = session.params.reduce((n, p) => n + p.shape.reduce((a, b) => a * b, 1), 0);
  const { provider, threads: used } = session.device;
  await session.dispose();
  return { id: c.id, trainable, createMs, stepMs, peakRssMiB: peakRssMiB(), provider, threads: used };
}

function runChild(id: string, threads: number, steps: string): Promise<Measured> {
  return new Promise((resolve, reject) => {
    const child = fork(__filename, ['--child', id, '--threads', String(threads), '--steps', steps], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    child.on('message', (m: Measured) => resolve(m));
    child.on('exit', (code) => code !== 0 && reject(new Error(`${id}: exited with code ${code}`)));
  });
}

async function main(): Promise<void> {
  const threads = Number(arg('threads', '2'));
  const steps = arg('steps', '');
  const child = arg('child', '');
  if (child) {
    const c = CASES.find((x) => x.id === child)!;
    process.send!(await measure(c, threads, steps ? Number(steps) : c.steps));
    return;
  }
  const only = arg('only', '').split(',').filter(Boolean);
  const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  const lines = [
    `Training throughput, batch ${ROWS} × ${SEQ} (${ROWS * SEQ} tokens: ${CONTEXT - 1} L1 and ${SEQ - CONTEXT} L2 targets a row), random weights, fp32; ` +
      `${cpu}, ${os.cpus().length} cores, node ${process.version}, ${threads} threads. Median of the steps after a warm-up step.`,
    '',
    '| model | method | trainable params | step (ms) | tokens/s | bar | PyTorch peer | peak RSS (MiB) | session build (ms) |',
    '| --- | --- | ---: | ---: | ---: | --- | ---: | ---: | ---: |',
  ];
  for (const c of CASES) {
    if (only.length && !only.includes(c.id)) continue;
    const m = await runChild(c.id, threads, steps);
    const step = median(m.stepMs);
    const rate = (ROWS * SEQ * 1000) / step;
    const bar = c.bar ? `≥ ${c.bar}: ${rate >= c.bar ? 'met' : 'NOT met'}` : '';
    lines.push(
      `| ${c.label} (${(parameterCount(c.config) / 1e6).toFixed(0)}M) | ${c.method} | ${(m.trainable / 1e6).toFixed(2)}M | ${step.toFixed(0)} | ${rate.toFixed(0)} | ${bar} | ${c.peer ?? ''} | ${m.peakRssMiB.toFixed(0)} | ${m.createMs.toFixed(0)} |`,
    );
    process.stderr.write(`${c.id}: steps ${m.stepMs.map((x) => x.toFixed(0)).join(', ')} ms on ${m.provider} (${m.threads} threads)\n`);
  }
  process.stdout.write(lines.join('\n') + '\n');
}

main().catch((e: unknown) => {
  process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
  process.exitCode = 1;
});
