/** The benchmark runs without an editor: nothing under src/quality may import vscode. */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    return entry.isDirectory() ? sourceFiles(full) : entry.name.endsWith('.ts') ? [full] : [];
  });
}

describe('quality layering', () => {
  it('nothing under src/quality imports vscode', () => {
    const root = path.resolve(__dirname, '../../../src/quality');
    const files = sourceFiles(root);
    assert.ok(files.length >= 8);
    for (const file of files) {
      assert.doesNotMatch(fs.readFileSync(file, 'utf8'), /from\s+['"]vscode['"]|require\(\s*['"]vscode['"]\s*\)/, path.relative(root, file));
    }
  });
});
