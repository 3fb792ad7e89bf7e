/**
 * What the bench scripts that collect the pipeline's suggestions on the quality sets share
 * (acceptanceHead.ts, workspaceCandidates.ts): the sets named on the command line (all by default),
 * each set's whole-file split (seed 0, as `gpt2-complete quality`), and the editor's pipeline over the
 * set's folder with nothing gated (no head, minConfidence 0), disposed after the set.
 */
import * as path from 'path';
import { openPipelineRunner, type PipelineRunner } from '../src/cli/pipelineRunner';
import { splitWorkspace, type WorkspaceSplit } from '../src/quality/workspaceSplit';
import { FIT_SETS } from '../scripts/quality-sets';

export const QUALITY_SET_NAMES = ['rich', 'werkzeug', 'rxjs', 'zod'];
/** The repositories the shipped head and choice rule are fitted on (scripts/quality-sets.ts FIT_SETS). */
export const FIT_SET_NAMES = FIT_SETS.map((s) => s.name);
export const TEST_CACHE = path.resolve(__dirname, '..', '.test-cache');

export interface SetRun {
  readonly set: string;
  readonly folder: string;
  readonly split: WorkspaceSplit;
  readonly runner: PipelineRunner;
}

/** The sets among `args`, benchmark or fitting (`--fit`: every fitting set); the four benchmark sets when none is named. */
export function setsNamed(args: readonly string[]): string[] {
  const named = [...(args.includes('--fit') ? FIT_SET_NAMES : []), ...args.filter((a) => QUALITY_SET_NAMES.includes(a) || FIT_SET_NAMES.includes(a))];
  return named.length > 0 ? [...new Set(named)] : QUALITY_SET_NAMES;
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
