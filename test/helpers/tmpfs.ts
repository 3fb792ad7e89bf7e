import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export interface SmallDisk {
  readonly dir: string;
  unmount(): void;
}

/**
 * A tmpfs of `size` (e.g. '64k') mounted on a fresh folder: a real full disk for end-to-end tests.
 * Needs root on Linux (and a container that allows mounts); otherwise returns the reason it cannot.
 */
export function mountSmallDisk(size: string): SmallDisk | { reason: string } {
  if (process.platform !== 'linux') return { reason: 'tmpfs needs Linux' };
  if (process.getuid?.() !== 0) return { reason: 'mounting a tmpfs needs root' };
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gpt2c-full-disk-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { stdio: 'pipe' });
  } catch (e) {
    fs.rmSync(dir, { recursive: true, force: true });
    return { reason: `mount -t tmpfs failed: ${String((e as { stderr?: Buffer }).stderr ?? e).trim().split('\n')[0]}` };
  }
  return {
    dir,
    unmount: () => {
      execFileSync('umount', [dir], { stdio: 'pipe' });
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
