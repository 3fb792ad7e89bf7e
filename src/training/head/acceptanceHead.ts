/**
 * The acceptance head as it ships and loads: `head.safetensors` (the suggestion head and the
 * prompt-only head, each a weight [E] and a bias [1]) and `head.json` (what it was trained on, the
 * skip threshold, held-out numbers), in an adapter folder or in models/embedded/. The base model
 * works without it: no head, no confidence, nothing gated.
 *
 * - suggestion head: P(accepted) from h at the last token of prompt ++ shown suggestion;
 * - prompt head: P(this request ends in an exact suggestion) from h at the prompt's last token,
 *   read right after the prefill, so that a hopeless request is not decoded at all.
 */
import * as fs from 'fs';
import * as path from 'path';
import { writeJsonAtomic } from '../../engine/atomicFile';
import { UserError } from '../../engine/errors';
import { openSafetensors, writeSafetensors } from '../../engine/safetensors';
import { logit, sigmoid, type LinearHead } from './logistic';

export const HEAD_WEIGHTS_FILE = 'head.safetensors';
export const HEAD_META_FILE = 'head.json';

export interface HeadMeta {
  readonly format: 'gpt2-complete-acceptance-head';
  readonly version: 1;
  /** The model width the head reads. */
  readonly nEmbd: number;
  /** Scalars the suggestion head reads after h, by name (completion/engineCompletion.ts suggestionFeatures). */
  readonly features?: readonly string[];
  /** Prompt-head probability below which a request is not decoded (0: never skipped). */
  readonly skipBelow: number;
  /** How examples were labelled ("exact" or "prefix>=N"). */
  readonly labelling: string;
  /** GPT-1's λ: with the transformer frozen it does not change the head (logistic.ts). */
  readonly lambda: number;
  readonly decay: number;
  readonly trainedOn: string;
  readonly examples: number;
  readonly positives: number;
  /** Validation numbers at training time (free-form, for reports). */
  readonly validation?: Record<string, number | null>;
}

/** The runtime view the engine side uses (completion/engineCompletion.ts ConfidenceHead). */
export class AcceptanceHead {
  constructor(
    readonly suggestionHead: LinearHead,
    readonly promptHead: LinearHead | undefined,
    readonly meta: HeadMeta,
  ) {
    if (suggestionHead.weight.length !== suggestionWidth(meta)) throw new Error('AcceptanceHead: weight width differs from nEmbd + features');
  }

  get nEmbd(): number {
    return this.meta.nEmbd;
  }

  get skipBelow(): number {
    return this.promptHead === undefined ? 0 : this.meta.skipBelow;
  }

  suggestion(h: ArrayLike<number>): number {
    return sigmoid(logit(this.suggestionHead, h));
  }

  prompt(h: ArrayLike<number>): number | undefined {
    return this.promptHead === undefined ? undefined : sigmoid(logit(this.promptHead, h));
  }

  save(dir: string): void {
    fs.mkdirSync(dir, { recursive: true });
    const E = this.meta.nEmbd;
    const tensors = [
      { name: 'suggestion.weight', dtype: 'F32' as const, shape: [suggestionWidth(this.meta)], data: Float32Array.from(this.suggestionHead.weight) },
      { name: 'suggestion.bias', dtype: 'F32' as const, shape: [1], data: Float32Array.of(this.suggestionHead.bias) },
    ];
    if (this.promptHead !== undefined) {
      tensors.push(
        { name: 'prompt.weight', dtype: 'F32', shape: [E], data: Float32Array.from(this.promptHead.weight) },
        { name: 'prompt.bias', dtype: 'F32', shape: [1], data: Float32Array.of(this.promptHead.bias) },
      );
    }
    writeSafetensors(path.join(dir, HEAD_WEIGHTS_FILE), tensors, { format: this.meta.format });
    writeJsonAtomic(path.join(dir, HEAD_META_FILE), this.meta, { indent: 2 });
  }
}

/** h's width plus the scalar features after it. */
function suggestionWidth(meta: HeadMeta): number {
  return meta.nEmbd + (meta.features?.length ?? 0);
}

/** Whether `dir` has a head (both files). */
export function hasHead(dir: string): boolean {
  return fs.existsSync(path.join(dir, HEAD_WEIGHTS_FILE)) && fs.existsSync(path.join(dir, HEAD_META_FILE));
}

/**
 * The head in `dir`, checked against the model's width; undefined when the folder has none.
 * A broken or mismatched head is a UserError naming the file and what to do.
 */
export function loadAcceptanceHead(dir: string, nEmbd: number): AcceptanceHead | undefined {
  if (!hasHead(dir)) return undefined;
  const metaPath = path.join(dir, HEAD_META_FILE);
  const weightsPath = path.join(dir, HEAD_WEIGHTS_FILE);
  let meta: HeadMeta;
  try {
    meta = JSON.parse(fs.readFileSync(metaPath, 'utf8')) as HeadMeta;
  } catch (e) {
    throw new UserError(`${metaPath}: not readable JSON (${(e as Error).message}); delete the head files or train the head again (finetune --head-only)`);
  }
  if (meta.format !== 'gpt2-complete-acceptance-head' || meta.version !== 1) {
    throw new UserError(`${metaPath}: not an acceptance head of a version this build reads; train the head again (finetune --head-only)`);
  }
  if (meta.nEmbd !== nEmbd) {
    throw new UserError(`${metaPath}: the head reads ${meta.nEmbd}-wide states but the model is ${nEmbd} wide; it was trained for another model: train it again for this one (finetune --head-only)`);
  }
  const file = openSafetensors(weightsPath);
  try {
    const read = (name: string, n: number): Float32Array => {
      if (!file.tensors.has(name)) throw new UserError(`${weightsPath}: no tensor ${name}; train the head again (finetune --head-only)`);
      const t = file.readFloat32(name);
      if (t.length !== n) throw new UserError(`${weightsPath}: ${name} has ${t.length} values, expected ${n}; train the head again`);
      if (t.some((x) => !Number.isFinite(x))) throw new UserError(`${weightsPath}: ${name} holds NaN or infinite values; train the head again`);
      return t;
    };
    const linear = (prefix: string, width: number): LinearHead => ({ weight: Float64Array.from(read(`${prefix}.weight`, width)), bias: read(`${prefix}.bias`, 1)[0] });
    const prompt = file.tensors.has('prompt.weight') ? linear('prompt', nEmbd) : undefined;
    return new AcceptanceHead(linear('suggestion', suggestionWidth(meta)), prompt, meta);
  } finally {
    file.close();
  }
}
