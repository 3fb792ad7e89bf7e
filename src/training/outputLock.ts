/**
 * One fine-tuning run per output folder. The training process (fineTuneProcess.ts → runFineTune)
 * takes it, so the CLI and the extension both do: two runs into one `--out` would otherwise both
 * succeed and leave a mix of each other's checkpoints, adapter and report. Released on done,
 * cancel and error; a killed run's lock is taken over by the next run on the same machine.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { UserError } from '../engine/errors';
import { acquireLockFile, type HeldLock, type LockOwner } from './lockFile';

export const OUTPUT_LOCK_FILE = 'fine-tune.lock';

export interface OutputLockOwner extends LockOwner {
  /** The folder being trained on. */
  folder: string;
}

/** Another live fine-tune writes this output folder. */
export class OutputLockedError extends UserError {
  constructor(readonly out: string, readonly owner: OutputLockOwner) {
    super(
      `${out} is being written by another fine-tune (pid ${owner.pid}${owner.hostname !== os.hostname() ? ` on ${owner.hostname}` : ''}, ` +
        `started ${owner.startedAt || 'at an unknown time'}); wait for it or choose another --out`,
    );
    this.name = 'OutputLockedError';
  }
}

/** Creates `out` if needed and takes its lock, or throws OutputLockedError. */
export function acquireOutputLock(out: string, folder: string): HeldLock<OutputLockOwner> {
  try {
    fs.mkdirSync(out, { recursive: true });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EEXIST' || code === 'ENOTDIR') throw new UserError(`${out} is a file, not a folder; choose another --out`);
    throw e;
  }
  if (!fs.statSync(out).isDirectory()) throw new UserError(`${out} is a file, not a folder; choose another --out`);
  const owner: OutputLockOwner = { pid: process.pid, hostname: os.hostname(), startedAt: new Date().toISOString(), folder };
  return acquireLockFile(path.join(out, OUTPUT_LOCK_FILE), owner, (holder) => new OutputLockedError(out, holder));
}
