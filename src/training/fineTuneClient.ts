/**
 * Starts a fine-tuning job in a child process (fineTuneProcess.ts, bundled as
 * dist/fineTuneProcess.js) and follows it: the CLI and the extension both train through this.
 * The child's stdout and stderr never reach the caller's stdout (the CLI's --json owns it).
 */
import * as os from 'node:os';
import { startChild } from '../engine/childProcess';
import { CancelledError, UserError } from '../engine/errors';
import type { ChildMessage, FineTuneJob, FineTuneResultJson, ParentMessage } from './fineTuneProtocol';
import { latestCheckpoint } from './checkpointStore';

export interface StartOptions {
  /** The child's entry: dist/fineTuneProcess.js, resolved by the caller (it knows where it is installed). */
  script: string;
  onMessage?: (m: ChildMessage) => void;
  /** The child's own output (runtime warnings, crashes); default: this process's stderr. */
  onOutput?: (text: string) => void;
  /** Node flags for the child (default: this process's, so a tsx-run parent can fork a .ts entry). */
  execArgv?: string[];
  /** The child's environment (default: this process's), under trainingEnvironment's malloc settings. */
  env?: NodeJS.ProcessEnv;
  /**
   * What resumes this job, for the message when the child dies after a checkpoint: the CLI's exact
   * command, the extension's command name. Default: start the same job with the same output folder.
   */
  resumeHint?: string;
}

export interface FineTuneHandle {
  /**
   * The result on 'done'; null after a dry run. Rejects with a CancelledError on 'cancelled', a
   * UserError for a user-facing failure (a child killed after a checkpoint included: the message
   * says how to resume), and an Error otherwise (a crash before any checkpoint).
   */
  result: Promise<FineTuneResultJson | null>;
  /** Asks the child to stop at the next step boundary, keeping its last checkpoint. */
  cancel(): void;
  /** Ends the child now (a second Ctrl+C): the last checkpoint written stays good. */
  kill(): void;
  readonly pid: number | undefined;
}

/** Niceness of the training process (0 normal, 19 lowest). */
const TRAINING_NICENESS = 10;

/** The child's output kept for a crash report. */
const TAIL_CHARS = 4000;

/**
 * The training process's environment (the base's own MALLOC settings win). onnxruntime-node copies
 * every gradient of a step into a new ArrayBuffer (475 MB a step for gpt2 124M), and glibc serves
 * each allocation above 32 MB with a fresh mmap whose pages fault in one by one: 124M floats out of
 * a session took 440–457 ms that way and 266–276 ms from malloc's own heap (bench/RESULTS.md). With
 * no mmaps and no trimming, a step's buffers reuse the last step's memory. The process is the run's
 * alone and exits with it, so memory it keeps is not memory the editor loses.
 */
export function trainingEnvironment(base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  return { MALLOC_MMAP_MAX_: '0', MALLOC_TRIM_THRESHOLD_: String(2 ** 40), ...base };
}

/** The step of `out`'s last checkpoint, if it has a readable one. */
function checkpointStep(out: string): number | undefined {
  try {
    return latestCheckpoint(out)?.step;
  } catch {
    return undefined;
  }
}

export function startFineTune(job: FineTuneJob, opts: StartOptions): FineTuneHandle {
  const output = opts.onOutput ?? ((text: string) => process.stderr.write(text));
  const started = startChild({ script: opts.script, execArgv: opts.execArgv, env: trainingEnvironment(opts.env), tailChars: TAIL_CHARS, onOutput: output });
  const child = started.process;
  // Training takes every core it is given; below-normal priority keeps the editor (or the shell)
  // that started it responsive. Not every platform lets a process lower another's priority.
  if (child.pid !== undefined) {
    try {
      os.setPriority(child.pid, TRAINING_NICENESS);
    } catch {
      // keep the default priority
    }
  }

  let settled = false;
  const result = new Promise<FineTuneResultJson | null>((resolve, reject) => {
    const settle = (f: () => void) => {
      if (settled) return;
      settled = true;
      f();
    };
    child.on('message', (m: ChildMessage) => {
      opts.onMessage?.(m);
      switch (m.type) {
        case 'done':
          return settle(() => resolve(m.result));
        case 'dryRunDone':
          return settle(() => resolve(null));
        case 'cancelled':
          return settle(() => reject(new CancelledError(m.checkpoint ? `cancelled; the last checkpoint is ${m.checkpoint}` : 'cancelled before the first checkpoint')));
        case 'error':
          return settle(() => reject(m.user ? new UserError(m.message) : Object.assign(new Error(m.message), { stack: m.detail ?? m.message })));
      }
    });
    child.on('error', (e) => settle(() => reject(new Error(`the fine-tuning process could not run ${opts.script}: ${e.message}`))));
    // 'close' rather than 'exit': it comes after the child's last messages and output are in.
    child.on('close', (code, signal) => {
      const how = signal ? `was killed by ${signal}${signal === 'SIGKILL' ? ' (often the system running out of memory)' : ''}` : `exited with code ${code}`;
      const checkpoint = checkpointStep(job.out);
      if (checkpoint !== undefined) {
        // Killed or crashed after a checkpoint: nothing is lost but the steps since; say how to go on.
        const resume = opts.resumeHint ?? 'start the same fine-tune again with the same output folder to resume from it';
        return settle(() => reject(new UserError(`the fine-tuning process ${how}; its last checkpoint is step ${checkpoint} in ${job.out}: ${resume}`)));
      }
      const last = started.tail().trim().split('\n').slice(-15).join('\n');
      settle(() => reject(new Error(`the fine-tuning process ${how} before reporting a result${last ? `; its last output:\n${last}` : ''}`)));
    });
  });

  const post = (m: ParentMessage) => {
    if (child.connected) child.send(m);
  };
  post({ type: 'start', job });
  return {
    result,
    cancel: () => post({ type: 'cancel' }),
    kill: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
    pid: child.pid,
  };
}
