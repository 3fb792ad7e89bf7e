import * as os from 'node:os';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UserError } from '../engine/errors';
import { maxThreads } from '../engine/executionProvider';

type Options = NonNullable<ParseArgsConfig['options']>;

/**
 * Parses a command's flags with node's own parser, turning its errors into one-line UserErrors
 * that name the command and point at --help.
 */
export function parseCommandArgs<O extends Options>(command: string, argv: string[], options: O, allowPositionals = false) {
  try {
    return parseArgs({ args: joinNegativeValues(argv, options), options, allowPositionals, strict: true });
  } catch (e) {
    throw new UserError(`${command}: ${(e as Error).message.split('\n')[0]} (see gpt2-complete ${command} --help)`);
  }
}

/**
 * `--max-tokens -5` as `--max-tokens=-5`: node's parser takes a value that starts with "-" for a
 * flag of its own ("ambiguous"), so a negative number would never reach the check that says what
 * the flag accepts. Only a string flag followed by something shaped like a number is joined.
 */
function joinNegativeValues(argv: string[], options: Options): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const name = argv[i].startsWith('--') ? argv[i].slice(2) : undefined;
    const next = argv[i + 1];
    if (name !== undefined && options[name]?.type === 'string' && next !== undefined && /^-(\d|\.\d|Infinity$)/.test(next)) {
      out.push(`${argv[i]}=${next}`);
      i++;
    } else {
      out.push(argv[i]);
    }
  }
  return out;
}

/**
 * `--threads N` for a command run from a shell: default every core (a batch job has the machine to
 * itself; the editor's default leaves one free and lives in the extension), at most 4 per core.
 */
export function threadsFlag(value: string | undefined): number {
  const cores = os.availableParallelism();
  if (value === undefined) return cores;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > maxThreads(cores)) {
    throw new UserError(`--threads must be an integer from 1 to ${maxThreads(cores)} (4 × this machine's ${cores} cores) (got "${value}")`);
  }
  return n;
}

export function intFlag(name: string, value: string | undefined, min: number, fallback: number): number;
export function intFlag(name: string, value: string | undefined, min: number): number | undefined;
export function intFlag(name: string, value: string | undefined, min: number, fallback?: number): number | undefined {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new UserError(`--${name} must be an integer ≥ ${min} (got "${value}")`);
  return n;
}

export function numberFlag(name: string, value: string | undefined, min: number, max: number, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n < min || n > max) throw new UserError(`--${name} must be a number in [${min}, ${max}] (got "${value}")`);
  return n;
}
