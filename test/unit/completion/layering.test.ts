/** The completion stages must stay editor-free, so they can be tested (and reused) without VS Code. */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    return entry.isDirectory() ? sourceFiles(full) : entry.name.endsWith('.ts') ? [full] : [];
  });
}

describe('completion layering', () => {
  it('nothing under src/completion imports vscode', () => {
    const root = path.resolve(__dirname, '../../../src/completion');
    const files = sourceFiles(root);
    assert.ok(files.length > 10);
    for (const file of files) {
      const source = fs.readFileSync(file, 'utf8');
      assert.doesNotMatch(source, /from\s+['"]vscode['"]|require\(\s*['"]vscode['"]\s*\)/, path.relative(root, file));
    }
  });
});
