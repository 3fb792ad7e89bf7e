/**
 * `npm run bench`: the completion engine end to end on a random checkpoint shaped like gpt2
 * (124M, fp32), through the same loader the CLI and the extension use.
 *
 *   cold prefill ms at 256/512/1024 prompt tokens (an empty cache)
 *   decode tokens/s at context 64 and 1000 (greedy, --raw: a fixed number of tokens)
 *   latency of a one-token edit at the end of a 500-token prompt with a warm cache, to its first new token
 *   resident memory while serving, and peak during load, against the weights' size
 *
 * Prints a markdown table (medians of repeated runs) to paste into bench/RESULTS.md.
 *   npx tsx bench/engine.ts [--config small] [--threads N] [--reps 5]
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { NAMED_CONFIGS, parameterCount } from '../src/engine/config';
import { loadEngine } from '../src/engine/loadModel';
import { writeRandomCheckpoint } from '../src/engine/randomCheckpoint';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const mib = (bytes: number): number => bytes / 2 ** 20;

function rssMiB(): { now: number; peak: number } {
  const status = fs.readFileSync('/proc/self/status', 'utf8');
  const kb = (key: string) => Number(new RegExp(`${key}:\\s+(\\d+) kB`).exec(status)?.[1] ?? NaN) / 1024;
  return { now: kb('VmRSS'), peak: kb('VmHWM') };
}

/** Random token ids from the ordinary part of the vocabulary (what the text is does not change the cost). */
function tokens(n: number, seed: number): number[] {
  let s = seed;
  return Array.from({ length: n }, () => (s = (s * 1103515245 + 12345) % 2 ** 31) % 50000);
}

async function main(): Promise<void> {
  const configName = arg('config', 'small');
  const reps = Number(arg('reps', '5'));
  const config = NAMED_CONFIGS[configName];
  const weightsMiB = mib(parameterCount(config) * 4);
  const root = path.join(os.tmpdir(), 'gpt2-complete-bench');
  const ckpt = path.join(root, `random-${configName}`);
  if (!fs.existsSync(path.join(ckpt, 'config.json'))) writeRandomCheckpoint(ckpt, config, 1);
  const rssBefore = rssMiB().now;

  const { engine, loadMs } = await loadEngine({
    model: ckpt,
    modelsRoot: root,
    graphCacheDir: path.join(root, 'graphs'),
    device: 'cpu',
    threads: arg('threads', '') ? Number(arg('threads', '')) : undefined,
  });
  const peakAtLoad = rssMiB().peak - rssBefore;
  const { generator, model } = engine;
  const rows: [string, string][] = [];
  rows.push(['machine', `${os.cpus()[0].model}, ${os.cpus().length} cores, ${Math.round(os.totalmem() / 2 ** 30)} GiB; node ${process.version}`]);
  rows.push(['model', `random ${configName} (${(parameterCount(config) / 1e6).toFixed(0)}M params, fp32 ${weightsMiB.toFixed(0)} MiB), ${model.device.provider}, ${model.device.threads} threads`]);
  rows.push(['load (graph from cache when warm)', `${loadMs.toFixed(0)} ms`]);

  for (const n of [256, 512, 1024]) {
    const prompt = tokens(n, n);
    const times: number[] = [];
    for (let r = 0; r < reps; r++) {
      const t0 = performance.now();
      await model.forward([prompt], null); // an empty cache: nothing reused
      times.push(performance.now() - t0);
    }
    rows.push([`cold prefill, ${n} tokens`, `${median(times).toFixed(0)} ms`]);
  }

  const decode: Record<number, number> = {};
  for (const ctx of [64, 1000]) {
    const steps = 16;
    const prompt = tokens(ctx, ctx);
    const rates: number[] = [];
    for (let r = 0; r < reps; r++) {
      const res = await generator.generate({ promptTokens: prompt, maxTokens: steps, stopAtEndOfText: false });
      rates.push(res.timings.decodeTokens / (res.timings.decodeMs / 1000));
    }
    decode[ctx] = median(rates);
    rows.push([`decode at context ${ctx}`, `${decode[ctx].toFixed(1)} tokens/s`]);
  }
  rows.push(['decode at 1000 / decode at 64', `${((decode[1000] / decode[64]) * 100).toFixed(0)}%`]);

  // A keystroke changes the last token of a 500-token prompt; everything before it is cached.
  const base = tokens(500, 7);
  await generator.generate({ promptTokens: base, maxTokens: 1, stopAtEndOfText: false });
  const edits: number[] = [];
  for (let r = 0; r < reps * 2; r++) {
    const edited = [...base.slice(0, -1), 1000 + r];
    const t0 = performance.now();
    const res = await generator.generate({ promptTokens: edited, maxTokens: 1, stopAtEndOfText: false });
    edits.push(performance.now() - t0);
    if (res.reusedTokens !== 499) throw new Error(`expected 499 reused tokens, got ${res.reusedTokens}`);
  }
  rows.push(['one-token edit, warm cache, to first new token', `${median(edits).toFixed(1)} ms`]);

  const serving = rssMiB().now - rssBefore;
  rows.push(['resident memory added while serving', `${serving.toFixed(0)} MiB (${(serving / weightsMiB).toFixed(2)}× weights)`]);
  rows.push(['peak resident memory added during load', `${peakAtLoad.toFixed(0)} MiB (${(peakAtLoad / weightsMiB).toFixed(2)}× weights)`]);
  await model.dispose();

  process.stdout.write('| measure | median |\n| --- | --- |\n' + rows.map(([k, v]) => `| ${k} | ${v} |`).join('\n') + '\n');
}

main().catch((e) => {
  process.stderr.write(`${(e as Error).stack}\n`);
  process.exit(1);
});
