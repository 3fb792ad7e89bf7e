import { UserError } from '../engine/errors';
import { mineDataset } from '../training/data/dataset';
import { DEFAULT_EVAL_CASES, evalCases, evaluate, formatEvalTable, modelScorer } from '../training/evaluate';
import { miningOptions } from '../training/fineTune';
import { DEFAULT_LAMBDA } from '../training/trainer';
import { intFlag, parseCommandArgs } from './args';
import { loadFromFlags, MODEL_FLAGS, MODEL_FLAGS_HELP } from './modelFlags';

export const EVAL_HELP = `gpt2-complete eval <folder> --model M [--adapter DIR] [--json]
  Held-out L2 (and its perplexity), L1 and next-line exact match of M (with the adapter merged) on
  the held-out files of <folder>: the same split and cut points as finetune with the same --seed.
${MODEL_FLAGS_HELP}
  --seed S        seeds the split and the cut points (default 0)
  --include G, --exclude G   globs over the folder's files (repeatable), as given to finetune
  --eval-cases N  held-out cut points (default ${DEFAULT_EVAL_CASES})
  --json          print {"l1": num, "l2": num, "perplexity": num, "exact_match": num}`;

export async function evalCommand(argv: string[]): Promise<void> {
  const { values, positionals } = parseCommandArgs('eval', argv, {
    ...MODEL_FLAGS,
    seed: { type: 'string' },
    include: { type: 'string', multiple: true },
    exclude: { type: 'string', multiple: true },
    'eval-cases': { type: 'string' },
    json: { type: 'boolean' },
  }, true);
  if (positionals.length !== 1) throw new UserError('eval: give exactly one folder to evaluate on (see gpt2-complete eval --help)');
  const seed = intFlag('seed', values.seed, 0, 0);
  const max = intFlag('eval-cases', values['eval-cases'], 1, DEFAULT_EVAL_CASES);
  const { engine } = await loadFromFlags('eval', values);
  try {
    const data = await mineDataset(positionals[0], miningOptions(engine.model.config, { seed, include: values.include, exclude: values.exclude }));
    if (data.heldOut.length === 0) {
      throw new UserError(`eval: no held-out examples in ${data.report.folder} (${data.report.used.length} usable files; at least two are needed, one of them held out)`);
    }
    const cases = evalCases(data.heldOut, { max, seed });
    const result = await evaluate({ examples: cases, lambda: DEFAULT_LAMBDA, scorer: modelScorer(engine.model), completer: engine });
    if (values.json) {
      process.stdout.write(JSON.stringify({ l1: result.l1, l2: result.l2, perplexity: result.perplexity, exact_match: result.exact_match }) + '\n');
    } else {
      process.stdout.write(`${cases.length} held-out cut points in ${data.report.heldOut.files} files\n${formatEvalTable(result)}\n`);
    }
  } finally {
    await engine.model.dispose();
  }
}
