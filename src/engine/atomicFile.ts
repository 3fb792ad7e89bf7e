/**
 * The one way this code base replaces a file: write a temp file in the same folder, fsync it,
 * rename it over the target, fsync the folder. A reader sees the old file or the new one, never a
 * half-written one; a failed write (a full disk, a crash) leaves the old file as it was and no
 * temp file behind.
 *
 *   writeFileAtomic(file, data)                  a string or bytes in one go
 *   writeJsonAtomic(file, value, { indent })     JSON.stringify + '\n'
 *   await withAtomicWriter(file, async (w) => { w.write(chunk); ... })   streamed (JSONL, large outputs):
 *                                                committed when the callback returns, removed if it throws
 *   describeWriteError(file, err)                a UserError for a full disk, a quota or a read-only file
 *                                                system (for writes this module does not do itself), else undefined
 *
 * ENOSPC, EDQUOT and EROFS, and a short write (the kernel took fewer bytes and then none), become a
 * UserError whose one line names the path and what to do. Other errors pass through unchanged.
 * Tests inject `fs` (AtomicFs) to simulate a full disk without one.
 */
import * as nodeFs from 'fs';
import * as path from 'path';
import { UserError } from './errors';

/** The file-system calls an atomic write makes (node's `fs` by default). */
export interface AtomicFs {
  openSync(file: string, flags: string, mode?: number): number;
  writeSync(fd: number, buffer: Uint8Array, offset: number, length: number): number;
  fsyncSync(fd: number): void;
  closeSync(fd: number): void;
  renameSync(from: string, to: string): void;
  rmSync(file: string, options: { force: boolean }): void;
}

export interface AtomicOptions {
  /** Injected file-system calls (tests); default node's `fs`. */
  readonly fs?: AtomicFs;
  /** Permission bits of a new file (default 0o666, less the umask). */
  readonly mode?: number;
}

const NO_SPACE: Record<string, string> = {
  ENOSPC: 'no space left on the device',
  EDQUOT: 'the disk quota is used up',
};

/** A full disk, a used-up quota or a read-only file system as one line naming `target`; undefined for anything else. */
export function describeWriteError(target: string, err: unknown): UserError | undefined {
  if (err instanceof UserError) return err;
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code !== undefined && code in NO_SPACE) return new UserError(`cannot write ${target}: ${NO_SPACE[code]} (${code}); free some space and try again`);
  if (code === 'EROFS') return new UserError(`cannot write ${target}: the file system is read-only (EROFS); choose a folder on a writable disk`);
  return undefined;
}

/** True for the errors describeWriteError turns into a UserError. */
export function isNoSpaceError(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOSPC' || code === 'EDQUOT' || code === 'EROFS';
}

let tempCounter = 0;

/** `<name>.tmp-<pid>-<n>` beside the target: same file system, so the rename is atomic. */
function tempName(file: string): string {
  return path.join(path.dirname(file), `.${path.basename(file)}.tmp-${process.pid}-${++tempCounter}`);
}

/** An open temp file that becomes `file` on commit. Not reusable after commit or abort. */
export class AtomicWriter {
  private fd: number | undefined;
  private done = false;

  private constructor(readonly file: string, private readonly temp: string, private readonly fs: AtomicFs, fd: number) {
    this.fd = fd;
  }

  static open(file: string, options: AtomicOptions = {}): AtomicWriter {
    const fs = options.fs ?? nodeFs;
    const temp = tempName(file);
    let fd: number;
    try {
      fd = fs.openSync(temp, 'wx', options.mode ?? 0o666);
    } catch (err) {
      throw describeWriteError(file, err) ?? err;
    }
    return new AtomicWriter(file, temp, fs, fd);
  }

  /** Appends all of `chunk`; a full disk aborts the write and throws the UserError. */
  write(chunk: string | Uint8Array): void {
    if (this.fd === undefined) throw new Error(`AtomicWriter: ${this.file} is already ${this.done ? 'committed' : 'aborted'}`);
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
    this.guard(() => {
      let offset = 0;
      while (offset < bytes.length) {
        const n = this.fs.writeSync(this.fd!, bytes, offset, bytes.length - offset);
        // A write that takes nothing makes no progress: the disk is full (some file systems say so only this way).
        if (n <= 0) throw Object.assign(new Error(`short write to ${this.temp}`), { code: 'ENOSPC' });
        offset += n;
      }
    });
  }

  /** fsync, close, rename over the target, fsync the folder. */
  commit(): void {
    if (this.fd === undefined) throw new Error(`AtomicWriter: ${this.file} is already ${this.done ? 'committed' : 'aborted'}`);
    this.guard(() => {
      this.fs.fsyncSync(this.fd!);
      const fd = this.fd!;
      this.fd = undefined;
      this.fs.closeSync(fd);
      this.fs.renameSync(this.temp, this.file);
    });
    this.done = true;
    syncFolder(path.dirname(this.file), this.fs);
  }

  /** Closes and removes the temp file; the target is untouched. Safe to call twice. */
  abort(): void {
    if (this.done) return;
    if (this.fd !== undefined) {
      const fd = this.fd;
      this.fd = undefined;
      try {
        this.fs.closeSync(fd);
      } catch {
        // closing a failed file can fail too; the temp file goes either way
      }
    }
    try {
      this.fs.rmSync(this.temp, { force: true });
    } catch {
      // nothing more to undo
    }
  }

  /** Runs a step; on failure removes the temp file and throws the one-line error for a full disk. */
  private guard(step: () => void): void {
    try {
      step();
    } catch (err) {
      this.abort();
      throw describeWriteError(this.file, err) ?? err;
    }
  }
}

/** So the rename itself survives a power cut. Not every platform opens folders (Windows): best effort. */
function syncFolder(dir: string, fs: AtomicFs): void {
  let fd: number | undefined;
  try {
    fd = fs.openSync(dir, 'r');
    fs.fsyncSync(fd);
  } catch {
    // the data is safe; only the rename's durability is in the platform's hands
  } finally {
    if (fd !== undefined) {
      try {
        fs.closeSync(fd);
      } catch {
        // ignore
      }
    }
  }
}

/** Replaces `file` with `data` atomically. */
export function writeFileAtomic(file: string, data: string | Uint8Array, options: AtomicOptions = {}): void {
  const w = AtomicWriter.open(file, options);
  try {
    w.write(data);
    w.commit();
  } finally {
    w.abort();
  }
}

/** Replaces `file` with `value` as JSON (indented by `indent`, default 1) and a final newline. */
export function writeJsonAtomic(file: string, value: unknown, options: AtomicOptions & { indent?: number } = {}): void {
  writeFileAtomic(file, JSON.stringify(value, null, options.indent ?? 1) + '\n', options);
}

/**
 * Streams a file: `produce` writes chunks (large outputs need not be in memory at once); the file
 * replaces `file` only when `produce` returns, and nothing is left of it when `produce` or a write throws.
 */
export async function withAtomicWriter<T>(file: string, produce: (w: AtomicWriter) => T | Promise<T>, options: AtomicOptions = {}): Promise<T> {
  const w = AtomicWriter.open(file, options);
  try {
    const result = await produce(w);
    w.commit();
    return result;
  } finally {
    w.abort();
  }
}
