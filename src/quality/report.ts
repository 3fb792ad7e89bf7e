/** The benchmark's results as an aligned markdown table (terminal and docs alike) and as JSON. */
import { CUT_KINDS, type Cut } from './cuts';
import type { Scores } from './metrics';
import type { QualityResult, SystemResult } from './runQuality';
import type { WorkspaceSplit } from './workspaceSplit';

const HEADER = ['', 'exact', 'shown', 'precision', 'edit sim', 'prefix-correct', 'p50 / p90 ms'];

const percent = (x: number | null): string => (x === null ? '–' : `${(100 * x).toFixed(1)}%`);
const ms = (x: number | null): string => (x === null ? '–' : x >= 10 ? x.toFixed(0) : x >= 1 ? x.toFixed(1) : x.toFixed(2));

function row(name: string, s: Scores): string[] {
  return [
    name,
    `${percent(s.exactRate)} (${s.exact}/${s.cuts})`,
    percent(s.shownRate),
    percent(s.precision),
    s.editSimilarity === null ? '–' : s.editSimilarity.toFixed(3),
    percent(s.prefixCorrect),
    `${ms(s.latencyP50Ms)} / ${ms(s.latencyP90Ms)}`,
  ];
}

export function formatTable(systems: readonly { readonly name: string; readonly scores: Scores }[]): string {
  const rows = [HEADER, ...systems.map((s) => row(s.name, s.scores))];
  const widths = HEADER.map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  const line = (r: string[]) => `| ${r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join(' | ')} |`;
  const rule = `|${widths.map((w, c) => (c === 0 ? '-'.repeat(w + 2) : `${'-'.repeat(w + 1)}:`)).join('|')}|`;
  return [line(rows[0]), rule, ...rows.slice(1).map(line)].join('\n');
}

/** Exact match per kind of cut, one line per system. */
export function formatByKind(systems: readonly SystemResult[]): string {
  const width = Math.max(...systems.map((s) => s.name.length));
  return systems
    .map((s) => `${s.name.padEnd(width)}  ${CUT_KINDS.map((k) => `${k} ${percent(s.byKind[k].exactRate)} of ${s.byKind[k].cuts}`).join(', ')}`)
    .join('\n');
}

export interface CutSummary {
  readonly total: number;
  readonly files: number;
  readonly perFileCap: number;
  readonly byKind: Record<string, number>;
  readonly testPathCuts: number;
  readonly filesWithCuts: number;
}

export function summarizeCuts(cuts: readonly Cut[], files: number, perFileCap: number): CutSummary {
  const byKind: Record<string, number> = Object.fromEntries(CUT_KINDS.map((k) => [k, 0]));
  for (const c of cuts) byKind[c.kind]++;
  return {
    total: cuts.length,
    files,
    perFileCap,
    byKind,
    testPathCuts: cuts.filter((c) => c.isTest).length,
    filesWithCuts: new Set(cuts.map((c) => c.file)).size,
  };
}

export function splitSummary(split: WorkspaceSplit) {
  const side = (files: WorkspaceSplit['train']) => ({ files: files.length, tokens: files.reduce((s, f) => s + f.tokens, 0) });
  return { by: split.by, source: split.source, train: side(split.train), held_out: side(split.heldOut), skipped_files: split.skipped };
}

const scoresJson = (s: Scores) => ({
  cuts: s.cuts,
  exact: s.exactRate,
  exact_count: s.exact,
  shown: s.shownRate,
  shown_count: s.shown,
  precision: s.precision,
  edit_similarity: s.editSimilarity,
  prefix_correct: s.prefixCorrect,
  latency_p50_ms: s.latencyP50Ms,
  latency_p90_ms: s.latencyP90Ms,
});

/** One object with every number of the run. */
export function qualityJson(o: {
  arguments: Record<string, unknown>;
  model: string;
  split: WorkspaceSplit;
  cuts: CutSummary;
  result: QualityResult;
}) {
  return {
    arguments: o.arguments,
    model: o.model,
    split: splitSummary(o.split),
    cuts: {
      total: o.cuts.total,
      held_out_code_files: o.cuts.files,
      files_with_cuts: o.cuts.filesWithCuts,
      per_file_cap: o.cuts.perFileCap,
      by_kind: o.cuts.byKind,
      test_path_cuts: o.cuts.testPathCuts,
    },
    systems: Object.fromEntries(
      o.result.systems.map((s) => [
        s.name,
        { ...scoresJson(s.scores), by_kind: Object.fromEntries(CUT_KINDS.map((k) => [k, scoresJson(s.byKind[k])])) },
      ]),
    ),
    baseline_build_ms: Math.round(o.result.baselineBuildMs),
    run_ms: Math.round(o.result.runMs),
  };
}
