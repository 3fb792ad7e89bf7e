/** The data miner runs in the training child process and the CLI: no editor, and nothing above the engine. */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';

describe('training data layering', () => {
  it('src/training/data imports only node built-ins, the engine and itself', () => {
    const root = path.resolve(__dirname, '../../../../src/training/data');
    const files = fs.readdirSync(root).filter((f) => f.endsWith('.ts'));
    assert.ok(files.length >= 8);
    for (const file of files) {
      const source = fs.readFileSync(path.join(root, file), 'utf8');
      for (const [, spec] of source.matchAll(/(?:from\s+|require\(\s*)['"]([^'"]+)['"]/g)) {
        const allowed = ['crypto', 'fs', 'path', 'child_process'].includes(spec) || spec.startsWith('./') || spec.startsWith('../../engine/');
        assert.ok(allowed, `${file} imports ${spec}`);
      }
    }
  });
});
