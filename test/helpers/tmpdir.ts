import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

/**
 * A fresh temporary folder for each test of the enclosing `describe`, removed afterwards.
 * Call at describe level; the returned function gives the current test's folder.
 */
export function useTmpDir(prefix = 'gpt2c-test-'): () => string {
  let dir = '';
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  });
  afterEach(() => {
    if (!dir) return;
    // A test may have made the folder read-only; undo that so it can be removed.
    try {
      fs.chmodSync(dir, 0o755);
    } catch {
      // already gone
    }
    fs.rmSync(dir, { recursive: true, force: true });
    dir = '';
  });
  return () => dir;
}
