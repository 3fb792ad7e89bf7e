import * as path from 'path';
import { UserError } from '../engine/errors';
import { formatReport, mineDataset, writeJsonl } from '../training/data/dataset';
import { intFlag, parseCommandArgs } from './args';

export const DATASET_HELP = `gpt2-complete dataset <folder> --out F.jsonl [--seed S] [--include G] [--exclude G]
  Writes the (context → continuation) examples finetune would mine from <folder>, train and
  held-out, one JSON object per line: {"prompt", "completion", "split": "train"|"heldout", "file"}
  (Hugging Face TRL's prompt-completion columns), and prints the data report on stderr.
  --seed S                   seeds the split and the cut points (default 0)
  --include G, --exclude G   globs over the folder's files (repeatable)`;

export async function datasetCommand(argv: string[]): Promise<void> {
  const { values, positionals } = parseCommandArgs('dataset', argv, {
    out: { type: 'string' },
    seed: { type: 'string' },
    include: { type: 'string', multiple: true },
    exclude: { type: 'string', multiple: true },
  }, true);
  if (positionals.length !== 1) throw new UserError('dataset: give exactly one folder to mine (see gpt2-complete dataset --help)');
  if (!values.out) throw new UserError('dataset: --out F.jsonl is required');
  const data = await mineDataset(positionals[0], { seed: intFlag('seed', values.seed, 0, 0), include: values.include, exclude: values.exclude });
  process.stderr.write(formatReport(data.report) + '\n');
  const out = path.resolve(values.out);
  try {
    await writeJsonl(data, out);
  } catch (e) {
    throw new UserError(`dataset: cannot write ${out}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  process.stderr.write(`wrote ${data.train.length} training and ${data.heldOut.length} held-out examples to ${out}\n`);
}
