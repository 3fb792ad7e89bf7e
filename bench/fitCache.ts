/**
 * `npm run bench:fit-cache`: fits the cache model's mixture weights (engine/cacheModel/mixture.ts) on
 * held-out code, and prints the fit and the loss of the model alone vs the mixture: β per order
 * (w = C / (C + β_L) for a context of L tokens seen C times) and the gate (w = maxWeight · σ(θ·x) over
 * the order, ln(1 + C) and ln P_cache of the cache's top token; training/cacheGateFit.ts). Both
 * are also fitted with every fourth set left out and scored on those, and `--also SETS` scores the
 * fits on the training side of other sets (the benchmark's), so the tables say what the weights do
 * on repositories they did not see.
 *
 * Data: the TRAINING side of each set named (`--sets`: the benchmark's four by default; `--ship` in
 * scripts/embedded/train.ts names the fitting sets, repositories the benchmark never judges). In
 * each set, up to --files probe files are scored token by token with the model; the cache sees
 * every other training file of the set plus the probe file's own text before the token (rebuilt
 * every 32 tokens, so it is causal). For each token we keep ln P_model(true), P_cache(true), L and
 * C and the gate's inputs; β_L is then the grid value maximising Σ ln((1 − w)·P_model + w·P_cache)
 * over tokens with that L. "Top-1" is the share of tokens where the mixture's most probable token is
 * the true one (what greedy decoding writes).
 *
 *   npx tsx bench/fitCache.ts [--model embedded] [--files 12] [--sets rich,werkzeug,rxjs,zod] [--also SETS] [--save [--gate]]
 *
 * --save writes the fitted weights beside the model (cache-weights.json in its folder: models/embedded
 * for the embedded model), where the editor and the CLI read them (engine/cacheModel/cacheWeightsFile.ts):
 * β, and with --gate the gate too, which the mixture then uses. The embedded model ships β: with the
 * gate, its head and rule refitted, the quality judge got the same right lines (bench/QUALITY.md,
 * "Cache model fit").
 */
import * as os from 'node:os';
import * as path from 'node:path';
import { blankTokens, predictNext, MAX_MATCH, MAX_ORDER } from '../src/engine/cacheModel/cacheModel';
import { cacheWeight, gateWeight, DEFAULT_CACHE_WEIGHTS, type CacheGate } from '../src/engine/cacheModel/mixture';
import { fitGate, type GateSample } from '../src/training/cacheGateFit';
import { argmax, logSumExp } from '../src/engine/sampling';
import { CACHE_WEIGHTS_FILE, writeCacheWeights } from '../src/engine/cacheModel/cacheWeightsFile';
import { WorkspaceCache, DOCUMENT_WEIGHT } from '../src/completion/context/workspaceCache';
import { loadFromFlags } from '../src/cli/modelFlags';
import { splitWorkspace } from '../src/quality/workspaceSplit';
import { hashToUnit } from '../src/training/data/seededHash';
import type { CompletionEngine } from '../src/engine/engine';

const repo = path.resolve(__dirname, '..');

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

interface Sample extends GateSample {
  set: string;
  /** The true token is the model's most probable, and that token's P. */
  modelTopRight: boolean;
  pModelTop: number;
  /** The cache's first few tokens (most probable first) with both sides' P. */
  cacheTokens: { right: boolean; pCache: number; pModel: number; isModelTop: boolean }[];
}

/** Whether the mixture with weight w puts the true token first (among the model's top and the cache's tokens). */
function topRight(s: Sample, w: number): boolean {
  let best = s.modelTopRight ? 1 : 0, bestP = -1;
  const modelTopInCache = s.cacheTokens.some((c) => c.isModelTop);
  if (!modelTopInCache) bestP = (1 - w) * s.pModelTop;
  for (const c of s.cacheTokens) {
    const p = (1 - w) * c.pModel + w * c.pCache;
    if (p > bestP) {
      bestP = p;
      best = c.right ? 1 : 0;
    }
  }
  return best === 1;
}

const betaWeight = (beta: readonly number[], s: Sample) => cacheWeight(s.order, s.count, { beta, maxWeight: MAX_WEIGHT });
const gateWeightOf = (gate: CacheGate, s: Sample) => gateWeight(gate, MAX_WEIGHT, s);

function summary(samples: readonly Sample[], weightOf: (s: Sample) => number): { loss: number; top1: number } {
  let loss = 0, top1 = 0;
  for (const s of samples) {
    const w = weightOf(s);
    loss -= Math.log((1 - w) * s.pModel + w * s.pCache);
    if (topRight(s, w)) top1++;
  }
  const n = Math.max(1, samples.length);
  return { loss: loss / n, top1: top1 / n };
}

const REBUILD = 32;
const GRID = [0.05, 0.1, 0.2, 0.35, 0.5, 0.75, 1, 1.5, 2, 3, 5, 8, 12, 20, 35, 60, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000, 100000];
const MAX_WEIGHT = DEFAULT_CACHE_WEIGHTS.maxWeight;

function mixtureLoss(samples: readonly Sample[], beta: number): number {
  let sum = 0;
  for (const s of samples) {
    // The mixture's own weight rule, with one β for the group being fitted.
    const w = cacheWeight(0, s.count, { beta: [beta], maxWeight: MAX_WEIGHT });
    sum += Math.log((1 - w) * s.pModel + w * s.pCache);
  }
  return -sum / Math.max(1, samples.length);
}

/** β per order: the grid value with the least mixture loss over that order's tokens. */
function fitBeta(samples: readonly Sample[]): number[] {
  const beta: number[] = [];
  for (let order = 0; order <= MAX_ORDER; order++) {
    const group = samples.filter((s) => s.order === order);
    // An order no probe token had (order 0 since a line start is matched through the line above)
    // gets the largest β: no evidence, no trust, rather than the grid's first value.
    let best = GRID[group.length === 0 ? GRID.length - 1 : 0];
    for (const b of GRID) if (group.length > 0 && mixtureLoss(group, b) < mixtureLoss(group, best)) best = b;
    beta.push(best);
  }
  return beta;
}

/** The training files scored token by token: mid-sized ones, in a fixed hashed order. bench/knnLm.ts probes the same. */
export function probeFiles<F extends { path: string; tokens: number }>(train: readonly F[], count: number): F[] {
  return train
    .filter((f) => f.tokens >= 200 && f.tokens <= 6000)
    .sort((a, b) => hashToUnit(0, 'fit-cache', a.path) - hashToUnit(0, 'fit-cache', b.path))
    .slice(0, count);
}

/** Scored probe tokens of one set's training side, each with the cache's prediction from the rest of it. */
async function collectSamples(name: string, engine: CompletionEngine, blank: Uint8Array, filesPerSet: number): Promise<Sample[]> {
  const samples: Sample[] = [];
  const folder = path.join(repo, '.test-cache', 'quality-sets', name);
  const split = await splitWorkspace(folder);
  const workspace = new WorkspaceCache(engine.tokenizer);
  for (const f of split.train) workspace.setFile(path.join(split.folder, f.path), f.text);
  const probes = probeFiles(split.train, filesPerSet);
  let setTokens = 0;
  for (const probe of probes) {
    const tokens = engine.tokenizer.encode(probe.text);
    const file = path.join(split.folder, probe.path);
    let sources = workspace.sourcesFor(file, { before: [], after: [] });
    await engine.nextTokenRows(tokens, (i, row) => {
      if (i < 2) return;
      if (i % REBUILD === 0) {
        sources.release();
        sources = workspace.sourcesFor(file, { before: tokens.slice(0, i), after: [] });
      }
      const history = tokens.slice(Math.max(0, i - MAX_MATCH), i);
      const prediction = predictNext(history, sources.sources, blank);
      if (prediction === null) return;
      const norm = logSumExp(row);
      const truth = tokens[i];
      const at = prediction.tokens.indexOf(truth);
      const modelTopToken = argmax(row);
      const ranked = Array.from(prediction.probs.keys()).sort((a, b) => prediction.probs[b] - prediction.probs[a]).slice(0, 8);
      samples.push({
        order: prediction.order,
        count: prediction.count,
        cacheTop: prediction.probs[ranked[0]],
        set: name,
        pModel: Math.exp(row[truth] - norm),
        pCache: at >= 0 ? prediction.probs[at] : 0,
        modelTopRight: modelTopToken === truth,
        pModelTop: Math.exp(row[modelTopToken] - norm),
        cacheTokens: ranked.map((j) => ({ right: prediction.tokens[j] === truth, pCache: prediction.probs[j], pModel: Math.exp(row[prediction.tokens[j]] - norm), isModelTop: prediction.tokens[j] === modelTopToken })),
      });
      setTokens++;
    });
    sources.release();
  }
  process.stderr.write(`${name}: ${probes.length} probe files, ${setTokens} tokens with a cache prediction\n`);
  return samples;
}

async function main(): Promise<void> {
  const sets = arg('sets', 'rich,werkzeug,rxjs,zod').split(',');
  const filesPerSet = Number(arg('files', '12'));
  const { engine, checkpointDir } = await loadFromFlags('fit-cache', { model: arg('model', 'embedded'), precision: 'auto' });
  const samples: Sample[] = [];
  const blank = blankTokens((ids) => engine.tokenizer.decodeBytes(ids), engine.model.config.vocabSize);
  for (const name of sets) samples.push(...(await collectSamples(name, engine, blank, filesPerSet)));
  const also: Sample[] = [];
  for (const name of arg('also', '').split(',').filter(Boolean)) also.push(...(await collectSamples(name, engine, blank, filesPerSet)));

  const beta = fitBeta(samples);
  const rows: string[] = [];
  let before = 0, after = 0;
  for (let order = 0; order <= MAX_ORDER; order++) {
    const group = samples.filter((s) => s.order === order);
    const best = beta[order];
    const alone = -group.reduce((a, s) => a + Math.log(s.pModel), 0) / Math.max(1, group.length);
    const mixed = mixtureLoss(group, best);
    before += alone * group.length;
    after += mixed * group.length;
    const hit = group.filter((s) => s.pCache > 0).length / Math.max(1, group.length);
    rows.push(`| ${order}${order === MAX_ORDER ? '+' : ''} | ${group.length} | ${(100 * hit).toFixed(0)}% | ${best} | ${alone.toFixed(3)} | ${mixed.toFixed(3)} |`);
  }
  const n = samples.length;
  // The gate (and β), fitted with every fourth set left out and scored there, then the gate on every set (what --save --gate writes).
  const left = new Set(sets.filter((_, i) => i % 4 === 3));
  const seen = samples.filter((s) => !left.has(s.set)), unseen = samples.filter((s) => left.has(s.set));
  const heldGate = fitGate(seen, { maxWeight: MAX_WEIGHT });
  const heldBeta = fitBeta(seen);
  const gate = fitGate(samples, { maxWeight: MAX_WEIGHT });
  const line = (what: string, rows: readonly Sample[], weightOf: (s: Sample) => number) => {
    const { loss, top1 } = summary(rows, weightOf);
    return `| ${what} | ${rows.length} | ${loss.toFixed(3)} | ${(100 * top1).toFixed(2)}% |`;
  };
  const modelOnly = (rows: readonly Sample[]) => line('model alone', rows, () => 0);
  process.stdout.write(
    `${new Date().toISOString().slice(0, 16)}Z · ${os.cpus()[0]?.model}, model ${arg('model', 'embedded')} (int8), sets ${sets.join(', ')}, ${filesPerSet} probe files each, document weight ${DOCUMENT_WEIGHT}, max weight ${MAX_WEIGHT}\n\n` +
      '| order (non-blank context tokens) | tokens | cache has the true token | fitted β_L | model alone (nats) | mixture (nats) |\n| --- | --- | --- | --- | --- | --- |\n' +
      rows.join('\n') +
      `\n| all | ${n} | | | ${(before / n).toFixed(3)} | ${(after / n).toFixed(3)} |\n\nbeta: [${beta.join(', ')}]\n\n` +
      `Sets left out of the fit: ${[...left].join(', ') || 'none'}\n\n| weights (fitted on the other sets) | tokens | nats | top-1 |\n| --- | --- | --- | --- |\n` +
      [modelOnly(unseen), line('β', unseen, (s) => betaWeight(heldBeta, s)), line('gate', unseen, (s) => gateWeightOf(heldGate, s))].join('\n') +
      `\n\n| weights (fitted on every set) | tokens | nats | top-1 |\n| --- | --- | --- | --- |\n` +
      [modelOnly(samples), line('β', samples, (s) => betaWeight(beta, s)), line('gate', samples, (s) => gateWeightOf(gate, s))].join('\n') +
      `\n\ngate: ${JSON.stringify(gate)}\n` +
      (also.length === 0
        ? ''
        : `\n| other sets (weights fitted on every set) | tokens | nats, model alone | nats, β | nats, gate | top-1, β | top-1, gate |\n| --- | --- | --- | --- | --- | --- | --- |\n` +
          [...new Set(also.map((s) => s.set))]
            .map((name) => {
              const rows = also.filter((s) => s.set === name);
              const [alone, b, g] = [() => 0, (s: Sample) => betaWeight(beta, s), (s: Sample) => gateWeightOf(gate, s)].map((f) => summary(rows, f));
              return `| ${name} | ${rows.length} | ${alone.loss.toFixed(3)} | ${b.loss.toFixed(3)} | ${g.loss.toFixed(3)} | ${(100 * b.top1).toFixed(2)}% | ${(100 * g.top1).toFixed(2)}% |`;
            })
            .join('\n') +
          '\n'),
  );
  if (process.argv.includes('--save')) {
    const fittedOn = `training side of the sets ${sets.join(', ')}, ${filesPerSet} probe files each (bench/fitCache.ts, ${new Date().toISOString().slice(0, 10)})`;
    const withGate = process.argv.includes('--gate');
    const mixture = withGate ? summary(samples, (s) => gateWeightOf(gate, s)).loss : after / n;
    writeCacheWeights(checkpointDir, { beta, maxWeight: MAX_WEIGHT, ...(withGate ? { gate } : {}) }, fittedOn, { modelAlone: +(before / n).toFixed(4), mixture: +mixture.toFixed(4), tokens: n });
    process.stderr.write(`wrote ${path.join(checkpointDir, CACHE_WEIGHTS_FILE)}\n`);
  }
  await engine.model.dispose();
}

if (require.main === module) {
  main().catch((e) => {
    process.stderr.write(`${(e as Error).stack}\n`);
    process.exit(1);
  });
}
