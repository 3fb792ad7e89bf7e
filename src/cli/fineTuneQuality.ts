/**
 * The quality judge the fine-tuning child runs before and after training: `quality`'s measurement
 * (measureQuality: finetune's held-out files, seeded cuts, the editor's pipeline with its defaults,
 * the workspace cache model included) on the base model, then with the new adapter: both with their
 * acceptance heads when the run trained the adapter's own (what the editor shows), else both
 * without. The same numbers `gpt2-complete quality <folder> [--adapter <out>] [--no-head]` prints.
 */
import { Writable } from 'stream';
import { CancelledError } from '../engine/errors';
import type { QualityJudge } from '../training/fineTune';
import { qualityCounts } from '../training/verdict';
import { measureQuality } from './qualityCommand';

/** The judge's own progress line is not wanted inside a fine-tuning run. */
const silent = new Writable({ write: (_chunk, _encoding, done) => done() });

export const pipelineQualityJudge: QualityJudge = async (request) => {
  if (request.signal.aborted) throw new CancelledError();
  const run = await measureQuality(
    {
      folder: request.folder,
      cuts: request.cuts,
      seed: request.seed,
      include: request.include,
      exclude: request.exclude,
      // With the acceptance head only when the run trains the adapter's own: otherwise the base
      // model's head would gate "before" while the adapter has none, not the same configuration.
      modelFlags: {
        'no-head': !request.head,
        model: request.model,
        adapter: request.adapter,
        device: request.device,
        threads: request.threads === undefined ? undefined : String(request.threads),
      },
    },
    { progress: silent },
  );
  if (request.signal.aborted) throw new CancelledError();
  const system = (name: string) => run.result.systems.find((s) => s.name === name)!.scores;
  return { model: qualityCounts(system('model')), bestBaseline: qualityCounts(system('best baseline')) };
};
