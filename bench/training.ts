/**
 * Training throughput: tokens/s of whole optimizer steps (one session.run for losses and gradients,
 * global-norm clipping, AdamW), batch 4 × 256, on random weights:
 *   gpt2-shaped 124M, full fine-tuning and LoRA (DEFAULT_LORA_CONFIG)
 *   tiny: 4 layers, 256 wide, 4 heads, GPT-2's vocabulary (full and LoRA)
 * and the peak resident memory of each, every configuration in its own process so peaks do not mix.
 *
 * The full fine-tuning cases are also trained by a PyTorch peer (bench/torch_train_peer.py: a plain
 * nanoGPT-style GPT-2, the same batch, masks and L3 = L2 + 0.5·L1, global-norm clipping to 1 and
 * torch.optim.AdamW), in the same invocation, right after our measurement of that case and for the
 * same number of steps, so "ours / peer" compares the two on this machine under the same load (a
 * speed ratio: above 1, ours is faster). Bars (issue 3): full 124M ≥ 150 tokens/s, tiny ≥ 1300; they
 * came from the peer on the AMD machine of bench/MACHINE.md (177 and 1327 tokens/s on 2 threads), printed as a note.
 * The peer is Debian's python3-torch with libopenblas0-openmp: --python, else /usr/bin/python3 (not
 * a pyenv shim without torch), else python3, as bench/peer.ts picks it; it runs with
 * OMP_NUM_THREADS=--threads and OMP_WAIT_POLICY=PASSIVE unless the environment sets them (with
 * spinning waits its 2 threads collapse on a loaded machine: bench/RESULTS.md, "PyTorch peer").
 * Without torch, one line says so and our measurements are kept; --no-peer skips the peer.
 *
 *   npx tsx bench/training.ts [--threads 2] [--steps N] [--only small-full,tiny-lora,...]
 *       [--no-peer] [--python /usr/bin/python3] [--default-malloc]
 *
 * Each case runs in the environment the fine-tuning process gets (trainingEnvironment: glibc keeps
 * large buffers for reuse); --default-malloc runs it with this process's, to measure the difference.
 */
import { fork, spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { NAMED_CONFIGS, parameterCount, type GPT2Config } from '../src/engine/config';
import { randomWeightSource } from '../src/engine/randomCheckpoint';
import { DEFAULT_LORA_CONFIG } from '../src/training/lora';
import { trainingEnvironment } from '../src/training/fineTuneClient';
import { AdamW, clipFactor } from '../src/training/optimizer';
import { initialValues } from '../src/training/trainer';
import { TrainingSession } from '../src/training/trainingSession';
import { matMulFlops } from './flops';
import { peerWaitPolicy, pythonPath } from './pythonPeer';

const ROWS = 4;
const SEQ = 256;
/** Tokens of each row that are context (L1 targets); the rest is continuation (L2). */
const CONTEXT = 192;

const LAMBDA = 0.5;

const TINY: GPT2Config = { vocabSize: 50257, nPositions: 1024, nEmbd: 256, nLayer: 4, nHead: 4, layerNormEpsilon: 1e-5 };

interface Case {
  id: string;
  label: string;
  config: GPT2Config;
  method: 'full' | 'lora';
  steps: number;
  /** tokens/s the issue asks for, if any. */
  bar?: number;
  /** Full fine-tuning cases are also trained by the PyTorch peer; its tokens/s on the AMD machine of bench/MACHINE.md. */
  peer?: { elsewhere: number };
}

const CASES: Case[] = [
  { id: 'small-full', label: 'gpt2 124M', config: NAMED_CONFIGS.small, method: 'full', steps: 3, bar: 150, peer: { elsewhere: 177 } },
  { id: 'small-lora', label: 'gpt2 124M', config: NAMED_CONFIGS.small, method: 'lora', steps: 3 },
  { id: 'tiny-full', label: 'tiny 4×256', config: TINY, method: 'full', steps: 10, bar: 1300, peer: { elsewhere: 1327 } },
  { id: 'tiny-lora', label: 'tiny 4×256', config: TINY, method: 'lora', steps: 10 },
];

/** What torch_train_peer.py prints. */
interface PeerMeasured {
  step_ms: number[];
  threads: number;
  torch: string;
  python: string;
  params: number;
  peak_rss_mib: number;
  blas: string;
  attention: string;
  losses: number[];
}

interface Measured {
  id: string;
  trainable: number;
  createMs: number;
  stepMs: number[];
  /** Of each step: clipping's norm and the AdamW update, after the session run. */
  optimizerMs: number[];
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

/** The batch both sides train on: seeded ids; in each row, targets at t + 1 < CONTEXT are L1, the rest up to SEQ − 1 are L2. */
function trainBatch(): { ids: Int32Array; l1: Float32Array; l2: Float32Array } {
  const ids = new Int32Array(ROWS * SEQ);
  let s = 12345;
  for (let i = 0; i < ids.length; i++) ids[i] = (s = (s * 1103515245 + 12345) % 2 ** 31) % 50000;
  const l1 = new Float32Array(ROWS * SEQ);
  const l2 = new Float32Array(ROWS * SEQ);
  for (let r = 0; r < ROWS; r++) for (let t = 0; t < SEQ - 1; t++) (t + 1 < CONTEXT ? l1 : l2)[r * SEQ + t] = 1;
  return { ids, l1, l2 };
}

/** One configuration, in this (child) process. */
async function measure(c: Case, threads: number, steps: number): Promise<Measured> {
  const base = randomWeightSource(c.config, 1);
  let t0 = performance.now();
  const session = await TrainingSession.create({ weights: base, method: c.method, lora: DEFAULT_LORA_CONFIG, batch: ROWS, seqLen: SEQ, device: 'cpu', threads });
  const createMs = performance.now() - t0;
  const values = initialValues(session.params, c.method === 'full' ? { method: 'full', base } : { method: 'lora', lora: DEFAULT_LORA_CONFIG, model: c.config, seed: 1 });
  const optimizer = new AdamW(session.params);
  optimizer.adopt(values); // as the trainer does
  const { ids, l1, l2 } = trainBatch();
  const stepMs: number[] = [];
  const optimizerMs: number[] = [];
  for (let i = 0; i <= steps; i++) {
    t0 = performance.now();
    const r = await session.step({ inputIds: ids, l1Mask: l1, l2Mask: l2 }, values, LAMBDA);
    const t1 = performance.now();
    const norm = Math.sqrt(r.gradSqNorm); // as the trainer clips a step of one batch
    optimizer.step(values, r.grads, 1e-4, clipFactor(norm, 1));
    if (i > 0) {
      // the first step pays allocation and warm-up
      stepMs.push(performance.now() - t0);
      optimizerMs.push(performance.now() - t1);
    }
  }
  const trainable = session.params.reduce((n, p) => n + p.shape.reduce((a, b) => a * b, 1), 0);
  const { provider, threads: used } = session.device;
  await session.dispose();
  return { id: c.id, trainable, createMs, stepMs, optimizerMs, peakRssMiB: peakRssMiB(), provider, threads: used };
}

function runChild(id: string, threads: number, steps: string): Promise<Measured> {
  return new Promise((resolve, reject) => {
    // The fine-tuning process's environment (trainingEnvironment), unless --default-malloc.
    const env = process.argv.includes('--default-malloc') ? process.env : trainingEnvironment();
    const child = fork(__filename, ['--child', id, '--threads', String(threads), '--steps', steps], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], env });
    child.on('message', (m: Measured) => resolve(m));
    child.on('exit', (code) => code !== 0 && reject(new Error(`${id}: exited with code ${code}`)));
  });
}

/** torch_train_peer.py on one case's shape, the same batch, `steps` timed steps after a warm-up one. */
function runPeer(python: string, c: Case, threads: number, steps: number, specFile: string): Promise<PeerMeasured> {
  const config = {
    n_layer: c.config.nLayer, n_embd: c.config.nEmbd, n_head: c.config.nHead, vocab: c.config.vocabSize,
    n_positions: c.config.nPositions, layer_norm_epsilon: c.config.layerNormEpsilon,
  };
  const script = path.join(__dirname, 'torch_train_peer.py');
  const args = [script, '--config', JSON.stringify(config), '--threads', String(threads), '--steps', String(steps),
    '--batch', String(ROWS), '--seq', String(SEQ), '--context', String(CONTEXT), '--lambda', String(LAMBDA), '--spec', specFile];
  return new Promise((resolve, reject) => {
    const proc = spawn(python, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, OMP_NUM_THREADS: String(threads), OMP_WAIT_POLICY: peerWaitPolicy() },
    });
    let out = '';
    proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
    proc.stderr.on('data', (d: Buffer) => process.stderr.write(`[torch_train_peer] ${d.toString()}`));
    proc.on('error', reject);
    proc.on('close', (code) => {
      const line = out.trim().split('\n').pop() ?? '';
      if (code !== 0 || !line.startsWith('{')) reject(new Error(`torch_train_peer.py (${c.id}) exited with code ${code}`));
      else resolve(JSON.parse(line) as PeerMeasured);
    });
  });
}

/**
 * Matrix-product FLOPs of one step: forward 2·tokens per weight of every product (blocks and the tied
 * head), backward twice that for full fine-tuning (input and weight gradients) and once for LoRA (the
 * frozen weights need only their input gradient; the adapters are negligible); attention's two
 * [T×T×E] products per layer likewise. Element-wise work and the optimizer are left out, so this is an
 * upper bound on tokens/s.
 */
function stepFlops(c: Case): number {
  const { nEmbd: E, nLayer: L, vocabSize: V } = c.config;
  const tokens = ROWS * SEQ;
  const weights = L * 12 * E * E + V * E;
  const attention = L * 2 * ROWS * SEQ * SEQ * E; // multiply-adds of Q·Kᵀ and P·V, causal half kept by neither side
  const passes = c.method === 'full' ? 3 : 2;
  return passes * 2 * (tokens * weights + attention);
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
  const cases = CASES.filter((c) => !only.length || only.includes(c.id));
  const python = pythonPath(arg('python', ''));
  const notes: string[] = [];
  let peerOn = !process.argv.includes('--no-peer') && cases.some((c) => c.peer);
  if (process.argv.includes('--no-peer')) notes.push('PyTorch peer skipped (--no-peer)');
  else if (peerOn && spawnSync(python, ['-c', 'import torch'], { stdio: 'ignore' }).status !== 0) {
    peerOn = false;
    const line = `PyTorch peer not available: ${python} cannot import torch (install python3-torch and libopenblas0-openmp (apt), or pass --python)`;
    notes.push(line);
  }
  let specDir = '';
  let specFile = '';
  if (peerOn) {
    const { ids, l1, l2 } = trainBatch();
    specDir = fs.mkdtempSync(path.join(os.tmpdir(), 'train-peer-'));
    specFile = path.join(specDir, 'batch.json');
    fs.writeFileSync(specFile, JSON.stringify({ ids: [...ids], l1_mask: [...l1], l2_mask: [...l2] }));
  }

  const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  const loadBefore = os.loadavg();
  const flops = await matMulFlops(threads);
  const rows: string[] = [];
  const peerInfo: string[] = [];
  let peerWho = '';
  try {
    for (const c of cases) {
      const m = await runChild(c.id, threads, steps);
      const step = median(m.stepMs);
      const rate = (ROWS * SEQ * 1000) / step;
      const bar = c.bar ? `≥ ${c.bar}: ${rate >= c.bar ? 'met' : 'NOT met'}` : '';
      const ceiling = (ROWS * SEQ) / (stepFlops(c) / flops);
      process.stderr.write(
        `${c.id}: steps ${m.stepMs.map((x) => x.toFixed(0)).join(', ')} ms on ${m.provider} (${m.threads} threads); ` +
          `of which norm + AdamW ${m.optimizerMs.map((x) => x.toFixed(0)).join(', ')} ms\n`,
      );
      let peerCells = ['', ''];
      if (c.peer && peerOn) {
        // Same number of timed steps as ours (m.stepMs.length), right after ours, under the same load.
        const p = await runPeer(python, c, threads, m.stepMs.length, specFile);
        const peerRate = (ROWS * SEQ * 1000) / median(p.step_ms);
        peerCells = [peerRate.toFixed(0), `${(rate / peerRate).toFixed(2)}×`];
        process.stderr.write(`${c.id} peer: steps ${p.step_ms.map((x) => x.toFixed(0)).join(', ')} ms (torch ${p.torch}, ${p.threads} threads)\n`);
        peerInfo.push(
          `${c.id}: ${(p.params / 1e6).toFixed(2)}M params, peak RSS ${p.peak_rss_mib.toFixed(0)} MiB, last step's L1/L2/L3 ${p.losses.map((x) => x.toFixed(3)).join('/')}`,
        );
        peerWho = `torch ${p.torch} (python ${p.python}, ${python}), BLAS ${p.blas}, attention ${p.attention}, OMP_WAIT_POLICY=${peerWaitPolicy()}`;
        if (!/openblas/i.test(p.blas) && !notes.some((n) => n.startsWith('warning: the peer'))) {
          notes.push(`warning: the peer did not load OpenBLAS (${p.blas}); with the reference BLAS torch is ~15× slower: install libopenblas0-openmp`);
        }
      } else if (c.peer) {
        peerCells = ['—', '—'];
      }
      rows.push(
        `| ${c.label} (${(parameterCount(c.config) / 1e6).toFixed(0)}M) | ${c.method} | ${(m.trainable / 1e6).toFixed(2)}M | ${step.toFixed(0)} | ${rate.toFixed(0)} | ${ceiling.toFixed(0)} | ${bar} | ${peerCells.join(' | ')} | ${m.peakRssMiB.toFixed(0)} | ${m.createMs.toFixed(0)} |`,
      );
    }
  } finally {
    if (specDir) fs.rmSync(specDir, { recursive: true, force: true });
  }
  const loadAfter = os.loadavg();
  const elsewhere = cases.filter((c) => c.peer).map((c) => `${c.id} ${c.peer!.elsewhere}`);
  const lines = [
    `Training throughput, batch ${ROWS} × ${SEQ} (${ROWS * SEQ} tokens: ${CONTEXT - 1} L1 and ${SEQ - CONTEXT} L2 targets a row), random weights, fp32; ` +
      `${cpu}, ${os.cpus().length} cores, node ${process.version}, ${threads} threads. Median of the steps after a warm-up step.`,
    `load average (1/5/15 min): before ${loadBefore.map((x) => x.toFixed(2)).join(' ')}, after ${loadAfter.map((x) => x.toFixed(2)).join(' ')}`,
    '',
    `compute ceiling: the step's matrix-product FLOPs at ${(flops / 1e9).toFixed(0)} GFLOP/s (bench/flops.ts: onnxruntime's fp32 MatMul, ${threads} threads, this run)`,
    '',
    '| model | method | trainable params | step (ms) | tokens/s | compute ceiling (tok/s) | bar | PyTorch peer here (tok/s) | ours / peer | peak RSS (MiB) | session build (ms) |',
    '| --- | --- | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: |',
    ...rows,
    '',
    ...(peerWho ? ['ours / peer is a speed ratio (above 1: ours is faster); the peer ran right after ours on each case.', `peer: ${peerWho}`, ...peerInfo.map((l) => `peer ${l}`)] : []),
    ...(elsewhere.length ? [`the AMD machine of bench/MACHINE.md: PyTorch peer ${elsewhere.join(', ')} tok/s (2 threads), where the bars came from`] : []),
    ...notes.map((n) => (n.startsWith('warning') ? n : `note: ${n}`)),
  ];
  process.stdout.write(lines.join('\n') + '\n');
}

main().catch((e: unknown) => {
  process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
  process.exitCode = 1;
});
