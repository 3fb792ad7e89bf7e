/**
 * Train / held-out split by WHOLE files. Windows cut from a training file share most of their
 * text with each other, so held-out windows of the same files would measure memorisation, not
 * how well the model completes code it has not seen (Refact holds out whole files too).
 */
import { hashToUint32, hashToUnit } from './seededHash';

export interface SplitOptions {
  /** Target share of the tokens held out (default 0.1; clamped to at most 0.5). */
  readonly heldOutFraction?: number;
  /** Seed of the split; the same seed and paths always give the same split (default 0). */
  readonly seed?: number;
  /** Names the hash order, so a second split of the same files (validation) draws its own files (default 'split'). */
  readonly salt?: string;
}

export interface SizedFile {
  readonly path: string;
  readonly tokens: number;
}

/**
 * heldout: whole files measured before and after (and by `quality` with the same seed);
 * validation: whole training-side files that early stopping and the best checkpoint are chosen on,
 * so the held-out numbers reported as "after" never took part in choosing what they measure.
 */
export type Split = 'train' | 'validation' | 'heldout';

/**
 * Files visited in an order fixed by a hash of (seed, path) are held out while they keep the
 * held-out tokens within `heldOutFraction` of all tokens and the held-out files within that share
 * of the files (else many tiny files fill the quota with few evaluation cuts); a file too big for
 * what is left is passed over, so one huge file cannot take the evaluation (or the training). With
 * two or more files at least one is held out (the first in hash order with at most half the
 * tokens: one exists, the smallest) and at least one is kept for training. Order within each
 * returned list is the input order.
 */
export function splitFiles<T extends SizedFile>(
  files: readonly T[],
  options: SplitOptions = {},
): { train: T[]; heldOut: T[] } {
  const fraction = Math.min(0.5, Math.max(0, options.heldOutFraction ?? 0.1));
  const seed = options.seed ?? 0;
  if (files.length < 2 || fraction === 0) return { train: [...files], heldOut: [] };

  const total = files.reduce((sum, f) => sum + f.tokens, 0);
  const target = fraction * total;
  const order = files
    .map((file, index) => ({ index, key: hashToUnit(seed, options.salt ?? 'split', file.path) }))
    .sort((a, b) => a.key - b.key || a.index - b.index);
  const maxFiles = Math.max(1, Math.round(fraction * files.length));
  const held = new Set<number>();
  let heldTokens = 0;
  for (const { index } of order) {
    if (held.size >= maxFiles) break;
    if (heldTokens + files[index].tokens <= target) {
      held.add(index);
      heldTokens += files[index].tokens;
    }
  }
  if (held.size === 0) {
    const first = order.find(({ index }) => files[index].tokens <= total / 2);
    held.add((first ?? order[0]).index);
  }
  if (held.size === files.length) held.delete(order[order.length - 1].index);
  return {
    train: files.filter((_, i) => !held.has(i)),
    heldOut: files.filter((_, i) => held.has(i)),
  };
}

/** Training files kept for training when a validation split is taken: below this many, all of them train. */
export const MIN_TRAIN_FILES_FOR_VALIDATION = 4;

/**
 * The validation files, taken from the training side of splitFiles by its own hash order (about
 * 10% of the training tokens, whole files), or none when there are too few training files to spare
 * one. The held-out side is untouched, so `quality --seed S` still holds out finetune's files.
 */
export function splitValidation<T extends SizedFile>(trainFiles: readonly T[], seed = 0): { train: T[]; validation: T[] } {
  if (trainFiles.length < MIN_TRAIN_FILES_FOR_VALIDATION) return { train: [...trainFiles], validation: [] };
  const { train, heldOut } = splitFiles(trainFiles, { seed, heldOutFraction: 0.1, salt: 'validation' });
  return { train, validation: heldOut };
}

/**
 * Seed of the cut-point sampler for one file. The split is part of it, so the held-out files'
 * evaluation cuts are their own fixed stream: changing how training examples are sampled (or
 * which other files exist) never moves them.
 */
export function exampleSeed(seed: number, split: Split, path: string): number {
  return hashToUint32(seed, split === 'train' ? 'train-cuts' : split === 'validation' ? 'validation-cuts' : 'evaluation-cuts', path);
}
