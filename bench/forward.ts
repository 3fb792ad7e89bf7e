/**
 * Forward-pass benchmark of the ORT GPT-2 graph on a gpt2-small-shaped random model (fp32):
 * median ms of prefill at 256/512/1024 tokens, decode steps at context 64 and 1000, and RSS after load,
 * for each thread count. Each configuration runs in its own child process so RSS is its own.
 *
 *   npx tsx bench/forward.ts [--threads 1,2] [--head transB,transposedCopy] [--prepack on,off] [--spin on,off]
 *                            [--chunk 256,0] [--config small] [--cache <dir>] [--quick]
 *
 * Defaults are the model's own settings (transB head, pre-packing on, no spinning, prompts in chunks of
 * PREFILL_CHUNK tokens; --chunk 0 runs a prompt in one piece). Timings are wall and CPU medians: on a
 * shared machine quote the CPU figure of 1-thread runs, and ratios from one run.
 *
 * bench/MACHINE.md's bandwidth floor for fp32 gpt2-small decode is ~20 ms/token (~50 tok/s). Bars: >= 35 tok/s at
 * short context; decode at context 1000 >= 75% of decode at context 64.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { NAMED_CONFIGS } from '../src/engine/config';
import type { HeadLayout } from '../src/engine/gpt2Graph';
import type { KVCache } from '../src/engine/model';
import { OrtModel, PREFILL_CHUNK } from '../src/engine/ortModel';
import { randomWeightSource } from '../src/engine/randomCheckpoint';

interface Variant {
  threads: number;
  head: HeadLayout;
  prepack: boolean;
  spin: boolean;
  chunk: number;
}

interface Result extends Variant {
  loadMs: number;
  rssAfterLoadMiB: number;
  peakRssMiB: number;
  prefillMs: Record<string, Timing>;
  decodeMs: Record<string, Timing>;
}

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Median wall ms and median process CPU ms (all threads) of `reps` runs after a warm-up. */
async function time(reps: number, f: () => Promise<unknown>): Promise<Timing> {
  await f(); // warm-up: first runs allocate and fault in buffers
  const wall: number[] = [], cpu: number[] = [];
  for (let i = 0; i < reps; i++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    await f();
    wall.push(performance.now() - t0);
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / 1000);
  }
  return { wall: median(wall), cpu: median(cpu) };
}

/**
 * CPU time is reported beside wall time because the machines these run on are shared: with other
 * work on the cores, wall time stretches while a 1-thread run's CPU time stays near its quiet-machine
 * wall time (it does not count time spent waiting for a core).
 */
interface Timing {
  wall: number;
  cpu: number;
}

function peakRssMiB(): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

async function runChild(v: Variant): Promise<Result> {
  const configName = arg('config', 'small');
  const config = NAMED_CONFIGS[configName];
  const quick = process.argv.includes('--quick');
  const cacheDir = arg('cache', path.join(os.tmpdir(), 'gpt2-bench-graphs'));
  const t0 = performance.now();
  const model = await OrtModel.load({
    weights: randomWeightSource(config, 1),
    cacheDir,
    checkpointHash: `bench-${configName}-seed1`,
    device: 'cpu',
    threads: v.threads,
    graph: { head: v.head },
    prefillChunk: v.chunk,
    sessionOptions: {
      extra: { session: { disable_prepacking: v.prepack ? '0' : '1', intra_op: { allow_spinning: v.spin ? '1' : '0' } } },
    },
  });
  const loadMs = performance.now() - t0;
  (globalThis as { gc?: () => void }).gc?.();
  const rssAfterLoadMiB = process.memoryUsage().rss / 2 ** 20;
  const tokens = (n: number, seed: number) => Array.from({ length: n }, (_, i) => (i * 7919 + seed * 104729) % config.vocabSize);

  const prefillMs: Record<string, Timing> = {};
  for (const n of quick ? [256] : [256, 512, 1024]) {
    if (n > config.nPositions) continue;
    prefillMs[n] = await time(n >= 1024 ? 3 : 5, () => model.forward([tokens(n, 1)], null));
  }
  const decodeMs: Record<string, Timing> = {};
  for (const ctx of [64, 1000]) {
    if (ctx >= config.nPositions) continue;
    // A cache of ctx - 1 tokens, then one step to context ctx, from that same cache every time: each step
    // writes position ctx - 1 of the buffer in place, which leaves the ctx - 1 cached positions valid.
    let cache: KVCache | null = null;
    for (let done = 0; done < ctx - 1;) {
      const n = Math.min(256, ctx - 1 - done);
      cache = (await model.forward([tokens(n, 2 + done)], cache)).cache;
      done += n;
    }
    decodeMs[ctx] = await time(quick ? 10 : 30, () => model.forward([[42]], cache));
  }
  await model.dispose();
  return { ...v, loadMs, rssAfterLoadMiB, peakRssMiB: peakRssMiB(), prefillMs, decodeMs };
}

function variants(): Variant[] {
  const list = (name: string, fallback: string) => arg(name, fallback).split(',');
  const out: Variant[] = [];
  for (const threads of list('threads', '1,2').map(Number)) {
    for (const head of list('head', 'transB') as HeadLayout[]) {
      for (const prepack of list('prepack', 'on').map((s) => s === 'on')) {
        for (const spin of list('spin', 'off').map((s) => s === 'on')) {
          for (const chunk of list('chunk', String(PREFILL_CHUNK)).map(Number)) out.push({ threads, head, prepack, spin, chunk });
        }
      }
    }
  }
  return out;
}

async function main(): Promise<void> {
  const childArg = arg('child', '');
  if (childArg) {
    process.stdout.write(JSON.stringify(await runChild(JSON.parse(childArg) as Variant)));
    return;
  }
  const config = NAMED_CONFIGS[arg('config', 'small')];
  console.log(`config ${JSON.stringify(config)}; ${os.cpus().length} cpus (${os.cpus()[0]?.model}); node ${process.version}`);
  for (const v of variants()) {
    const out = execFileSync(process.execPath, [...process.execArgv, '--expose-gc', __filename, ...process.argv.slice(2), '--child', JSON.stringify(v)], {
      encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 20,
    });
    const r = JSON.parse(out) as Result;
    const tokS = (ms: number) => (1000 / ms).toFixed(1);
    const fmt = (t: Timing) => `${t.wall.toFixed(1)} (cpu ${t.cpu.toFixed(1)})`;
    const d64 = r.decodeMs['64'], d1000 = r.decodeMs['1000'];
    console.log([
      `threads=${r.threads} head=${r.head} prepack=${r.prepack ? 'on' : 'off'} spin=${r.spin ? 'on' : 'off'} chunk=${r.chunk || 'none'}`,
      `  load ${(r.loadMs / 1000).toFixed(1)} s, RSS after load ${r.rssAfterLoadMiB.toFixed(0)} MiB, peak RSS ${r.peakRssMiB.toFixed(0)} MiB`,
      `  prefill, median ms: ${Object.entries(r.prefillMs).map(([n, t]) => `${n}: ${fmt(t)}`).join(', ')}`,
      ...(d64 ? [`  decode at context 64:   ${fmt(d64)} ms/token = ${tokS(d64.wall)} tok/s (by cpu time ${tokS(d64.cpu)})`] : []),
      ...(d1000 ? [`  decode at context 1000: ${fmt(d1000)} ms/token = ${tokS(d1000.wall)} tok/s (by cpu time ${tokS(d1000.cpu)})`] : []),
      ...(d64 && d1000 ? [`  context 1000 / context 64 speed: ${(d64.wall / d1000.wall).toFixed(2)} (by cpu time ${(d64.cpu / d1000.cpu).toFixed(2)})`] : []),
      ...(d64 && d1000 ? [`  bars: >= 35 tok/s at context 64: ${1000 / d64.wall >= 35 ? 'met' : 'NOT met'}; ` +
        `context 1000 >= 75% of context 64: ${d64.wall / d1000.wall >= 0.75 ? 'met' : 'NOT met'}`] : []),
    ].join('\n'));
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
