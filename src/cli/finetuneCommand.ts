import * as fs from 'fs';
import * as path from 'path';
import { UserError } from '../engine/errors';
import { resolveModel } from '../engine/presets';
import { formatEvalTable, formatExactChange } from '../training/evaluate';
import { DEFAULT_BATCH_TOKENS, DEFAULT_QUALITY_CUTS, RECIPE, TRAINING_BUDGET_SECONDS, TRAINING_TIME_LIMIT_SECONDS } from '../training/fineTune';
import { formatDuration } from '../engine/units';
import { startFineTune, type StartOptions } from '../training/fineTuneClient';
import type { ChildMessage, EvalJson, FineTuneJob, QualityCounts } from '../training/fineTuneProtocol';
import { DEFAULT_LAMBDA } from '../training/trainer';
import { intFlag, numberFlag, parseCommandArgs, threadsFlag } from './args';
import { describeHead } from '../training/head/headMetrics';
import { DEFAULT_HEAD_CUTS, trainHeadJob, type HeadJob } from './headCommand';
import { secretsFlag } from './datasetCommand';
import { cliGraphCache, cliModelsRoot, embeddedModelDir } from './paths';

export const FINETUNE_HELP = `gpt2-complete finetune <folder> --out DIR [--model M] [options]
  Fine-tunes M on the files of <folder> with L3 = L2 + λ·L1 (continuation loss plus λ times the
  context's language-modelling loss), evaluating held-out files before and after: losses, and
  next-line exact match through the editor's completion pipeline (what \`quality\` measures), with a
  verdict: the adapter helped when exact match rose, or stayed and held-out loss fell, and it shows
  no more new wrong suggestions than new right ones (with --head both sides are judged with their
  acceptance heads, as the editor shows them; without, both without). The best step
  is chosen on separate validation files, never on the held-out ones it reports. Writes a LoRA
  adapter (adapter_model.safetensors + adapter_config.json) or, with --method full, a checkpoint
  (config.json + model.safetensors) into DIR, with checkpoints/ and report.json. Ctrl+C stops at the
  next step boundary keeping the last checkpoint; the same command again resumes from it.
  --model M          embedded (default: the small model shipped in models/), a preset (gpt2,
                     distilgpt2, ...) or a checkpoint folder
  --out DIR          where the result goes
  --method lora|full a LoRA adapter or every weight (default: every weight for models up to 50M
                     parameters, such as the embedded one; LoRA for larger ones)
  --lambda L         weight of the context loss L1 (default ${DEFAULT_LAMBDA})
  --steps N | --epochs E   length of the run (default: ${RECIPE.full.epochs} epochs for full, ${RECIPE.lora.epochs} for LoRA, cut to
                     what fits in ${TRAINING_BUDGET_SECONDS / 60} minutes of training at the pace measured on this machine;
                     training then stops after ${TRAINING_TIME_LIMIT_SECONDS / 60} minutes in any case)
  --lr X             peak learning rate (default ${RECIPE.lora.lr} for LoRA, ${RECIPE.full.lr} for full)
  --batch-tokens N   tokens per step (default ${DEFAULT_BATCH_TOKENS})
  --seed S           seeds the split, the cut points and the order (default 0)
  --include G, --exclude G   globs over the folder's files (repeatable)
  --secrets skip-file|drop-lines   a file with a secret (token, key, password) in it is left out
                     (skip-file, default) or used without the secret's lines (drop-lines)
  --eval-cases N     held-out cut points evaluated (default 200)
  --quality-cuts N   held-out cuts the completion pipeline is judged on, base model and adapter
                     (default ${DEFAULT_QUALITY_CUTS}; 0 skips it)
  --device D         auto (default) | cpu | cuda | dml | coreml | webgpu
  --threads N        CPU threads (default: all cores; the editor leaves one free)
  --dry-run          mine, check and estimate, then stop
  --head             then train the acceptance head on the fine-tuned model (head.safetensors in --out),
                     and adapt the base's rule for choosing among the workspace's lines to the same cuts;
                     each is kept over the base's only if, on held-back training files, it adds more
                     right lines than wrong ones (the rule must also predict them better)
  --head-only        only the head and the rule, for --model (with --adapter DIR: for that adapter)
  --head-cuts N      cuts of the training files the head learns from (default ${DEFAULT_HEAD_CUTS})
  --suggestion-log F the editor's accept/reject log (suggestion-log.jsonl in the workspace's extension
                     storage): its requests, labelled by what you did, teach the head too
  --json             print the result as JSON on stdout:
                     {"steps","tokens","tokens_per_s","train":{"l1","l2","l3"},"eval":{"before":{…},"after":{…}},
                      "quality":{"before","after","best_baseline"},"verdict":{"improved","reason"},"out"}`;

/**
 * The child's entry next to this code: dist/fineTuneProcess.js beside the bundled CLI; from source
 * (tsx src/cli.ts) the .ts entry, which the child runs through the loader it inherits.
 */
export function fineTuneScript(): string {
  const candidates = [path.join(__dirname, 'fineTuneProcess.js'), path.join(__dirname, '..', 'fineTuneChild.ts')];
  const found = candidates.find((p) => fs.existsSync(p));
  if (!found) throw new Error(`fineTuneProcess not found (looked for ${candidates.join(', ')}); run npm run build`);
  return found;
}

export async function finetuneCommand(argv: string[], start: Partial<StartOptions> = {}): Promise<void> {
  const { values, positionals } = parseCommandArgs('finetune', argv, {
    model: { type: 'string' },
    out: { type: 'string' },
    method: { type: 'string' },
    lambda: { type: 'string' },
    steps: { type: 'string' },
    epochs: { type: 'string' },
    lr: { type: 'string' },
    'batch-tokens': { type: 'string' },
    seed: { type: 'string' },
    include: { type: 'string', multiple: true },
    exclude: { type: 'string', multiple: true },
    secrets: { type: 'string' },
    'eval-cases': { type: 'string' },
    'quality-cuts': { type: 'string' },
    device: { type: 'string' },
    threads: { type: 'string' },
    'dry-run': { type: 'boolean' },
    json: { type: 'boolean' },
    head: { type: 'boolean' },
    'head-only': { type: 'boolean' },
    'head-cuts': { type: 'string' },
    'suggestion-log': { type: 'string' },
    adapter: { type: 'string' },
  }, true);
  if (positionals.length !== 1) throw new UserError('finetune: give exactly one folder to learn from (see gpt2-complete finetune --help)');
  if (!values.out) throw new UserError('finetune: --out DIR is required (where the adapter or model goes)');
  const headJob = (model: string | undefined, adapter: string | undefined): HeadJob => ({
    folder: path.resolve(positionals[0]), model, adapter, out: path.resolve(values.out!), seed: intFlag('seed', values.seed, 0, 0),
    cuts: intFlag('head-cuts', values['head-cuts'], 1, DEFAULT_HEAD_CUTS), include: values.include, exclude: values.exclude,
    device: values.device, threads: values.threads, suggestionLog: suggestionLogFlag(values['suggestion-log']),
    lambda: values.lambda === undefined ? undefined : numberFlag('lambda', values.lambda, 0, 1e6, DEFAULT_LAMBDA),
  });
  if (values['head-only']) {
    const head = await trainHeadJob(headJob(values.model, values.adapter));
    if (values.json) process.stdout.write(JSON.stringify({ head }) + '\n');
    return;
  }
  if (values.adapter !== undefined) throw new UserError('finetune: --adapter goes with --head-only (a fine-tune trains its own adapter)');
  const method = values.method;
  if (method !== undefined && method !== 'lora' && method !== 'full') throw new UserError(`finetune: --method must be lora or full (got "${method}")`);
  if (values.steps !== undefined && values.epochs !== undefined) throw new UserError('finetune: give --steps or --epochs, not both');
  const job: FineTuneJob = {
    folder: path.resolve(positionals[0]),
    model: finetuneModel(values.model),
    out: path.resolve(values.out),
    method,
    lambda: values.lambda === undefined ? undefined : numberFlag('lambda', values.lambda, 0, 1e6, DEFAULT_LAMBDA),
    steps: intFlag('steps', values.steps, 1),
    epochs: values.epochs === undefined ? undefined : numberFlag('epochs', values.epochs, 1e-6, 1e6, 1),
    lr: values.lr === undefined ? undefined : numberFlag('lr', values.lr, 1e-12, 10, 0),
    batchTokens: intFlag('batch-tokens', values['batch-tokens'], 2),
    seed: intFlag('seed', values.seed, 0, 0),
    include: values.include,
    exclude: values.exclude,
    secrets: secretsFlag('finetune', values.secrets),
    evalCases: intFlag('eval-cases', values['eval-cases'], 1),
    qualityCuts: intFlag('quality-cuts', values['quality-cuts'], 0),
    device: values.device ?? 'auto',
    threads: threadsFlag(values.threads),
    dryRun: values['dry-run'] ?? false,
    graphCacheDir: cliGraphCache(),
    head: values.head === true,
    headCuts: intFlag('head-cuts', values['head-cuts'], 1),
    suggestionLog: suggestionLogFlag(values['suggestion-log']),
  };
  if (!fs.existsSync(job.folder) || !fs.statSync(job.folder).isDirectory()) throw new UserError(`finetune: ${job.folder} is not a folder`);

  const progress = new ProgressPrinter();
  const resumeHint = `run the same command again to resume: ${resumeCommand(argv)}`;
  const handle = startFineTune(job, { script: fineTuneScript(), resumeHint, ...start, onMessage: (m) => progress.show(m) });
  let interrupts = 0;
  const onSigint = () => {
    interrupts++;
    if (interrupts === 1) {
      process.stderr.write('\nstopping at the next step boundary (Ctrl+C again to stop now)…\n');
      handle.cancel();
    } else {
      handle.kill();
    }
  };
  process.on('SIGINT', onSigint);
  try {
    const result = await handle.result;
    if (result && values.json) process.stdout.write(JSON.stringify(result) + '\n');
  } finally {
    process.off('SIGINT', onSigint);
  }
}

/** --model as every other command takes it: the embedded model by default, else a preset or a folder. */
function finetuneModel(model: string | undefined): string {
  if (model !== undefined && model !== 'embedded') return resolveModel(model, cliModelsRoot());
  const dir = embeddedModelDir();
  if (!fs.existsSync(path.join(dir, 'config.json'))) {
    throw new UserError(`finetune: the embedded model is not in this copy (${dir}); run npm run train:embedded, or pass --model with a preset or a checkpoint folder`);
  }
  return dir;
}

/** `arg` as a POSIX shell reads it back: bare when safe, else single-quoted. */
function shellQuote(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

/** The command line that runs `finetune` with these arguments again (the same --out resumes). */
export function resumeCommand(argv: readonly string[]): string {
  return ['gpt2-complete', 'finetune', ...argv].map(shellQuote).join(' ');
}

/** Front-end rendering of the child's messages, on stderr. */
class ProgressPrinter {
  private lastLine = 0;
  private before: EvalJson | undefined;
  private qualityBefore: QualityCounts | undefined;

  show(m: ChildMessage): void {
    const err = (s: string): void => void process.stderr.write(s + '\n');
    switch (m.type) {
      case 'report':
        return err(m.text + '\n');
      case 'estimate':
        return err(m.text);
      case 'eval':
        if (m.phase === 'before') {
          this.before = m.result;
          return err(`held-out before training:\n${formatEvalTable(m.result)}`);
        }
        return err(`held-out evaluation:\n${formatEvalTable(this.before ?? m.result, m.result)}`);
      case 'quality': {
        const r = m.result;
        const b = m.bestBaseline;
        if (m.phase === 'before') {
          this.qualityBefore = r;
          return err(`completion quality on ${r.cuts} held-out cuts (the editor's pipeline): base model ${r.exact} exact (${r.shown} shown); best baseline ${b.exact}`);
        }
        const before = this.qualityBefore ?? r;
        const change = formatExactChange({ exact_match: before.exact / before.cuts, exact_matches: before.exact, cases: before.cuts }, { exact_match: r.exact / r.cuts, exact_matches: r.exact, cases: r.cuts });
        return err(`completion quality, exact: ${change}; shown ${before.shown} → ${r.shown}`);
      }
      case 'progress': {
        // A line a second at most (and the last step): readable in a terminal and in a log.
        const now = Date.now();
        if (m.step !== m.totalSteps && m.step !== 1 && now - this.lastLine < 1000) return;
        this.lastLine = now;
        const { l1, l2, l3 } = m.loss;
        return err(
          `step ${m.step}/${m.totalSteps}  loss ${l3.toFixed(4)} (L2 ${l2.toFixed(4)}, L1 ${l1.toFixed(4)})  ` +
            `${Math.round(m.tokensPerSecond)} tokens/s  ETA ${formatDuration(m.etaSeconds)}`,
        );
      }
      case 'head':
        if (m.result !== undefined) return err(describeHead(m.result));
        if (m.done === 1 || m.done === m.total || m.done % 100 === 0) err(`acceptance head: the pipeline's suggestions at ${m.done}/${m.total} requests`);
        return;
      case 'done':
        err(`saved to ${m.result.out} after ${m.result.steps} steps (${m.result.tokens} tokens, ${Math.round(m.result.tokens_per_s)} tokens/s); resume checkpoints removed`);
        return err(
          m.result.verdict.improved
            ? `verdict: the fine-tune helped: ${m.result.verdict.reason}`
            : `verdict: the fine-tune did not help: ${m.result.verdict.reason}; the editor would not switch it on (it is kept in ${m.result.out})`,
        );
      case 'cancelled':
        return err(m.checkpoint ? `stopped; the last checkpoint is ${m.checkpoint}: run the same command again to resume` : 'stopped before the first checkpoint');
      case 'dryRunDone':
      case 'error':
        return;
    }
  }
}

/** --suggestion-log: a log file that exists (a missing one is a typo, not an empty log). */
function suggestionLogFlag(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const file = path.resolve(value);
  if (!fs.existsSync(file) || !fs.statSync(file).isFile()) throw new UserError(`finetune: --suggestion-log ${file} is not a file (the editor writes suggestion-log.jsonl in the workspace's extension storage)`);
  return file;
}
