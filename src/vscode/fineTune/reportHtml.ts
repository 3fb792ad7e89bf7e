/**
 * The fine-tuning report page: the before/after table, the training summary and the data report
 * rendered here as escaped HTML; the loss curve drawn in the page by media/fineTuneReport.js from
 * the points embedded as a JSON data block. No `vscode` import: the panel passes in the asset URIs,
 * its CSP source and a nonce, so the page loads nothing but the extension's own script and style.
 */
import { SKIP_REASON_IDS, SKIP_REASONS } from '../../training/data/fileFilters';
import { formatCount, type DataReport, type SplitTotals } from '../../training/data/report';
import { splitLabel } from '../../training/data/report';
import type { EvalJson, FineTuneResultJson, QualityCounts } from '../../training/fineTuneProtocol';
import { describeHead } from '../../training/head/headMetrics';
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
];

/** Exact match as counts ("12 of 200") with the change in cuts; a percentage only for older results without counts. */
function exactRow(label: string, hint: string, before: { n: number; of: number } | number, after: { n: number; of: number } | number): string {
  const cell = (x: { n: number; of: number } | number) => (typeof x === 'number' ? `${(x * 100).toFixed(1)}%` : `${formatCount(x.n)} of ${formatCount(x.of)}`);
  const delta = typeof before === 'number' || typeof after === 'number' ? (after as number) - (before as number) : after.n - before.n;
  const text =
    delta === 0 ? 'no change' : typeof before === 'number' ? `${delta > 0 ? '+' : '−'}${(Math.abs(delta) * 100).toFixed(1)} pts` : `${delta > 0 ? '+' : '−'}${formatCount(Math.abs(delta))}`;
  const cls = delta === 0 ? 'same' : delta > 0 ? 'better' : 'worse';
  return `<tr><th scope="row">${escapeHtml(label)}<span class="hint">${escapeHtml(hint)}</span></th><td class="num">${escapeHtml(cell(before))}</td><td class="num">${escapeHtml(cell(after))}</td><td class="num ${cls}">${escapeHtml(text)}</td></tr>`;
}

const counted = (e: EvalJson): { n: number; of: number } | number => (e.exact_matches !== undefined && e.cases !== undefined ? { n: e.exact_matches, of: e.cases } : e.exact_match);
const judged = (q: QualityCounts) => ({ n: q.exact, of: q.cuts });

function change(row: MetricRow, before: number, after: number): string {
  const delta = after - before;
  if (!Number.isFinite(delta) || Math.abs(delta) < 1e-9) return '<td class="num same">no change</td>';
  const better = row.higherIsBetter ? delta > 0 : delta < 0;
  const sign = delta > 0 ? '+' : '−';
  const abs = Math.abs(delta);
  const text = row.higherIsBetter ? `${sign}${(abs * 100).toFixed(1)} pts` : `${sign}${row.format(abs)}${before !== 0 ? ` (${sign}${((abs / Math.abs(before)) * 100).toFixed(1)}%)` : ''}`;
  return `<td class="num ${better ? 'better' : 'worse'}">${escapeHtml(text)}</td>`;
}

/** The CLI's log line as a sentence of the report: "acceptance head: …" → "Acceptance head: …". */
function sentence(line: string): string {
  return line.charAt(0).toUpperCase() + line.slice(1);
}

/** The acceptance head trained with the adapter: what decides which suggestions are shown. */
function headSection(result: FineTuneResultJson): string {
  if (result.head === undefined) return '';
  return `<section>
<h2>What is worth showing</h2>
<p>${escapeHtml(sentence(describeHead(result.head)))}.</p>
<p class="hint">GPT-1's classification head on the fine-tuned model's final state, trained on its own suggestions at points of your training files (and on what you accepted or rejected, when the suggestion log is on); it hides suggestions below the confidence setting.</p>
</section>
`;
}

function evalTable(result: FineTuneResultJson): string {
  const { before, after } = result.eval;
  const q = result.quality;
  const exact = [
    ...(q !== undefined
      ? [
          exactRow('Suggestions exactly right', `the rest of the line, by the completion pipeline ${q.head === true ? 'as the editor shows it (the acceptance head deciding)' : 'without the acceptance head and its workspace lines'} (best trivial baseline: ${q.best_baseline.exact} of ${q.best_baseline.cuts})`, judged(q.before), judged(q.after)),
          exactRow('Suggestions shown', 'cuts where the editor showed something', { n: q.before.shown, of: q.before.cuts }, { n: q.after.shown, of: q.after.cuts }),
        ]
      : []),
    exactRow('Next-line exact match', 'greedy completion of the rest of the line', counted(before), counted(after)),
  ];
  const rows = METRICS.map((m) => {
    const b = m.value(before);
    const a = m.value(after);
    return `<tr><th scope="row">${escapeHtml(m.label)}<span class="hint">${escapeHtml(m.hint)}</span></th><td class="num">${escapeHtml(m.format(b))}</td><td class="num">${escapeHtml(m.format(a))}</td>${change(m, b, a)}</tr>`;
  });
  return `<table class="metrics"><thead><tr><th></th><th class="num">Before</th><th class="num">After</th><th class="num">Change</th></tr></thead><tbody>${[...exact, ...rows].join('')}</tbody></table>`;
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
    ...(report.validation !== undefined && report.validation.files > 0 ? [['Validation (chooses the best step)', report.validation] as [string, SplitTotals]] : []),
    ['Held out (measures the result)', report.heldOut],
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
    .map((f) => `<tr><td>${escapeHtml(f.path)}</td><td class="num">${formatCount(f.tokens)} tokens</td><td>${escapeHtml(splitLabel(f.split))}</td></tr>`);
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

/** The verdict in plain words: switched on, or kept off with the button that switches it on. */
function verdictSection(data: ReportData): string {
  const { verdict } = data.result;
  if (verdict.improved) {
    return `<p class="verdict better">The adapter improved suggestions on the held-out files: ${escapeHtml(verdict.reason)}. Suggestions in this workspace now use it; "GPT-2 Complete: Turn Off Fine-tuned Adapter" goes back to the base model.</p>`;
  }
  return (
    `<div class="verdict worse"><p>The adapter did <strong>not</strong> improve suggestions on the held-out files: ${escapeHtml(verdict.reason)}. ` +
    `It is kept in ${escapeHtml(data.adapterDir)} but not switched on: suggestions still come from the base model.</p>` +
    `<p><button id="use-anyway" type="button">Use It Anyway</button></p></div>`
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
  const lastStep = data.lossCurve.length > 0 ? data.lossCurve[data.lossCurve.length - 1].step : data.result.steps;
  const curve = { points: data.lossCurve, heldOut: { before: before.l2, after: after.l2, step: lastStep } };
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
<p class="hint">Finished ${escapeHtml(data.finishedAt.toLocaleString())}.</p>
${verdictSection(data)}
</header>
<section>
<h2>Held-out files, before and after</h2>
${evalTable(data.result)}
</section>
${headSection(data.result)}<section>
<h2>Loss</h2>
<div id="loss-chart" class="chart" role="img" aria-label="Training loss by step"></div>
<p class="hint">Training loss L3 = L2 + λ·L1: each step faintly, its moving average solid. Continuation loss L2 on the validation files where early stopping measured it (the best of these is the step kept), and on the held-out files before and after.</p>
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
