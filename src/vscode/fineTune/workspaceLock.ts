/**
 * One fine-tuning run per workspace at a time. Two windows of the same workspace share its storage
 * folder (and so its adapters), so the lock is a file there holding the owner's pid: created with
 * O_EXCL, so only one window wins; a lock whose process is gone (a crashed or killed window) is
 * taken over. No `vscode` import: the lock is plain file-system logic.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { UserError } from '../../engine/errors';

export const LOCK_FILE = 'fine-tune.lock';

export interface LockOwner {
  pid: number;
  hostname: string;
  /** ISO time the run started. */
  startedAt: string;
  /** The folder being trained on, for the message the other window shows. */
  folder: string;
}

export interface HeldLock {
  readonly file: string;
  readonly owner: LockOwner;
  /** Removes the lock if it is still ours (idempotent). */
  release(): void;
}

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

function readOwner(file: string): LockOwner | undefined {
  try {
    const j = JSON.parse(fs.readFileSync(file, 'utf8')) as Partial<LockOwner>;
    if (typeof j.pid !== 'number' || typeof j.hostname !== 'string') return undefined;
    return { pid: j.pid, hostname: j.hostname, startedAt: String(j.startedAt ?? ''), folder: String(j.folder ?? '') };
  } catch {
    return undefined;
  }
}

/** Whether `pid` names a running process (EPERM: it exists but belongs to someone else). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * A lock is stale when its process is gone. A lock written on another machine (a storage folder
 * on a network drive) cannot be checked, so it counts as live; an unreadable lock (a crash between
 * create and write) is stale.
 */
export function isStale(owner: LockOwner | undefined, self: { pid: number; hostname: string }): boolean {
  if (owner === undefined) return true;
  if (owner.hostname !== self.hostname) return false;
  // Our own pid with no run in this window (the caller checks that first): a leftover of an earlier activation.
  if (owner.pid === self.pid) return true;
  return !processAlive(owner.pid);
}

/** Takes the lock in `dir` or throws LockHeldError; a stale lock is replaced. */
export function acquireWorkspaceLock(dir: string, folder: string): HeldLock {
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, LOCK_FILE);
  const owner: LockOwner = { pid: process.pid, hostname: os.hostname(), startedAt: new Date().toISOString(), folder };
  const content = JSON.stringify(owner);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      fs.writeFileSync(file, content, { flag: 'wx' });
      return {
        file,
        owner,
        release: () => {
          // Only our own lock: a window that took over a lock we thought we held must keep it.
          const current = readOwner(file);
          if (current?.pid === owner.pid && current.startedAt === owner.startedAt) fs.rmSync(file, { force: true });
        },
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const raw = fs.readFileSync(file, 'utf8');
    const existing = readOwner(file);
    if (!isStale(existing, owner)) throw new LockHeldError(existing as LockOwner);
    // Remove only the stale lock we read: if another window replaced it meanwhile, the retry sees theirs.
    try {
      if (fs.readFileSync(file, 'utf8') === raw) fs.rmSync(file, { force: true });
    } catch {
      // Gone already: the retry creates it.
    }
  }
  const holder = readOwner(file);
  if (holder !== undefined) throw new LockHeldError(holder);
  throw new UserError(`Could not take the fine-tuning lock ${file}; try again.`);
}
