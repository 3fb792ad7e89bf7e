/**
 * `npm run bench:speculative`: prompt-lookup speculative decoding (generator.ts, promptLookup.ts)
 * against plain greedy decoding, on real code from this machine.
 *
 * Cut points are line ends in Python files (/usr/lib/python3.11) and TypeScript declarations
 * (node_modules/**\/*.d.ts): "repetitive" cuts are those whose next line starts like a line in the
 * 3000 characters before it, "any" cuts are every kind of line end. The prompt is the last ≤ 500
 * tokens before the cut; each request generates up to 32 tokens greedily.
 *
 *   1. Acceptance and speed on a trained model (models/embedded, 8×128): tokens per model run, drafts
 *      accepted, decode tokens/s plain vs speculative, with the same outputs (checked token for token).
 *   2. Cost of one verify run of S tokens (logits at all S) vs one decode step, on a gpt2-shaped (124M)
 *      random checkpoint at context 500. Random weights agree with no drafts, so acceptance is taken
 *      from part 1 and combined: estimated time = Σ over runs of cost(S_run) vs tokens × cost(1).
 *   3. The 124M random model end to end, plain vs speculative: what drafts that are mostly rejected cost.
 *
 *   npx tsx bench/speculative.ts [--threads 1] [--cuts 60] [--drafts 4,8,12] [--large-cuts 12] [--config small]
 *     [--small-model models/embedded] [--reps 7]
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { NAMED_CONFIGS, parameterCount } from '../src/engine/config';
import { Generator, type GenerateResult } from '../src/engine/generator';
import { loadEngine } from '../src/engine/loadModel';
import type { DeviceInfo, ForwardResult, KVCache, LanguageModel } from '../src/engine/model';
import { lookupDraft } from '../src/engine/promptLookup';
import { writeRandomCheckpoint } from '../src/engine/randomCheckpoint';
import { getTokenizer } from '../src/engine/tokenizer';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const sum = (xs: number[]): number => xs.reduce((a, b) => a + b, 0);
const f = (x: number, digits = 2): string => x.toFixed(digits);

const PROMPT_TOKENS = 500;
const MAX_TOKENS = 32;
const tokenizer = getTokenizer();

/** Records the number of new tokens of every forward, so a request's runs can be costed. */
class RecordingModel implements LanguageModel {
  readonly precision = 'fp32' as const;
  runs: number[] = [];
  constructor(readonly inner: LanguageModel) {}
  get config() {
    return this.inner.config;
  }
  get device(): DeviceInfo {
    return this.inner.device;
  }
  forward(tokens: number[][], past: KVCache | null, positions?: number[]): Promise<ForwardResult> {
    this.runs.push(tokens[0].length);
    return this.inner.forward(tokens, past, positions);
  }
  truncate(cache: KVCache, length: number): KVCache {
    return this.inner.truncate(cache, length);
  }
  expand(cache: KVCache, batch: number): KVCache {
    return this.inner.expand(cache, batch);
  }
  selectRow(cache: KVCache, row: number): KVCache {
    return this.inner.selectRow(cache, row);
  }
  dispose(): Promise<void> {
    return this.inner.dispose();
  }
}

interface Cut {
  label: string;
  kind: 'repetitive' | 'any';
  prompt: number[];
  /** The text's own next tokens (up to 32). */
  truth: number[];
  /** Share of the true next 32 tokens that a one-token prompt lookup predicts: how repetitive the text is. */
  lookupHit: number;
}

function walk(dir: string, out: string[], pred: (p: string) => boolean): void {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) walk(p, out, pred);
    else if (e.isFile() && pred(p)) out.push(p);
  }
}

/** `count` items spread evenly over `xs`. */
const spread = <T>(xs: T[], count: number): T[] =>
  xs.length <= count ? xs : Array.from({ length: count }, (_, i) => xs[Math.floor(((i + 0.5) * xs.length) / count)]);

function cutsOf(file: string, perKind: number): Cut[] {
  const text = fs.readFileSync(file, 'utf8');
  if (text.length > 400_000) return [];
  const repetitive: number[] = [], any: number[] = [];
  for (let at = text.indexOf('\n') + 1; at > 0 && at < text.length; at = text.indexOf('\n', at) + 1) {
    const end = text.indexOf('\n', at);
    const next = text.slice(at, end < 0 ? text.length : end);
    if (at < 1500 || next.trim().length < 12) continue;
    any.push(at);
    // Inside repetitive code: the next line begins (indentation included) as an earlier line did.
    if (text.slice(Math.max(0, at - 3000), at - 1).includes('\n' + next.slice(0, 12))) repetitive.push(at);
  }
  const make = (at: number, kind: Cut['kind']): Cut => {
    const prompt = tokenizer.encode(text.slice(Math.max(0, at - 3000), at)).slice(-PROMPT_TOKENS);
    const truth = tokenizer.encode(text.slice(at, at + 400)).slice(0, MAX_TOKENS);
    let hits = 0;
    for (let t = 0; t < truth.length; t++) if (lookupDraft([...prompt, ...truth.slice(0, t)], 1)[0] === truth[t]) hits++;
    const line = text.slice(0, at).split('\n').length;
    return { label: `${file}:${line}`, kind, prompt, truth, lookupHit: hits / Math.max(1, truth.length) };
  };
  return [...spread(repetitive, perKind).map((at) => make(at, 'repetitive')), ...spread(any, Math.ceil(perKind / 2)).map((at) => make(at, 'any'))];
}

function collectCuts(cutsPerSource: number): Cut[] {
  const py = fs.readdirSync('/usr/lib/python3.11').filter((n) => n.endsWith('.py')).sort().map((n) => path.join('/usr/lib/python3.11', n));
  const dts: string[] = [];
  walk('node_modules', dts, (p) => p.endsWith('.d.ts'));
  dts.sort();
  const perFile = 2;
  const files = [...spread(py, Math.ceil(cutsPerSource / perFile)), ...spread(dts.filter((p) => fs.statSync(p).size > 4000), Math.ceil(cutsPerSource / perFile))];
  return files.flatMap((file) => cutsOf(file, perFile));
}

interface Run {
  result: GenerateResult;
  /** New tokens of each decode run (the prefill excluded). */
  runs: number[];
}

async function generate(gen: Generator, rec: RecordingModel, prompt: number[], draftTokens: number): Promise<Run> {
  rec.runs = [];
  const result = await gen.generate({ promptTokens: prompt, maxTokens: MAX_TOKENS, draftTokens });
  return { result, runs: rec.runs.slice(1) };
}

function loadAverage(): string {
  return os.loadavg().map((x) => x.toFixed(1)).join(' / ');
}

async function loadRecorded(model: string, threads: number): Promise<{ gen: Generator; rec: RecordingModel; info: string }> {
  const root = path.join(os.tmpdir(), 'gpt2-complete-bench');
  const { engine } = await loadEngine({ model, modelsRoot: root, graphCacheDir: path.join(root, 'graphs'), device: 'cpu', threads });
  const rec = new RecordingModel(engine.model);
  const c = engine.model.config;
  return { gen: new Generator(rec, tokenizer), rec, info: `${c.nLayer}×${c.nEmbd}, ${(parameterCount(c) / 1e6).toFixed(1)}M params, ${engine.model.device.threads} thread(s)` };
}

/** Mode name → per-cut runs. */
type Table = Map<number, Run[]>;

async function runAll(gen: Generator, rec: RecordingModel, cuts: Cut[], modes: number[]): Promise<Table> {
  const table: Table = new Map(modes.map((d) => [d, []]));
  for (let i = 0; i < cuts.length; i++) {
    // Warm the cache with the prompt once, then run the modes in a rotating order (noise spreads evenly).
    await gen.generate({ promptTokens: cuts[i].prompt, maxTokens: 1 });
    for (let j = 0; j < modes.length; j++) {
      const d = modes[(i + j) % modes.length];
      table.get(d)!.push(await generate(gen, rec, cuts[i].prompt, d));
    }
  }
  return table;
}

function sameOutput(a: Run, b: Run): boolean {
  const x = a.result.candidates[0], y = b.result.candidates[0];
  return x.text === y.text && x.tokens.join() === y.tokens.join() && x.finishReason === y.finishReason;
}

/** Markdown rows for one group of cuts: plain (mode 0) against each draft limit. */
function speedRows(table: Table, idx: number[], modes: number[], cost?: (s: number) => number): string[] {
  const plain = table.get(0)!;
  const rate = (r: Run) => r.result.timings.decodeTokens / (r.result.timings.decodeMs / 1000);
  const rows: string[] = [];
  for (const d of modes) {
    const runs = table.get(d)!;
    const tokens = sum(idx.map((i) => runs[i].result.timings.decodeTokens));
    const steps = sum(idx.map((i) => runs[i].result.timings.decodeSteps));
    const drafted = sum(idx.map((i) => runs[i].result.timings.draftTokens));
    const accepted = sum(idx.map((i) => runs[i].result.timings.acceptedDraftTokens));
    const perCut = idx.map((i) => runs[i].result.timings.decodeTokens / Math.max(1, runs[i].result.timings.decodeSteps));
    const ratio = idx.map((i) => rate(runs[i]) / rate(plain[i]));
    const same = idx.filter((i) => sameOutput(runs[i], plain[i])).length;
    const est = cost ? f(median(idx.map((i) => (runs[i].result.timings.decodeTokens * cost(1)) / Math.max(1e-9, sum(runs[i].runs.map(cost))))), 2) + '×' : '';
    rows.push(`| ${d === 0 ? 'plain' : `D = ${d}`} | ${f(tokens / Math.max(1, steps))} (median ${f(median(perCut))}) | ` +
      `${d === 0 ? '–' : `${accepted} / ${drafted} (${f((100 * accepted) / Math.max(1, drafted), 0)}%)`} | ` +
      `${f(median(idx.map((i) => rate(runs[i]))), 1)} | ${d === 0 ? '1' : f(median(ratio))}× | ${est} | ${same} / ${idx.length} |`);
  }
  return rows;
}

/**
 * Speculative decoding with the true text as the model (a model that always predicts what the file
 * says next): the model-independent share of the work that prompt lookup can save on this code.
 * Returns the size of each decode run; the first token comes from the prefill, as in the generator.
 */
function oracleRuns(cut: Cut, maxDraft: number): number[] {
  const runs: number[] = [];
  for (let done = 1; done < cut.truth.length; ) {
    const drafts = lookupDraft([...cut.prompt, ...cut.truth.slice(0, done)], Math.min(maxDraft, cut.truth.length - done - 1));
    let a = 0;
    while (a < drafts.length && drafts[a] === cut.truth[done + a]) a++;
    runs.push(1 + drafts.length);
    done += a + 1;
  }
  return runs;
}

function oracleRows(cuts: Cut[], idx: number[], modes: number[], cost: (s: number) => number): string[] {
  return modes.filter((d) => d > 0).map((d) => {
    const runs = idx.map((i) => oracleRuns(cuts[i], d));
    const tokens = idx.map((i) => cuts[i].truth.length - 1);
    const perCut = idx.map((i, j) => tokens[j] / Math.max(1, runs[j].length));
    const est = idx.map((i, j) => (tokens[j] * cost(1)) / sum(runs[j].map(cost)));
    return `| D = ${d} | ${f(sum(tokens) / sum(runs.map((r) => r.length)))} (median ${f(median(perCut))}) | ${f(median(est))}× |`;
  });
}

/** Median ms of a forward of S tokens (logits at all S) after a cache of `context` tokens. */
async function verifyCosts(model: LanguageModel, sizes: number[], context: number, reps: number): Promise<Map<number, number>> {
  let s = 12345;
  const rand = () => (s = (s * 1103515245 + 12345) % 2 ** 31) % 50000;
  const { cache } = await model.forward([Array.from({ length: context }, rand)], null);
  const times = new Map<number, number[]>(sizes.map((n) => [n, []]));
  for (let r = 0; r < reps + 1; r++) {
    for (const n of sizes) {
      const toks = Array.from({ length: n }, rand);
      const t0 = performance.now();
      await model.forward([toks], cache, toks.map((_, i) => i)); // each run overwrites the same positions
      if (r > 0) times.get(n)!.push(performance.now() - t0); // the first round warms up
    }
  }
  return new Map(sizes.map((n) => [n, median(times.get(n)!)]));
}

/** Linear interpolation of measured costs. */
function costFunction(costs: Map<number, number>): (s: number) => number {
  const xs = [...costs.keys()].sort((a, b) => a - b);
  return (n) => {
    if (costs.has(n)) return costs.get(n)!;
    let i = 0;
    while (i < xs.length - 2 && xs[i + 1] < n) i++;
    const [a, b] = [xs[i], xs[i + 1]];
    return costs.get(a)! + ((n - a) * (costs.get(b)! - costs.get(a)!)) / (b - a);
  };
}

async function main(): Promise<void> {
  const threads = Number(arg('threads', '1'));
  const modes = [0, ...arg('drafts', '4,8,12').split(',').map(Number)];
  const cuts = collectCuts(Number(arg('cuts', '60')));
  const largeCuts = Number(arg('large-cuts', '12'));
  const configName = arg('config', 'small');
  const out: string[] = [];
  const say = (line: string) => {
    out.push(line);
    process.stderr.write(line + '\n'); // progress; the whole report goes to stdout at the end
  };
  const cpu = os.cpus()[0].model;
  say(`- date: ${new Date().toISOString()}; machine: ${cpu}, ${os.cpus().length} cores, node ${process.version}; ${threads} thread(s)`);
  say(`- load average (1/5/15 min) at start: ${loadAverage()}`);
  const groups: [string, number[]][] = [
    ['repetitive', cuts.flatMap((c, i) => (c.kind === 'repetitive' ? [i] : []))],
    ['any line end', cuts.flatMap((c, i) => (c.kind === 'any' ? [i] : []))],
  ];
  for (const [name, idx] of groups) {
    say(`- ${name} cuts: ${idx.length}; median prompt ${median(idx.map((i) => cuts[i].prompt.length))} tokens; ` +
      `median share of the true next 32 tokens a 1-token lookup predicts: ${f(median(idx.map((i) => cuts[i].lookupHit)))}`);
  }

  // 2 first: the 124M costs, then 1 can be costed with them.
  const root = path.join(os.tmpdir(), 'gpt2-complete-bench');
  const ckpt = path.join(root, `random-${configName}`);
  if (!fs.existsSync(path.join(ckpt, 'config.json'))) writeRandomCheckpoint(ckpt, NAMED_CONFIGS[configName], 1);
  const large = await loadRecorded(ckpt, threads);
  const sizes = [1, 2, 3, 5, 9, 13, 17];
  const costs = await verifyCosts(large.rec.inner, sizes, PROMPT_TOKENS, Number(arg('reps', '7')));
  const cost = costFunction(costs);
  say('');
  say(`Verify-run cost, random ${configName} (${large.info}), after ${PROMPT_TOKENS} cached tokens, logits at every new position:`);
  say('');
  say('| tokens in the run (1 + drafts) | ' + sizes.join(' | ') + ' |');
  say('| --- |' + sizes.map(() => ' --- |').join(''));
  say('| median ms | ' + sizes.map((n) => f(costs.get(n)!, 1)).join(' | ') + ' |');
  say('| × one decode step | ' + sizes.map((n) => f(costs.get(n)! / costs.get(1)!)).join(' | ') + ' |');

  const small = await loadRecorded(arg('small-model', 'models/embedded'), threads);
  const table = await runAll(small.gen, small.rec, cuts, modes);
  for (const [name, idx] of groups) {
    say('');
    say(`${arg('small-model', 'models/embedded')} (${small.info}), ${name} cuts (${idx.length}), up to ${MAX_TOKENS} tokens:`);
    say('');
    say(`| mode | tokens per decode run | drafts accepted | decode tok/s (median) | speed vs plain (median of per-cut ratios) | est. speed vs plain at 124M | same output as plain |`);
    say('| --- | --- | --- | --- | --- | --- | --- |');
    speedRows(table, idx, modes, cost).forEach(say);
  }

  for (const [name, idx] of groups) {
    say('');
    say(`The true text as the model, ${name} cuts (${idx.length}): tokens per decode run and estimated speed at 124M:`);
    say('');
    say('| mode | tokens per decode run | est. speed vs plain at 124M (median) |');
    say('| --- | --- | --- |');
    oracleRows(cuts, idx, modes, cost).forEach(say);
  }

  // 3: end to end on the random 124M model, on the first repetitive cuts.
  const idx = groups[0][1].slice(0, largeCuts);
  const subset = idx.map((i) => cuts[i]);
  const largeModes = [0, 8];
  const bigTable = await runAll(large.gen, large.rec, subset, largeModes);
  say('');
  say(`Random ${configName} (${large.info}) end to end, ${subset.length} repetitive cuts (random weights: acceptance comes from the model's own loops, not the code):`);
  say('');
  say(`| mode | tokens per decode run | drafts accepted | decode tok/s (median) | speed vs plain (median of per-cut ratios) | est. from costs | same output as plain |`);
  say('| --- | --- | --- | --- | --- | --- | --- |');
  speedRows(bigTable, subset.map((_, i) => i), largeModes, cost).forEach(say);
  say('');
  say(`- load average at end: ${loadAverage()}`);
  process.stdout.write(out.join('\n') + '\n');
}

main().catch((e) => {
  process.stderr.write(`${(e as Error).stack}\n`);
  process.exit(1);
});
