/** Training runs in a child process and the CLI: no editor API, and nothing from the layers above it. */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';

function sources(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? sources(p) : e.name.endsWith('.ts') ? [p] : [];
  });
}

describe('training layering', () => {
  it('src/training imports no vscode and nothing from completion, the extension or the CLI', () => {
    const src = path.resolve(__dirname, '../../../src');
    const files = sources(path.join(src, 'training'));
    assert.ok(files.length >= 6);
    for (const file of files) {
      const text = fs.readFileSync(file, 'utf8');
      for (const [, spec] of text.matchAll(/(?:from\s+|require\(\s*|import\(\s*)['"]([^'"]+)['"]/g)) {
        assert.notEqual(spec, 'vscode', `${path.relative(src, file)} imports vscode`);
        if (spec.startsWith('.')) {
          const target = path.relative(src, path.resolve(path.dirname(file), spec));
          const top = target.split(path.sep)[0];
          assert.ok(['engine', 'training'].includes(top), `${path.relative(src, file)} imports ${spec} (${top}/)`);
        }
      }
    }
  });
});
