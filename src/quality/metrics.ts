/**
 * Scores of a system (the model or a baseline) over the cuts. A suggestion is judged on its first
 * line (the rest of the cut line), trailing whitespace trimmed, against the expected rest of line.
 * - exact: share of all cuts whose suggestion equals the expected text;
 * - shown: share of all cuts with a suggestion (anything but whitespace; one that starts with a
 *   line break is shown but judged on an empty first line, so it is wrong);
 * - precision: exact among shown;
 * - edit similarity: mean over shown of 1 − Levenshtein / max length (CrossCodeEval's "ES");
 * - prefix-correct: share of shown suggestions that are a non-empty prefix of the expected text
 *   (or equal it): accepting one types nothing wrong;
 * - latency p50 / p90 over all requests (nearest rank).
 */

export interface Outcome {
  /** What the cut's line still needed (already trimmed). */
  readonly expected: string;
  /** The suggestion ('' or whitespace when nothing was shown). */
  readonly suggestion: string;
  readonly latencyMs: number;
}

export interface Scores {
  readonly cuts: number;
  readonly shown: number;
  readonly exact: number;
  readonly exactRate: number;
  readonly shownRate: number;
  /** null when nothing was shown. */
  readonly precision: number | null;
  readonly editSimilarity: number | null;
  readonly prefixCorrect: number | null;
  readonly latencyP50Ms: number | null;
  readonly latencyP90Ms: number | null;
}

/** The part of a suggestion that completes the cut line. */
export function judgedText(suggestion: string): string {
  const newline = suggestion.indexOf('\n');
  return (newline < 0 ? suggestion : suggestion.slice(0, newline)).trimEnd();
}

/** Edit distance (insertions, deletions, substitutions of UTF-16 units), two rows. */
export function levenshtein(a: string, b: string): number {
  if (a.length < b.length) [a, b] = [b, a];
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  let current = new Array<number>(b.length + 1);
  for (let i = 1; i <= a.length; i++) {
    current[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const substitute = previous[j - 1] + (a.charCodeAt(i - 1) === b.charCodeAt(j - 1) ? 0 : 1);
      current[j] = Math.min(substitute, previous[j] + 1, current[j - 1] + 1);
    }
    [previous, current] = [current, previous];
  }
  return previous[b.length];
}

/** 1 − Levenshtein / max length; 1 for two empty strings. */
export function editSimilarity(a: string, b: string): number {
  const longest = Math.max(a.length, b.length);
  return longest === 0 ? 1 : 1 - levenshtein(a, b) / longest;
}

/** Nearest-rank percentile (p in (0, 100]); null for no values. */
export function percentile(values: readonly number[], p: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((x, y) => x - y);
  return sorted[Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length))) - 1];
}

export function score(outcomes: readonly Outcome[]): Scores {
  let shown = 0;
  let exact = 0;
  let prefix = 0;
  let similarity = 0;
  for (const o of outcomes) {
    if (o.suggestion.trim() === '') continue;
    shown++;
    const text = judgedText(o.suggestion);
    if (text === o.expected) exact++;
    if (text !== '' && o.expected.startsWith(text)) prefix++;
    similarity += editSimilarity(text, o.expected);
  }
  const n = outcomes.length;
  const latencies = outcomes.map((o) => o.latencyMs);
  return {
    cuts: n,
    shown,
    exact,
    exactRate: n === 0 ? 0 : exact / n,
    shownRate: n === 0 ? 0 : shown / n,
    precision: shown === 0 ? null : exact / shown,
    editSimilarity: shown === 0 ? null : similarity / shown,
    prefixCorrect: shown === 0 ? null : prefix / shown,
    latencyP50Ms: percentile(latencies, 50),
    latencyP90Ms: percentile(latencies, 90),
  };
}
