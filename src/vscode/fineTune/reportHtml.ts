/**
 * The fine-tuning report page: the before/after table, the training summary and the data report
 * rendered here as escaped HTML; the loss curve drawn in the page by media/fineTuneReport.js from
 * the points embedded as a JSON data block. No `vscode` import: the panel passes in the asset URIs,
 * its CSP source and a nonce, so the page loads nothing but the extension's own script and style.
 */
import { SKIP_REASON_IDS, SKIP_REASONS } from '../../training/data/fileFilters';
import { formatCount, type DataReport, type SplitTotals } from '../../training/data/report';
import type { EvalJson, FineTuneResultJson } from '../../training/fineTuneProtocol';
import { formatDuration } from './fineTuneText';
import type { LossPoint } from './fineTuneRun';

export interface ReportData {
  modelLabel: string;
  folder: string;
  adapterDir: string;
  finishedAt: Date;
  durationSeconds: number;
  result: FineTuneResultJson;
  lossCurve: LossPoint[];
  report: DataReport | undefined;
}

export interface PageAssets {
  scriptUri: string;
  styleUri: string;
  /** webview.cspSource */
  cspSource: string;
  nonce: string;
}

/** Files listed one by one in the collapsed lists; the totals above always count them all. */
const LISTED_FILES = 500;

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** JSON safe inside a <script> element: no `</script>`, no HTML comment openers. */
export function jsonForScript(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c').replace(/>/g, '\\u003e').replace(/&/g, '\\u0026');
}

interface MetricRow {
  label: string;
  hint: string;
  value: (e: EvalJson) => number;
  format: (x: number) => string;
  higherIsBetter: boolean;
}

const METRICS: MetricRow[] = [
  { label: 'Continuation loss (L2)', hint: 'held-out text after each cut, nats/token', value: (e) => e.l2, format: (x) => x.toFixed(3), higherIsBetter: false },
  { label: 'Perplexity', hint: 'exp(L2)', value: (e) => e.perplexity, format: (x) => x.toFixed(2), higherIsBetter: false },
  { label: 'Context loss (L1)', hint: 'language modelling on the text before each cut', value: (e) => e.l1, format: (x) => x.toFixed(3), higherIsBetter: false },
  { label: 'Next-line exact match', hint: 'the rest of the line predicted exactly', value: (e) => e.exact_match, format: (x) => `${(x * 100).toFixed(1)}%`, higherIsBetter: true },
];

function change(row: MetricRow, before: number, after: number): string {
  const delta = after - before;
  if (!Number.isFinite(delta) || Math.abs(delta) < 1e-9) return '<td class="num same">no change</td>';
  const better = row.higherIsBetter ? delta > 0 : delta < 0;
  const sign = delta > 0 ? '+' : '−';
  const abs = Math.abs(delta);
  const text = row.higherIsBetter ? `${sign}${(abs * 100).toFixed(1)} pts` : `${sign}${row.format(abs)}${before !== 0 ? ` (${sign}${((abs / Math.abs(before)) * 100).toFixed(1)}%)` : ''}`;
  return `<td class="num ${better ? 'better' : 'worse'}">${escapeHtml(text)}</td>`;
}

function evalTable(before: EvalJson, after: EvalJson): string {
  const rows = METRICS.map((m) => {
    const b = m.value(before);
    const a = m.value(after);
    return `<tr><th scope="row">${escapeHtml(m.label)}<span class="hint">${escapeHtml(m.hint)}</span></th><td class="num">${escapeHtml(m.format(b))}</td><td class="num">${escapeHtml(m.format(a))}</td>${change(m, b, a)}</tr>`;
  });
  return `<table class="metrics"><thead><tr><th></th><th class="num">Before</th><th class="num">After</th><th class="num">Change</th></tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

function dl(entries: [string, string][]): string {
  return `<dl class="facts">${entries.map(([k, v]) => `<dt>${escapeHtml(k)}</dt><dd>${escapeHtml(v)}</dd>`).join('')}</dl>`;
}

function trainingSection(data: ReportData): string {
  const r = data.result;
  return dl([
    ['Model', data.modelLabel],
    ['Trained on', data.folder],
    ['Steps', formatCount(r.steps)],
    ['Tokens trained on', formatCount(r.tokens)],
    ['Speed', `${formatCount(r.tokens_per_s)} tokens/s`],
    ['Duration', formatDuration(data.durationSeconds)],
    ['Final training loss', `L3 ${r.train.l3.toFixed(3)} (L2 ${r.train.l2.toFixed(3)}, L1 ${r.train.l1.toFixed(3)})`],
    ['Adapter', data.adapterDir],
  ]);
}

function fileList(title: string, rows: string[], total: number): string {
  if (total === 0) return '';
  const more = total > rows.length ? `<p class="hint">… and ${formatCount(total - rows.length)} more</p>` : '';
  return `<details><summary>${escapeHtml(title)} (${formatCount(total)})</summary><table class="files">${rows.join('')}</table>${more}</details>`;
}

function dataSection(report: DataReport | undefined): string {
  if (report === undefined) return '<p class="hint">The data report was not received.</p>';
  const splits: [string, SplitTotals][] = [
    ['Training', report.train],
    ['Held out', report.heldOut],
  ];
  const totals =
    '<table class="metrics"><thead><tr><th></th><th class="num">Files</th><th class="num">Tokens</th><th class="num">Examples</th></tr></thead><tbody>' +
    splits
      .map(([name, t]) => `<tr><th scope="row">${name}</th><td class="num">${formatCount(t.files)}</td><td class="num">${formatCount(t.tokens)}</td><td class="num">${formatCount(t.examples)}</td></tr>`)
      .join('') +
    '</tbody></table>';
  const reasons = SKIP_REASON_IDS.filter((id) => report.skippedByReason[id] > 0);
  const skipped =
    reasons.length === 0
      ? '<p>No file was skipped.</p>'
      : `<table class="metrics"><thead><tr><th>Skipped because</th><th class="num">Files</th></tr></thead><tbody>${reasons
          .map((id) => `<tr><th scope="row">${escapeHtml(SKIP_REASONS[id])}</th><td class="num">${formatCount(report.skippedByReason[id])}</td></tr>`)
          .join('')}</tbody></table>`;
  const used = report.used
    .slice(0, LISTED_FILES)
    .map((f) => `<tr><td>${escapeHtml(f.path)}</td><td class="num">${formatCount(f.tokens)} tokens</td><td>${f.split === 'train' ? 'training' : 'held out'}</td></tr>`);
  const skippedRows = report.skipped.slice(0, LISTED_FILES).map((f) => `<tr><td>${escapeHtml(f.path)}</td><td>${escapeHtml(f.reason)}</td></tr>`);
  const how = report.source === 'git' ? 'files tracked by git' : 'a folder walk that honours .gitignore';
  return (
    `<p>${formatCount(report.used.length)} files used, ${formatCount(report.skipped.length)} skipped, from ${escapeHtml(report.folder)} (${how}).</p>` +
    totals +
    skipped +
    fileList('Files used', used, report.used.length) +
    fileList('Files skipped', skippedRows, report.skipped.length)
  );
}

export function renderReportHtml(data: ReportData, assets: PageAssets): string {
  const { before, after } = data.result.eval;
  const csp = [
    "default-src 'none'",
    `style-src ${assets.cspSource}`,
    `script-src 'nonce-${assets.nonce}'`,
    `img-src ${assets.cspSource} data:`,
  ].join('; ');
  const curve = { points: data.lossCurve };
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${escapeHtml(csp)}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" href="${escapeHtml(assets.styleUri)}">
<title>Fine-tuning report</title>
</head>
<body>
<header>
<h1>Fine-tuned ${escapeHtml(data.modelLabel)} on ${escapeHtml(data.folder)}</h1>
<p class="hint">Finished ${escapeHtml(data.finishedAt.toLocaleString())}. Suggestions in this workspace now use the adapter; "GPT-2 Complete: Turn Off Fine-tuned Adapter" goes back to the base model.</p>
</header>
<section>
<h2>Held-out files, before and after</h2>
${evalTable(before, after)}
</section>
<section>
<h2>Loss</h2>
<div id="loss-chart" class="chart" role="img" aria-label="Training loss by step"></div>
<p class="hint">Training loss L3 = L2 + λ·L1 at each step; held-out continuation loss L2 where it was measured.</p>
</section>
<section>
<h2>Training</h2>
${trainingSection(data)}
</section>
<section>
<h2>Data</h2>
${dataSection(data.report)}
</section>
<script id="loss-data" type="application/json">${jsonForScript(curve)}</script>
<script nonce="${assets.nonce}" src="${escapeHtml(assets.scriptUri)}"></script>
</body>
</html>`;
}
