/** Fixture folders for the data-mining tests: written into os.tmpdir(), with or without git. */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Rng } from '../../../../src/engine/random';

export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `gpt2c-${prefix}-`));
}

export function removeDir(dir: string): void {
  fs.rmSync(dir, { recursive: true, force: true });
}

export function writeFiles(root: string, files: Record<string, string | Uint8Array>): void {
  for (const [rel, content] of Object.entries(files)) {
    const absolute = path.join(root, ...rel.split('/'));
    fs.mkdirSync(path.dirname(absolute), { recursive: true });
    fs.writeFileSync(absolute, content);
  }
}

/** Runs git with no user or system configuration in the way (no signing, no global excludes). */
export function git(cwd: string, ...args: string[]): string {
  return execFileSync(
    'git',
    ['-c', 'user.name=Test', '-c', 'user.email=test@example.com', '-c', 'commit.gpgsign=false', '-c', 'init.defaultBranch=main', ...args],
    { cwd, encoding: 'utf8', env: { ...process.env, GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: os.devNull } },
  );
}

/** Keeps the user's global git configuration (e.g. a global excludes file) out of listFiles' own git calls. */
export function isolateGitConfig(): () => void {
  const saved = { nosystem: process.env.GIT_CONFIG_NOSYSTEM, global: process.env.GIT_CONFIG_GLOBAL };
  process.env.GIT_CONFIG_NOSYSTEM = '1';
  process.env.GIT_CONFIG_GLOBAL = os.devNull;
  return () => {
    for (const [key, value] of [
      ['GIT_CONFIG_NOSYSTEM', saved.nosystem],
      ['GIT_CONFIG_GLOBAL', saved.global],
    ] as const) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  };
}

const NAMES = ['value', 'items', 'total', 'index', 'result', 'config', 'buffer', 'count', 'parser', 'token', 'limit', 'offset'];
const TYPES = ['number', 'string', 'Item[]', 'Options', 'boolean', 'Map<string, number>'];
const pick = <T>(rng: Rng, xs: readonly T[]): T => xs[Math.floor(rng.next() * xs.length)];

/** Plausible TypeScript, different per seed: functions with typed parameters, conditionals, calls. */
export function syntheticSource(seed: number, functions: number): string {
  const rng = new Rng(seed);
  const out: string[] = [`// module ${seed}`, `import { helper${seed % 7} } from './helpers';`, ''];
  for (let f = 0; f < functions; f++) {
    const name = `${pick(rng, ['compute', 'parse', 'render', 'update', 'find'])}${pick(rng, ['Total', 'Items', 'Token', 'Range', 'Config'])}${f}`;
    const a = pick(rng, NAMES);
    const b = pick(rng, NAMES.filter((n) => n !== a));
    out.push(`export function ${name}(${a}: ${pick(rng, TYPES)}, ${b}: ${pick(rng, TYPES)}): ${pick(rng, TYPES)} {`);
    const statements = 2 + Math.floor(rng.next() * 5);
    for (let s = 0; s < statements; s++) {
      const kind = rng.next();
      const c = pick(rng, NAMES);
      if (kind < 0.3) out.push(`  const ${c}${s} = ${a}.${pick(rng, ['map', 'filter', 'get', 'slice'])}((x) => x + ${Math.floor(rng.next() * 100)});`);
      else if (kind < 0.55) out.push(`  if (${b} > ${Math.floor(rng.next() * 50)}) {`, `    return helper${seed % 7}(${a}, ${b});`, '  }');
      else if (kind < 0.8) out.push(`  // ${pick(rng, ['keep', 'skip', 'check', 'clamp'])} the ${c} before the ${pick(rng, NAMES)}`);
      else out.push(`  for (let i = 0; i < ${a}.length; i++) ${c}[i] = ${b} * i;`);
    }
    out.push(`  return ${a};`, '}', '');
  }
  return out.join('\n');
}

/** 2 KiB line: well past the minified threshold. */
const LONG_LINE = `var a=${'x+'.repeat(1500)}1;`;

/**
 * A small project with one file for every skip reason (see the expected sets below). Written the
 * same way with and without git; in the git copy `src/untracked.ts` is left untracked.
 */
export function writeProject(root: string): void {
  writeFiles(root, {
    '.gitignore': [
      '# build output and logs',
      '*.log',
      '!keep.log',
      '/build/',
      'tmp/',
      'docs/**/draft-*.md',
      '/secret-notes.txt',
      '[Cc]ache*',
      '',
    ].join('\n'),
    'README.md': '# Project\n\nA small project used as a test fixture.\n',
    'src/main.ts': syntheticSource(1, 4),
    'src/util.ts': syntheticSource(2, 3),
    'src/z-copy.ts': syntheticSource(2, 3), // exact duplicate of src/util.ts, later in path order
    'src/sub/.gitignore': 'local-*\n!local-keep.ts\n',
    'src/sub/local-a.ts': 'export const a = 1;\n',
    'src/sub/local-keep.ts': 'export const keep = 2;\n',
    'app.log': 'a log line\n',
    'keep.log': 'a kept log line\n',
    'build/gen.js': 'module.exports = 1;\n',
    'lib/build/x.ts': 'export const x = 1;\n',
    'tmp/a.txt': 'scratch\n',
    'lib/tmp/b.txt': 'scratch\n',
    'docs/guide.md': '# Guide\n\nRun the thing.\n',
    'docs/draft-2.md': 'draft\n',
    'docs/a/b/draft-1.md': 'draft\n',
    'secret-notes.txt': 'notes\n',
    'lib/secret-notes.txt': 'these notes are fine\n',
    'cache-data.txt': 'cached\n',
    'node_modules/left-pad/index.js': 'module.exports = (s) => s;\n',
    'dist/bundle.js': 'console.log(1);\n',
    'assets/app.min.js': 'console.log(2);\n',
    'package-lock.json': '{ "lockfileVersion": 3 }\n',
    'gen/api.ts': '// Code generated by protoc-gen-ts. DO NOT EDIT.\nexport const api = 1;\n',
    'assets/bundle.js': `${LONG_LINE}\n`,
    'image.png': new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d]),
    'latin1.txt': new Uint8Array([0x63, 0x61, 0x66, 0xe9, 0x0a]), // "café" in Latin-1: invalid UTF-8, no NUL
    '.env': 'API_KEY=not-a-real-key\n',
    '.ssh/id_rsa': '-----BEGIN OPENSSH PRIVATE KEY-----\nnot a real key\n',
    'config/.npmrc': '//registry.npmjs.org/:_authToken=not-a-real-token\n',
    'certs/server.pem': '-----BEGIN CERTIFICATE-----\nnot real\n',
    'big.txt': 'a line of filler text for a big file\n'.repeat(30_000), // ~1.1 MB
    'empty.txt': '',
    'blank.txt': '  \n\n\t\n',
  });
  fs.symlinkSync('src/main.ts', path.join(root, 'link.ts'));
}

/** What the project's listing must give (after .gitignore), in code-unit order. */
export const PROJECT_CANDIDATES = [
  '.env',
  '.gitignore',
  '.ssh/id_rsa',
  'README.md',
  'assets/app.min.js',
  'assets/bundle.js',
  'big.txt',
  'blank.txt',
  'certs/server.pem',
  'config/.npmrc',
  'dist/bundle.js',
  'docs/guide.md',
  'empty.txt',
  'gen/api.ts',
  'image.png',
  'keep.log',
  'latin1.txt',
  'lib/build/x.ts',
  'lib/secret-notes.txt',
  'link.ts',
  'node_modules/left-pad/index.js',
  'package-lock.json',
  'src/main.ts',
  'src/sub/.gitignore',
  'src/sub/local-keep.ts',
  'src/untracked.ts',
  'src/util.ts',
  'src/z-copy.ts',
];

export const PROJECT_USED = [
  '.gitignore',
  'README.md',
  'docs/guide.md',
  'keep.log',
  'lib/secret-notes.txt',
  'src/main.ts',
  'src/sub/.gitignore',
  'src/sub/local-keep.ts',
  'src/untracked.ts',
  'src/util.ts',
];

export const PROJECT_SKIPPED: Record<string, string[]> = {
  'not-regular-file': ['link.ts'],
  secret: ['.env', '.ssh/id_rsa', 'certs/server.pem', 'config/.npmrc'],
  vendored: ['node_modules/left-pad/index.js'],
  generated: ['assets/app.min.js', 'dist/bundle.js', 'gen/api.ts', 'lib/build/x.ts', 'package-lock.json'],
  'too-large': ['big.txt'],
  empty: ['blank.txt', 'empty.txt'],
  binary: ['image.png', 'latin1.txt'],
  minified: ['assets/bundle.js'],
  duplicate: ['src/z-copy.ts'],
};

/** The project as a git repository: everything committed except src/untracked.ts. */
export function writeGitProject(root: string): void {
  writeProject(root);
  git(root, 'init', '-q');
  git(root, 'add', '-A');
  git(root, 'commit', '-q', '-m', 'fixture');
  writeFiles(root, { 'src/untracked.ts': syntheticSource(3, 2) });
}

export function writePlainProject(root: string): void {
  writeProject(root);
  writeFiles(root, { 'src/untracked.ts': syntheticSource(3, 2) });
}
