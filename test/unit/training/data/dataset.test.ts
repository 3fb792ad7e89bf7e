import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { UserError } from '../../../../src/engine/errors';
import { getTokenizer } from '../../../../src/engine/tokenizer';
import { SKIP_REASON_IDS } from '../../../../src/training/data/fileFilters';
import {
  DEFAULT_MINIMUMS,
  MinedDataset,
  checkEnoughData,
  formatReport,
  mineDataset,
  writeJsonl,
} from '../../../../src/training/data/dataset';
import {
  PROJECT_SKIPPED,
  PROJECT_USED,
  isolateGitConfig,
  removeDir,
  syntheticSource,
  tempDir,
  writeFiles,
  writeGitProject,
  writePlainProject,
} from './fixtures';

function expectedCounts(extra: Record<string, number> = {}): Record<string, number> {
  const counts = Object.fromEntries(SKIP_REASON_IDS.map((id) => [id, PROJECT_SKIPPED[id]?.length ?? 0]));
  for (const [id, n] of Object.entries(extra)) counts[id] += n;
  return counts;
}

function checkSplitsApart(mined: MinedDataset): void {
  const filesOf = (examples: readonly { file: string }[]) => new Set(examples.map((e) => e.file));
  const sides = { train: filesOf(mined.train), validation: filesOf(mined.validation), heldout: filesOf(mined.heldOut) };
  for (const u of mined.report.used) {
    for (const [split, files] of Object.entries(sides)) {
      if (split !== u.split) assert.ok(!files.has(u.path), `${u.split} file ${u.path} also gives ${split} examples`);
    }
  }
}

describe('training data: mining a folder', () => {
  let restore: () => void;
  const dirs: string[] = [];
  const fresh = (prefix: string) => {
    const d = tempDir(prefix);
    dirs.push(d);
    return d;
  };
  /** A project big enough to fine-tune on: 16 files of synthetic code, about 28,000 tokens. */
  let bigProject: string;

  before(() => {
    restore = isolateGitConfig();
    bigProject = fresh('big');
    writeFiles(bigProject, Object.fromEntries(Array.from({ length: 16 }, (_, i) => [`src/module${i}.ts`, syntheticSource(100 + i, 20)])));
  });
  after(() => {
    restore();
    dirs.forEach(removeDir);
  });

  for (const [name, write] of [
    ['a git repository', writeGitProject],
    ['a plain folder', writePlainProject],
  ] as const) {
    it(`uses exactly the right files of ${name} and counts every skip by reason`, async () => {
      const root = fresh('project');
      write(root);
      const { train, validation, heldOut, report } = await mineDataset(root, { seed: 1 });
      assert.equal(report.source, name === 'a git repository' ? 'git' : 'walk');
      assert.deepEqual(report.used.map((u) => u.path), PROJECT_USED);
      assert.deepEqual(report.skippedByReason, expectedCounts());
      for (const [reason, paths] of Object.entries(PROJECT_SKIPPED)) {
        assert.deepEqual(report.skipped.filter((s) => s.reason === reason).map((s) => s.path), paths, reason);
      }
      const main = report.used.find((u) => u.path === 'src/main.ts')!;
      const mainText = fs.readFileSync(path.join(root, 'src/main.ts'), 'utf8');
      assert.equal(main.bytes, Buffer.byteLength(mainText));
      assert.equal(main.tokens, getTokenizer().encode(mainText).length);
      assert.equal(report.train.examples, train.length);
      assert.equal(report.heldOut.examples, heldOut.length);
      assert.equal(report.heldOut.files, 1);
      // One whole training-side file is kept for validation (early stopping), apart from both.
      assert.equal(report.validation?.files, 1);
      assert.equal(report.validation?.examples, validation.length);
      assert.ok(validation.length > 0);
      assert.equal(report.train.files + report.validation.files + report.heldOut.files, PROJECT_USED.length);
      assert.equal(report.train.tokens + report.validation.tokens + report.heldOut.tokens, report.used.reduce((s, u) => s + u.tokens, 0));
      checkSplitsApart({ train, validation, heldOut, report });

      // Every example is a real cut of its file.
      for (const e of [...train, ...validation, ...heldOut]) {
        const text = fs.readFileSync(path.join(root, ...e.file.split('/')), 'utf8');
        assert.equal(text.slice(e.cut - e.context.length, e.cut + e.continuation.length), e.context + e.continuation);
      }
    });
  }

  it('counts files dropped by the globs as excluded-by-glob', async () => {
    const root = fresh('globs');
    writePlainProject(root);
    const { report } = await mineDataset(root, { exclude: ['docs/**', '*.log'] });
    assert.deepEqual(report.skippedByReason, expectedCounts({ 'excluded-by-glob': 2 }));
    assert.deepEqual(report.skipped.filter((s) => s.reason === 'excluded-by-glob').map((s) => s.path), ['docs/guide.md', 'keep.log']);
  });

  it('is deterministic by seed, and keeps held-out cuts fixed whatever training sampling does', async () => {
    const a = await mineDataset(bigProject, { seed: 5 });
    const b = await mineDataset(bigProject, { seed: 5 });
    assert.deepEqual(a, b);
    const capped = await mineDataset(bigProject, { seed: 5, maxTrainExamples: 20 });
    assert.equal(capped.train.length, 20);
    assert.deepEqual(capped.heldOut, a.heldOut);
    const other = await mineDataset(bigProject, { seed: 6 });
    assert.notDeepEqual(other.train.map((e) => [e.file, e.cut]), a.train.map((e) => [e.file, e.cut]));
    checkSplitsApart(a);
    assert.ok(a.report.heldOut.files >= 1);
  });

  it('says clearly when there is too little data, and passes when there is enough', async () => {
    const root = fresh('small');
    writePlainProject(root);
    const { report } = await mineDataset(root);
    assert.throws(
      () => checkEnoughData(report),
      (e: unknown) => {
        assert.ok(e instanceof UserError);
        assert.ok(!e.message.includes('\n'), 'one line');
        const usable = report.used.length;
        const tokens = (report.train.tokens + report.heldOut.tokens).toLocaleString('en-US');
        assert.match(e.message, new RegExp(`found ${usable} usable files, ${tokens} tokens`));
        assert.match(e.message, /needs at least 20,000 tokens of training text and one held-out file with 10 evaluation cuts/);
        assert.match(e.message, /skipped 18 \(5 generated, 4 secret, 2 empty, 2 binary, 1 not-regular-file/);
        assert.match(e.message, /add files or widen the include globs$/);
        return true;
      },
    );

    const enough = await mineDataset(bigProject);
    assert.ok(enough.report.train.tokens >= DEFAULT_MINIMUMS.trainTokens, `${enough.report.train.tokens} tokens`);
    checkEnoughData(enough.report);

    const empty = fresh('empty');
    const none = await mineDataset(empty);
    assert.throws(() => checkEnoughData(none.report), /found 0 usable files, 0 tokens/);
  });

  it('formats a report table with the counts by reason and the largest files', async () => {
    const root = fresh('report');
    writePlainProject(root);
    const { report } = await mineDataset(root);
    const text = formatReport(report, { topFiles: 3 });
    assert.match(text, /\(folder walk with \.gitignore\): 10 files used, 18 files skipped/);
    assert.match(text, /^ {2}train +8 +[\d,]+ +\d+$/m);
    assert.match(text, /^ {2}validation +1 +[\d,]+ +\d+$/m);
    assert.match(text, /^ {2}held-out +1 +[\d,]+ +\d+$/m);
    assert.match(text, /^ {2}secret +4 +holds secrets .* {2}\.env, \.ssh\/id_rsa, certs\/server\.pem, …$/m);
    assert.match(text, /^ {2}duplicate +1 +exact duplicate of another file +src\/z-copy\.ts$/m);
    assert.match(text, /Largest 3 files used:/);
    assert.equal(text.split('\n').filter((l) => /(train|validation|held-out) +src\//.test(l)).length, 3);
  });

  it('writes JSON Lines that load as a prompt/completion dataset', async () => {
    const mined = await mineDataset(bigProject, { maxTrainExamples: 50 });
    const out = path.join(fresh('jsonl'), 'data.jsonl');
    await writeJsonl(mined, out);
    const lines = fs.readFileSync(out, 'utf8').split('\n');
    assert.equal(lines.pop(), '');
    assert.equal(lines.length, mined.train.length + mined.validation.length + mined.heldOut.length);
    const records = lines.map((l) => JSON.parse(l));
    for (const r of records) assert.deepEqual(Object.keys(r), ['prompt', 'completion', 'split', 'file']);
    assert.deepEqual(
      records.filter((r) => r.split === 'train').map((r) => [r.prompt, r.completion, r.file]),
      mined.train.map((e) => [e.context, e.continuation, e.file]),
    );
    assert.equal(records.filter((r) => r.split === 'heldout').length, mined.heldOut.length);
    assert.ok(mined.validation.length > 0);
    assert.equal(records.filter((r) => r.split === 'validation').length, mined.validation.length);
  });
});
