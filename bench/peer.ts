/**
 * `npm run bench:peer`: the engine against a PyTorch peer (bench/torch_peer.py) on the same checkpoint,
 * in the same invocation: each measurement runs on both sides back to back, round after round, so a
 * pair sees the same machine load.
 *
 *   prefill: one forward over a P-token prompt from an empty cache, last-position logits only
 *   decode:  tokens/s of greedy decode steps after a 64- and a 1000-token prompt (the first token,
 *            which comes from the prefill, not counted); plain one-token steps on both sides
 *            (speculative drafts off), so a step is the same work
 *   greedy:  the tokens of every decode run are compared: fp32 must give the peer's tokens
 *
 * Ratios are speeds, ours / peer (above 1: ours is faster): the median of the rounds' paired ratios.
 *
 *   npx tsx bench/peer.ts [--model DIR | --config small] [--threads 2] [--rounds 3]
 *       [--precision fp32,int8,int4] [--python /usr/bin/python3] [--prefill 256] [--contexts 64,1000] [--steps 16]
 *       [--peer-gemm]
 *
 * The peer's decode steps multiply through gemv (3-4x faster than nn.Linear's one-row sgemm with
 * Debian's OpenBLAS); --peer-gemm measures the F.linear path that nanoGPT and transformers take.
 * Without --model a random checkpoint shaped like gpt2 is written once (as bench/engine.ts does).
 * The peer is Debian's python3-torch with libopenblas0-openmp; when `python -c "import torch"` fails
 * this prints one line and exits 0. Precisions the engine does not accept are skipped with a note.
 * The peer runs with OMP_NUM_THREADS=--threads and OMP_WAIT_POLICY=PASSIVE unless the environment
 * sets a policy: on a machine whose cores are busy with other work, torch's spinning OpenMP threads
 * wait on each other and its 2-thread figures collapse (bench/RESULTS.md, "PyTorch peer").
 */
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as readline from 'node:readline';
import { NAMED_CONFIGS } from '../src/engine/config';
import { Generator, type GenerateRequest } from '../src/engine/generator';
import { loadEngine, type LoadOptions, type LoadedEngine } from '../src/engine/loadModel';
import { writeRandomCheckpoint } from '../src/engine/randomCheckpoint';
import { peerWaitPolicy, pythonPath } from './pythonPeer';

const NOT_AVAILABLE = 'PyTorch peer not available: install python3-torch and libopenblas0-openmp (apt)';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const list = (s: string): string[] => s.split(',').map((x) => x.trim()).filter(Boolean);

/** Random token ids from the ordinary part of the vocabulary, as bench/engine.ts draws them. */
function tokens(n: number, seed: number): number[] {
  let s = seed;
  return Array.from({ length: n }, () => (s = (s * 1103515245 + 12345) % 2 ** 31) % 50000);
}

interface Spec {
  prefill: number[];
  contexts: Record<string, number[]>;
  steps: number;
}

interface DecodeRun {
  tokS: number;
  tokens: number[];
  /** The peer's top-1 minus top-2 logit at each token. */
  margins?: number[];
}

/** One round's figures from either side. */
interface Round {
  prefillMs: number;
  decode: Record<string, DecodeRun>;
}

/** Either side, one measurement at a time. */
interface Side {
  prefill(): Promise<number>;
  decode(key: string): Promise<DecodeRun>;
}

/** The torch_peer.py process in --serve mode: one JSON line per measurement asked for. */
class TorchPeer implements Side {
  private readonly lines: AsyncIterableIterator<string>;
  info: Record<string, unknown> = {};

  private constructor(private readonly proc: ChildProcessWithoutNullStreams) {
    this.lines = readline.createInterface({ input: proc.stdout })[Symbol.asyncIterator]();
  }

  static async start(python: string, model: string, threads: number, specFile: string): Promise<TorchPeer> {
    const script = path.join(__dirname, 'torch_peer.py');
    const extra = process.argv.includes('--peer-gemm') ? ['--gemm'] : [];
    const proc = spawn(python, [script, '--model', model, '--threads', String(threads), '--spec', specFile, '--serve', ...extra], {
      env: { ...process.env, OMP_NUM_THREADS: String(threads), OMP_WAIT_POLICY: peerWaitPolicy() },
    });
    proc.stderr.on('data', (d: Buffer) => process.stderr.write(`[torch_peer] ${d.toString()}`));
    const peer = new TorchPeer(proc);
    peer.info = await peer.next();
    if (peer.info.ready !== true) throw new Error(`torch_peer.py did not start: ${JSON.stringify(peer.info)}`);
    return peer;
  }

  private async next(): Promise<Record<string, unknown>> {
    const { value, done } = await this.lines.next();
    if (done) throw new Error('torch_peer.py exited (see its messages above)');
    return JSON.parse(value) as Record<string, unknown>;
  }

  async prefill(): Promise<number> {
    this.proc.stdin.write('prefill\n');
    return (await this.next()).prefill_ms as number;
  }

  async decode(key: string): Promise<DecodeRun> {
    this.proc.stdin.write(`decode ${key}\n`);
    const d = ((await this.next()).decode as Record<string, { tok_s: number; tokens: number[]; margins: number[] }>)[key];
    return { tokS: d.tok_s, tokens: d.tokens, margins: d.margins };
  }

  async close(): Promise<void> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => this.proc.once('exit', () => resolve()));
    this.proc.stdin.end('quit\n');
    await exited;
  }
}

/** Our engine at one precision; each context has its own Generator, so its prompt's cache is reused across rounds. */
class Ours implements Side {
  private readonly generators = new Map<string, Generator>();

  constructor(readonly loaded: LoadedEngine, readonly precision: string, private readonly spec: Spec) {}

  async prefill(): Promise<number> {
    const t0 = performance.now();
    await this.loaded.engine.model.forward([this.spec.prefill], null); // an empty cache: nothing reused
    return performance.now() - t0;
  }

  async decode(key: string): Promise<DecodeRun> {
    const { model, tokenizer } = this.loaded.engine;
    let gen = this.generators.get(key);
    if (!gen) this.generators.set(key, (gen = new Generator(model, tokenizer)));
    const req: GenerateRequest = { promptTokens: this.spec.contexts[key], maxTokens: this.spec.steps + 1, stopAtEndOfText: false };
    Object.assign(req, { draftTokens: 0 }); // plain steps where the generator can speculate
    const res = await gen.generate(req);
    if (res.droppedTokens !== 0) throw new Error(`context ${key} + ${this.spec.steps + 1} tokens does not fit the model's context; use fewer --steps`);
    const t = res.timings as typeof res.timings & { decodeSteps?: number };
    if (t.decodeSteps !== undefined && t.decodeSteps !== t.decodeTokens) {
      throw new Error(`expected one token per decode step, got ${t.decodeTokens} tokens in ${t.decodeSteps} steps`);
    }
    return { tokS: t.decodeTokens / (t.decodeMs / 1000), tokens: res.candidates[0].tokens };
  }
}

/** The precision a loaded model runs at: its own `precision` if it has one, else the graph cache file's name. */
function loadedPrecision(loaded: LoadedEngine): string | undefined {
  const m = loaded.engine.model as unknown as { precision?: unknown; graphSource?: { path?: string } };
  if (typeof m.precision === 'string') return m.precision;
  const file = m.graphSource?.path;
  const match = file ? /-([A-Za-z0-9]+)(?:_[A-Za-z0-9_]+)?\.onnx$/.exec(path.basename(file)) : null;
  return match?.[1];
}

/** How far two greedy runs agree: 'all N' or the first differing index with the peer's top-2 margin there. */
function agreement(ours: number[], peer: { tokens: number[]; margins?: number[] }): { same: boolean; text: string } {
  const n = Math.min(ours.length, peer.tokens.length);
  let i = 0;
  while (i < n && ours[i] === peer.tokens[i]) i++;
  if (i === n && ours.length === peer.tokens.length) return { same: true, text: `all ${n}` };
  const margin = peer.margins?.[i];
  return { same: false, text: `first ${i} of ${n}${margin !== undefined ? ` (peer's top-2 margin there ${margin.toPrecision(2)})` : ''}` };
}

async function main(): Promise<void> {
  const python = pythonPath(arg('python', ''));
  const probe = spawnSync(python, ['-c', 'import torch'], { stdio: 'ignore' });
  if (probe.status !== 0) {
    process.stdout.write(`${NOT_AVAILABLE}\n`);
    return;
  }

  const threads = Number(arg('threads', '2'));
  const rounds = Number(arg('rounds', '3'));
  const precisions = list(arg('precision', 'fp32'));
  const spec: Spec = {
    prefill: tokens(Number(arg('prefill', '256')), 256),
    contexts: Object.fromEntries(list(arg('contexts', '64,1000')).map((c) => [c, tokens(Number(c), Number(c))])),
    steps: Number(arg('steps', '16')),
  };
  const root = path.join(os.tmpdir(), 'gpt2-complete-bench');
  let ckpt = arg('model', '');
  let modelText = ckpt;
  if (!ckpt) {
    const configName = arg('config', 'small');
    const config = NAMED_CONFIGS[configName];
    if (!config) throw new Error(`--config ${configName}: not one of ${Object.keys(NAMED_CONFIGS).join(', ')}`);
    ckpt = path.join(root, `random-${configName}`);
    if (!fs.existsSync(path.join(ckpt, 'config.json'))) writeRandomCheckpoint(ckpt, config, 1);
    modelText = `random ${configName} (${ckpt})`;
  }
  const hf = (JSON.parse(fs.readFileSync(path.join(ckpt, 'config.json'), 'utf8')) as { n_positions?: number; n_ctx?: number });
  const maxPos = hf.n_positions ?? hf.n_ctx ?? Infinity;
  if (spec.prefill.length > maxPos) throw new Error(`--prefill ${spec.prefill.length} exceeds the model's ${maxPos} positions`);
  for (const c of Object.keys(spec.contexts)) {
    if (Number(c) + spec.steps + 1 > maxPos) throw new Error(`context ${c} + ${spec.steps + 1} generated tokens exceed the model's ${maxPos} positions; use fewer --steps`);
  }
  const loadBefore = os.loadavg();

  const ours: Ours[] = [];
  const notes: string[] = [];
  for (const precision of precisions) {
    const opts: LoadOptions = { model: ckpt, modelsRoot: root, graphCacheDir: path.join(root, 'graphs'), device: 'cpu', threads };
    Object.assign(opts, { precision }); // passed through; older engines ignore it, and that is detected below
    let loaded: LoadedEngine;
    try {
      loaded = await loadEngine(opts);
    } catch (e) {
      notes.push(`${precision}: skipped, the engine refused it (${(e as Error).message.split('\n')[0]})`);
      continue;
    }
    const actual = loadedPrecision(loaded);
    if (actual !== precision && !(actual === undefined && precision === 'fp32')) {
      notes.push(`${precision}: skipped, the engine loaded ${actual ?? 'an unknown precision'} (does loadEngine take a precision option yet?)`);
      await loaded.engine.model.dispose();
      continue;
    }
    ours.push(new Ours(loaded, precision, spec));
  }
  if (ours.length === 0) throw new Error(`no precision could be loaded: ${notes.join('; ')}`);

  fs.mkdirSync(root, { recursive: true });
  const specFile = path.join(root, `peer-spec-${process.pid}.json`);
  fs.writeFileSync(specFile, JSON.stringify(spec));
  let peer: TorchPeer;
  try {
    peer = await TorchPeer.start(python, ckpt, threads, specFile);
  } catch (e) {
    fs.rmSync(specFile, { force: true });
    throw e;
  }
  // sides[0] is the peer; results[side][round]. Each measurement runs on every side back to back
  // (the order reversed every other round), so a pair sees the same load and ratios are taken per pair.
  const sides: Side[] = [peer, ...ours];
  const results: Round[][] = sides.map(() => []);
  try {
    for (let r = 0; r < rounds; r++) {
      const order = sides.map((_, i) => i);
      if (r % 2 === 1) order.reverse();
      for (const i of order) results[i].push({ prefillMs: await sides[i].prefill(), decode: {} });
      for (const key of Object.keys(spec.contexts)) {
        for (const i of order) results[i][r].decode[key] = await sides[i].decode(key);
      }
      process.stderr.write(`round ${r + 1}/${rounds} done\n`);
    }
  } finally {
    await peer.close();
    fs.rmSync(specFile, { force: true });
    for (const o of ours) await o.loaded.engine.model.dispose();
  }
  const [peerRounds, ...oursRounds] = results;
  const loadAfter = os.loadavg();

  // Greedy tokens: every decode run of every round against the peer's run of the same round.
  const agreeLines: string[] = [];
  let fp32Agrees = true;
  ours.forEach((o, i) => {
    for (const key of Object.keys(spec.contexts)) {
      const results = oursRounds[i].map((round, r) => agreement(round.decode[key].tokens, peerRounds[r].decode[key]));
      const allSame = results.every((x) => x.same);
      if (o.precision === 'fp32' && !allSame) fp32Agrees = false;
      agreeLines.push(`${o.precision}, context ${key}: ${allSame ? `same tokens in all ${results.length} rounds (${results[0].text})` : results.map((x) => x.text).join('; ')}`);
    }
  });

  // Speed ratios ours/peer: the median over rounds of each round's pair.
  const header = ['measure (median of rounds)', 'PyTorch peer', ...ours.flatMap((o) => [`ours ${o.precision}`, `ours/peer`])];
  const rows: string[][] = [];
  const row = (label: string, unit: string, digits: number, value: (x: Round) => number, speed: (ours: number, peer: number) => number): void => {
    rows.push([label, `${median(peerRounds.map(value)).toFixed(digits)} ${unit}`, ...oursRounds.flatMap((rs) => [
      `${median(rs.map(value)).toFixed(digits)} ${unit}`,
      `${median(rs.map((x, r) => speed(value(x), value(peerRounds[r])))).toFixed(2)}×`,
    ])]);
  };
  row(`prefill, ${spec.prefill.length} tokens`, 'ms', 0, (x) => x.prefillMs, (o, p) => p / o);
  for (const key of Object.keys(spec.contexts)) row(`decode at context ${key}`, 'tok/s', 1, (x) => x.decode[key].tokS, (o, p) => o / p);

  const cpu = os.cpus();
  const out = [
    `date: ${new Date().toISOString()}`,
    `machine: ${cpu[0]?.model ?? 'unknown CPU'}, ${cpu.length} cores, ${Math.round(os.totalmem() / 2 ** 30)} GiB; node ${process.version}`,
    `load average (1/5/15 min): before ${loadBefore.map((x) => x.toFixed(2)).join(' ')}, after ${loadAfter.map((x) => x.toFixed(2)).join(' ')}`,
    `model: ${modelText}; ${threads} threads both sides; ${rounds} rounds, ${spec.steps} decode steps per run`,
    `peer: torch ${String(peer.info.torch)} (python ${String(peer.info.python)}, ${python}), BLAS ${String(peer.info.blas)}, decode through ${String(peer.info.decode_matmul)}, OMP_WAIT_POLICY=${peerWaitPolicy()}, load ${Number(peer.info.load_ms).toFixed(0)} ms`,
    `ours: onnxruntime-node, device ${ours[0].loaded.engine.model.device.provider}, ${ours[0].loaded.engine.model.device.threads} threads`,
    '',
    `| ${header.join(' | ')} |`,
    `| ${header.map(() => '---').join(' | ')} |`,
    ...rows.map((r) => `| ${r.join(' | ')} |`),
    '',
    'ours/peer is a speed ratio (above 1: ours is faster), the median of the rounds\' paired ratios.',
    'greedy tokens vs the peer:',
    ...agreeLines.map((l) => `  ${l}`),
    ...notes.map((n) => `note: ${n}`),
    ...(/openblas/i.test(String(peer.info.blas)) ? [] : [`warning: the peer did not load OpenBLAS (${String(peer.info.blas)}); with the reference BLAS torch is ~15× slower: install libopenblas0-openmp`]),
    `fp32 greedy cross-check: ${ours.some((o) => o.precision === 'fp32') ? (fp32Agrees ? 'AGREE' : 'DISAGREE') : 'not run (no fp32)'}`,
  ];
  process.stdout.write(out.join('\n') + '\n');
}

main().catch((e) => {
  process.stderr.write(`${(e as Error).stack}\n`);
  process.exit(1);
});
