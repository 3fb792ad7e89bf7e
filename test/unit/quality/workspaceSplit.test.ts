import { strict as assert } from 'node:assert';
import { mineDataset } from '../../../src/training/data/dataset';
import { splitWorkspace } from '../../../src/quality/workspaceSplit';
import { isolateGitConfig, removeDir, syntheticSource, tempDir, writeFiles, writeGitProject, writePlainProject } from '../training/data/fixtures';

/** The fixture project (every skip reason) plus enough sources for several held-out files. */
function addSources(root: string): void {
  const files: Record<string, string> = {};
  for (let i = 0; i < 24; i++) files[`src/mod${i}.ts`] = syntheticSource(100 + i, 2 + (i % 5));
  for (let i = 0; i < 6; i++) files[`test/mod${i}.test.ts`] = syntheticSource(200 + i, 2);
  writeFiles(root, files);
}

describe('quality: held-out files', () => {
  let restoreGit: () => void;
  before(() => {
    restoreGit = isolateGitConfig();
  });
  after(() => restoreGit());

  for (const [name, write] of [['a git repository', writeGitProject], ['a plain folder', writePlainProject]] as const) {
    it(`are exactly finetune's held-out files in ${name}, for several seeds`, async function () {
      this.timeout(120_000);
      const root = tempDir('quality-split');
      try {
        write(root);
        addSources(root);
        for (const seed of [0, 7]) {
          const mined = await mineDataset(root, { seed });
          const split = await splitWorkspace(root, { seed });
          const minedSide = (side: string) => mined.report.used.filter((u) => u.split === side).map((u) => u.path);
          assert.deepEqual(split.heldOut.map((f) => f.path), minedSide('heldout'), `seed ${seed}`);
          // The benchmark's training side is everything finetune may learn from or choose on: its
          // training and validation files (the baselines are built from them; the adapter saw them).
          const used = mined.report.used.map((u) => u.path);
          const trainSide = used.filter((p) => minedSide('train').includes(p) || minedSide('validation').includes(p));
          assert.deepEqual(split.train.map((f) => f.path), trainSide, `seed ${seed}`);
          assert.deepEqual(split.heldOut.map((f) => f.tokens), mined.report.used.filter((u) => u.split === 'heldout').map((u) => u.tokens));
          assert.ok(split.heldOut.length >= 2);
          assert.equal(split.by, 'finetune-split');
        }
      } finally {
        removeDir(root);
      }
    });
  }

  it('holds out what --heldout matches instead, the rest is the training side', async () => {
    const root = tempDir('quality-glob');
    try {
      writeFiles(root, { 'a/x.ts': 'export const x = 1;\n', 'a/y.ts': 'export const y = 2;\n', 'b/z.py': 'z = 3\n', 'README.md': '# r\n' });
      const split = await splitWorkspace(root, { heldOutGlob: 'a/**', seed: 3 });
      assert.deepEqual(split.heldOut.map((f) => f.path), ['a/x.ts', 'a/y.ts']);
      assert.deepEqual(split.train.map((f) => f.path), ['README.md', 'b/z.py']);
      assert.equal(split.by, 'glob');
      await assert.rejects(splitWorkspace(root, { heldOutGlob: 'nothing/**' }), /--heldout nothing\/\*\* matches none of the 4 usable files/);
    } finally {
      removeDir(root);
    }
  });
});
