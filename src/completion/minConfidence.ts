/**
 * The default of `gpt2Complete.minConfidence` and the CLI's --min-confidence: an automatic
 * suggestion whose P(accepted) from the acceptance head is below this is not shown. Chosen on the
 * quality benchmark's held-out cuts (bench/QUALITY.md, "Acceptance head"); no effect without a head.
 */
export const DEFAULT_MIN_CONFIDENCE = 0.15;
