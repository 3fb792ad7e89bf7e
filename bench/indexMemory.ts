/**
 * Time and memory of the engine process's workspace index (token store + lines index,
 * completion/context/workspaceCache.ts) on the host suite's generated workspace: ~10 MB of Python in
 * which nearly every line is unique, the worst case for the lines index (issue 12: "indexing a
 * 10 MB workspace ≤ 10 s on 2 cores, ≤ 150 MB extra memory").
 *
 *   npx tsx --expose-gc bench/indexMemory.ts [--mb 10] [--runs 3] [--scenarios first,reindex,...] [--folder DIR]
 *
 * --folder indexes DIR (listed and filtered as the engine does) instead of the generated workspace.
 * Node flags given to tsx pass on to the scenarios (e.g. --max-semi-space-size=2, the young
 * generation's size, which bounds how far RSS grows with the allocation rate of indexing).
 *
 * Each scenario runs in a fresh child process (memory numbers do not leak between them), --runs
 * times; the table gives the median. Scenarios:
 * - `first`: one index in a fresh process (the engine's first `indexWorkspace`);
 * - `reindex`: a second index of the same folder the way engineProcess.ts does it when the cap
 *   changes (the new WorkspaceCache replaces the old at once; the old is garbage, not yet collected);
 * - `reindex-kept`: the old index still referenced while the new one is built (the worst case: a
 *   request in flight, an earlier index still being built, or code that swaps only at the end);
 * - `reindex-released`: the old index dropped and collected (global.gc) before the new one is built;
 * - `lines`: the lines index alone (WorkspaceLines over the same texts; its time includes listing
 *   and filtering the files), for its own heap; then the
 *   workspace candidates at 2,000 seeded cursors: time per call, and a digest of the answers (the
 *   same digest before and after a change of the index's layout: the same answers).
 * Columns (MiB over the process's RSS or heap before any index, after a GC): the last index's
 * time; RSS right after it (what the host test reads, there against RSS just before a re-index: the
 * `step` column); the peak RSS sampled between files over the whole scenario; after a full GC, the
 * heap plus typed-array stores and the RSS that the index keeps.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { WorkspaceCache } from '../src/completion/context/workspaceCache';
import { workspaceCandidates } from '../src/completion/context/workspaceCandidates';
import { WorkspaceLines } from '../src/completion/context/workspaceLines';
import { getTokenizer } from '../src/engine/tokenizer';
import { filterFiles } from '../src/training/data/fileFilters';
import { listFiles } from '../src/training/data/listFiles';
import { writeLargeWorkspace } from '../test/host/suite/largeWorkspace';

const SCENARIOS = ['first', 'reindex', 'reindex-kept', 'reindex-released', 'lines'] as const;
type Scenario = (typeof SCENARIOS)[number];
/** The host test's cap (context.maxIndexMB = 40) in tokens, as workspaceIndexFeeder.ts converts it. */
const MAX_TOKENS = 40 * 300_000;
const MiB = 2 ** 20;
/** Candidate queries timed in the `lines` scenario. */
const QUERIES = 2000;
/** What a scenario keeps referenced until its numbers are taken (the old index in `reindex-kept`). */
const held: unknown[] = [];

interface Result {
  scenario: Scenario;
  files: number;
  tokens: number;
  ms: number;
  /** RSS right after the (last) index, over the baseline. */
  rssAfter: number;
  /** RSS right after the last index minus just before it (the host test's number for a re-index). */
  rssStep: number;
  /** Peak RSS sampled between files, over the baseline. */
  rssPeak: number;
  /** After a full GC: heap used (with typed-array stores) and RSS over the baseline. */
  heapKept: number;
  rssKept: number;
  /** `lines` only: workspace candidates per call (ms) and a digest of their answers. */
  queryP50?: number;
  queryP90?: number;
  digest?: string;
}

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

function gc(): void {
  const collect = (globalThis as { gc?: () => void }).gc;
  if (collect === undefined) throw new Error('run with --expose-gc: npx tsx --expose-gc bench/indexMemory.ts');
  collect();
  collect();
}

const rss = (): number => process.memoryUsage.rss();

let peakRss = 0;
function sample(): void {
  peakRss = Math.max(peakRss, rss());
}

/** One index of `dir` into a new WorkspaceCache, with the RSS sampled between files. */
async function indexOnce(dir: string): Promise<{ cache: WorkspaceCache; ms: number; before: number; after: number }> {
  const before = rss();
  const t0 = performance.now();
  const cache = new WorkspaceCache(getTokenizer(), MAX_TOKENS, false);
  await cache.indexFolder(dir, {
    onProgress: (p) => {
      if ((p.files + p.skipped) % 8 === 0) sample();
    },
  });
  const ms = performance.now() - t0;
  sample();
  return { cache, ms, before, after: rss() };
}

async function runScenario(scenario: Scenario, dir: string): Promise<Result> {
  getTokenizer().encode('warm up the tokenizer: def f(x):\n    return x\n');
  gc();
  const baseHeap = heap();
  const baseRss = rss();
  peakRss = baseRss;
  let queries = {};
  let run: { ms: number; before: number; after: number; files: number; tokens: number };
  if (scenario === 'lines') {
    const t0 = performance.now();
    const lines = new WorkspaceLines();
    const files: string[] = [];
    // The files and texts WorkspaceCache.indexFolder would index.
    for await (const verdict of filterFiles(dir, (await listFiles(dir)).files)) {
      if (!verdict.ok) continue;
      const file = path.join(dir, ...verdict.path.split('/'));
      lines.setFile(file, verdict.text.replace(/\r\n/g, '\n'));
      files.push(file);
      sample();
    }
    held.push(lines);
    run = { ms: performance.now() - t0, before: baseRss, after: rss(), files: lines.fileCount, tokens: 0 };
    queries = queryLines(lines, files);
  } else {
    let index = await indexOnce(dir);
    if (scenario !== 'first') {
      // engineProcess.ts: `workspace = new WorkspaceCache(...)` before indexing, so the old index is
      // garbage from the start (unless something else still holds it: `reindex-kept`).
      if (scenario === 'reindex-kept') held.push(index.cache);
      index = undefined as unknown as typeof index;
      if (scenario === 'reindex-released') gc();
      index = await indexOnce(dir);
    }
    held.push(index.cache);
    run = { ...index, files: index.cache.store.ids().length, tokens: index.cache.store.liveTokens };
  }
  gc();
  return {
    scenario,
    files: run.files,
    tokens: run.tokens,
    ms: run.ms,
    rssAfter: run.after - baseRss,
    rssStep: run.after - run.before,
    rssPeak: peakRss - baseRss,
    heapKept: heap() - baseHeap,
    rssKept: rss() - baseRss,
    ...queries,
  };
}

/**
 * The workspace candidates at QUERIES seeded cursors in the indexed files (half at a line start,
 * half after part of a line), as the engine side asks for them: the time per call, and a digest of
 * every answer, which must not change when the index's layout does.
 */
function queryLines(lines: WorkspaceLines, files: readonly string[]): { queryP50: number; queryP90: number; digest: string } {
  let seed = 12345;
  const rand = (n: number): number => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) % n;
  const times: number[] = [];
  const digest = createHash('sha256');
  for (let q = 0; q < QUERIES; q++) {
    const file = files[rand(files.length)];
    const text = fs.readFileSync(file, 'utf8').replace(/\r\n/g, '\n');
    const starts = [0];
    for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) starts.push(i + 1);
    const line = rand(starts.length);
    const end = line + 1 < starts.length ? starts[line + 1] - 1 : text.length;
    const indent = /^\s*/.exec(text.slice(starts[line], end))![0].length;
    const rest = end - starts[line] - indent;
    const cut = starts[line] + indent + (q % 2 === 0 || rest <= 0 ? 0 : 1 + rand(Math.max(1, Math.floor(rest / 2))));
    const t0 = performance.now();
    const candidates = workspaceCandidates(text.slice(0, cut), text.slice(cut), lines, file);
    times.push(performance.now() - t0);
    digest.update(JSON.stringify(candidates) + '\n');
  }
  times.sort((a, b) => a - b);
  return { queryP50: times[Math.floor(times.length / 2)], queryP90: times[Math.floor(times.length * 0.9)], digest: digest.digest('hex').slice(0, 16) };
}

/** The JS heap plus typed arrays' backing stores (outside the heap), the memory the index holds. */
function heap(): number {
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function main(): Promise<void> {
  const child = arg('scenario', '');
  if (child !== '') {
    const result = await runScenario(child as Scenario, arg('dir', ''));
    process.stdout.write(`RESULT ${JSON.stringify(result)}\n`);
    return;
  }
  const mb = Number(arg('mb', '10'));
  const runs = Number(arg('runs', '3'));
  const scenarios = arg('scenarios', SCENARIOS.join(',')).split(',') as Scenario[];
  for (const s of scenarios) if (!SCENARIOS.includes(s)) throw new Error(`unknown scenario ${s} (${SCENARIOS.join(', ')})`);
  const folder = arg('folder', '');
  const dir = folder !== '' ? path.resolve(folder) : fs.mkdtempSync(path.join(os.tmpdir(), 'gpt2c-index-bench-'));
  try {
    const what = folder !== '' ? dir : `${(writeLargeWorkspace(dir, mb * MiB) / MiB).toFixed(1)} MiB generated in ${fs.readdirSync(dir).length} files (${dir})`;
    console.log(`workspace: ${what}; ${runs} run(s) per scenario, median; node ${process.version}, ${os.cpus().length} CPUs, load ${os.loadavg()[0].toFixed(1)}`);
    console.log('MiB over the baseline; step: RSS after the last index minus just before it; kept: after a full GC, heap + typed arrays and RSS');
    console.log('scenario          files    tokens   time s  RSS after   step  RSS peak  heap kept  RSS kept');
    for (const scenario of scenarios) {
      const results: Result[] = [];
      for (let r = 0; r < runs; r++) {
        const out = spawnSync(process.execPath, [...process.execArgv, __filename, '--scenario', scenario, '--dir', dir], { encoding: 'utf8' });
        const line = out.stdout.split('\n').find((l) => l.startsWith('RESULT '));
        if (out.status !== 0 || line === undefined) throw new Error(`scenario ${scenario} failed (${out.status}):\n${out.stderr}${out.stdout}`);
        results.push(JSON.parse(line.slice('RESULT '.length)) as Result);
      }
      const m = (f: (r: Result) => number): number => median(results.map(f));
      const mib = (f: (r: Result) => number): string => (m(f) / MiB).toFixed(0).padStart(9);
      console.log(
        `${scenario.padEnd(16)} ${String(results[0].files).padStart(6)} ${String(results[0].tokens).padStart(9)} ${(m((r) => r.ms) / 1000).toFixed(2).padStart(8)}` +
          ` ${mib((r) => r.rssAfter)} ${mib((r) => r.rssStep).slice(3)}  ${mib((r) => r.rssPeak)}  ${mib((r) => r.heapKept)}  ${mib((r) => r.rssKept)}` +
          (results[0].digest !== undefined ? `   candidates per call p50 ${m((r) => r.queryP50!).toFixed(2)} ms, p90 ${m((r) => r.queryP90!).toFixed(2)} ms, answers ${results.map((r) => r.digest).join(' ')}` : '') +
          (runs > 1 ? `   times ${results.map((r) => (r.ms / 1000).toFixed(2)).join(', ')}; RSS after ${results.map((r) => (r.rssAfter / MiB).toFixed(0)).join(', ')}` : ''),
      );
    }
  } finally {
    if (folder === '') fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
