/**
 * The acceptance head on the quality benchmark's sets (bench/QUALITY.md, "Acceptance head").
 *
 *   npx tsx bench/acceptanceHead.ts collect [--train-cuts N] [--cuts N] [sets...]
 *       runs the editor's pipeline (embedded model, cache model on, no gating) at cuts of each set's
 *       TRAINING files and at the quality benchmark's held-out cuts (same split, seed 0), keeping the
 *       model's states; written to .test-cache/head-examples/<set>.json
 *   npx tsx bench/acceptanceHead.ts report [--fit] [--save-default]
 *       trains heads on the training-side examples (per set, and one on all four sets' training
 *       sides), scores the benchmark sets' held-out examples: AUC, precision and shown rate with and
 *       without gating, a threshold sweep, exact vs prefix labelling, and the decode time the prompt
 *       head's skip saves. The default head is the four sets' one, or with --fit (collect --fit
 *       first) one trained on the fitting sets only, repositories the benchmark never judges.
 *       --save-default writes the default head to models/embedded/.
 */
import * as fs from 'fs';
import * as path from 'path';
import { collectHeadExamples, isExact, scoreOutcomes, trainAcceptanceHead, type HeadExample, type Labelling } from '../src/cli/headTraining';
import { embeddedModelDir } from '../src/cli/paths';
import { DEFAULT_MIN_CONFIDENCE } from '../src/completion/minConfidence';
import { auc, gate } from '../src/training/head/headMetrics';
import { FIT_SET_NAMES, forEachQualitySet, QUALITY_SET_NAMES, TEST_CACHE } from './qualitySetRunner';

const OUT = path.join(TEST_CACHE, 'head-examples');

interface Stored { set: string; train: StoredExample[]; heldOut: StoredExample[] }
type StoredExample = Omit<HeadExample, 'state' | 'promptState'> & { state?: number[]; promptState?: number[] };

const arg = (name: string, fallback: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? fallback : Number(process.argv[i + 1]);
};

async function collect(): Promise<void> {
  fs.mkdirSync(OUT, { recursive: true });
  await forEachQualitySet(process.argv.slice(3), async ({ set, split, runner }) => {
    const progress = (what: string) => (done: number, total: number) => {
      if (done % 50 === 0 || done === total) process.stderr.write(`${set} ${what}: ${done}/${total}\n`);
    };
    const t0 = performance.now();
    const train = await collectHeadExamples(runner, split.folder, split.train, arg('train-cuts', 400), 1, progress('train'));
    const heldOut = await collectHeadExamples(runner, split.folder, split.heldOut, arg('cuts', 300), 0, progress('held-out'));
    const store = (list: HeadExample[]): StoredExample[] => list.map((e) => ({ ...e, state: e.state && Array.from(e.state), promptState: e.promptState && Array.from(e.promptState) }));
    fs.writeFileSync(path.join(OUT, `${set}.json`), JSON.stringify({ set, train: store(train), heldOut: store(heldOut) }));
    process.stderr.write(`${set}: ${train.length} training and ${heldOut.length} held-out examples in ${((performance.now() - t0) / 1000).toFixed(0)} s\n`);
  });
}

function load(set: string): { train: HeadExample[]; heldOut: HeadExample[] } {
  const stored = JSON.parse(fs.readFileSync(path.join(OUT, `${set}.json`), 'utf8')) as Stored;
  const back = (list: StoredExample[]): HeadExample[] => list.map((e) => ({ ...e, state: e.state && Float32Array.from(e.state), promptState: e.promptState && Float32Array.from(e.promptState) }));
  return { train: back(stored.train), heldOut: back(stored.heldOut) };
}

const pct = (x: number | null) => (x === null ? '–' : `${(100 * x).toFixed(1)}%`);

function report(): void {
  const collected = (names: readonly string[]) => names.filter((s) => fs.existsSync(path.join(OUT, `${s}.json`)));
  const data = Object.fromEntries(collected(QUALITY_SET_NAMES).map((s) => [s, load(s)]));
  const sets = Object.keys(data);
  const benchTrain = sets.flatMap((s) => data[s].train);
  const fitting = process.argv.includes('--fit');
  const fitSets = fitting ? collected(FIT_SET_NAMES) : [];
  if (fitting && fitSets.length === 0) throw new Error('no fitting set collected: run `collect --fit` first');
  const allTrain = fitSets.length > 0 ? fitSets.flatMap((s) => load(s).train) : benchTrain;
  // The model's width, from any collected state (with --fit the benchmark sets may hold held-out cuts only).
  const E = [...allTrain, ...sets.flatMap((s) => data[s].heldOut)].find((e) => e.promptState)!.promptState!.length;
  const trainedOn = fitSets.length > 0 ? `training side of the fitting sets ${fitSets.join(', ')}` : `training side of the quality sets ${sets.join(', ')}`;
  // The shipped head.json's workspace-candidate rule (bench/workspaceCandidates.ts) is kept when the head is saved again.
  const shipped = JSON.parse(fs.readFileSync(path.join(embeddedModelDir(), 'head.json'), 'utf8')) as { candidates?: unknown };
  const shared = trainAcceptanceHead(allTrain, E, { trainedOn, lambda: 0, candidates: shipped.candidates });
  // Beside a head fitted elsewhere, the one the four sets' own training sides give, to see what seeing the repository was worth.
  const benchHead = fitSets.length > 0 && benchTrain.length > 0 ? trainAcceptanceHead(benchTrain, E, { trainedOn: 'training side of the quality sets', lambda: 0 }) : undefined;
  const lines: string[] = [];
  lines.push(`default head (${trainedOn}): ${shared.head.meta.examples} examples, ${shared.head.meta.positives} exact; decay ${shared.head.meta.decay}; validation threshold ${shared.validation.threshold.toFixed(3)}, skip below ${shared.head.meta.skipBelow.toFixed(3)}`);
  lines.push('');
  lines.push(`gpt2Complete.minConfidence default now: ${DEFAULT_MIN_CONFIDENCE}; each head is gated below at its own validation threshold (chosen on training-side files)`);
  lines.push('');
  lines.push('| set | head | held-out requests | AUC | ungated: shown / precision | threshold | gated: shown / precision / exact kept | skip: requests skipped / exact lost / decode time saved |');
  lines.push('| --- | --- | ---: | --- | --- | --- | --- | --- |');
  const sweeps: string[] = [];
  for (const set of sets) {
    const own = data[set].train.length > 0 ? trainAcceptanceHead(data[set].train, E, { trainedOn: `training side of ${set}`, lambda: 0 }) : undefined;
    const heads = [['default', shared], ['the 4 sets\' training sides', benchHead], ['own workspace', own]] as const;
    for (const [name, trained] of heads) {
      if (trained === undefined) continue;
      const held = data[set].heldOut;
      const outcomes = scoreOutcomes(held, trained.head);
      const shownScored = outcomes.filter((o) => o.shown && o.confidence !== undefined);
      const a = auc(shownScored.map((o) => o.confidence!), shownScored.map((o) => o.exact));
      const threshold = trained.validation.threshold;
      const u = gate(outcomes, 0), g = gate(outcomes, threshold);
      const skip = trained.head.skipBelow;
      const skipped = held.filter((e) => e.promptState !== undefined && skip > 0 && trained.head.prompt(e.promptState)! < skip);
      const decodeAll = held.reduce((s, e) => s + (e.decodeMs ?? 0), 0);
      const decodeSaved = skipped.reduce((s, e) => s + (e.decodeMs ?? 0), 0);
      lines.push(`| ${set} | ${name} | ${held.length} | ${a === null ? '–' : a.toFixed(3)} | ${pct(u.shownRate)} / ${pct(u.precision)} (${u.exact}/${u.shown}) | ${threshold.toFixed(3)} | ${pct(g.shownRate)} / ${pct(g.precision)} (${g.exact}/${g.shown}) / ${pct(g.recall)} | ${skipped.length} / ${skipped.filter(isExact).length} of ${held.filter(isExact).length} / ${pct(decodeAll === 0 ? null : decodeSaved / decodeAll)} |`);
      if (name === 'default') {
        const row = [0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7].map((t) => { const r = gate(outcomes, t); return `${t}: ${pct(r.shownRate)} / ${pct(r.precision)}`; });
        sweeps.push(`| ${set} | ${row.join(' | ')} |`);
      }
    }
  }
  lines.push('');
  lines.push('threshold sweep, default head (shown rate / precision):');
  lines.push('| set | 0 (ungated) | 0.1 | 0.2 | 0.3 | 0.4 | 0.5 | 0.6 | 0.7 |');
  lines.push('| --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  lines.push(...sweeps);
  // Labelling: which training label predicts held-out exact match better (AUC on held-out, exact as truth).
  lines.push('');
  lines.push('labelling (default head trained with each; held-out AUC against exact match):');
  for (const labelling of ['exact', { prefix: 4 }, { prefix: 8 }, { prefix: 16 }] as Labelling[]) {
    const t = trainAcceptanceHead(allTrain, E, { trainedOn: 'labelling comparison', labelling });
    const aucs = sets.map((set) => {
      const o = scoreOutcomes(data[set].heldOut, t.head).filter((x) => x.shown && x.confidence !== undefined);
      const v = auc(o.map((x) => x.confidence!), o.map((x) => x.exact));
      return `${set} ${v === null ? '–' : v.toFixed(3)}`;
    });
    lines.push(`- ${t.head.meta.labelling}: ${aucs.join(', ')}`);
  }
  // What the head's input contributes: h alone, the four scalars alone, both (held-out AUC).
  lines.push('');
  lines.push('input (default head trained on each; held-out AUC against exact match):');
  for (const [name, cut] of [['h only', (x: Float32Array) => x.slice(0, E)], ['scalars only', (x: Float32Array) => x.slice(E)], ['h + scalars', (x: Float32Array) => x]] as const) {
    const width = name === 'scalars only' ? 0 : E;
    const strip = (list: HeadExample[]) => list.map((e) => ({ ...e, state: e.state && cut(e.state) }));
    const t = trainAcceptanceHead(strip(allTrain), width, { trainedOn: 'input comparison' });
    const aucs = sets.map((set) => {
      const o = scoreOutcomes(strip(data[set].heldOut), t.head).filter((x) => x.shown && x.confidence !== undefined);
      const v = auc(o.map((x) => x.confidence!), o.map((x) => x.exact));
      return `${set} ${v === null ? '–' : v.toFixed(3)}`;
    });
    lines.push(`- ${name}: ${aucs.join(', ')}`);
  }
  process.stdout.write(lines.join('\n') + '\n');
  if (process.argv.includes('--save-default')) {
    shared.head.save(embeddedModelDir());
    process.stderr.write(`wrote the default head to ${embeddedModelDir()}\n`);
  }
}

const command = process.argv[2];
if (command === 'collect') void collect().catch((e) => { console.error(e); process.exit(1); });
else if (command === 'report') report();
else {
  console.error('usage: npx tsx bench/acceptanceHead.ts collect|report [...]');
  process.exit(2);
}
