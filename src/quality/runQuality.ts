/**
 * One benchmark run: the model (through a Suggester) and every baseline on the same cuts, each
 * scored with the same metrics, overall and per kind of cut.
 */
import * as path from 'path';
import { BASELINE_NAMES, buildBaselines } from './baselines';
import { CUT_KINDS, type Cut, type CutKind } from './cuts';
import { score, type Outcome, type Scores } from './metrics';
import type { Suggester } from './suggester';
import type { WorkspaceSplit } from './workspaceSplit';

export const SYSTEM_NAMES = ['model', ...BASELINE_NAMES] as const;
export type SystemName = (typeof SYSTEM_NAMES)[number];

export interface SystemResult {
  readonly name: SystemName;
  readonly scores: Scores;
  readonly byKind: Record<CutKind, Scores>;
}

export interface QualityResult {
  readonly systems: SystemResult[];
  /** Time to build the baselines from the training files, ms. */
  readonly baselineBuildMs: number;
  /** Wall time of the cuts (model and baselines), ms. */
  readonly runMs: number;
}

export interface RunOptions {
  readonly split: WorkspaceSplit;
  readonly cuts: readonly Cut[];
  readonly suggester: Suggester;
  /** Called after each cut. */
  readonly onProgress?: (done: number, total: number) => void;
}

export async function runQuality(options: RunOptions): Promise<QualityResult> {
  const { split, cuts, suggester } = options;
  const baselines = buildBaselines(split.train.map((f) => f.text));
  const outcomes = new Map<SystemName, Outcome[]>(SYSTEM_NAMES.map((n) => [n, []]));
  const started = performance.now();
  for (let i = 0; i < cuts.length; i++) {
    const cut = cuts[i];
    const suggestion = await suggester.suggest({
      path: path.join(split.folder, ...cut.file.split('/')),
      text: cut.document,
      offset: cut.offset,
      languageId: cut.languageId,
      workspace: split.folder,
    });
    outcomes.get('model')!.push({
      expected: cut.expected,
      suggestion: suggestion.suppressed === null ? suggestion.text : '',
      latencyMs: suggestion.latencyMs,
    });
    for (const b of baselines.suggest(cut.document, cut.offset)) {
      outcomes.get(b.name)!.push({ expected: cut.expected, suggestion: b.text, latencyMs: b.latencyMs });
    }
    options.onProgress?.(i + 1, cuts.length);
  }
  const runMs = performance.now() - started;
  const systems = SYSTEM_NAMES.map((name): SystemResult => {
    const all = outcomes.get(name)!;
    const byKind = Object.fromEntries(
      CUT_KINDS.map((kind) => [kind, score(all.filter((_, i) => cuts[i].kind === kind))]),
    ) as Record<CutKind, Scores>;
    return { name, scores: score(all), byKind };
  });
  return { systems, baselineBuildMs: baselines.buildMs, runMs };
}
