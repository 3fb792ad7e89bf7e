/**
 * Would a kNN-LM over the workspace (Khandelwal et al., ICLR 2020) add to the model + cache mixture?
 * A measurement of a direction not built (bench/QUALITY.md, "Tried and not built: a kNN-LM over the
 * workspace").
 *
 * The datastore holds, for every token of a set's training files but the probe files, the model's
 * final LayerNorm state before it (the state the logits and the acceptance head read) and the token.
 * At each position of the probe files (bench/fitCache.ts's probeFiles, --files of them), the K
 * nearest states (L2) give P_knn(v) ∝ Σ exp(−d/T) over the neighbours with token v, and the decoded
 * distribution becomes (1 − λ)·P_mixture + λ·P_knn, where P_mixture is the shipped
 * cache mixture over the training files (the probe file's own text before the current window
 * included). Teacher-forced, so a line's rest is what greedy decoding writes exactly when every
 * token of it is the distribution's most probable: the line-level table counts those, from line
 * starts and from every token boundary.
 *
 *   npx tsx bench/knnLm.ts zod [--files 3] [--held-out]
 *
 * The search is one MatMul in onnxruntime per 16 positions ([2q, −1] · [k; |k|²] = 2q·k − |k|²),
 * about 15 ms a position over zod's 1M keys; a JS loop took 0.6 s. The datastore costs one forward
 * of every training token (zod: 13 minutes on 2 cores) and is kept in .test-cache/knn/.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import { blankTokens, predictNext, MAX_MATCH, type CacheSource } from '../src/engine/cacheModel/cacheModel';
import { mixtureWeight, DEFAULT_CACHE_WEIGHTS, type CacheWeights } from '../src/engine/cacheModel/mixture';
import { readCacheWeights } from '../src/engine/cacheModel/cacheWeightsFile';
import { argmax, logSumExp } from '../src/engine/sampling';
import { GraphBuilder } from '../src/engine/onnx/ir';
import { serializeModel } from '../src/engine/onnx/protoWriter';
import { WorkspaceCache } from '../src/completion/context/workspaceCache';
import { loadFromFlags } from '../src/cli/modelFlags';
import { splitWorkspace } from '../src/quality/workspaceSplit';
import { judgedText } from '../src/quality/metrics';
import { probeFiles } from './fitCache';
import { loadRows, choiceInputs } from './workspaceCandidates';
import type { CompletionEngine } from '../src/engine/engine';

const repo = path.resolve(__dirname, '..');
const K = 32;
const BATCH = 16;
const CONFIGS = [
  { T: 4, lam: 0.25 },
  { T: 16, lam: 0.1 },
  { T: 16, lam: 0.25 },
  { T: 16, lam: 0.5 },
  { T: 64, lam: 0.25 },
];

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

interface Datastore { keys: Float32Array; values: Int32Array; size: number }

/** Every (state before token t+1, token t+1) of the files, in windows of the model's context. */
async function buildDatastore(engine: CompletionEngine, texts: readonly string[], file: string): Promise<Datastore> {
  const E = engine.model.config.nEmbd, N = engine.model.config.nPositions;
  if (fs.existsSync(file)) {
    const buf = fs.readFileSync(file);
    const size = buf.readUInt32LE(0);
    const keys = new Float32Array(buf.buffer.slice(buf.byteOffset + 4, buf.byteOffset + 4 + size * E * 4));
    const values = new Int32Array(buf.buffer.slice(buf.byteOffset + 4 + size * E * 4, buf.byteOffset + 4 + size * (E + 1) * 4));
    return { keys, values, size };
  }
  const keys: Float32Array[] = [];
  const values: number[] = [];
  for (const text of texts) {
    const tokens = engine.tokenizer.encode(text);
    for (let start = 0; start < tokens.length - 1; start += N) {
      const window = tokens.slice(start, start + N);
      const scored = Math.min(window.length, tokens.length - 1 - start);
      const out = await engine.model.forward([window], null, Array.from({ length: scored }, (_, p) => p));
      for (let p = 0; p < scored; p++) {
        keys.push(out.hidden!.slice(p * E, (p + 1) * E));
        values.push(tokens[start + p + 1]);
      }
    }
  }
  const store = { keys: new Float32Array(keys.length * E), values: Int32Array.from(values), size: keys.length };
  keys.forEach((k, i) => store.keys.set(k, i * E));
  const head = Buffer.alloc(4);
  head.writeUInt32LE(store.size, 0);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, Buffer.concat([head, Buffer.from(store.keys.buffer), Buffer.from(store.values.buffer)]));
  return store;
}

type Neighbour = { d: number; v: number };

/** The K nearest keys of each query, by one MatMul of [2q, −1] with [k; |k|²]ᵀ. */
async function nearestSearch(store: Datastore, E: number): Promise<(qs: Float32Array[]) => Promise<Neighbour[][]>> {
  const M = store.size;
  const kt = new Float32Array((E + 1) * M);
  for (let m = 0; m < M; m++) {
    let norm = 0;
    for (let e = 0; e < E; e++) {
      const x = store.keys[m * E + e];
      kt[e * M + m] = x;
      norm += x * x;
    }
    kt[E * M + m] = norm;
  }
  const g = new GraphBuilder('knn');
  g.output(g.node('MatMul', [g.input('q', 'float32', ['B', E + 1]), g.input('kt', 'float32', [E + 1, 'M'])])[0], 'scores');
  const session = await ort.InferenceSession.create(serializeModel(g.build()));
  const ktTensor = new ort.Tensor('float32', kt, [E + 1, M]);
  return async (qs) => {
    const q = new Float32Array(qs.length * (E + 1));
    const qNorm = qs.map((x, b) => {
      let n = 0;
      for (let e = 0; e < E; e++) {
        q[b * (E + 1) + e] = 2 * x[e];
        n += x[e] * x[e];
      }
      q[b * (E + 1) + E] = -1;
      return n;
    });
    const scores = (await session.run({ q: new ort.Tensor('float32', q, [qs.length, E + 1]), kt: ktTensor })).scores.data as Float32Array;
    return qs.map((_, b) => {
      const nn: Neighbour[] = [];
      for (let m = 0; m < M; m++) {
        const d = qNorm[b] - scores[b * M + m];
        if (nn.length === K && d >= nn[K - 1].d) continue;
        let j = nn.length;
        while (j > 0 && nn[j - 1].d > d) j--;
        nn.splice(j, 0, { d, v: store.values[m] });
        if (nn.length > K) nn.pop();
      }
      return nn;
    });
  };
}

interface Sample {
  file: string;
  at: number;
  truth: number;
  endsLine: boolean;
  startsLine: boolean;
  /** P under the cache mixture, for the true token, and for any token. */
  pMix: number;
  mixP: (t: number) => number;
  mixTop: number;
  nn: Neighbour[];
}

function knnDistribution(nn: readonly Neighbour[], T: number): Map<number, number> {
  const p = new Map<number, number>();
  let z = 0;
  for (const { d, v } of nn) {
    const e = Math.exp(-(d - nn[0].d) / T);
    p.set(v, (p.get(v) ?? 0) + e);
    z += e;
  }
  for (const [v, e] of p) p.set(v, e / z);
  return p;
}

/** ln P(truth) and whether the truth is the most probable token, under the mixture with kNN at λ. */
function judge(s: Sample, T: number, lam: number): { logP: number; top: boolean } {
  if (lam === 0) return { logP: Math.log(s.pMix), top: s.mixTop === s.truth };
  const knn = knnDistribution(s.nn, T);
  let best = s.mixTop, bestP = (1 - lam) * s.mixP(s.mixTop) + lam * (knn.get(s.mixTop) ?? 0);
  for (const [v, p] of knn) {
    const q = (1 - lam) * s.mixP(v) + lam * p;
    if (q > bestP) [best, bestP] = [v, q];
  }
  return { logP: Math.log((1 - lam) * s.pMix + lam * (knn.get(s.truth) ?? 0)), top: best === s.truth };
}

/** Cuts whose rest of line (through the token with the newline) is all most-probable tokens. */
function lineCounts(samples: readonly Sample[], top: readonly boolean[]): { starts: number; startsRight: number; cuts: number; cutsRight: number } {
  const c = { starts: 0, startsRight: 0, cuts: 0, cutsRight: 0 };
  for (let a = 0; a < samples.length; a++) {
    if (samples[a].endsLine) continue; // nothing to write before the newline
    let right = true, b = a;
    for (; b < samples.length && samples[b].file === samples[a].file; b++) {
      right &&= top[b];
      if (samples[b].endsLine) break;
    }
    if (b === samples.length || samples[b].file !== samples[a].file) continue; // the file ended mid-line
    c.cuts++;
    if (right) c.cutsRight++;
    if (samples[a].startsLine) {
      c.starts++;
      if (right) c.startsRight++;
    }
  }
  return c;
}

/** The shipped cache mixture at one position: P of any token, and its most probable token. */
function mixtureAt(row: Float32Array, history: readonly number[], sources: CacheSource[], blank: Uint8Array, weights: CacheWeights): { mixP: (t: number) => number; mixTop: number } {
  const norm = logSumExp(row);
  const prediction = predictNext(history.slice(Math.max(0, history.length - MAX_MATCH)), sources, blank);
  const w = prediction === null ? 0 : mixtureWeight(prediction, weights);
  const probs = prediction === null ? new Map<number, number>() : new Map(Array.from(prediction.tokens, (t, i) => [t, prediction.probs[i]]));
  const mixP = (t: number) => (1 - w) * Math.exp(row[t] - norm) + w * (probs.get(t) ?? 0);
  let mixTop = argmax(row);
  for (const t of probs.keys()) if (mixP(t) > mixP(mixTop)) mixTop = t;
  return { mixP, mixTop };
}

type Search = Awaited<ReturnType<typeof nearestSearch>>;

/**
 * --held-out: at the benchmark's held-out cuts (the rows bench/workspaceCandidates.ts collected),
 * whether greedy decoding from the text before the cut writes the rest of the line, teacher-forced
 * on the tokens of the prompt's last token and the line (as token healing rewrites it; a lower
 * bound, since the pipeline also accepts other spellings), with and without kNN, against whether
 * any candidate the pipeline offered there was right.
 */
async function heldOutLines(set: string, engine: CompletionEngine, workspace: WorkspaceCache, search: Search, weights: CacheWeights, blank: Uint8Array): Promise<void> {
  const { nEmbd: E, vocabSize: V, nPositions: N } = engine.model.config;
  const rows = (await loadRows(set)).filter((r) => r.side === 'heldOut');
  const folder = path.join(repo, '.test-cache', 'quality-sets', set);
  const configs = [{ T: 0, lam: 0 }, ...CONFIGS];
  const right = configs.map(() => 0), newRight = configs.map(() => 0);
  let oracle = 0;
  for (const r of rows) {
    const { document, offset, expected, file } = r.cut;
    const ok = (s: string) => s.trim() !== '' && judgedText(s) === expected;
    const offered = choiceInputs(r).candidates.some((c) => ok(c.text));
    if (offered) oracle++;
    // As token healing does: the prompt's last token is written again, with the line, so a cut
    // inside a word is read as the whole word's usual tokens.
    const before = engine.tokenizer.encode(document.slice(0, offset));
    const healed = before.pop()!;
    const healedBytes = engine.tokenizer.decodeBytes([healed]);
    const written = healedBytes.length + Buffer.byteLength(expected);
    const line = engine.tokenizer.encode(Buffer.from(healedBytes).toString('utf8') + expected + '\n');
    // Through the token that holds the newline after the line (the healed token may hold one before it).
    let end = 0;
    for (let bytes = 0; end < line.length && (bytes += engine.tokenizer.decodeBytes([line[end]]).length) <= written; end++);
    const target = line.slice(0, end + 1);
    const prompt = before.slice(Math.max(0, before.length - (N - target.length)));
    const tokens = [...prompt, ...target];
    const positions = target.map((_, j) => prompt.length - 1 + j);
    const out = await engine.model.forward([tokens], null, positions);
    const nn = await search(positions.map((_, j) => out.hidden!.subarray(j * E, (j + 1) * E)));
    const after = engine.tokenizer.encode(document.slice(offset));
    const { sources, release } = workspace.sourcesFor(path.join(folder, file), { before, after });
    const tops = configs.map(() => true);
    for (let j = 0; j < target.length; j++) {
      const { mixP, mixTop } = mixtureAt(out.logits.subarray(j * V, (j + 1) * V), [...before, ...target.slice(0, j)], sources, blank, weights);
      const sample: Sample = { file, at: j, truth: target[j], endsLine: j === target.length - 1, startsLine: false, pMix: mixP(target[j]), mixP, mixTop, nn: nn[j] };
      configs.forEach(({ T, lam }, c) => (tops[c] &&= judge(sample, T, lam).top));
    }
    release();
    tops.forEach((top, c) => {
      if (!top) return;
      right[c]++;
      if (!offered) newRight[c]++;
    });
  }
  process.stdout.write(
    `${set}: ${rows.length} held-out cuts; some offered candidate right at ${oracle}\n\n` +
      '| distribution | greedy writes the line (teacher-forced) | where no offered candidate is right |\n| --- | --- | --- |\n' +
      configs.map(({ T, lam }, c) => `| ${lam === 0 ? 'cache mixture (shipped)' : `+ kNN, T ${T}, λ ${lam}`} | ${right[c]} | ${newRight[c]} |`).join('\n') + '\n',
  );
}

async function main(): Promise<void> {
  const set = process.argv[2] ?? 'zod';
  const nProbe = Number(arg('files', '3'));
  const { engine, checkpointDir } = await loadFromFlags('knn-lm', { model: 'embedded', precision: 'auto' });
  const weights = readCacheWeights(checkpointDir) ?? DEFAULT_CACHE_WEIGHTS;
  const { nEmbd: E, vocabSize: V, nPositions: N } = engine.model.config;
  const blank = blankTokens((ids) => engine.tokenizer.decodeBytes(ids), V);
  const hasNewline = (t: number) => engine.tokenizer.decodeBytes([t]).includes(10);
  const split = await splitWorkspace(path.join(repo, '.test-cache', 'quality-sets', set));
  const probes = probeFiles(split.train, nProbe);
  const others = split.train.filter((f) => !probes.includes(f));
  const started = Date.now();
  const store = await buildDatastore(engine, others.map((f) => f.text), path.join(repo, '.test-cache', 'knn', `${set}-${nProbe}.bin`));
  const search = await nearestSearch(store, E);
  process.stderr.write(`${set}: datastore of ${store.size} tokens (${((Date.now() - started) / 1000).toFixed(0)} s)\n`);

  const workspace = new WorkspaceCache(engine.tokenizer);
  for (const f of split.train) workspace.setFile(path.join(split.folder, f.path), f.text);
  if (process.argv.includes('--held-out')) {
    await heldOutLines(set, engine, workspace, search, weights, blank);
    await engine.model.dispose();
    return;
  }
  const samples: Sample[] = [];
  for (const probe of probes) {
    const tokens = engine.tokenizer.encode(probe.text);
    const file = path.join(split.folder, probe.path);
    for (let start = 0; start < tokens.length - 1; start += N) {
      const window = tokens.slice(start, start + N);
      const scored = Math.min(window.length, tokens.length - 1 - start);
      const out = await engine.model.forward([window], null, Array.from({ length: scored }, (_, p) => p));
      const nn: Neighbour[][] = [];
      for (let b = 0; b < scored; b += BATCH) {
        nn.push(...(await search(Array.from({ length: Math.min(BATCH, scored - b) }, (_, j) => out.hidden!.subarray((b + j) * E, (b + j + 1) * E)))));
      }
      const { sources, release } = workspace.sourcesFor(file, { before: tokens.slice(0, start), after: [] });
      for (let p = 0; p < scored; p++) {
        const at = start + p + 1;
        if (at < 2) continue;
        const { mixP, mixTop } = mixtureAt(out.logits.subarray(p * V, (p + 1) * V), tokens.slice(0, at), sources, blank, weights);
        samples.push({ file, at, truth: tokens[at], endsLine: hasNewline(tokens[at]), startsLine: hasNewline(tokens[at - 1]), pMix: mixP(tokens[at]), mixP, mixTop, nn: nn[p] });
      }
      release();
    }
  }
  process.stderr.write(`${samples.length} probe tokens in ${probes.length} files (${((Date.now() - started) / 1000).toFixed(0)} s)\n`);

  const rows = [{ T: 0, lam: 0 }, ...CONFIGS].map(({ T, lam }) => {
    const judged = samples.map((s) => judge(s, T, lam));
    const nats = -judged.reduce((a, j) => a + j.logP, 0) / samples.length;
    const top = judged.map((j) => j.top);
    const lines = lineCounts(samples, top);
    const what = lam === 0 ? 'cache mixture (shipped)' : `+ kNN, T ${T}, λ ${lam}`;
    return `| ${what} | ${nats.toFixed(3)} | ${((100 * top.filter(Boolean).length) / samples.length).toFixed(2)}% | ${lines.startsRight} / ${lines.starts} | ${lines.cutsRight} / ${lines.cuts} |`;
  });
  process.stdout.write(
    `${set}: ${samples.length} tokens of ${probes.map((p) => p.path).join(', ')}; datastore ${store.size} tokens, K ${K}\n\n` +
      '| distribution | nats | top-1 | lines right from a line start | from every token boundary |\n| --- | --- | --- | --- | --- |\n' +
      rows.join('\n') + '\n',
  );
  await engine.model.dispose();
}

main().catch((e) => {
  process.stderr.write(`${(e as Error).stack}\n`);
  process.exit(1);
});
