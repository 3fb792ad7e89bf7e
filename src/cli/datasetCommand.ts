import * as path from 'path';
import { describeWriteError } from '../engine/atomicFile';
import { UserError } from '../engine/errors';
import { formatReport, mineDataset, writeJsonl } from '../training/data/dataset';
import { SECRETS_MODES, type SecretsMode } from '../training/data/secretScan';
import { intFlag, parseCommandArgs } from './args';

export const DATASET_HELP = `gpt2-complete dataset <folder> --out F.jsonl [--seed S] [--include G] [--exclude G] [--secrets skip-file|drop-lines]
  Writes the (context → continuation) examples finetune would mine from <folder>, train and
  held-out, one JSON object per line: {"prompt", "completion", "split": "train"|"heldout", "file"}
  (Hugging Face TRL's prompt-completion columns), and prints the data report on stderr. The file
  is replaced whole or not at all: a failed write leaves an existing F.jsonl as it was.
  --seed S                   seeds the split and the cut points (default 0)
  --include G, --exclude G   globs over the folder's files (repeatable)
  --secrets skip-file|drop-lines   a file with a secret (token, key, password) in it is left out
                             (skip-file, default) or used without the secret's lines (drop-lines)`;

/** `--secrets skip-file|drop-lines` (dataset and finetune); undefined when not given (skip-file). */
export function secretsFlag(command: string, value: string | undefined): SecretsMode | undefined {
  if (value === undefined) return undefined;
  if (!(SECRETS_MODES as readonly string[]).includes(value)) throw new UserError(`${command}: --secrets must be ${SECRETS_MODES.join(' or ')} (got "${value}")`);
  return value as SecretsMode;
}

export async function datasetCommand(argv: string[]): Promise<void> {
  const { values, positionals } = parseCommandArgs('dataset', argv, {
    out: { type: 'string' },
    seed: { type: 'string' },
    include: { type: 'string', multiple: true },
    exclude: { type: 'string', multiple: true },
    secrets: { type: 'string' },
  }, true);
  if (positionals.length !== 1) throw new UserError('dataset: give exactly one folder to mine (see gpt2-complete dataset --help)');
  if (!values.out) throw new UserError('dataset: --out F.jsonl is required');
  const secrets = secretsFlag('dataset', values.secrets);
  const data = await mineDataset(positionals[0], { seed: intFlag('seed', values.seed, 0, 0), include: values.include, exclude: values.exclude, secrets });
  process.stderr.write(formatReport(data.report) + '\n');
  const out = path.resolve(values.out);
  try {
    await writeJsonl(data, out);
  } catch (e) {
    const full = describeWriteError(out, e);
    throw full ? new UserError(`dataset: ${full.message}`) : new UserError(`dataset: cannot write ${out}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  process.stderr.write(`wrote ${data.train.length} training and ${data.heldOut.length} held-out examples to ${out}\n`);
}
