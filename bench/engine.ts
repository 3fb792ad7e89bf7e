/**
 * `npm run bench`: the completion engine end to end on a random checkpoint shaped like gpt2
 * (124M, fp32), through the same loader the CLI and the extension use.
 *
 *   cold prefill ms at 256/512/1024 prompt tokens (an empty cache)
 *   decode tokens/s at context 64 and 1000 (greedy, --raw: a fixed number of tokens), with the
 *   generator's default prompt-lookup drafts and without (one model run per token)
 *   latency of a one-token edit at the end of a 500-token prompt with a warm cache, to its first new token
 *   resident memory while serving, and peak during load, against the weights' size
 *   the decode floor: bytes of weights one token reads / memory read bandwidth (bench/bandwidth.ts,
 *   measured in this run at the engine's thread count), and one-run-per-token decode as a share of it
 *
 * Prints a markdown table (medians of repeated runs) to paste into bench/RESULTS.md; with
 * `--precision fp32,int8,int4` one column per weight precision, each loaded in turn in this process
 * (memory rows: each load's own growth; a later one may reuse memory an earlier one freed).
 *   npx tsx bench/engine.ts [--config small] [--threads N] [--reps 5] [--precision fp32[,int8,int4]]
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { NAMED_CONFIGS, parameterCount, type GPT2Config } from '../src/engine/config';
import { benchmarkEngine } from '../src/engine/benchmark';
import { loadEngine } from '../src/engine/loadModel';
import { parsePrecision } from '../src/engine/quantize';
import { writeRandomCheckpoint } from '../src/engine/randomCheckpoint';
import { readBandwidth } from './bandwidth';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

const mib = (bytes: number): number => bytes / 2 ** 20;

/** Resets the peak (VmHWM) so that each load's peak is its own; Linux only, best effort. */
function resetPeak(): void {
  try {
    fs.writeFileSync('/proc/self/clear_refs', '5');
  } catch {
    // Not permitted or not Linux: peaks after the first load are then the process's.
  }
}

function rssMiB(): { now: number; peak: number } {
  const status = fs.readFileSync('/proc/self/status', 'utf8');
  const kb = (key: string) => Number(new RegExp(`${key}:\\s+(\\d+) kB`).exec(status)?.[1] ?? NaN) / 1024;
  return { now: kb('VmRSS'), peak: kb('VmHWM') };
}

async function main(): Promise<void> {
  const configName = arg('config', 'small');
  const reps = Number(arg('reps', '5'));
  const precisions = arg('precision', 'fp32').split(',').map((p) => parsePrecision(p, '--precision'));
  const config = NAMED_CONFIGS[configName];
  const weightsMiB = mib(parameterCount(config) * 4);
  const root = path.join(os.tmpdir(), 'gpt2-complete-bench');
  const ckpt = path.join(root, `random-${configName}`);
  if (!fs.existsSync(path.join(ckpt, 'config.json'))) writeRandomCheckpoint(ckpt, config, 1);
  const threads = arg('threads', '') ? Number(arg('threads', '')) : undefined;

  const columns: [string, string][][] = [];
  for (const precision of precisions) columns.push(await measure(ckpt, root, precision, threads, reps, weightsMiB));
  const bandwidth = await readBandwidth(threads ?? Math.max(1, os.cpus().length - 1));
  columns.forEach((c, i) => {
    const floor = bandwidth / readBytesPerToken(config, precisions[i]);
    const decode = Number(/^([\d.]+)/.exec(c.find(([k]) => k === 'decode at context 64, no drafts')![1])![1]);
    c.push(['memory read bandwidth (ORT ReduceSum, same threads)', i === 0 ? `${(bandwidth / 1e9).toFixed(1)} GB/s` : '']);
    c.push(['decode floor: weights read per token / bandwidth', `${floor.toFixed(0)} tokens/s`]);
    c.push(['decode at context 64, no drafts / floor', `${((decode / floor) * 100).toFixed(0)}%`]);
  });
  const machine = `${os.cpus()[0].model}, ${os.cpus().length} cores, ${Math.round(os.totalmem() / 2 ** 30)} GiB; node ${process.version}; load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`;
  const modelName = `random ${configName} (${(parameterCount(config) / 1e6).toFixed(0)}M params, fp32 ${weightsMiB.toFixed(0)} MiB)`;
  columns.forEach((c, i) => c.unshift(['machine', i === 0 ? machine : ''], ['model', `${modelName}, ${c.shift()![1]}`]));
  const header = precisions.length === 1 ? ['median'] : precisions;
  process.stdout.write(`| measure | ${header.join(' | ')} |\n| --- |${header.map(() => ' --- |').join('')}\n`);
  columns[0].forEach(([k], i) => process.stdout.write(`| ${k} | ${columns.map((c) => c[i][1]).join(' | ')} |\n`));
}

/**
 * Bytes one decode step reads: every block matrix and the tied head, at the precision's storage
 * (int8: 1 byte and a per-column scale; int4: blocks of 32 as 16 bytes of codes, a float scale and a
 * 4-bit zero point), plus nothing for the two embedding rows it gathers.
 */
function readBytesPerToken(c: GPT2Config, precision: string): number {
  const E = c.nEmbd;
  const weights = c.nLayer * (E * 3 * E + E * E + E * 4 * E + 4 * E * E) + c.vocabSize * E;
  const bytesPerWeight = precision === 'int8' ? 1 : precision === 'int4' ? (16 + 4 + 0.5) / 32 : 4;
  return weights * bytesPerWeight;
}

async function measure(ckpt: string, root: string, precision: string, threads: number | undefined, reps: number, weightsMiB: number): Promise<[string, string][]> {
  resetPeak();
  const rssBefore = rssMiB().now;
  const { engine, loadMs } = await loadEngine({
    model: ckpt,
    modelsRoot: root,
    graphCacheDir: path.join(root, 'graphs'),
    device: 'cpu',
    threads,
    precision,
  });
  const peakAtLoad = rssMiB().peak - rssBefore;
  const { model } = engine;
  const rows: [string, string][] = [];
  rows.push(['device', `${model.device.provider}, ${model.device.threads} threads${precision === 'fp32' ? '' : `, ${precision} weights`}`]);
  rows.push(['load (graph from cache when warm)', `${loadMs.toFixed(0)} ms`]);
  const r = await benchmarkEngine(engine, { reps });
  for (const [n, ms] of Object.entries(r.prefillMs)) rows.push([`cold prefill, ${n} tokens`, `${ms.toFixed(0)} ms`]);
  for (const [ctx, d] of Object.entries(r.decode)) rows.push([`decode at context ${ctx}, with prompt-lookup drafts`, `${d.draftedTokensPerSec.toFixed(1)} tokens/s`]);
  // One model run per token: what the weights' precision and the context length change; a random
  // model's repetitive output inflates the drafted rates, more so at short context, so the context
  // ratio is taken here.
  for (const [ctx, d] of Object.entries(r.decode)) rows.push([`decode at context ${ctx}, no drafts`, `${d.plainTokensPerSec.toFixed(1)} tokens/s`]);
  if (r.decode[1000] && r.decode[64]) rows.push(['decode at 1000 / decode at 64, no drafts', `${((r.decode[1000].plainTokensPerSec / r.decode[64].plainTokensPerSec) * 100).toFixed(0)}%`]);
  rows.push([`one-token edit, warm cache (${r.editPromptTokens} tokens), to first new token`, `${r.editMs.toFixed(1)} ms`]);

  const serving = rssMiB().now - rssBefore;
  rows.push(['resident memory added while serving', `${serving.toFixed(0)} MiB (${(serving / weightsMiB).toFixed(2)}× weights)`]);
  rows.push(['peak resident memory added during load', `${peakAtLoad.toFixed(0)} MiB (${(peakAtLoad / weightsMiB).toFixed(2)}× weights)`]);
  await model.dispose();

  return rows;
}

main().catch((e) => {
  process.stderr.write(`${(e as Error).stack}\n`);
  process.exit(1);
});
