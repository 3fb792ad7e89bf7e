/**
 * One fine-tuning job in the child process, seen from the extension: what the child said (data
 * report, estimate, evaluations, progress, loss curve) gathered into a record, and how the job
 * ended as one of four outcomes, so the command never has to tell rejections apart itself.
 * No `vscode` import.
 */
import type { DataReport } from '../../training/data/dataset';
import { isCancelled, UserError } from '../../engine/errors';
import { startFineTune } from '../../training/fineTuneClient';
import type { ChildMessage, EvalJson, FineTuneJob, FineTuneResultJson } from '../../training/fineTuneProtocol';

export type EstimateMessage = Extract<ChildMessage, { type: 'estimate' }>;
export type ProgressMessage = Extract<ChildMessage, { type: 'progress' }>;
export type LossPoint = Extract<ChildMessage, { type: 'done' }>['lossCurve'][number];

/** Everything the child reported, in the order it came. */
export interface RunRecord {
  report?: { report: DataReport; text: string };
  estimate?: EstimateMessage;
  evals: { before?: EvalJson; after?: EvalJson };
  /** The latest progress message. */
  progress?: ProgressMessage;
  /** The child's curve when it finished; until then, the training losses seen in progress messages. */
  lossCurve: LossPoint[];
  result?: FineTuneResultJson;
}

export type RunOutcome =
  | { kind: 'done'; record: RunRecord; result: FineTuneResultJson }
  | { kind: 'dryRun'; record: RunRecord }
  | { kind: 'cancelled'; record: RunRecord; checkpoint?: string }
  /** `message` is the one line the user sees. */
  | { kind: 'failed'; record: RunRecord; error: Error; message: string };

export interface RunningJob {
  readonly record: RunRecord;
  readonly outcome: Promise<RunOutcome>;
  /** Asks the child to stop at its next step boundary (it saves a checkpoint first). */
  cancel(): void;
}

/** A crash of the child that is most likely the memory running out (the OOM killer, a failed allocation). */
const OUT_OF_MEMORY = /out of memory|ENOMEM|bad_alloc|Failed to allocate|heap limit|SIGKILL/i;

/** The one line a user sees for a failed job. */
export function describeFailure(error: Error, job: Pick<FineTuneJob, 'model'>): string {
  if (error instanceof UserError || error.name === 'UserError') return error.message;
  if (OUT_OF_MEMORY.test(error.message)) {
    return `Fine-tuning ran out of memory while training ${job.model}: pick a smaller model or a smaller folder, or close other programs, then try again.`;
  }
  return `Fine-tuning failed: ${error.message.split('\n')[0]} (details in "GPT-2 Complete: Show Logs")`;
}

export interface ChildProcessOptions {
  /** dist/fineTuneProcess.js */
  script: string;
  /** The child's stdout and stderr (runtime warnings, a crash's last words). */
  onOutput(text: string): void;
}

export function runJob(job: FineTuneJob, child: ChildProcessOptions, onMessage?: (message: ChildMessage, record: RunRecord) => void): RunningJob {
  const record: RunRecord = { evals: {}, lossCurve: [] };
  let cancelled: { checkpoint?: string } | undefined;
  const handle = startFineTune(job, {
    script: child.script,
    onOutput: child.onOutput,
    // Not the host's flags: a debugged extension host's --inspect would make the child wait for a debugger.
    execArgv: [],
    // Under desktop VS Code process.execPath is Electron's binary: this makes it run as plain Node.
    env: { ...process.env, ELECTRON_RUN_AS_NODE: '1' },
    // The command keeps an interrupted run's folder and offers to resume it.
    resumeHint: 'run "Fine-tune on Workspace" on the same folder to resume from it',
    onMessage: (message) => {
      switch (message.type) {
        case 'report':
          record.report = { report: message.report, text: message.text };
          break;
        case 'estimate':
          record.estimate = message;
          break;
        case 'eval':
          record.evals[message.phase] = message.result;
          break;
        case 'progress':
          record.progress = message;
          record.lossCurve.push({ step: message.step, l3: message.loss.l3 });
          break;
        case 'done':
          record.result = message.result;
          record.lossCurve = message.lossCurve;
          break;
        case 'cancelled':
          cancelled = { checkpoint: message.checkpoint };
          break;
        default:
          break;
      }
      onMessage?.(message, record);
    },
  });
  const outcome = handle.result.then(
    (result): RunOutcome => {
      if (job.dryRun === true || result === null) return { kind: 'dryRun', record };
      record.result = result;
      return { kind: 'done', record, result };
    },
    (err: unknown): RunOutcome => {
      const error = err instanceof Error ? err : new Error(String(err));
      if (isCancelled(error) || cancelled !== undefined) {
        return { kind: 'cancelled', record, checkpoint: cancelled?.checkpoint };
      }
      return { kind: 'failed', record, error, message: describeFailure(error, job) };
    },
  );
  return { record, outcome, cancel: () => handle.cancel() };
}
