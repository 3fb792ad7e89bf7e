/**
 * models/embedded/MODEL_CARD.md from the run's report: what the model was trained on (with licences),
 * its shape and why, how it was trained, how it scores against the n-gram baseline on held-out
 * files, ten real completions, and how to rebuild it. Every number comes from the report.
 */
import * as fs from 'fs';
import type { GPT2Config } from '../../src/engine/config';
import type { EvalRecord } from '../../src/training/trainer';
import type { CorpusManifest } from './corpus';
import type { NgramStats } from './ngramBaseline';
import type { Hyper, Sitting } from './pretrain';
import type { ShapeMeasurement } from './shapes';

export interface CompletionExample {
  file: string;
  context: string;
  truth: string;
  model: string;
  ngram: string;
}

/** What the card says about one continued-training stage (a StageRecord, narrowed). */
export interface ContinuedStage {
  stage: number;
  tokens: number;
  retrievalShare: number;
  wallSec: number;
  sittings: number;
  heldOutLoss: number;
  machine: string;
}

export interface EmbeddedReport {
  corpus: CorpusManifest;
  shape: { name: string; config: GPT2Config; params: number; fileBytes: number; /** Why this shape (the default's). */ rationale?: string };
  measurements?: { cpuBudgetSec: number; hyper: Hyper; heldOutWindows: number; results: ShapeMeasurement[] };
  training: {
    hyper: Hyper;
    steps: number;
    tokens: number;
    bestStep: number;
    evals: EvalRecord[];
    /** Held-out windows of the trainer's periodic evaluation. */
    evalWindows: number;
    sittings: Sitting[];
    wallSec: number;
    cpuSec: number;
    threads: number;
    /** Execution provider and machine of the training run, when not the machine of the report. */
    device?: string;
    machine?: string;
    /** The stage this one started from (its weights), when it was not random initialisation. */
    continuedFrom?: EmbeddedReport['training'];
  };
  eval: {
    windows: number;
    targets: number;
    modelLoss: number;
    ngramLoss: number;
    matchedLoss: number;
    ngramStats: NgramStats;
    matchedStats: NgramStats;
    exactMatch: { cases: number; maxTokens: number; model: number; ngram: number; matched: number };
  };
  examples: CompletionExample[];
  /**
   * Continued-training stages (stages.ts) the shipped weights went through after the build that
   * `training` describes, in order; the last is the one shipped (`npm run train:embedded -- --ship`).
   */
  continued?: ContinuedStage[];
  latency: { threads: number; meanPromptTokens: number; prefillMs: number; decodeMsPerToken: number };
  machine: string;
}

const int = (n: number) => Math.round(n).toLocaleString('en-US');
const mb = (bytes: number) => `${(bytes / 1e6).toFixed(1)} MB`;
const pct = (k: number, n: number) => `${((100 * k) / n).toFixed(1)}% (${k}/${n})`;

/** A completion as a table cell: quoted (so leading spaces and line ends show), pipes escaped, shortened. */
function cell(s: string, max = 80): string {
  let q = JSON.stringify(s);
  if (q.length > max) q = `${q.slice(0, max - 2)}…"`;
  q = q.replace(/\|/g, '\\|');
  return q.includes('`') ? `\`\` ${q} \`\`` : `\`${q}\``;
}

function corpusTable(c: CorpusManifest): string[] {
  const rows = c.sources.filter((s) => s.files > 0).sort((a, b) => b.tokens - a.tokens || (a.name < b.name ? -1 : 1));
  const top = rows.slice(0, 30);
  const rest = rows.slice(30);
  const lines = [
    '| source | version | licence | files | tokens | held-out files |',
    '|---|---|---|---:|---:|---:|',
    ...top.map((s) => `| ${s.kind === 'npm' ? `npm \`${s.name}\`` : s.name} | ${s.version} | ${s.licence} | ${int(s.files)} | ${int(s.tokens)} | ${int(s.heldOutFiles)} |`),
  ];
  if (rest.length > 0) {
    const files = rest.reduce((n, s) => n + s.files, 0);
    const tokens = rest.reduce((n, s) => n + s.tokens, 0);
    const held = rest.reduce((n, s) => n + s.heldOutFiles, 0);
    lines.push(`| ${rest.length} more npm packages (each in the corpus manifest) | | various, see above | ${int(files)} | ${int(tokens)} | ${int(held)} |`);
  }
  const t = c.totals;
  lines.push(`| **total** | | | **${int(t.train.files + t.heldOut.files)}** | **${int(t.train.tokens + t.heldOut.tokens)}** | **${int(t.heldOut.files)}** |`);
  return lines;
}

function licenceSummary(c: CorpusManifest): string {
  const byLicence = new Map<string, { packages: number; tokens: number }>();
  for (const s of c.sources) {
    if (s.files === 0) continue;
    const e = byLicence.get(s.licence) ?? { packages: 0, tokens: 0 };
    e.packages++;
    e.tokens += s.tokens;
    byLicence.set(s.licence, e);
  }
  return [...byLicence]
    .sort((a, b) => b[1].tokens - a[1].tokens)
    .map(([l, e]) => `${l} (${e.packages} ${e.packages === 1 ? 'source' : 'sources'}, ${int(e.tokens)} tokens)`)
    .join('; ');
}

function skipSummary(c: CorpusManifest): string {
  const counts = new Map<string, number>();
  let overCap = 0;
  for (const s of c.sources) {
    for (const [reason, n] of Object.entries(s.skipped)) counts.set(reason, (counts.get(reason) ?? 0) + (n ?? 0));
    overCap += s.overCap;
  }
  const parts = [...counts].sort((a, b) => b[1] - a[1]).map(([r, n]) => `${int(n)} ${r}`);
  return `${parts.join(', ')}; ${int(overCap)} more passed the filters but did not fit their source's token cap`;
}

function measurementTable(m: NonNullable<EmbeddedReport['measurements']>, chosen: { shape: string; lr: number }): string[] {
  return [
    `Each candidate was trained from the same seed on the same data for ${m.cpuBudgetSec} CPU-seconds (both threads counted; wall time on this shared machine varied with other work), batch ${m.hyper.rows} × context, the peak learning rate in the table held after a ${m.hyper.warmupSteps}-step warm-up; held-out loss over ${m.heldOutWindows} held-out windows. Latency: the inference model (\`OrtModel\`) on one thread (the extension's default on a 2-core machine), a prompt of context − 64 tokens, then one token at a time. Latencies were measured under whatever load other work put on this shared machine at the time (it varied severalfold), so they rank shapes only roughly; the Summary has the shipped model's latency through the engine.`,
    '',
    '| shape (layers × width) | peak lr | parameters | fp16 size | steps | training tokens | tokens/CPU-s | held-out loss (nats/token) | prefill | decode |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...m.results.map((r) =>
      `| ${r.shape}${r.shape === chosen.shape && (r.lr ?? m.hyper.lr) === chosen.lr ? ' **(chosen)**' : ''} | ${r.lr ?? m.hyper.lr} | ${(r.params / 1e6).toFixed(2)}M | ${mb(r.fp16Bytes)} | ${r.steps} | ${int(r.tokens)} | ${r.tokensPerCpuSec.toFixed(0)} | ${r.heldOutLoss.toFixed(3)} | ${r.prefillMs.toFixed(0)} ms | ${r.decodeMsPerToken.toFixed(1)} ms/token |`),
  ];
}

function exampleBlock(e: CompletionExample, i: number): string[] {
  const lines = e.context.split('\n');
  const shown = lines.slice(-4).join('\n');
  const fence = shown.includes('```') ? '~~~~' : '```';
  return [
    `**${i + 1}. \`${e.file}\`** — ${e.model === e.truth ? 'exact match' : 'differs'}${e.ngram === e.truth ? ' (trigram: exact match)' : ''}`,
    '',
    `${fence}text`,
    `${shown}█`,
    fence,
    '',
    '| | rest of the line |',
    '|---|---|',
    `| truth | ${cell(e.truth)} |`,
    `| model | ${cell(e.model)} |`,
    `| trigram | ${cell(e.ngram)} |`,
    '',
  ];
}

/** One honest paragraph on where the model stands against the baselines, from the numbers. */
function verdict(r: EmbeddedReport): string {
  const e = r.eval;
  const em = e.exactMatch;
  const lossVs = (base: number) => (e.modelLoss < base ? 'lower' : 'higher');
  const evals = r.training.evals;
  const falling = evals.length >= 2 && evals[evals.length - 1].l2 < evals[evals.length - 2].l2;
  const emVs = (base: number) => (em.model > base ? 'more' : em.model === base ? 'as many' : 'fewer');
  return `It is small and briefly trained (${int(r.training.tokens + (r.training.continuedFrom?.tokens ?? 0) + continuedTokens(r))} tokens on two CPU cores), so it is no substitute for gpt2 (124M) on anything that needs knowledge. Against a trigram model of the same corpus, its held-out loss is ${lossVs(e.ngramLoss)} than the trigram's on the whole training split and ${lossVs(e.matchedLoss)} than the trigram's on the same ${int(e.matchedStats.tokens)} tokens${r.continued?.length ? ' as its first build' : ''}, and it gets ${emVs(em.ngram)} next lines exactly right (${em.model} vs ${em.ngram} of ${em.cases}).${e.modelLoss > e.matchedLoss && falling && !r.continued?.length ? ' Its held-out loss was still falling when training ended (see Training): a transformer needs more updates than this budget gave it to catch up with counting.' : ''}`;
}

function continuedTokens(r: EmbeddedReport): number {
  return (r.continued ?? []).reduce((sum, s) => sum + s.tokens, 0);
}

/** The Summary's words for the continued stages: "then continued-training stage 1: 7,633,322 tokens …". */
function continuedSummary(stages: readonly ContinuedStage[]): string {
  return stages
    .map((s) => `then continued-training stage ${s.stage}: ${int(s.tokens)} tokens (${(100 * s.retrievalShare).toFixed(0)}% of its windows with workspace-context snippets), ${(s.wallSec / 3600).toFixed(1)} h in ${s.sittings} ${s.sittings === 1 ? 'sitting' : 'sittings'}`)
    .join('; ');
}

/** "21% of the training split", or "3.2 passes over the training split". */
function splitShare(tokens: number, split: number): string {
  return tokens <= split ? `${((100 * tokens) / split).toFixed(0)}% of the training split` : `${(tokens / split).toFixed(1)} passes over the training split`;
}

/** Where the run trained: this machine's CPU threads, or another machine's provider. */
function trainedOn(t: EmbeddedReport['training']): string {
  if (!t.device || t.device === 'cpu') return `on ${t.threads} CPU threads${t.machine ? ` (${t.machine})` : ''}`;
  return `on the ${t.device} execution provider (${t.machine ?? 'another machine'})`;
}

export function renderModelCard(r: EmbeddedReport): string {
  const c = r.shape.config;
  const t = r.training;
  const e = r.eval;
  const em = e.exactMatch;
  const tokPerSec = t.tokens / Math.max(1, t.wallSec);
  // A two-stage model: the first stage's numbers count towards its training.
  const first = t.continuedFrom;
  const allTokens = t.tokens + (first?.tokens ?? 0);
  const allWallSec = t.wallSec + (first?.wallSec ?? 0);
  const allSittings = [...(first?.sittings ?? []), ...t.sittings];
  // After `--ship`: the continued stage whose weights these are.
  const shipped = r.continued?.at(-1);
  const lines = [
    '# The embedded model',
    '',
    `${/^8|^11|^18/.test(String(c.nLayer)) ? 'An' : 'A'} ${c.nLayer}-layer, ${c.nEmbd}-wide GPT-2 (${c.nHead} heads, ${c.nPositions}-token context, GPT-2's tokenizer and 50257-token vocabulary, tied output head) trained from random weights by this project's own trainer${shipped ? ` and then trained further in ${r.continued!.length === 1 ? 'a continued-training stage' : `${r.continued!.length} continued-training stages`} (Continued training)` : ''}, on code this machine has: TypeScript/JavaScript from the npm packages installed in this project and Python's standard library. It ships as \`config.json\` + \`model.safetensors\` in the Hugging Face layout, so the engine loads it like any GPT-2 checkpoint. It is the default model: \`embedded\` in the extension's \`gpt2Complete.model\` setting and in the CLI's \`--model\`.`,
    '',
    verdict(r),
    '',
    '## Summary',
    '',
    '| | |',
    '|---|---|',
    `| shape | ${r.shape.name}: ${c.nLayer} layers × ${c.nEmbd} wide, ${c.nHead} heads, context ${c.nPositions}, vocabulary ${c.vocabSize} |`,
    `| parameters | ${int(r.shape.params)} (${((100 * c.vocabSize * c.nEmbd) / r.shape.params).toFixed(0)}% of them the token embedding / output head) |`,
    `| size on disk | ${mb(r.shape.fileBytes)} (\`model.safetensors\`, fp16) |`,
    first
      ? `| training | two stages: ${int(first.tokens)} + ${int(t.tokens)} = ${int(allTokens)} tokens (${splitShare(allTokens, r.corpus.totals.train.tokens)}), ${(allWallSec / 60).toFixed(0)} min in ${allSittings.length} sittings, ${tokPerSec.toFixed(0)} tokens/s in the second ${trainedOn(t)} |`
      : `| training | ${int(t.steps)} steps × ${t.hyper.rows} × ${c.nPositions} tokens = ${int(t.tokens)} tokens (${splitShare(t.tokens, r.corpus.totals.train.tokens)}), ${(t.wallSec / 60).toFixed(0)} min in ${t.sittings.length} ${t.sittings.length === 1 ? 'sitting' : 'sittings'}, ${tokPerSec.toFixed(0)} tokens/s ${trainedOn(t)} |`,
    ...(shipped ? [`| continued training | ${continuedSummary(r.continued!)}: the shipped weights (Continued training) |`] : []),
    `| held-out loss | **${e.modelLoss.toFixed(3)}** nats/token (perplexity ${Math.exp(e.modelLoss).toFixed(1)}); trigram baseline ${e.ngramLoss.toFixed(3)} (${Math.exp(e.ngramLoss).toFixed(1)}) |`,
    `| next-line exact match | **${pct(em.model, em.cases)}**; trigram baseline ${pct(em.ngram, em.cases)} |`,
    `| latency (engine, 1 thread) | prefill ${r.latency.prefillMs.toFixed(0)} ms for a ${r.latency.meanPromptTokens.toFixed(0)}-token prompt (mean), decode ${r.latency.decodeMsPerToken.toFixed(1)} ms/token |`,
    `| machine | ${r.machine} |`,
    '',
    '## Corpus',
    '',
    `Built by \`scripts/embedded/corpus.ts\` from what is installed here: every \`.ts\`/\`.d.ts\`/\`.js\`/\`.mjs\`/\`.cjs\` file of the packages in this project's \`node_modules\` (nested \`node_modules\` excluded), and every \`.py\` file of \`/usr/lib/python3.11\` outside \`test\`/\`tests\` folders. Files pass the fine-tuning pipeline's filters (\`src/training/data/fileFilters.ts\`): skipped ${skipSummary(r.corpus)}. Build output folders (\`dist/\`, \`build/\`, \`out/\`) count as generated, so most bundled packages contribute their hand-written sources or type definitions only. Each npm package contributes at most ${int(r.corpus.options.maxTokensPerPackage)} tokens and the Python library ${int(r.corpus.options.maxPythonTokens)} (files chosen by a seeded hash of their paths), so no single SDK dominates. Whole files are held out for testing (\`src/training/data/split.ts\`, ${(100 * r.corpus.options.heldOutFraction).toFixed(0)}% of the tokens): ${int(r.corpus.totals.heldOut.files)} files, ${int(r.corpus.totals.heldOut.tokens)} tokens, never trained on.`,
    '',
    `Training split: ${int(r.corpus.totals.train.files)} files, ${int(r.corpus.totals.train.tokens)} GPT-2 tokens. Licences: ${licenceSummary(r.corpus)}. The manifest with every file, its source, split and SHA-256 is \`.test-cache/embedded-train/corpus/manifest.json\` after a build.`,
    '',
    ...corpusTable(r.corpus),
    '',
    '## Shape',
    '',
    `The 50257 × width token embedding doubles as the output head, so it is most of the size (2 bytes per entry in fp16: ${mb(2 * c.vocabSize * 256)} at width 256, so a 30 MB model is at most 256 wide) and, at 2·width·50257 FLOPs per token, most of the training cost; a transformer layer costs ~24·width² FLOPs per token, a few percent of the head at these widths. Width is paid for twice, in size and in time; depth is cheap to train but adds sequential work to every decoded token.`,
    '',
    ...(r.measurements ? measurementTable(r.measurements, { shape: r.shape.name, lr: t.hyper.lr }) : ['(No shape measurements were recorded for this build: run `npm run train:embedded -- --measure` first.)']),
    '',
    ...(r.shape.rationale ? [r.shape.rationale, ''] : []),
    '## Training',
    '',
    `Plain language modelling with the fine-tuning trainer (\`src/training/trainer.ts\`, full-model \`TrainingSession\`): the training split is one stream of files, each preceded by \`<|endoftext|>\`, cut into ${c.nPositions}-token windows; each window is an example with a one-token context and the rest as continuation, so every position is a target of L2 and L1 is empty (λ plays no part). Random initialisation as GPT-2's (\`src/engine/randomCheckpoint.ts\`, seed ${t.hyper.seed}); AdamW (β = 0.9, 0.999, weight decay ${t.hyper.weightDecay} on matrices other than the embeddings), peak learning rate ${t.hyper.lr}, ${t.hyper.warmupSteps}-step linear warm-up, cosine decay to ${t.hyper.minLrRatio}× over ${int(t.steps)} steps, gradient norm clipped at 1; batch ${t.hyper.rows} windows. The weights kept are those of the best held-out evaluation (step ${t.bestStep}), converted to fp16.`,
    '',
    ...(first
      ? [
        `That describes the second stage. It started from the weights of a first stage of ${int(first.tokens)} tokens (${int(first.steps)} steps of ${first.hyper.rows} windows from random initialisation, peak learning rate ${first.hyper.lr}, cosine decay over its ${int(first.steps)} steps; held-out loss by step: ${first.evals.map((x) => `${x.step}: ${x.l2.toFixed(3)}`).join(', ')}) with fresh optimizer state and a new warm-up and cosine schedule (a warm restart), on the same data stream from its beginning, so both stages saw the first windows.`,
        '',
      ]
      : []),
    `Held-out loss during training (the trainer's evaluation, ${t.evalWindows} windows, by step${first ? ' of the second stage' : ''}): ${t.evals.map((x) => `${x.step}: ${x.l2.toFixed(3)}`).join(', ')}.`,
    '',
    ...(shipped
      ? [
        `That build is where the shipped weights started: they are those of continued-training stage ${shipped.stage} (held-out loss ${shipped.heldOutLoss.toFixed(3)} on the stages' split), warm restarts over new slices of the same data stream with a share of retrieval-aware windows; Continued training has every stage's record. The Summary and Evaluation score the shipped weights.`,
        '',
      ]
      : []),
    '| sitting | started (UTC) | steps | tokens | wall | CPU |',
    '|---:|---|---|---:|---:|---:|',
    ...allSittings.map((s, i) => `| ${i + 1}${first ? (i < first.sittings.length ? ' (stage 1)' : ' (stage 2)') : ''} | ${s.startedAt.slice(0, 16).replace('T', ' ')} | ${s.fromStep} → ${s.toStep} | ${int(s.tokens)} | ${(s.wallSec / 60).toFixed(1)} min | ${(s.cpuSec / 60).toFixed(1)} min |`),
    '',
    '## Evaluation',
    '',
    `On held-out files only, through the inference engine (\`loadEngine\`, the fp16 checkpoint as shipped).`,
    '',
    `- **Held-out loss**: mean negative log-likelihood (nats/token) of every token of ${e.windows} held-out windows of ${c.nPositions} tokens (${int(e.targets)} targets), each given the tokens before it in its window.`,
    `- **Next-line exact match**: at ${em.cases} cut points mined from the held-out files as fine-tuning mines them (line starts and mid-line points; up to ${c.nPositions - em.maxTokens} tokens of context), the greedy completion of the rest of the line (up to ${em.maxTokens} tokens) equals the true rest of the line (\`src/training/evaluate.ts\`).`,
    `- **Baseline**: a token trigram model with interpolated Kneser–Ney smoothing (\`scripts/embedded/ngramBaseline.ts\`; a proper distribution over all 50257 tokens), scored on the same targets and completing the same cut points greedily. Once on the whole training split (${int(e.ngramStats.tokens)} tokens, ${int(e.ngramStats.trigramTypes)} trigram types), and once on exactly the windows the model trained on (${int(e.matchedStats.tokens)} tokens).`,
    '',
    '| model | held-out loss (nats/token) | perplexity | next-line exact match |',
    '|---|---:|---:|---:|',
    `| **embedded GPT-2 ${r.shape.name}** | **${e.modelLoss.toFixed(3)}** | **${Math.exp(e.modelLoss).toFixed(1)}** | **${pct(em.model, em.cases)}** |`,
    `| trigram KN, whole training split | ${e.ngramLoss.toFixed(3)} | ${Math.exp(e.ngramLoss).toFixed(1)} | ${pct(em.ngram, em.cases)} |`,
    `| trigram KN, the model's training tokens${shipped ? ' (its first build)' : ''} | ${e.matchedLoss.toFixed(3)} | ${Math.exp(e.matchedLoss).toFixed(1)} | ${pct(em.matched, em.cases)} |`,
    '',
    '## Ten completions from held-out files',
    '',
    `The first ten of the exact-match cut points (their order is a hash, not a choice), greedy, one line. The block shows the last lines of the prompt; █ is the cursor.`,
    '',
    ...r.examples.flatMap(exampleBlock),
    '## Rebuilding',
    '',
    `This model's run, from nothing (corpus, training, evaluation, this card). The first command is what \`npm run train:embedded\` does by default while its defaults are this model's; the second spells them out:`,
    '',
    '```sh',
    'npm run train:embedded -- --fresh',
    `npm run train:embedded -- --fresh --shape ${c.nLayer}x${c.nEmbd} --lr ${t.hyper.lr} --rows ${t.hyper.rows} --stages ${[...(first ? [first] : []), t].map((x) => x.steps * x.hyper.rows * c.nPositions).join(',')}`,
    '```',
    '',
    ...(shipped
      ? [`Then the continued stages, and shipping the last one (its weights into \`models/embedded\`, this card rewritten; the acceptance head and the candidate rule beside it are retrained after, scripts/embedded/README.md): \`npm run train:embedded\` until stage ${shipped.stage} is promoted, then \`npm run train:embedded -- --ship\`.`, '']
      : []),
    'Each stage but the last leaves its model and record in `.test-cache/embedded-train/stage-N/`, where the next starts from (a warm restart). In sittings: `--minutes M` stops at the first checkpoint after M minutes, and the second command without `--fresh` resumes there, skipping finished stages (`npm run train:embedded` alone trains further stages after the shipped model: Continued training). `npm run train:embedded -- --measure` repeats the shape measurements.',
    '',
    `Work files (corpus, checkpoints, graph cache, \`report.json\` with every number here) go to \`.test-cache/embedded-train/\`. Everything is seeded (corpus selection, split, initial weights, data order), so a rebuild on the same machine state gives the same corpus and, up to floating-point nondeterminism of multi-threaded onnxruntime, the same model; a machine with other packages installed gets a different corpus.`,
    '',
  ];
  return lines.join('\n');
}

/**
 * Writes the card. Sections the generator does not write (e.g. "## Acceptance head", written when the
 * head beside the model was trained) are kept from the card already there, after the generated ones.
 */
export function writeModelCard(file: string, r: EmbeddedReport): void {
  const generated = renderModelCard(r);
  const previous = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
  const titles = new Set(generated.split('\n').filter((l) => l.startsWith('## ')));
  const kept = previous
    .split(/\n(?=## )/)
    .filter((section) => section.startsWith('## ') && !titles.has(section.split('\n')[0]));
  fs.writeFileSync(file, [generated.trimEnd(), ...kept.map((k) => k.trimEnd())].join('\n\n') + '\n');
}
