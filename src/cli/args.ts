import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UserError } from '../engine/errors';

type Options = NonNullable<ParseArgsConfig['options']>;

/**
 * Parses a command's flags with node's own parser, turning its errors into one-line UserErrors
 * that name the command and point at --help.
 */
export function parseCommandArgs<O extends Options>(command: string, argv: string[], options: O, allowPositionals = false) {
  try {
    return parseArgs({ args: argv, options, allowPositionals, strict: true });
  } catch (e) {
    throw new UserError(`${command}: ${(e as Error).message.split('\n')[0]} (see gpt2-complete ${command} --help)`);
  }
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
