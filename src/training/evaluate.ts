/**
 * Held-out evaluation, before and after training, at a fixed set of cut points: L2 and its
 * perplexity, L1, and next-line exact match (greedy completion of the rest of the line vs the truth).
 *
 * Losses come from the training session's `losses` when one is open: the loss is computed inside
 * the graph over whole [rows, seqLen] batches and only three numbers come back. The inference model
 * would have to return logits at every position — T×V floats per example, written into fresh memory
 * on every run (bench/MACHINE.md) — and take the log-softmax in JS, one example per run. `modelScorer` does
 * exactly that, for when no training session exists (evaluating an adapter trained elsewhere).
 */
import type { LanguageModel } from '../engine/model';
import { CancelledError } from '../engine/errors';
import { logSumExp } from '../engine/sampling';
import type { Example } from './data/examples';
import { hashToUint32 } from './data/seededHash';
import {
  combineLosses, combinedLoss, fitLengths, makeBatch, planBatches,
  type BatchShape, type CountedLosses, type LossSession, type PlanOptions, type TokenExample,
} from './objective';

/** The JSON keys are a contract (CLI `--json`, the extension's report). */
export interface EvalResult {
  l1: number;
  l2: number;
  perplexity: number;
  /** exact_matches / cases. */
  exact_match: number;
  /** Cuts whose rest of line was predicted exactly, of `cases` (absent in reports of older runs). */
  exact_matches?: number;
  cases?: number;
}

/** "2 of 249", or the percentage alone for a result without counts. */
export function formatExactCount(r: Pick<EvalResult, 'exact_match' | 'exact_matches' | 'cases'>): string {
  return r.exact_matches !== undefined && r.cases !== undefined ? `${r.exact_matches} of ${r.cases}` : `${(100 * r.exact_match).toFixed(1)}%`;
}

/** "2 → 1 of 249 (−1)": the change in exact matches as counts, the way a few cuts should be read. */
export function formatExactChange(before: Pick<EvalResult, 'exact_match' | 'exact_matches' | 'cases'>, after: Pick<EvalResult, 'exact_match' | 'exact_matches' | 'cases'>): string {
  if (before.exact_matches === undefined || after.exact_matches === undefined || before.cases !== after.cases) {
    return `${formatExactCount(before)} → ${formatExactCount(after)}`;
  }
  const d = after.exact_matches - before.exact_matches;
  return `${before.exact_matches} → ${after.exact_matches} of ${after.cases} (${d > 0 ? '+' : d < 0 ? '−' : '±'}${Math.abs(d)})`;
}

/** Losses of a set of examples, token-level means with their counts. */
export type LossScorer = (examples: readonly TokenExample[], lambda: number, signal?: AbortSignal) => Promise<CountedLosses>;

/** What exact match needs of a CompletionEngine. */
export interface Completer {
  complete(req: { prompt: string; maxTokens: number; maxLines: number; temperature: number; signal?: AbortSignal }): Promise<{ candidates: { text: string }[] }>;
}

export const DEFAULT_EVAL_CASES = 200;
export const EXACT_MATCH_MAX_TOKENS = 48;

/**
 * The fixed evaluation set: up to `max` held-out examples, chosen by a hash of (seed, file, cut)
 * rather than position, so before and after (and later runs on a grown workspace) share their cuts.
 */
export function evalCases<T extends Pick<Example, 'file' | 'cut'>>(heldOut: readonly T[], opts: { max?: number; seed?: number } = {}): T[] {
  const max = opts.max ?? DEFAULT_EVAL_CASES;
  const seed = opts.seed ?? 0;
  const keyed = heldOut.map((e) => ({ e, k: hashToUint32('eval', seed, e.file, e.cut) }));
  keyed.sort((a, b) => a.k - b.k || (a.e.file < b.e.file ? -1 : a.e.file > b.e.file ? 1 : a.e.cut - b.e.cut));
  return keyed.slice(0, max).map((x) => x.e);
}

function checkSignal(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new CancelledError();
}

/** Scores examples with a session's forward-only `losses`, batched as in training. */
export function sessionScorer(session: LossSession, values: Map<string, Float32Array>, shape: BatchShape, plan?: PlanOptions): LossScorer {
  return async (examples, lambda, signal) => {
    const order = examples.map((_, i) => i);
    const parts: CountedLosses[] = [];
    for (const batchPlan of planBatches(examples, order, shape, plan)) {
      checkSignal(signal);
      const batch = makeBatch(examples, batchPlan.group, { rows: shape.rows, seqLen: batchPlan.seqLen });
      if (batch.l1Targets + batch.l2Targets === 0) continue;
      const r = await session.losses(batch, values, lambda);
      parts.push({ ...r, l1Targets: batch.l1Targets, l2Targets: batch.l2Targets });
    }
    return combineLosses(parts, lambda);
  };
}

/** Scores examples with an inference model's all-position logits, one example per forward. */
export function modelScorer(model: LanguageModel): LossScorer {
  return async (examples, lambda, signal) => {
    const V = model.config.vocabSize;
    let s1 = 0;
    let s2 = 0;
    let n1 = 0;
    let n2 = 0;
    for (const e of examples) {
      checkSignal(signal);
      const f = fitLengths(e, model.config.nPositions);
      const tokens = [...e.contextIds.slice(e.contextIds.length - f.context), ...e.continuationIds.slice(0, f.continuation)];
      const positions = Array.from({ length: tokens.length - 1 }, (_, t) => t);
      const { logits } = await model.forward([tokens], null, positions);
      for (const t of positions) {
        const row = logits.subarray(t * V, (t + 1) * V);
        const nll = logSumExp(row) - row[tokens[t + 1]];
        if (t + 1 < f.context) {
          s1 += nll;
          n1++;
        } else {
          s2 += nll;
          n2++;
        }
      }
    }
    const l1 = n1 > 0 ? s1 / n1 : 0;
    const l2 = n2 > 0 ? s2 / n2 : 0;
    return { l1, l2, l3: combinedLoss(l1, l2, lambda), l1Targets: n1, l2Targets: n2 };
  };
}

/** The rest of the line an example's continuation starts with, without trailing whitespace. */
export function restOfLine(continuation: string): string {
  const nl = continuation.indexOf('\n');
  return (nl < 0 ? continuation : continuation.slice(0, nl)).trimEnd();
}

/** Share of examples whose greedy one-line completion equals the true rest of the line. */
export async function nextLineExactMatch(
  completer: Completer,
  examples: readonly Pick<Example, 'context' | 'continuation'>[],
  opts: { signal?: AbortSignal; onProgress?: (done: number, total: number) => void } = {},
): Promise<{ matches: number; total: number; rate: number }> {
  let matches = 0;
  for (let i = 0; i < examples.length; i++) {
    checkSignal(opts.signal);
    const e = examples[i];
    const r = await completer.complete({ prompt: e.context, maxTokens: EXACT_MATCH_MAX_TOKENS, maxLines: 1, temperature: 0, signal: opts.signal });
    const text = r.candidates[0]?.text ?? '';
    if (restOfLine(text) === restOfLine(e.continuation)) matches++;
    opts.onProgress?.(i + 1, examples.length);
  }
  return { matches, total: examples.length, rate: examples.length > 0 ? matches / examples.length : 0 };
}

export interface EvaluateOptions {
  /** The fixed cut points (evalCases of the held-out examples). */
  examples: readonly Example[];
  lambda: number;
  scorer: LossScorer;
  /** The model under evaluation (adapter merged), for exact match. */
  completer: Completer;
  signal?: AbortSignal;
  onProgress?: (done: number, total: number) => void;
}

export async function evaluate(opts: EvaluateOptions): Promise<EvalResult> {
  const losses = await opts.scorer(opts.examples, opts.lambda, opts.signal);
  const em = await nextLineExactMatch(opts.completer, opts.examples, { signal: opts.signal, onProgress: opts.onProgress });
  return { l1: losses.l1, l2: losses.l2, perplexity: Math.exp(losses.l2), exact_match: em.rate, exact_matches: em.matches, cases: em.total };
}

function pad(s: string, width: number, left = false): string {
  return left ? s.padEnd(width) : s.padStart(width);
}

/** Before/after as a text table with the change; lower is better for all rows but exact match. */
export function formatEvalTable(before: EvalResult, after?: EvalResult): string {
  const rows: { label: string; value: (r: EvalResult) => string; change: (b: EvalResult, a: EvalResult) => string }[] = [
    { label: 'held-out L2 (nats/token)', value: (r) => r.l2.toFixed(4), change: (b, a) => signed(a.l2 - b.l2, 4) },
    { label: 'perplexity exp(L2)', value: (r) => r.perplexity.toFixed(2), change: (b, a) => `${signed((100 * (a.perplexity - b.perplexity)) / b.perplexity, 1)}%` },
    { label: 'held-out L1 (nats/token)', value: (r) => r.l1.toFixed(4), change: (b, a) => signed(a.l1 - b.l1, 4) },
    {
      label: 'next-line exact match',
      value: (r) => (r.exact_matches !== undefined ? `${formatExactCount(r)} (${(100 * r.exact_match).toFixed(1)}%)` : `${(100 * r.exact_match).toFixed(1)}%`),
      change: (b, a) =>
        b.exact_matches !== undefined && a.exact_matches !== undefined ? `${signed(a.exact_matches - b.exact_matches, 0)}` : `${signed(100 * (a.exact_match - b.exact_match), 1)} pts`,
    },
  ];
  const labelWidth = Math.max(...rows.map((r) => r.label.length));
  const header = after ? ['before', 'after', 'change'] : ['value'];
  const cells = rows.map((r) => (after ? [r.value(before), r.value(after), r.change(before, after)] : [r.value(before)]));
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const line = (label: string, cols: string[]) => [pad(label, labelWidth, true), ...cols.map((c, i) => pad(c, widths[i]))].join('  ').trimEnd();
  return [line('', header), ...rows.map((r, i) => line(r.label, cells[i]))].join('\n');
}

function signed(x: number, digits: number): string {
  const s = x.toFixed(digits);
  return x > 0 || (x === 0 && !s.startsWith('-')) ? `+${s}` : s;
}
