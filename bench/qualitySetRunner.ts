/**
 * What the bench scripts that collect the pipeline's suggestions on the quality sets share
 * (acceptanceHead.ts, workspaceCandidates.ts): the sets named on the command line (all by default),
 * each set's whole-file split (seed 0, as `gpt2-complete quality`), and the editor's pipeline over the
 * set's folder with nothing gated (no head, minConfidence 0), disposed after the set.
 */
import * as path from 'path';
import { openPipelineRunner, type PipelineRunner } from '../src/cli/pipelineRunner';
import { splitWorkspace, type WorkspaceSplit } from '../src/quality/workspaceSplit';

export const QUALITY_SET_NAMES = ['rich', 'werkzeug', 'rxjs', 'zod'];
export const TEST_CACHE = path.resolve(__dirname, '..', '.test-cache');

export interface SetRun {
  readonly set: string;
  readonly folder: string;
  readonly split: WorkspaceSplit;
  readonly runner: PipelineRunner;
}

/** The sets among `args` (all four when none is named). */
export function setsNamed(args: readonly string[]): string[] {
  const named = args.filter((a) => QUALITY_SET_NAMES.includes(a));
  return named.length > 0 ? named : QUALITY_SET_NAMES;
}

/** Runs `body` for each set with its split and an ungated pipeline over it, one set at a time. */
export async function forEachQualitySet(args: readonly string[], body: (run: SetRun) => Promise<void>): Promise<void> {
  for (const set of setsNamed(args)) {
    const folder = path.join(TEST_CACHE, 'quality-sets', set);
    const split = await splitWorkspace(folder, { seed: 0 });
    const runner = await openPipelineRunner('bench', { workspace: folder, 'no-head': true, 'min-confidence': '0' });
    try {
      await body({ set, folder, split, runner });
    } finally {
      await runner.dispose();
    }
  }
}
