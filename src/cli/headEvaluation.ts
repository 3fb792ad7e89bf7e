/**
 * The acceptance head judged on held-out cuts (the quality benchmark's, same split and seed): the
 * pipeline runs ungated, each shown suggestion is scored by the head, and the numbers say how well
 * the score separates exact suggestions (AUC) and what the threshold keeps.
 */
import { sampleCuts } from '../quality/cuts';
import { splitWorkspace } from '../quality/workspaceSplit';
import { auc, gate } from '../training/head/headMetrics';
import { collectHeadExamples, scoreOutcomes } from './headTraining';
import { headFor, openPipelineRunner, type PipelineRunnerFlags } from './pipelineRunner';
import { DEFAULT_MIN_CONFIDENCE } from '../completion/minConfidence';

export interface HeadEvaluation {
  readonly cuts: number;
  readonly auc: number | null;
  readonly threshold: number;
  readonly ungated: { shown_rate: number; precision: number | null };
  readonly gated: { shown_rate: number; precision: number | null; recall: number | null };
}

/** Null when the model has no head. */
export async function evaluateHead(
  folder: string,
  flags: PipelineRunnerFlags & { seed: number; cuts: number; include?: string[]; exclude?: string[] },
): Promise<HeadEvaluation | null> {
  const split = await splitWorkspace(folder, { seed: flags.seed, include: flags.include, exclude: flags.exclude });
  const runner = await openPipelineRunner('eval', { ...flags, workspace: split.folder, 'no-head': true, 'min-confidence': '0' });
  try {
    const head = headFor(runner.loaded, flags.adapter);
    if (head === undefined) return null;
    const threshold = flags['min-confidence'] === undefined ? DEFAULT_MIN_CONFIDENCE : Number(flags['min-confidence']);
    const { cuts } = sampleCuts(split.heldOut, flags.cuts, flags.seed);
    const examples = await collectHeadExamples(runner, split.folder, split.heldOut, cuts.length, flags.seed);
    const outcomes = scoreOutcomes(examples, head);
    const scored = outcomes.filter((o) => o.shown && o.confidence !== undefined);
    const u = gate(outcomes, 0), g = gate(outcomes, threshold);
    return {
      cuts: examples.length,
      auc: auc(scored.map((o) => o.confidence!), scored.map((o) => o.exact)),
      threshold,
      ungated: { shown_rate: u.shownRate, precision: u.precision },
      gated: { shown_rate: g.shownRate, precision: g.precision, recall: g.recall },
    };
  } finally {
    await runner.dispose();
  }
}
