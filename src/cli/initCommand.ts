import * as fs from 'fs';
import { describeWriteError } from '../engine/atomicFile';
import { configFromHuggingFace, NAMED_CONFIGS, type GPT2Config } from '../engine/config';
import { UserError } from '../engine/errors';
import { writeRandomCheckpoint } from '../engine/randomCheckpoint';
import { intFlag, parseCommandArgs } from './args';

export const INIT_HELP = `gpt2-complete init --random --config <${Object.keys(NAMED_CONFIGS).join('|')}|FILE.json|JSON> --out DIR [--seed S] [--dtype F32|F16|BF16]
  Writes a random GPT-2 checkpoint (config.json + model.safetensors) for tests and benchmarks.`;

export async function initCommand(argv: string[]): Promise<void> {
  const { values } = parseCommandArgs('init', argv, {
    random: { type: 'boolean' },
    config: { type: 'string' },
    out: { type: 'string' },
    seed: { type: 'string' },
    dtype: { type: 'string' },
  });
  if (!values.random) throw new UserError('init: only --random is supported (it writes a randomly initialised checkpoint)');
  if (!values.out) throw new UserError('init: --out DIR is required');
  const config = parseConfigFlag(values.config ?? 'tiny');
  const dtype = (values.dtype ?? 'F32').toUpperCase();
  if (dtype !== 'F32' && dtype !== 'F16' && dtype !== 'BF16') throw new UserError(`init: --dtype must be F32, F16 or BF16 (got "${values.dtype}")`);
  const seed = intFlag('seed', values.seed, 0, 0);
  try {
    writeRandomCheckpoint(values.out, config, seed, { dtype });
  } catch (e) {
    // A full disk or a read-only folder is the user's to fix: one line, not a stack (the weights
    // file is written to a temp name and removed on failure, so nothing half-written is left).
    const full = describeWriteError(values.out, e);
    throw full ? new UserError(`init: ${full.message}`) : e;
  }
  process.stdout.write(`${values.out}\n`);
}

/** A named shape, a path to a config.json, or inline JSON. */
function parseConfigFlag(spec: string): GPT2Config {
  if (NAMED_CONFIGS[spec]) return NAMED_CONFIGS[spec];
  let text = spec;
  let source = '--config';
  if (!spec.trimStart().startsWith('{')) {
    if (!fs.existsSync(spec)) {
      throw new UserError(`init: --config "${spec}" is neither a named shape (${Object.keys(NAMED_CONFIGS).join(', ')}) nor a file nor JSON`);
    }
    text = fs.readFileSync(spec, 'utf8');
    source = spec;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new UserError(`init: ${source} is not valid JSON`);
  }
  return configFromHuggingFace(json, source);
}
