/**
 * `npm run bench:fit-cache`: fits the cache model's mixture weights (engine/cacheModel/mixture.ts,
 * w = C / (C + β_L) for a context of L tokens seen C times) on held-out code, and prints the fit and
 * the loss of the model alone vs the mixture.
 *
 * Data: the TRAINING side of each set named (`--sets`: the benchmark's four by default; `--ship` in
 * scripts/embedded/train.ts names the fitting sets, repositories the benchmark never judges). In
 * each set, up to --files probe files are scored token by token with the model; the cache sees
 * every other training file of the set plus the probe file's own text before the token (rebuilt
 * every 32 tokens, so it is causal). For each token we keep ln P_model(true), P_cache(true), L and
 * C; β_L is then the grid value maximising Σ ln((1 − w)·P_model + w·P_cache) over tokens with that L.
 *
 *   npx tsx bench/fitCache.ts [--model embedded] [--files 12] [--sets rich,werkzeug,rxjs,zod] [--save]
 *
 * --save writes the fitted weights beside the model (cache-weights.json in its folder: models/embedded
 * for the embedded model), where the editor and the CLI read them (engine/cacheModel/cacheWeightsFile.ts).
 */
import * as os from 'node:os';
import * as path from 'node:path';
import { blankTokens, predictNext, MAX_MATCH, MAX_ORDER } from '../src/engine/cacheModel/cacheModel';
import { cacheWeight, DEFAULT_CACHE_WEIGHTS } from '../src/engine/cacheModel/mixture';
import { CACHE_WEIGHTS_FILE, writeCacheWeights } from '../src/engine/cacheModel/cacheWeightsFile';
import { WorkspaceCache, DOCUMENT_WEIGHT } from '../src/completion/context/workspaceCache';
import { loadFromFlags } from '../src/cli/modelFlags';
import { splitWorkspace } from '../src/quality/workspaceSplit';
import { hashToUnit } from '../src/training/data/seededHash';

const repo = path.resolve(__dirname, '..');

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

interface Sample {
  lpModel: number;
  pCache: number;
  order: number;
  count: number;
}

const REBUILD = 32;
const GRID = [0.05, 0.1, 0.2, 0.35, 0.5, 0.75, 1, 1.5, 2, 3, 5, 8, 12, 20, 35, 60, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000, 100000];
const MAX_WEIGHT = DEFAULT_CACHE_WEIGHTS.maxWeight;

function mixtureLoss(samples: readonly Sample[], beta: number): number {
  let sum = 0;
  for (const s of samples) {
    // The mixture's own weight rule, with one β for the group being fitted.
    const w = cacheWeight(0, s.count, { beta: [beta], maxWeight: MAX_WEIGHT });
    sum += Math.log((1 - w) * Math.exp(s.lpModel) + w * s.pCache);
  }
  return -sum / Math.max(1, samples.length);
}

async function main(): Promise<void> {
  const sets = arg('sets', 'rich,werkzeug,rxjs,zod').split(',');
  const filesPerSet = Number(arg('files', '12'));
  const { engine, checkpointDir } = await loadFromFlags('fit-cache', { model: arg('model', 'embedded'), precision: 'auto' });
  const samples: Sample[] = [];
  const blank = blankTokens((ids) => engine.tokenizer.decodeBytes(ids), engine.model.config.vocabSize);
  for (const name of sets) {
    const folder = path.join(repo, '.test-cache', 'quality-sets', name);
    const split = await splitWorkspace(folder);
    const workspace = new WorkspaceCache(engine.tokenizer);
    for (const f of split.train) workspace.setFile(path.join(split.folder, f.path), f.text);
    const probes = split.train
      .filter((f) => f.tokens >= 200 && f.tokens <= 6000)
      .sort((a, b) => hashToUnit(0, 'fit-cache', a.path) - hashToUnit(0, 'fit-cache', b.path))
      .slice(0, filesPerSet);
    let setTokens = 0;
    for (const probe of probes) {
      const scored = await engine.score(probe.text);
      const file = path.join(split.folder, probe.path);
      let sources = workspace.sourcesFor(file, { before: [], after: [] });
      for (let i = 2; i < scored.tokens.length; i++) {
        if (i % REBUILD === 0) {
          sources.release();
          sources = workspace.sourcesFor(file, { before: scored.tokens.slice(0, i), after: [] });
        }
        const history = scored.tokens.slice(Math.max(0, i - MAX_MATCH), i);
        const prediction = predictNext(history, sources.sources, blank);
        if (prediction === null) continue;
        const at = prediction.tokens.indexOf(scored.tokens[i]);
        samples.push({ lpModel: scored.logprobs[i - 1], pCache: at >= 0 ? prediction.probs[at] : 0, order: prediction.order, count: prediction.count });
        setTokens++;
      }
      sources.release();
    }
    process.stderr.write(`${name}: ${probes.length} probe files, ${setTokens} tokens with a cache prediction\n`);
  }

  const beta: number[] = [];
  const rows: string[] = [];
  let before = 0, after = 0;
  for (let order = 0; order <= MAX_ORDER; order++) {
    const group = samples.filter((s) => s.order === order);
    // An order no probe token had (order 0 since a line start is matched through the line above)
    // gets the largest β: no evidence, no trust, rather than the grid's first value.
    let best = GRID[group.length === 0 ? GRID.length - 1 : 0];
    for (const b of GRID) if (group.length > 0 && mixtureLoss(group, b) < mixtureLoss(group, best)) best = b;
    beta.push(best);
    const alone = -group.reduce((a, s) => a + s.lpModel, 0) / Math.max(1, group.length);
    const mixed = mixtureLoss(group, best);
    before += alone * group.length;
    after += mixed * group.length;
    const hit = group.filter((s) => s.pCache > 0).length / Math.max(1, group.length);
    rows.push(`| ${order}${order === MAX_ORDER ? '+' : ''} | ${group.length} | ${(100 * hit).toFixed(0)}% | ${best} | ${alone.toFixed(3)} | ${mixed.toFixed(3)} |`);
  }
  const n = samples.length;
  process.stdout.write(
    `${new Date().toISOString().slice(0, 16)}Z · ${os.cpus()[0]?.model}, model ${arg('model', 'embedded')} (int8), sets ${sets.join(', ')}, ${filesPerSet} probe files each, document weight ${DOCUMENT_WEIGHT}, max weight ${MAX_WEIGHT}\n\n` +
      '| order (non-blank context tokens) | tokens | cache has the true token | fitted β_L | model alone (nats) | mixture (nats) |\n| --- | --- | --- | --- | --- | --- |\n' +
      rows.join('\n') +
      `\n| all | ${n} | | | ${(before / n).toFixed(3)} | ${(after / n).toFixed(3)} |\n\nbeta: [${beta.join(', ')}]\n`,
  );
  if (process.argv.includes('--save')) {
    const fittedOn = `training side of the sets ${sets.join(', ')}, ${filesPerSet} probe files each (bench/fitCache.ts, ${new Date().toISOString().slice(0, 10)})`;
    writeCacheWeights(checkpointDir, { beta, maxWeight: MAX_WEIGHT }, fittedOn, { modelAlone: +(before / n).toFixed(4), mixture: +(after / n).toFixed(4), tokens: n });
    process.stderr.write(`wrote ${path.join(checkpointDir, CACHE_WEIGHTS_FILE)}\n`);
  }
  await engine.model.dispose();
}

main().catch((e) => {
  process.stderr.write(`${(e as Error).stack}\n`);
  process.exit(1);
});
