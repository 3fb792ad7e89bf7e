/**
 * `dataset` and `init` writing onto a real full disk (a 64 KiB tmpfs, mounted as root; skipped with
 * the reason where mounting is not allowed): exit 1, one line naming the path and "free some space",
 * no partial file, and an existing output left as it was.
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { mountSmallDisk, type SmallDisk } from '../helpers/tmpfs';
import { syntheticSource, writeFiles } from './training/data/fixtures';

const REPO = path.resolve(__dirname, '../..');

function cli(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['-r', 'tsx/cjs', path.join(REPO, 'src', 'cli.ts'), ...args], { cwd: REPO, encoding: 'utf8', timeout: 120_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('CLI on a full disk', function () {
  this.timeout(180_000);
  let disk: SmallDisk | undefined;
  let corpus: string;

  before(function () {
    const mounted = mountSmallDisk('64k');
    if ('reason' in mounted) {
      console.log(`    (skipped: ${mounted.reason})`);
      this.skip();
    }
    disk = mounted as SmallDisk;
    corpus = fs.mkdtempSync(path.join(os.tmpdir(), 'gpt2c-corpus-'));
    writeFiles(corpus, Object.fromEntries(Array.from({ length: 16 }, (_, i) => [`src/module${i}.ts`, syntheticSource(300 + i, 20)])));
  });
  after(() => {
    disk?.unmount();
    if (corpus) fs.rmSync(corpus, { recursive: true, force: true });
  });

  const lastLine = (stderr: string) => stderr.trimEnd().split('\n').at(-1)!;

  it('dataset: exit 1, one line, the old file intact, nothing partial', () => {
    const out = path.join(disk!.dir, 'examples.jsonl');
    fs.writeFileSync(out, '{"prompt": "old", "completion": "file", "split": "train", "file": "x"}\n');
    const before = fs.readFileSync(out, 'utf8');
    const r = cli('dataset', corpus, '--out', out);
    assert.equal(r.status, 1, r.stderr);
    assert.equal(lastLine(r.stderr), `gpt2-complete: dataset: cannot write ${out}: no space left on the device (ENOSPC); free some space and try again`);
    assert.ok(!r.stderr.includes('wrote '), 'no success line');
    assert.ok(!r.stderr.includes('internal error'));
    assert.equal(fs.readFileSync(out, 'utf8'), before);
    assert.deepEqual(fs.readdirSync(disk!.dir), ['examples.jsonl']);
  });

  it('init: exit 1 and one line instead of an internal error with a stack, no partial weights', () => {
    const out = path.join(disk!.dir, 'model');
    const r = cli('init', '--random', '--config', 'tiny', '--out', out);
    assert.equal(r.status, 1, r.stderr);
    assert.equal(r.stderr.trimEnd(), `gpt2-complete: init: cannot write ${out}: no space left on the device (ENOSPC); free some space and try again`);
    const left = fs.existsSync(out) ? fs.readdirSync(out) : [];
    assert.ok(!left.some((f) => f.endsWith('.safetensors') || f.includes('.tmp')), `left behind: ${left.join(', ')}`);
  });
});
