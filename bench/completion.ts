/**
 * `npm run bench:completion`: request → items latency of the completion pipeline as the extension
 * runs it: the editor-free CompletionPipeline (src/completion/pipeline.ts, which the inline provider
 * adapts) over the real engine process (src/vscode/engineClient.ts + engineProcess.ts, the
 * extension's settings), replaying typing one character at a time through a real source file.
 *
 *   warm model requests: p50 / p90 from the provider call to its items, the KV cache reused from the
 *     previous keystroke (requests the provider answered from the model with reused tokens > 0)
 *   typing-through: the user types the characters of the suggestion on screen; served without a
 *     model call
 *   memory: RSS of this process plus its children (the engine is a child process) before the first
 *     load, while serving, and after the engine process was ended (what the idle unload does)
 *
 * Random weights never end a line on their own, so every model request generates exactly
 * `--max-tokens` tokens (default 16, close to Copilot's single-line cap of 20): a real model's line
 * usually ends sooner. Debounce is 0 so the numbers are the pipeline's, not the pause after typing.
 *
 *   npx tsx bench/completion.ts [--model embedded|tiny|small|DIR|'{config json}' ...] [--keystrokes 60] [--max-tokens 16]
 *     [--threads N] [--precision fp32|int8|int4|auto (default: the extension's)] [--file src/engine/generator.ts] [--process dist/engineProcess.js (default: the source)]
 *     [--no-cache-model (default: on, as in the extension, with this repository's src/ as the workspace)]
 *     [--context (snippets of other files in the prompt, as gpt2Complete.context.enabled: what it does to the KV-cache prefix reuse)]
 * Prints one markdown table per model (medians) to paste into bench/RESULTS.md.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { BackendModel, CompletionBackend } from '../src/completion/backend';
import { cursorLine } from '../src/completion/context/cursorLine';
import { afterEnter } from '../src/completion/nextLine';
import { CompletionPipeline, type CompletionTrace } from '../src/completion/pipeline';
import { EDITOR_DEFAULTS } from '../src/cli/pipelineRunner';
import { EngineClient } from '../src/vscode/engineClient';
import type { EngineLoadedInfo, EngineLoadRequest, WorkspaceIndexInfo } from '../src/vscode/engineProtocol';

const repo = path.resolve(__dirname, '..');

// ---- arguments ---------------------------------------------------------------------------------

function args(name: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < process.argv.length - 1; i++) if (process.argv[i] === `--${name}`) out.push(process.argv[i + 1]);
  return out;
}
function arg(name: string, fallback: string): string {
  return args(name)[0] ?? fallback;
}

// ---- helpers -----------------------------------------------------------------------------------

const quantile = (xs: number[], q: number): number => {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
};
const fmt = (ms: number): string => (Number.isNaN(ms) ? 'n/a' : `${ms.toFixed(ms < 10 ? 2 : 1)} ms`);

/** RSS of this process and its live child processes (the engine's), in MiB. */
function rssMiB(): number {
  const rss = (pid: string): number => {
    try {
      return Number(/VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;
    } catch {
      return 0; // ended between listing and reading
    }
  };
  const children = fs.readdirSync('/proc/self/task').flatMap((tid) =>
    fs.readFileSync(`/proc/self/task/${tid}/children`, 'utf8').split(/\s+/).filter((x) => x !== ''));
  return rss('self') + children.reduce((sum, pid) => sum + rss(pid), 0);
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
/** Between Tab and Enter in a streak of accepted lines (a person's reaction to a shown line). */
const STREAK_ENTER_AFTER_MS = 150;

/** The shape of models/embedded when this was written; a random checkpoint of it stands in when the folder is absent. */
const EMBEDDED_SHAPE = '{"model_type":"gpt2","vocab_size":50257,"n_positions":512,"n_embd":128,"n_layer":8,"n_head":2}';

/** A checkpoint folder for `spec`: embedded (models/embedded), a named shape made with the CLI, or a folder. */
function checkpointFor(spec: string): { dir: string; label: string } {
  if (spec === 'embedded') {
    const dir = path.join(repo, 'models', 'embedded');
    if (fs.existsSync(path.join(dir, 'config.json'))) return { dir, label: 'embedded (models/embedded, trained)' };
    const random = checkpointFor(EMBEDDED_SHAPE);
    return { dir: random.dir, label: 'random, shaped like models/embedded (8 layers × 128, context 512)' };
  }
  if (fs.existsSync(path.join(spec, 'config.json'))) return { dir: path.resolve(spec), label: spec };
  const name = spec.startsWith('{') ? `shape-${createHash('sha256').update(spec).digest('hex').slice(0, 12)}` : spec;
  const dir = path.join(os.tmpdir(), 'gpt2-complete-bench', `random-${name}`);
  if (!fs.existsSync(path.join(dir, 'model.safetensors'))) {
    // The project's own CLI, as the brief prescribes: `init --random --config <shape>`.
    execFileSync(process.execPath, [...process.execArgv, path.join(repo, 'src', 'cli.ts'), 'init', '--random', '--config', spec, '--out', dir], {
      stdio: ['ignore', 2, 2], // its output is not part of the tables on stdout
    });
  }
  return { dir, label: `random ${spec}` };
}

/**
 * The engine process from the current source: a forked child does not inherit tsx's loader for its
 * entry file, so a small CommonJS entry registers tsx and then loads src/vscode/engineProcess.ts.
 */
function processFromSource(dir: string): string {
  const entry = path.join(dir, 'engineProcess.cjs');
  fs.writeFileSync(
    entry,
    `require(${JSON.stringify(require.resolve('tsx/cjs/api'))}).register();\n` +
      `require(${JSON.stringify(path.join(repo, 'src', 'vscode', 'engineProcess.ts'))});\n`,
  );
  return entry;
}

interface Sample {
  ms: number;
  trace: CompletionTrace | undefined;
  items: number;
}

// ---- one model ---------------------------------------------------------------------------------

async function benchModel(spec: string): Promise<[string, string][]> {
  const { dir, label } = checkpointFor(spec);
  const keystrokes = Number(arg('keystrokes', '60'));
  const maxTokens = Number(arg('max-tokens', '16'));
  const threads = arg('threads', '') === '' ? undefined : Number(arg('threads', ''));
  const sourceFile = path.join(repo, arg('file', 'src/engine/generator.ts'));
  const storage = fs.mkdtempSync(path.join(os.tmpdir(), 'gpt2c-bench-completion-'));
  const processPath = args('process').length > 0 ? path.resolve(repo, arg('process', '')) : processFromSource(storage);

  // The extension's defaults (EDITOR_DEFAULTS: greedy, every language), the token cap, no debounce, the CPU.
  const precisionSetting = arg('precision', 'auto');
  const loadRequest: EngineLoadRequest = {
    checkpointDir: dir,
    modelsRoot: path.join(storage, 'models'),
    graphCacheDir: path.join(os.tmpdir(), 'gpt2-complete-bench', 'graphs'),
    device: 'cpu',
    threads,
    precision: precisionSetting,
  };
  /** The engine process, started on first need and ended by `unload` (the extension's idle unload). */
  let engine: { client: EngineClient; info: EngineLoadedInfo; model: BackendModel } | undefined;
  let loads = 0;
  const infos: EngineLoadedInfo[] = [];
  const indexInfos: WorkspaceIndexInfo[] = [];
  const cacheModel = !process.argv.includes('--no-cache-model');
  const context = process.argv.includes('--context');
  const backend: CompletionBackend = {
    get current() {
      return engine?.model;
    },
    async acquire() {
      if (engine === undefined) {
        const client = new EngineClient(processPath);
        const info = await client.load(loadRequest);
        infos.push(info);
        // The workspace cache model's index, as the extension builds it after a load (this repository's src/).
        if (cacheModel || context) indexInfos.push(await client.indexWorkspace([path.join(repo, 'src')], 3_600_000, context));
        const epoch = ++loads;
        engine = { client, info, model: { epoch, checkpointDir: info.checkpointDir, complete: (r, signal, onStarted) => client.complete(r, signal, onStarted) } };
      }
      return engine.model;
    },
  };
  const unload = async (): Promise<number> => {
    await engine?.client.dispose();
    engine = undefined;
    await sleep(2000); // the process's exit
    return rssMiB();
  };
  const pipeline = new CompletionPipeline({ backend, settings: () => ({ ...EDITOR_DEFAULTS, maxTokens, cacheModel, context }), debounce: false });

  const source = fs.readFileSync(sourceFile, 'utf8');
  const uri = `file://${sourceFile}`;
  let version = 0;
  const ask = async (text: string, offset: number): Promise<Sample> => {
    const t0 = performance.now();
    const result = await pipeline.complete({ documentUri: uri, documentVersion: ++version, languageId: 'typescript', text, offset, trigger: 'automatic', filePath: sourceFile });
    return { ms: performance.now() - t0, trace: result.trace, items: result.items.length };
  };

  const rssBeforeLoad = rssMiB();

  // Typing: re-type `keystrokes` characters of the file from a line start past 40% of it, one at a
  // time, as someone writing it: the cursor's line ends at the cursor, the following lines are there.
  const start = source.indexOf('\n', Math.floor(source.length * 0.4)) + 1;
  const samples: Sample[] = [];
  let cold: Sample | undefined;
  for (let i = 0; i <= keystrokes && start + i < source.length; i++) {
    const cursor = start + i;
    const lineEnd = source.indexOf('\n', cursor);
    const s = await ask(source.slice(0, cursor) + source.slice(lineEnd < 0 ? source.length : lineEnd), cursor);
    if (i === 0) cold = s;
    else samples.push(s);
  }
  const rssServing = rssMiB();

  const warm = samples.filter((s) => s.trace?.source === 'model' && (s.trace.result?.reusedTokens ?? 0) > 0);
  const warmTimings = warm.map((s) => s.trace!.result!.timings);
  // Prefix hit rate: the share of the prompt tokens of every model request that the KV cache already held.
  const modelAnswers = samples.filter((s) => s.trace?.source === 'model' && s.trace.result !== undefined).map((s) => s.trace!.result!);
  const sum = (xs: number[]): number => xs.reduce((a, b) => a + b, 0);
  const hitRate = sum(modelAnswers.map((r) => r.reusedTokens)) / Math.max(1, sum(modelAnswers.map((r) => r.promptTokens)));
  const fromCaches = samples.filter((s) => s.trace !== undefined && s.trace.source !== 'model').length;

  // Typing through: at several points, take the suggestion on screen and type it character by character.
  const through: Sample[] = [];
  let throughModelCalls = 0;
  for (let point = 0; point < 40 && through.length < 60; point++) {
    // A few characters into a non-blank line, the rest of that line removed.
    const lineStart = source.indexOf('\n', Math.floor(source.length * (0.3 + point * 0.015))) + 1;
    const lineEnd = source.indexOf('\n', lineStart);
    if (lineStart <= 0 || lineEnd < 0) break;
    const indent = /^[ \t]*/.exec(source.slice(lineStart, lineEnd))![0].length;
    if (lineEnd - lineStart - indent < 4) continue;
    const at = lineStart + indent + 4;
    const after = source.slice(lineEnd);
    const shown = await ask(source.slice(0, at) + after, at);
    const suggestion = shown.trace?.items[0] ?? '';
    if (process.env.BENCH_DEBUG) process.stderr.write(`point ${point}: ${shown.trace?.source} ${JSON.stringify(shown.trace?.raw)} -> ${JSON.stringify(shown.trace?.items)}\n`);
    if (suggestion.length < 2) continue;
    const calls = pipeline.counters.engineCalls;
    for (let k = 1; k < Math.min(suggestion.length, 8); k++) {
      const s = await ask(source.slice(0, at) + suggestion.slice(0, k) + after, at + k);
      if (s.trace?.source !== 'typing-through') throw new Error(`typing through answered from ${s.trace?.source ?? 'nothing'}`);
      through.push(s);
    }
    throughModelCalls += pipeline.counters.engineCalls - calls;
  }

  // A streak of accepts: at the end of a line (the suggestion just accepted), then Enter after a
  // person's pause; the same lines with the next-line prefetch on and off, in turn, so both see the
  // same machine. Without it the debounce is left out (its 100-800 ms depend on the typing rhythm
  // and would only add to that side): what is compared is the model's time against none.
  const streak = { on: [] as number[], off: [] as number[], hits: 0, lines: 0 };
  const streakPipelines = { on: true, off: false } as const;
  const pipelinesFor = Object.fromEntries(
    Object.entries(streakPipelines).map(([name, prefetch]) => [name, new CompletionPipeline({ backend, settings: () => ({ ...EDITOR_DEFAULTS, maxTokens, cacheModel, context }), debounce: false, prefetch })]),
  ) as Record<keyof typeof streakPipelines, CompletionPipeline>;
  for (let point = 0; point < 24; point++) {
    const lineEnd = source.indexOf('\n', source.indexOf('\n', Math.floor(source.length * (0.3 + point * 0.025))) + 1);
    if (lineEnd < 0 || source.slice(source.lastIndexOf('\n', lineEnd - 1) + 1, lineEnd).trim() === '') continue;
    const next = afterEnter({ text: source, offset: lineEnd }, 'typescript', '  ');
    if (next === null) continue;
    streak.lines++;
    // The request whose suggestion was accepted: the line half typed, the rest suggested. It leaves
    // the engine's KV cache where the editor's would be at the accept (without it, the side measured
    // first pays a cold prefill that the other then reuses).
    const { start, indent } = cursorLine(source.slice(0, lineEnd));
    const typedTo = start + indent + Math.floor((lineEnd - start - indent) / 2);
    for (const name of ['on', 'off'] as const) {
      const p = pipelinesFor[name];
      const doc = `${uri}#streak-${name}`;
      await p.complete({ documentUri: doc, documentVersion: ++version, languageId: 'typescript', text: source.slice(0, typedTo) + source.slice(lineEnd), offset: typedTo, trigger: 'automatic', editorIndentUnit: '  ', filePath: sourceFile, editedAt: Date.now() });
      p.prefetchAfterAccept({ documentUri: doc, documentVersion: ++version, languageId: 'typescript', text: source, offset: lineEnd, trigger: 'automatic', editorIndentUnit: '  ', filePath: sourceFile });
      await sleep(STREAK_ENTER_AFTER_MS);
      const t0 = performance.now();
      const r = await p.complete({ documentUri: doc, documentVersion: ++version, languageId: 'typescript', text: next.text, offset: next.offset, trigger: 'automatic', editorIndentUnit: '  ', filePath: sourceFile, editedAt: Date.now() });
      streak[name].push(performance.now() - t0);
      if (name === 'on' && r.source === 'prefetch') streak.hits++;
    }
  }
  for (const p of Object.values(pipelinesFor)) p.dispose();

  const rssAfterUnload = await unload();
  // A second load and unload: a one-time cost (native libraries mapped, allocator arenas) stays
  // flat, a leak grows by about the model again.
  await ask(source.slice(0, start) + source.slice(source.indexOf('\n', start)), start);
  const rssSecondServing = rssMiB();
  const rssAfterSecondUnload = await unload();

  pipeline.dispose();
  fs.rmSync(storage, { recursive: true, force: true });

  const med = (xs: number[]): number => quantile(xs, 0.5);
  const loaded = infos[0];
  return [
    [
      'model',
      `${label}; ${loaded?.device.provider ?? '?'}, ${loaded?.device.threads ?? '?'} threads; ` +
        `precision setting ${precisionSetting} → ${loaded?.precision ?? 'fp32'} weights; max ${maxTokens} tokens per suggestion; ` +
        (context ? 'context snippets on; ' : '') +
        (cacheModel ? `cache model on (src/ indexed: ${indexInfos[0]?.files ?? '?'} files, ${indexInfos[0]?.tokens ?? '?'} tokens in ${Math.round(indexInfos[0]?.ms ?? NaN)} ms)` : 'cache model off'),
    ],
    ['first request (load + cold prefill)', fmt(cold?.ms ?? NaN)],
    [`warm model requests (${warm.length} of ${samples.length} keystrokes; ${fromCaches} from caches)`, `p50 ${fmt(med(warm.map((s) => s.ms)))}, p90 ${fmt(quantile(warm.map((s) => s.ms), 0.9))}`],
    ['  of which in the engine process: prompt / prefill / decode / reading and choosing / total', `${fmt(med(warmTimings.map((t) => t.promptMs)))} / ${fmt(med(warmTimings.map((t) => t.prefillMs)))} / ${fmt(med(warmTimings.map((t) => t.decodeMs)))} (${med(warmTimings.map((t) => t.decodeTokens))} tokens in ${med(warmTimings.map((t) => t.decodeSteps ?? NaN))} runs; all requests: ${sum(warmTimings.map((t) => t.decodeTokens))} tokens in ${sum(warmTimings.map((t) => t.decodeSteps ?? NaN))} runs, ${sum(warmTimings.map((t) => t.acceptedDraftTokens ?? NaN))} of ${sum(warmTimings.map((t) => t.draftTokens ?? NaN))} drafts accepted) / ${fmt(med(warmTimings.map((t) => t.scoreMs ?? 0)))} / ${fmt(med(warmTimings.map((t) => t.totalMs)))}`],
    ['  prompt tokens / reused from the previous keystroke', `${med(warm.map((s) => s.trace!.result!.promptTokens))} / ${med(warm.map((s) => s.trace!.result!.reusedTokens))}`],
    [`prefix hit rate (prompt tokens the KV cache held, all ${modelAnswers.length} model requests)`, `${(100 * hitRate).toFixed(1)}%`],
    [`next line after an accept: Enter ${STREAK_ENTER_AFTER_MS} ms after it → items (${streak.lines} lines; no debounce), without / with the prefetch (${streak.hits} answered by it)`, `p50 ${fmt(med(streak.off))} / ${fmt(med(streak.on))}, p90 ${fmt(quantile(streak.off, 0.9))} / ${fmt(quantile(streak.on, 0.9))}`],
    [`typing-through (${through.length} keystrokes, ${throughModelCalls} model calls)`, `p50 ${fmt(med(through.map((s) => s.ms)))}, p90 ${fmt(quantile(through.map((s) => s.ms), 0.9))}`],
    ['RSS before the first load / serving / after the unload', `${rssBeforeLoad.toFixed(0)} / ${rssServing.toFixed(0)} / ${rssAfterUnload.toFixed(0)} MiB`],
    ['RSS after the unload − before the load', `${(rssAfterUnload - rssBeforeLoad).toFixed(0)} MiB (serving added ${(rssServing - rssBeforeLoad).toFixed(0)} MiB)`],
    ['second load: RSS serving / after its unload', `${rssSecondServing.toFixed(0)} / ${rssAfterSecondUnload.toFixed(0)} MiB`],
  ];
}

async function main(): Promise<void> {
  const models = args('model').length > 0 ? args('model') : ['embedded', 'small'];
  const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  process.stdout.write(
    `${new Date().toISOString().slice(0, 16)}Z · ${cpu}, ${os.cpus().length} cores, ${Math.round(os.totalmem() / 2 ** 30)} GiB · node ${process.version} · ` +
      `load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}\n\n`,
  );
  for (const m of models) {
    const rows = await benchModel(m);
    process.stdout.write('| measure | value |\n| --- | --- |\n' + rows.map(([k, v]) => `| ${k} | ${v} |`).join('\n') + '\n\n');
  }
  process.stdout.write(`load average at the end ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}\n`);
}

main().catch((e) => {
  process.stderr.write(`${(e as Error).stack}\n`);
  process.exit(1);
});
