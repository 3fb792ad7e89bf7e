/**
 * The cache model's mixture weights fitted for one model, kept beside its weights as
 * `cache-weights.json` (bench/fitCache.ts --save writes it), like the acceptance head: a better model
 * needs the workspace's cache less, so each model gets its own weights. A model without the file mixes
 * with DEFAULT_CACHE_WEIGHTS (fitted for the embedded model). Version 1 holds only β; version 2 adds
 * the gate (mixture.ts), which is used when present.
 */
import * as fs from 'fs';
import * as path from 'path';
import { writeJsonAtomic } from '../atomicFile';
import { UserError } from '../errors';
import type { CacheGate, CacheWeights } from './mixture';

export const CACHE_WEIGHTS_FILE = 'cache-weights.json';
const FORMAT = 'gpt2-complete-cache-weights';

interface StoredCacheWeights extends CacheWeights {
  readonly format: string;
  readonly version: number;
  /** What they were fitted on, and the fit's losses (free-form, for readers). */
  readonly fittedOn?: string;
  readonly loss?: { readonly modelAlone: number; readonly mixture: number; readonly tokens: number };
}

/**
 * The weights in `dir`; undefined when it has none. A broken file is a UserError naming it and what
 * to do (the caller decides whether that stops the model or only the file).
 */
export function readCacheWeights(dir: string): CacheWeights | undefined {
  const file = path.join(dir, CACHE_WEIGHTS_FILE);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new UserError(`${file}: cannot read it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  const redo = 'delete it (the built-in weights are used) or fit it again (npx tsx bench/fitCache.ts --save)';
  let stored: StoredCacheWeights;
  try {
    stored = JSON.parse(text) as StoredCacheWeights;
  } catch (e) {
    throw new UserError(`${file}: not readable JSON (${(e as Error).message}); ${redo}`);
  }
  if (stored?.format !== FORMAT || (stored.version !== 1 && stored.version !== 2)) throw new UserError(`${file}: not cache weights of a version this build reads; ${redo}`);
  const { beta, maxWeight, gate } = stored;
  const finite = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x);
  if (!Array.isArray(beta) || beta.length === 0 || !beta.every((b) => finite(b) && b > 0)) {
    throw new UserError(`${file}: beta must be a list of positive numbers; ${redo}`);
  }
  if (typeof maxWeight !== 'number' || !(maxWeight > 0 && maxWeight < 1)) throw new UserError(`${file}: maxWeight must be between 0 and 1; ${redo}`);
  if (stored.version === 1 || gate === undefined) return { beta: [...beta], maxWeight };
  if (!Array.isArray(gate.bias) || gate.bias.length === 0 || !gate.bias.every(finite) || !finite(gate.logCount) || !finite(gate.cacheTop)) {
    throw new UserError(`${file}: gate must hold a list of biases and two numbers (logCount, cacheTop); ${redo}`);
  }
  return { beta: [...beta], maxWeight, gate: copyGate(gate) };
}

function copyGate(g: CacheGate): CacheGate {
  return { bias: [...g.bias], logCount: g.logCount, cacheTop: g.cacheTop };
}

/** Writes `weights` into `dir` (atomically), with what they were fitted on. */
export function writeCacheWeights(dir: string, weights: CacheWeights, fittedOn: string, loss?: StoredCacheWeights['loss']): void {
  const stored: StoredCacheWeights = {
    format: FORMAT,
    version: weights.gate ? 2 : 1,
    beta: [...weights.beta],
    maxWeight: weights.maxWeight,
    ...(weights.gate ? { gate: copyGate(weights.gate) } : {}),
    fittedOn,
    ...(loss ? { loss } : {}),
  };
  writeJsonAtomic(path.join(dir, CACHE_WEIGHTS_FILE), stored, { indent: 2 });
}

/** The weights for a model: the first of `dirs` (an adapter's folder, then its base's) that has a file. */
export function cacheWeightsFor(dirs: readonly (string | undefined)[]): CacheWeights | undefined {
  for (const dir of dirs) {
    if (dir === undefined) continue;
    const w = readCacheWeights(dir);
    if (w !== undefined) return w;
  }
  return undefined;
}
