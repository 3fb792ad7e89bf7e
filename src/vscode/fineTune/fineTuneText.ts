/**
 * The words and numbers the fine-tune command shows: the confirm dialog's summary of the data and
 * the estimate, the progress line, and the one-line result. Pure functions, no `vscode` import.
 */
import { formatCount, summarizeSkipped, type DataReport } from '../../training/data/report';
import type { EvalJson, FineTuneResultJson } from '../../training/fineTuneProtocol';
import { formatBytes, formatDuration } from '../../engine/units';
import type { EstimateMessage, ProgressMessage } from './fineTuneRun';


const plural = (n: number, one: string, many = `${one}s`): string => `${formatCount(n)} ${n === 1 ? one : many}`;

/** The data lines of the confirm dialog: files used and skipped by reason, tokens, examples. */
export function dataSummary(report: DataReport): string[] {
  const skipped = report.skipped.length > 0 ? `; ${plural(report.skipped.length, 'file')} skipped (${summarizeSkipped(report)})` : '';
  return [
    `Files: ${formatCount(report.used.length)} used (${formatCount(report.train.files)} for training, ${formatCount(report.heldOut.files)} held out to measure the result)${skipped}.`,
    `Tokens: ${formatCount(report.train.tokens)} for training, ${formatCount(report.heldOut.tokens)} held out; ` +
      `${plural(report.train.examples, 'training example')}, ${plural(report.heldOut.examples, 'evaluation cut')}.`,
  ];
}

/** The estimate lines: steps, time when the child measured a step, memory against what is free. */
export function estimateSummary(estimate: EstimateMessage): string[] {
  const time =
    estimate.secondsPerStep !== undefined && estimate.secondsPerStep > 0
      ? `about ${formatDuration(estimate.steps * estimate.secondsPerStep)}`
      : 'time shown once the first steps are measured';
  const lines = [`Training: ${plural(estimate.steps, 'step')}, ${time}.`];
  const memory = `Memory: about ${formatBytes(estimate.memoryBytes)} of ${formatBytes(estimate.availableBytes)} available.`;
  lines.push(estimate.memoryBytes > estimate.availableBytes ? `${memory} This may not fit: close other programs first.` : memory);
  return lines;
}

export interface ConfirmText {
  message: string;
  detail: string;
}

export function confirmText(opts: {
  modelLabel: string;
  folderName: string;
  report: DataReport;
  estimate: EstimateMessage | undefined;
  resumeFromStep: number | undefined;
}): ConfirmText {
  const lines = [...dataSummary(opts.report)];
  if (opts.estimate !== undefined) lines.push(...estimateSummary(opts.estimate));
  if (opts.resumeFromStep !== undefined) {
    lines.push(`An earlier run on this folder stopped at step ${formatCount(opts.resumeFromStep)}: "Resume" continues it, "Start Over" trains from the beginning.`);
  }
  lines.push('', 'Training runs in a separate process: the editor stays usable, and you can cancel at any time (the last checkpoint is kept).');
  return { message: `Fine-tune ${opts.modelLabel} on ${opts.folderName}?`, detail: lines.join('\n') };
}

/** The progress notification's line. */
export function progressLine(p: ProgressMessage): string {
  const eta = p.etaSeconds > 0 && Number.isFinite(p.etaSeconds) ? ` · ETA ${formatDuration(p.etaSeconds)}` : '';
  return `step ${formatCount(p.step)}/${formatCount(p.totalSteps)} · loss ${p.loss.l3.toFixed(3)}${eta}`;
}

const percent = (x: number): string => `${(x * 100).toFixed(1)}%`;

/** "12 of 200" when the counts are there, else the percentage. */
function exactText(e: EvalJson): string {
  return e.exact_matches !== undefined && e.cases !== undefined ? `${e.exact_matches} of ${e.cases}` : percent(e.exact_match);
}

/**
 * "held-out loss 3.41 → 2.87, next-line exact match 12 → 18 of 200": exact match as the editor's
 * pipeline counted it when the quality judge ran, else as the evaluation did.
 */
export function resultLine(result: Pick<FineTuneResultJson, 'eval' | 'quality'>): string {
  const { before, after } = result.eval;
  const loss = `held-out loss ${before.l2.toFixed(2)} → ${after.l2.toFixed(2)}`;
  const q = result.quality;
  if (q !== undefined) return `${loss}, next-line exact match ${q.before.exact} → ${q.after.exact} of ${q.after.cuts}`;
  return `${loss}, next-line exact match ${exactText(before)} → ${exactText(after)}`;
}

/** The CLI's words for its --include/--exclude flags, in messages from the training code. */
const CLI_GLOBS = 'widen the include globs';

/**
 * A training message as the editor should say it: the globs are settings here, not flags. True
 * in `namesGlobs` when the message asks for other files (the notification then opens the settings).
 */
export function editorWording(message: string): { message: string; namesGlobs: boolean } {
  if (!message.includes(CLI_GLOBS)) return { message, namesGlobs: false };
  return {
    message: message.replace(CLI_GLOBS, 'widen the setting gpt2Complete.fineTune.include (or narrow gpt2Complete.fineTune.exclude)'),
    namesGlobs: true,
  };
}

export { formatDuration };
