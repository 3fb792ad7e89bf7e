/**
 * What mining a folder found: every file used (with its split) and every file skipped (with its
 * reason), like Refact's "Full List" of accepted and rejected files — a user who wonders why
 * fine-tuning ignored a file can find out without reading code.
 */
import { SKIP_REASON_IDS, SKIP_REASONS, SkipReason, SkippedFile } from './fileFilters';
import { SecretsMode } from './secretScan';
import { Split } from './split';

export interface UsedFile {
  readonly path: string;
  readonly bytes: number;
  /** GPT-2 tokens of the whole file (LF line breaks). */
  readonly tokens: number;
  readonly split: Split;
  readonly examples: number;
  /** Lines left out because they held a secret (drop-lines mode), and the rules that found them. */
  readonly secretLinesDropped?: number;
  readonly secretRules?: readonly string[];
}

export interface SplitTotals {
  readonly files: number;
  readonly tokens: number;
  readonly examples: number;
}

export interface DataReport {
  /** Absolute path of the mined folder. */
  readonly folder: string;
  /** How candidate files were listed: `git ls-files` or a .gitignore-aware walk. */
  readonly source: 'git' | 'walk';
  /** Used files in path order. */
  readonly used: UsedFile[];
  /** Skipped files in path order. */
  readonly skipped: SkippedFile[];
  /** Every reason, zero included, so consumers need no existence checks. */
  readonly skippedByReason: Record<SkipReason, number>;
  /** What a secret in a file's text did: skip the file (default) or drop its lines. */
  readonly secretsMode?: SecretsMode;
  readonly train: SplitTotals;
  /** Training-side files kept out of training to choose the best checkpoint on (absent in reports of older runs). */
  readonly validation?: SplitTotals;
  readonly heldOut: SplitTotals;
}

/** A split's name in reports. */
export function splitLabel(split: Split): string {
  return split === 'heldout' ? 'held-out' : split;
}

/** 12345 → "12,345", the same on every machine. */
export function formatCount(n: number): string {
  return Math.round(n).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

export function countByReason(skipped: readonly SkippedFile[]): Record<SkipReason, number> {
  const counts = Object.fromEntries(SKIP_REASON_IDS.map((id) => [id, 0])) as Record<SkipReason, number>;
  for (const s of skipped) counts[s.reason]++;
  return counts;
}

function plural(n: number, one: string, many = `${one}s`): string {
  return `${formatCount(n)} ${n === 1 ? one : many}`;
}

/** "4 vendored, 2 secret": the non-zero reasons, most frequent first. */
export function summarizeSkipped(report: DataReport): string {
  return SKIP_REASON_IDS.filter((id) => report.skippedByReason[id] > 0)
    .sort((a, b) => report.skippedByReason[b] - report.skippedByReason[a])
    .map((id) => `${formatCount(report.skippedByReason[id])} ${id}`)
    .join(', ');
}

function table(rows: string[][], rightAligned: boolean[]): string[] {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  return rows.map((r) =>
    r
      .map((cell, c) => (rightAligned[c] ? cell.padStart(widths[c]) : cell.padEnd(widths[c])))
      .join('  ')
      .trimEnd(),
  );
}

/** A plain-text report: totals per split, skipped files by reason (with a few examples), the largest files used. */
export function formatReport(report: DataReport, options: { topFiles?: number; examplesPerReason?: number } = {}): string {
  const topFiles = options.topFiles ?? 10;
  const examplesPerReason = options.examplesPerReason ?? 3;
  const lines: string[] = [];
  const how = report.source === 'git' ? 'git ls-files' : 'folder walk with .gitignore';
  lines.push(
    `Data from ${report.folder} (${how}): ${plural(report.used.length, 'file')} used, ${plural(report.skipped.length, 'file')} skipped`,
  );
  lines.push('');
  const totals = (name: string, t: SplitTotals) => [name, formatCount(t.files), formatCount(t.tokens), formatCount(t.examples)];
  for (const line of table(
    [
      ['split', 'files', 'tokens', 'examples'],
      totals('train', report.train),
      ...(report.validation !== undefined && report.validation.files > 0 ? [totals('validation', report.validation)] : []),
      totals('held-out', report.heldOut),
    ],
    [false, true, true, true],
  )) {
    lines.push(`  ${line}`);
  }

  if (report.skipped.length > 0) {
    lines.push('', 'Skipped:');
    const rows: string[][] = [];
    for (const id of SKIP_REASON_IDS) {
      const count = report.skippedByReason[id];
      if (count === 0) continue;
      const paths = report.skipped.filter((s) => s.reason === id).map((s) => s.path);
      const shown = paths.slice(0, examplesPerReason).join(', ') + (paths.length > examplesPerReason ? ', …' : '');
      rows.push([id, formatCount(count), SKIP_REASONS[id], shown]);
    }
    for (const line of table(rows, [false, true, false, false])) lines.push(`  ${line}`);
  }

  lines.push(...secretLines(report));

  if (report.used.length > 0) {
    const largest = [...report.used].sort((a, b) => b.tokens - a.tokens || (a.path < b.path ? -1 : 1)).slice(0, topFiles);
    lines.push('', report.used.length > topFiles ? `Largest ${topFiles} files used:` : 'Files used:');
    const rows = [['tokens', 'bytes', 'examples', 'split', 'path']];
    for (const f of largest) {
      rows.push([formatCount(f.tokens), formatCount(f.bytes), formatCount(f.examples), splitLabel(f.split), f.path]);
    }
    for (const line of table(rows, [true, true, true, false, false])) lines.push(`  ${line}`);
  }
  return lines.join('\n');
}

/** Files with secrets: every one, by path and rule, never the secret itself. */
export function secretFindings(report: DataReport): { path: string; rules: readonly string[]; action: string }[] {
  const skipped = report.skipped
    .filter((s) => s.reason === 'secret')
    .map((s) => ({ path: s.path, rules: s.rules ?? [], action: 'file skipped' }));
  const dropped = report.used
    .filter((u) => (u.secretLinesDropped ?? 0) > 0)
    .map((u) => ({ path: u.path, rules: u.secretRules ?? [], action: `${plural(u.secretLinesDropped!, 'line')} dropped` }));
  return [...skipped, ...dropped].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

const MAX_SECRET_ROWS = 50;

function secretLines(report: DataReport): string[] {
  const found = secretFindings(report);
  if (found.length === 0) return [];
  const droppedLines = report.used.reduce((n, u) => n + (u.secretLinesDropped ?? 0), 0);
  const skippedFiles = found.filter((f) => f.action === 'file skipped').length;
  const summary = [skippedFiles > 0 && `${plural(skippedFiles, 'file')} skipped`, droppedLines > 0 && `${plural(droppedLines, 'secret line')} dropped`]
    .filter(Boolean)
    .join(', ');
  const rows = found.slice(0, MAX_SECRET_ROWS).map((f) => [f.path, f.action, f.rules.join(', ')]);
  const out = ['', `Secrets (${summary}; never used as data, values not shown):`];
  for (const line of table(rows, [false, false, false])) out.push(`  ${line}`);
  if (found.length > MAX_SECRET_ROWS) out.push(`  … and ${formatCount(found.length - MAX_SECRET_ROWS)} more`);
  return out;
}
