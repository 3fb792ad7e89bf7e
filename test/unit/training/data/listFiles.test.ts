import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { isIgnored, parseGitignore } from '../../../../src/training/data/gitignore';
import { PathGlobs, expandBraces, globToRegExp } from '../../../../src/training/data/glob';
import { listFiles } from '../../../../src/training/data/listFiles';
import {
  PROJECT_CANDIDATES,
  git,
  isolateGitConfig,
  removeDir,
  tempDir,
  writeFiles,
  writeGitProject,
  writePlainProject,
} from './fixtures';

describe('training data: listing files', () => {
  describe('globs', () => {
    it('expands braces, nested, and leaves single or unbalanced ones alone', () => {
      assert.deepEqual(expandBraces('src/*.{ts,js}'), ['src/*.ts', 'src/*.js']);
      assert.deepEqual(expandBraces('{a,b{c,d}}/x'), ['a/x', 'bc/x', 'bd/x']);
      assert.deepEqual(expandBraces('{a}'), ['{a}']);
      assert.deepEqual(expandBraces('a{b,c'), ['a{b,c']);
    });

    const table: [glob: string, path: string, matches: boolean][] = [
      ['*.ts', 'a.ts', true],
      ['*.ts', 'deep/er/a.ts', true], // no slash: the name at any depth
      ['*.ts', 'a.tsx', false],
      ['src/*.ts', 'src/a.ts', true],
      ['src/*.ts', 'src/x/a.ts', false],
      ['src/**/*.ts', 'src/a.ts', true],
      ['src/**/*.ts', 'src/x/y/a.ts', true],
      ['src/**', 'src/x/y/a.ts', true],
      ['**/test/**', 'a/test/b.ts', true],
      ['**/test/**', 'a/testing/b.ts', false],
      ['/a.ts', 'a.ts', true],
      ['/a.ts', 'x/a.ts', false],
      ['./src/a.ts', 'src/a.ts', true],
      ['a?.ts', 'ab.ts', true],
      ['a?.ts', 'a/.ts', false],
      ['[ab]*.md', 'b-notes.md', true],
      ['[!ab]*.md', 'b-notes.md', false],
      ['*.{md,txt}', 'docs/x.txt', true],
      ['*', '.eslintrc.js', true], // dotfiles are not special
      ['a\\*b', 'a*b', true],
      ['a\\*b', 'axb', false],
      ['file.(x)+', 'file.(x)+', true], // regex characters are literal
    ];
    for (const [glob, p, matches] of table) {
      it(`${glob} ${matches ? 'matches' : 'does not match'} ${p}`, () => assert.equal(globToRegExp(glob).test(p), matches));
    }

    it('include keeps matches (folders cover their files), exclude wins', () => {
      const globs = new PathGlobs(['src', '*.md'], ['**/*.test.ts', 'docs/']);
      assert.equal(globs.keeps('src/a/b.ts'), true);
      assert.equal(globs.keeps('README.md'), true);
      assert.equal(globs.keeps('lib/a.ts'), false);
      assert.equal(globs.keeps('src/a.test.ts'), false);
      assert.equal(globs.keeps('docs/guide.md'), false);
      assert.equal(new PathGlobs([], []).keeps('anything/at/all'), true);
    });
  });

  describe('.gitignore rules', () => {
    const table: [lines: string, path: string, isDir: boolean, ignored: boolean][] = [
      ['*.log', 'a/b.log', false, true],
      ['*.log\n!keep.log', 'x/keep.log', false, false],
      ['build/', 'build', true, true],
      ['build/', 'build', false, false], // a file called build is not a directory
      ['/top.txt', 'sub/top.txt', false, false],
      ['/top.txt', 'top.txt', false, true],
      ['a/b', 'x/a/b', false, false], // a middle slash anchors
      ['**/deep/x', 'p/q/deep/x', false, true],
      ['a/**/z', 'a/z', false, true],
      ['a/**/z', 'a/1/2/z', false, true],
      ['logs/**', 'logs', true, false],
      ['logs/**', 'logs/x.txt', false, true],
      ['\\#hash', '#hash', false, true],
      ['# a comment', '# a comment', false, false],
      ['\\!bang', '!bang', false, true],
      ['trailing   ', 'trailing', false, true],
      ['trailing\\ ', 'trailing ', false, true],
      ['x**y', 'xaby', false, true], // not a whole segment: a plain star
      ['x**y', 'xa/by', false, false],
    ];
    for (const [lines, p, isDir, ignored] of table) {
      it(`${JSON.stringify(lines)} ${ignored ? 'ignores' : 'keeps'} ${p}${isDir ? '/' : ''}`, () => {
        assert.equal(isIgnored(parseGitignore(lines, ''), p, isDir), ignored);
      });
    }

    it('applies a nested .gitignore only below its folder, after the parent rules', () => {
      const rules = [...parseGitignore('*.tmp\n', ''), ...parseGitignore('!keep.tmp\n/only-here\n', 'sub')];
      assert.equal(isIgnored(rules, 'keep.tmp', false), true);
      assert.equal(isIgnored(rules, 'sub/keep.tmp', false), false);
      assert.equal(isIgnored(rules, 'sub/deeper/keep.tmp', false), false);
      assert.equal(isIgnored(rules, 'sub/only-here', false), true);
      assert.equal(isIgnored(rules, 'sub/deeper/only-here', false), false);
      assert.equal(isIgnored(rules, 'only-here', false), false);
    });
  });

  describe('folders', () => {
    let restore: () => void;
    const dirs: string[] = [];
    before(() => {
      restore = isolateGitConfig();
    });
    after(() => {
      restore();
      dirs.forEach(removeDir);
    });
    const fresh = (prefix: string) => {
      const d = tempDir(prefix);
      dirs.push(d);
      return d;
    };

    it('lists tracked and untracked-not-ignored files of a git work tree', async () => {
      const root = fresh('git');
      writeGitProject(root);
      const listing = await listFiles(root);
      assert.equal(listing.source, 'git');
      assert.deepEqual(listing.files, PROJECT_CANDIDATES);
      assert.deepEqual(listing.excludedByGlob, []);
    });

    it('walks a folder without git, honouring every .gitignore, to the same list', async () => {
      const root = fresh('plain');
      writePlainProject(root);
      const listing = await listFiles(root);
      assert.equal(listing.source, 'walk');
      assert.deepEqual(listing.files, PROJECT_CANDIDATES);
    });

    it('lists a subfolder of a repository relative to itself, with the repository rules', async () => {
      const root = fresh('sub');
      writeGitProject(root);
      writeFiles(root, { 'src/debug.log': 'ignored by the root .gitignore\n' });
      const listing = await listFiles(path.join(root, 'src'));
      assert.equal(listing.source, 'git');
      assert.deepEqual(listing.files, ['main.ts', 'sub/.gitignore', 'sub/local-keep.ts', 'untracked.ts', 'util.ts', 'z-copy.ts']);
    });

    it('walks a folder that its repository ignores, as a folder of its own', async () => {
      const root = fresh('ignored');
      writeFiles(root, { '.gitignore': 'vendored-copy/\n', 'a.ts': 'a\n' });
      git(root, 'init', '-q');
      writeFiles(root, { 'vendored-copy/.gitignore': '*.tmp\n', 'vendored-copy/x.ts': 'x\n', 'vendored-copy/y.tmp': 'y\n' });
      const listing = await listFiles(path.join(root, 'vendored-copy'));
      assert.equal(listing.source, 'walk');
      assert.deepEqual(listing.files, ['.gitignore', 'x.ts']);
    });

    it('can be told not to use git', async () => {
      const root = fresh('nogit');
      writeGitProject(root);
      const listing = await listFiles(root, { useGit: false });
      assert.equal(listing.source, 'walk');
      assert.deepEqual(listing.files, PROJECT_CANDIDATES); // the fixture tracks no ignored file
    });

    it('applies include/exclude globs on top and returns what they dropped', async () => {
      const root = fresh('globs');
      writePlainProject(root);
      const listing = await listFiles(root, { include: ['src/**', '*.md'], exclude: ['**/z-*'] });
      assert.deepEqual(listing.files, ['README.md', 'docs/guide.md', 'src/main.ts', 'src/sub/.gitignore', 'src/sub/local-keep.ts', 'src/untracked.ts', 'src/util.ts']);
      assert.deepEqual(
        [...listing.files, ...listing.excludedByGlob].sort(),
        [...PROJECT_CANDIDATES].sort(),
      );
    });

    it('matches git on tricky .gitignore files (negation, anchoring, **, escapes, no re-include under an ignored folder)', async () => {
      const gitignore = [
        '*.tmp',
        '!important.tmp',
        '/anchored.txt',
        'dir-only/',
        '**/deep/*.md',
        'a/**/z.txt',
        'logs/**',
        '!logs/keep.txt',
        'excluded-dir/',
        '!excluded-dir/file.txt',
        '\\#hash.txt',
        '\\!bang.txt',
        'trailing-space.txt   ',
        'q?.txt',
        '[ab]c.txt',
        'nested/**',
        '!nested/**/',
        '!nested/**/*.keep',
        '',
      ].join('\n');
      const files = [
        'x.tmp', 'sub/y.tmp', 'important.tmp', 'sub/important.tmp', 'anchored.txt', 'sub/anchored.txt',
        'dir-only/f.txt', 'sub/dir-only/f.txt', 'dir-only-file.txt', 'deep/a.md', 'p/q/deep/b.md', 'p/deep/c.txt',
        'a/z.txt', 'a/b/c/z.txt', 'b/a/z.txt', 'logs/x.txt', 'logs/keep.txt', 'logs/sub/keep.txt',
        'excluded-dir/file.txt', 'excluded-dir/other.txt', '#hash.txt', '!bang.txt', 'trailing-space.txt',
        'q1.txt', 'q12.txt', 'ac.txt', 'cc.txt', 'nested/a.txt', 'nested/b.keep', 'nested/d/e.keep', 'nested/d/f.txt',
        'keep-me.txt',
      ];
      const plain = fresh('diff-plain');
      const repo = fresh('diff-git');
      for (const root of [plain, repo]) {
        writeFiles(root, Object.fromEntries([['.gitignore', gitignore], ...files.map((f) => [f, `${f}\n`])]));
      }
      git(repo, 'init', '-q');
      const byGit = git(repo, 'ls-files', '-z', '--others', '--exclude-standard').split('\0').filter(Boolean).sort();
      const walked = (await listFiles(plain)).files;
      assert.deepEqual(walked, byGit);
      assert.ok(walked.includes('logs/keep.txt') && !walked.includes('excluded-dir/file.txt'));
    });

    it('says plainly when the folder does not exist, or is a file', async () => {
      await assert.rejects(listFiles(path.join(fresh('gone'), 'nope')), { name: 'UserError', message: /^no folder at .*nope: give a workspace folder of source files$/ });
      const file = path.join(fresh('a-file'), 'a.py');
      fs.writeFileSync(file, 'x = 1\n');
      await assert.rejects(listFiles(file), { name: 'UserError', message: /^.*a\.py is a file: give the workspace folder that holds it$/ });
    });

    it('never descends into .git', async () => {
      const root = fresh('dotgit');
      writeFiles(root, { '.git/config': 'not a repo\n', 'a.txt': 'a\n' });
      assert.ok(fs.existsSync(path.join(root, '.git/config')));
      const listing = await listFiles(root);
      assert.equal(listing.source, 'walk');
      assert.deepEqual(listing.files, ['a.txt']);
    });
  });
});
