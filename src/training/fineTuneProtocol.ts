/**
 * The messages between a front end (the CLI, the extension) and the fine-tuning child process
 * (src/training/fineTuneProcess.ts, bundled to dist/fineTuneProcess.js and started with
 * child_process.fork). Training never runs in the extension host: the child has its own event
 * loop, memory and threads, and dies without taking the editor with it.
 */
import type { DataReport } from './data/dataset';
import type { EvalResult } from './evaluate';

/** What to train: sent once as the first message to the child. */
export interface FineTuneJob {
  /** The folder whose files are mined. */
  folder: string;
  /** A checkpoint folder (already resolved from a preset name). */
  model: string;
  /** Where checkpoints, the adapter (or full model) and report.json go. */
  out: string;
  /** Default: the recipe for the model's size (full for small models, LoRA otherwise: fineTune.ts). */
  method?: 'lora' | 'full';
  lambda?: number;
  steps?: number;
  epochs?: number;
  lr?: number;
  batchTokens?: number;
  seed?: number;
  device?: string;
  threads?: number;
  include?: string[];
  exclude?: string[];
  /** A file with a secret in its text: left out (skip-file, default) or used without the secret's lines. */
  secrets?: 'skip-file' | 'drop-lines';
  /** Mine, check and estimate, then stop before training (the extension's confirm step). */
  dryRun?: boolean;
  /** Held-out cut points evaluated before and after (default 200: DEFAULT_EVAL_CASES). */
  evalCases?: number;
  /**
   * Cuts of the completion-quality judge (`quality`: the pipeline the editor runs, base model vs the
   * new adapter, on the held-out files) before and after; 0 skips it (default 200).
   */
  qualityCuts?: number;
  /** Steps between checkpoints / held-out evaluations (default: a tenth of the run each). */
  checkpointEvery?: number;
  evalEvery?: number;
  /** Evaluations without improvement before stopping early (default 3). */
  patience?: number;
  /** Where the evaluation models' compiled graphs are cached (default: a temp folder, removed after). */
  graphCacheDir?: string;
  /**
   * Then train the acceptance head for the result (head.safetensors beside the adapter, or in the
   * fully fine-tuned checkpoint): the base model's head reads the base model's states, not the
   * adapter's, so a new adapter without its own head would show every suggestion ungated.
   */
  head?: boolean;
  /** Cuts of the training files the head learns from (default 500). */
  headCuts?: number;
  /** The editor's accept/reject log (src/completion/outcomeLog.ts): more labelled examples for the head. */
  suggestionLog?: string;
  /**
   * After this step (and its checkpoint) the run waits until it is cancelled: tests cancel at a step
   * they choose instead of racing a run that may end first on a fast machine.
   */
  holdAfterStep?: number;
}

export interface LossTriple {
  l1: number;
  l2: number;
  l3: number;
}

/** The held-out evaluation as the child reports it (evaluate.ts's result: its keys are the contract). */
export type EvalJson = EvalResult;

/** One run of the quality judge: counts over its cuts. */
export interface QualityCounts {
  cuts: number;
  /** Suggestions equal to the rest of the line. */
  exact: number;
  /** Cuts where something was shown. */
  shown: number;
  /** Mean over shown suggestions; null when none was shown. */
  edit_similarity: number | null;
}

/** The completion pipeline on the held-out files: the base model, then with the new adapter. */
export interface QualityJson {
  before: QualityCounts;
  after: QualityCounts;
  /** The best trivial baseline on the same cuts, for scale. */
  best_baseline: QualityCounts;
  /** Judged with the acceptance head (the base model's before, the adapter's after); absent in older results: without. */
  head?: boolean;
}

/** The acceptance head trained with the result (`finetune --head`, the editor's fine-tune). */
export interface HeadJson {
  /** Where head.safetensors and head.json went. */
  out: string;
  /** Shown suggestions it learned from, and how many of them were exactly right. */
  examples: number;
  exact: number;
  /** Of those, from the editor's accept/reject log. */
  fromSuggestionLog: number;
  /** On its validation files: AUC, the threshold chosen, precision ungated and gated, the share it shows. */
  validation: { auc: number | null; threshold: number; ungatedPrecision: number | null; gatedPrecision: number | null; gatedShownRate: number };
  skipBelow: number;
  seconds: number;
  /**
   * The workspace-candidate rule adapted to the folder's cuts (ruleAdaptation.ts): kept when its
   * mean NLL on the validation files' candidates is below the base rule's and it adds more right lines than wrong ones there.
   */
  rule?: { adapted: boolean; cuts: number; validationCuts: number; baseNll: number; adaptedNll: number; baseRight: number; adaptedRight: number; baseWrong: number; adaptedWrong: number };
  /**
   * Which head was written (ruleAdaptation.ts compareHeads): the one trained on these cuts, or the
   * base model's unless on the validation files' cuts the trained one adds more right lines than wrong ones.
   */
  head?: { kept: 'trained' | 'base'; validationCuts: number; base: { right: number; wrong: number }; trained: { right: number; wrong: number } };
}

/** Whether the adapter helped (and so is switched on), and why, in words. */
export interface VerdictJson {
  improved: boolean;
  reason: string;
}

/** The CLI's `finetune --json` result; the keys are a contract. */
export interface FineTuneResultJson {
  /** What was trained: a LoRA adapter or every weight (the job's, or the recipe's for the model's size). */
  method: 'lora' | 'full';
  steps: number;
  tokens: number;
  tokens_per_s: number;
  train: LossTriple;
  eval: { before: EvalJson; after: EvalJson };
  /** Absent when the judge was skipped (qualityCuts 0) or not available. */
  quality?: QualityJson;
  /** Present when the job trained the acceptance head too. */
  head?: HeadJson;
  verdict: VerdictJson;
  out: string;
}

export type ChildMessage =
  | { type: 'report'; report: DataReport; text: string }
  | { type: 'estimate'; memoryBytes: number; availableBytes: number; steps: number; secondsPerStep?: number; text: string }
  | { type: 'eval'; phase: 'before' | 'after'; result: EvalJson }
  | { type: 'quality'; phase: 'before' | 'after'; result: QualityCounts; bestBaseline: QualityCounts }
  | { type: 'progress'; step: number; totalSteps: number; loss: LossTriple; tokensPerSecond: number; etaSeconds: number }
  /** The acceptance head: its examples being collected (done of total requests), then the head. */
  | { type: 'head'; done: number; total: number; result?: HeadJson }
  | { type: 'done'; result: FineTuneResultJson; lossCurve: { step: number; l3: number; validationL2?: number }[] }
  | { type: 'dryRunDone' }
  | { type: 'cancelled'; checkpoint?: string }
  /** A UserError's one line; anything else carries its stack in `detail`. */
  | { type: 'error'; message: string; user: boolean; detail?: string };

export type ParentMessage = { type: 'start'; job: FineTuneJob } | { type: 'cancel' };
