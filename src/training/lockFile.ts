/**
 * A lock held by a process: a file created with O_EXCL holding the owner's pid, host and start
 * time, so only one process can create it; a lock whose process is gone (crashed, killed) is taken
 * over. Shared by the fine-tune output folder's lock (outputLock.ts, taken by the training process)
 * and the extension's per-workspace lock (src/vscode/fineTune/workspaceLock.ts).
 */
import * as fs from 'fs';
import { UserError } from '../engine/errors';

export interface LockOwner {
  pid: number;
  hostname: string;
  /** ISO time the owner took the lock. */
  startedAt: string;
}

export interface HeldLock<O extends LockOwner = LockOwner> {
  readonly file: string;
  readonly owner: O;
  /** Removes the lock if it is still ours (idempotent). */
  release(): void;
}

/** Lock files this process holds now: the same pid in a lock file is live only if it is one of these. */
const heldHere = new Set<string>();

/** The owner written in `file`, or undefined when it cannot be read or lacks pid and host. */
export function readLockOwner<O extends LockOwner>(file: string): O | undefined {
  try {
    const j = JSON.parse(fs.readFileSync(file, 'utf8')) as Partial<O>;
    if (typeof j.pid !== 'number' || typeof j.hostname !== 'string') return undefined;
    return { ...j, startedAt: String(j.startedAt ?? '') } as O;
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
 * A lock is stale when its process is gone. A lock written on another machine (a folder on a
 * network drive) cannot be checked, so it counts as live; an unreadable lock (a crash between
 * create and write) is stale; our own pid is live only while this process holds that file.
 */
export function isStale(owner: LockOwner | undefined, self: { pid: number; hostname: string }, file?: string): boolean {
  if (owner === undefined) return true;
  if (owner.hostname !== self.hostname) return false;
  if (owner.pid === self.pid) return file === undefined || !heldHere.has(file);
  return !processAlive(owner.pid);
}

/**
 * Creates `file` holding `owner`, or throws `heldError(holder)` when a live process holds it; a
 * stale lock is replaced. The folder must exist.
 */
export function acquireLockFile<O extends LockOwner>(file: string, owner: O, heldError: (holder: O) => Error): HeldLock<O> {
  const content = JSON.stringify(owner);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      fs.writeFileSync(file, content, { flag: 'wx' });
      heldHere.add(file);
      return {
        file,
        owner,
        release: () => {
          heldHere.delete(file);
          // Only our own lock: a process that took over a lock we thought we held must keep it.
          const current = readLockOwner<O>(file);
          if (current?.pid === owner.pid && current.startedAt === owner.startedAt) fs.rmSync(file, { force: true });
        },
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    let raw: string;
    try {
      raw = fs.readFileSync(file, 'utf8');
    } catch {
      continue; // released meanwhile: the retry creates it
    }
    const existing = readLockOwner<O>(file);
    if (!isStale(existing, owner, file)) throw heldError(existing as O);
    // Remove only the stale lock we read: if another process replaced it meanwhile, the retry sees theirs.
    try {
      if (fs.readFileSync(file, 'utf8') === raw) fs.rmSync(file, { force: true });
    } catch {
      // Gone already: the retry creates it.
    }
  }
  const holder = readLockOwner<O>(file);
  if (holder !== undefined) throw heldError(holder);
  throw new UserError(`Could not take the lock ${file}; try again.`);
}
