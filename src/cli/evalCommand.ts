import { UserError } from '../engine/errors';
import { mineDataset } from '../training/data/dataset';
import { DEFAULT_EVAL_CASES, evalCases, evaluate, formatEvalTable, modelScorer } from '../training/evaluate';
import { miningOptions } from '../training/fineTune';
import { DEFAULT_LAMBDA } from '../training/trainer';
import { intFlag, parseCommandArgs } from './args';
import { loadFromFlags, MODEL_FLAGS, MODEL_FLAGS_HELP } from './modelFlags';
import { evaluateHead, type HeadEvaluation } from './headEvaluation';
import { HEAD_FLAGS, HEAD_FLAGS_HELP } from './pipelineRunner';

export const EVAL_HELP = `gpt2-complete eval <folder> --model M [--adapter DIR] [--json]
  Held-out L2 (and its perplexity), L1 and next-line exact match of M (with the adapter merged) on
  the held-out files of <folder>: the same split and cut points as finetune with the same --seed.
${MODEL_FLAGS_HELP}
  --seed S        seeds the split and the cut points (default 0)
  --include G, --exclude G   globs over the folder's files (repeatable), as given to finetune
  --eval-cases N  held-out cut points (default ${DEFAULT_EVAL_CASES})
  --head-cuts N   when the model has an acceptance head: held-out cuts (as in quality) where the
                  pipeline's suggestions are scored by it (default 200; 0 skips)
${HEAD_FLAGS_HELP}
  --json          print {"l1": num, "l2": num, "perplexity": num, "exact_match": num, "head": {"auc",
                  "threshold","ungated":{"shown_rate","precision"},"gated":{"shown_rate","precision","recall"}} | null}`;

export async function evalCommand(argv: string[]): Promise<void> {
  const { values, positionals } = parseCommandArgs('eval', argv, {
    ...MODEL_FLAGS,
    seed: { type: 'string' },
    include: { type: 'string', multiple: true },
    exclude: { type: 'string', multiple: true },
    'eval-cases': { type: 'string' },
    'head-cuts': { type: 'string' },
    ...HEAD_FLAGS,
    json: { type: 'boolean' },
  }, true);
  if (positionals.length !== 1) throw new UserError('eval: give exactly one folder to evaluate on (see gpt2-complete eval --help)');
  const seed = intFlag('seed', values.seed, 0, 0);
  const max = intFlag('eval-cases', values['eval-cases'], 1, DEFAULT_EVAL_CASES);
  const headCuts = intFlag('head-cuts', values['head-cuts'], 0, 200);
  const { engine } = await loadFromFlags('eval', values);
  let head: HeadEvaluation | null = null;
  try {
    const data = await mineDataset(positionals[0], miningOptions(engine.model.config, { seed, include: values.include, exclude: values.exclude }));
    if (data.heldOut.length === 0) {
      throw new UserError(`eval: no held-out examples in ${data.report.folder} (${data.report.used.length} usable files; at least two are needed, one of them held out)`);
    }
    const cases = evalCases(data.heldOut, { max, seed });
    const result = await evaluate({ examples: cases, lambda: DEFAULT_LAMBDA, scorer: modelScorer(engine.model), completer: engine });
    if (headCuts > 0 && values['no-head'] !== true) head = await evaluateHead(positionals[0], { ...values, seed, cuts: headCuts });
    if (values.json) {
      process.stdout.write(JSON.stringify({ l1: result.l1, l2: result.l2, perplexity: result.perplexity, exact_match: result.exact_match, head }) + '\n');
    } else {
      process.stdout.write(`${cases.length} held-out cut points in ${data.report.heldOut.files} files\n${formatEvalTable(result)}\n`);
      if (head !== null) process.stdout.write(formatHead(head) + '\n');
    }
  } finally {
    await engine.model.dispose();
  }
}

function formatHead(h: HeadEvaluation): string {
  const pct = (x: number | null) => (x === null ? '–' : `${(100 * x).toFixed(1)}%`);
  return `acceptance head at ${h.cuts} held-out cuts: AUC ${h.auc === null ? '–' : h.auc.toFixed(3)}; ` +
    `ungated ${pct(h.ungated.shown_rate)} shown, precision ${pct(h.ungated.precision)}; ` +
    `at ${h.threshold}: ${pct(h.gated.shown_rate)} shown, precision ${pct(h.gated.precision)}, recall ${pct(h.gated.recall)}`;
}
