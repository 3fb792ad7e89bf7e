/**
 * `finetune --head` / `--head-only`: trains the acceptance head for a model (the base, a base with
 * an adapter, or a fully fine-tuned checkpoint) on the pipeline's own suggestions at cuts of the
 * folder's TRAINING files (the same split as finetune and quality with the same seed), and writes
 * head.safetensors + head.json into --out, next to the adapter when there is one.
 */
import * as fs from 'fs';
import * as path from 'path';
import { UserError } from '../engine/errors';
import { splitWorkspace } from '../quality/workspaceSplit';
import { collectHeadExamples, trainAcceptanceHead, type Labelling } from './headTraining';
import { openPipelineRunner } from './pipelineRunner';

/** Cuts of the training files the head learns from. */
export const DEFAULT_HEAD_CUTS = 500;

export interface HeadJob {
  readonly folder: string;
  /** As --model takes it (embedded, a preset or a folder). */
  readonly model?: string;
  /** An adapter the states come from (its head is trained for it). */
  readonly adapter?: string;
  readonly out: string;
  readonly seed: number;
  readonly cuts: number;
  readonly include?: string[];
  readonly exclude?: string[];
  readonly device?: string;
  readonly threads?: string;
  readonly labelling?: Labelling;
  /** GPT-1's λ, recorded in head.json (the frozen transformer makes it irrelevant to the head). */
  readonly lambda?: number;
}

export interface HeadJobResult {
  readonly out: string;
  readonly examples: number;
  readonly exact: number;
  readonly validation: { auc: number | null; threshold: number; ungatedPrecision: number | null; gatedPrecision: number | null; gatedShownRate: number };
  readonly skipBelow: number;
  readonly seconds: number;
}

export async function trainHeadJob(job: HeadJob, log: (line: string) => void = (l) => process.stderr.write(l + '\n')): Promise<HeadJobResult> {
  const t0 = performance.now();
  const split = await splitWorkspace(job.folder, { seed: job.seed, include: job.include, exclude: job.exclude });
  if (split.train.length === 0) throw new UserError(`finetune --head: no training files in ${split.folder}`);
  const runner = await openPipelineRunner('finetune', {
    model: job.model, adapter: job.adapter, device: job.device, threads: job.threads, workspace: split.folder, 'no-head': true, 'min-confidence': '0',
  });
  try {
    const E = runner.loaded.engine.model.config.nEmbd;
    log(`head: the completion pipeline at ${job.cuts} cuts of ${split.train.length} training files…`);
    const examples = await collectHeadExamples(runner, split.folder, split.train, job.cuts, job.seed + 1, (done, total) => {
      if (done % 100 === 0 || done === total) log(`head: ${done}/${total} cuts`);
    });
    const scored = examples.filter((e) => e.state !== undefined);
    if (scored.length < 20) {
      throw new UserError(`finetune --head: only ${scored.length} suggestions were shown at ${examples.length} cuts of ${split.folder}'s training files; a head needs at least 20 (add code files, or raise --head-cuts)`);
    }
    const trained = trainAcceptanceHead(examples, E, {
      labelling: job.labelling, lambda: job.lambda ?? 0,
      trainedOn: `${examples.length} cuts of the training files of ${path.basename(split.folder)} (seed ${job.seed})`,
    });
    fs.mkdirSync(job.out, { recursive: true });
    trained.head.save(job.out);
    const result: HeadJobResult = {
      out: job.out, examples: trained.head.meta.examples, exact: trained.head.meta.positives, validation: trained.validation,
      skipBelow: trained.head.meta.skipBelow, seconds: (performance.now() - t0) / 1000,
    };
    const v = trained.validation;
    const pct = (x: number | null) => (x === null ? '–' : `${(100 * x).toFixed(0)}%`);
    log(`head: ${result.examples} shown suggestions, ${result.exact} exact; validation AUC ${v.auc === null ? '–' : v.auc.toFixed(2)}, ` +
      `precision ${pct(v.ungatedPrecision)} ungated, ${pct(v.gatedPrecision)} at ${v.threshold.toFixed(2)} (showing ${pct(v.gatedShownRate)}); wrote ${path.join(job.out, 'head.safetensors')}`);
    return result;
  } finally {
    await runner.dispose();
  }
}
