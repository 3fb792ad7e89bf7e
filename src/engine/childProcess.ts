/**
 * The one way this project starts its child processes — the engine process that serves completions
 * (src/vscode/engineProcess.ts) and the fine-tuning process (src/training/fineTuneProcess.ts): forked
 * with IPC, the child's stdout and stderr piped (never mixed into the parent's own output, which the
 * CLI's --json owns) and their last lines kept for the message when the child dies.
 */
import { fork, type ChildProcess } from 'node:child_process';

export interface ChildOptions {
  /** The child's entry: a bundled dist/*.js, or a .cjs that registers tsx and requires the source. */
  readonly script: string;
  readonly env: NodeJS.ProcessEnv;
  /** Node flags for the child (default: this process's, so a tsx-run parent can fork a .ts entry). */
  readonly execArgv?: string[];
  /** 'advanced' lets typed arrays cross without JSON. */
  readonly serialization?: 'json' | 'advanced';
  /** Characters of the child's output kept (default 4000). */
  readonly tailChars?: number;
  /** Each chunk of the child's output as it comes (default: only kept). */
  readonly onOutput?: (text: string) => void;
}

export interface Child {
  readonly process: ChildProcess;
  /** The child's last output, for the message when it dies. */
  tail(): string;
}

export function startChild(o: ChildOptions): Child {
  const child = fork(o.script, [], {
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    ...(o.execArgv ? { execArgv: o.execArgv } : {}),
    env: o.env,
    ...(o.serialization ? { serialization: o.serialization } : {}),
  });
  const limit = o.tailChars ?? 4000;
  let tail = '';
  const onData = (chunk: Buffer): void => {
    const text = chunk.toString('utf8');
    tail = (tail + text).slice(-limit);
    o.onOutput?.(text);
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  return { process: child, tail: () => tail };
}
