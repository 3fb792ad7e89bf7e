/**
 * One fine-tuning run per workspace at a time. Two windows of the same workspace share its storage
 * folder (and so its adapters), so the lock is a file there holding the owner's pid: created with
 * O_EXCL, so only one window wins; a lock whose process is gone (a crashed or killed window) is
 * taken over. The file logic is the training layer's (src/training/lockFile.ts), which the output
 * folder's lock uses too. No `vscode` import.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { UserError } from '../../engine/errors';
import { acquireLockFile, isStale, processAlive, type HeldLock as HeldLockOf, type LockOwner as BaseOwner } from '../../training/lockFile';

export { isStale, processAlive };

export const LOCK_FILE = 'fine-tune.lock';

export interface LockOwner extends BaseOwner {
  /** The folder being trained on, for the message the other window shows. */
  folder: string;
}

export type HeldLock = HeldLockOf<LockOwner>;

/** Another live process trains this workspace. */
export class LockHeldError extends UserError {
  constructor(readonly owner: LockOwner) {
    super(
      `This workspace is already being fine-tuned by another window (process ${owner.pid}, started ${new Date(owner.startedAt).toLocaleTimeString()}, ` +
        `on ${owner.folder}). Wait for it to finish or cancel it there.`,
    );
    this.name = 'LockHeldError';
  }
}

/** Takes the lock in `dir` or throws LockHeldError; a stale lock is replaced. */
export function acquireWorkspaceLock(dir: string, folder: string): HeldLock {
  fs.mkdirSync(dir, { recursive: true });
  const owner: LockOwner = { pid: process.pid, hostname: os.hostname(), startedAt: new Date().toISOString(), folder };
  return acquireLockFile(path.join(dir, LOCK_FILE), owner, (holder) => new LockHeldError({ ...holder, folder: String(holder.folder ?? '') }));
}
