/**
 * False positives of the secret scanner (src/training/data/secretScan.ts) on ordinary code: every
 * .ts file (not .d.ts) under node_modules and the .py files of Python's standard library, in path
 * order. Prints the rate and each flagged file, line number and rule (never the line: a true
 * positive would be a real secret).
 *
 *   npx tsx bench/secretScan.ts [--max N] [--show-lines]
 *
 * --show-lines prints the flagged lines too, to judge them by eye on a machine of your own.
 */
import * as fs from 'fs';
import * as path from 'path';
import { scanSecrets } from '../src/training/data/secretScan';

function walk(dir: string, keep: (file: string) => boolean, out: string[] = []): string[] {
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return out;
  }
  for (const e of entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) walk(p, keep, out);
    else if (e.isFile() && keep(p)) out.push(p);
  }
  return out;
}

const args = process.argv.slice(2);
const maxIndex = args.indexOf('--max');
const max = maxIndex >= 0 ? Number(args[maxIndex + 1]) : Infinity;
const showLines = args.includes('--show-lines');

const root = path.resolve(__dirname, '..');
const pythonLib = fs.readdirSync('/usr/lib').filter((d) => /^python3\.\d+$/.test(d)).map((d) => path.join('/usr/lib', d))[0];
const sets: [string, string[]][] = [
  ['node_modules .ts', walk(path.join(root, 'node_modules'), (f) => f.endsWith('.ts') && !f.endsWith('.d.ts')).slice(0, max)],
  ['Python stdlib .py', pythonLib ? walk(pythonLib, (f) => f.endsWith('.py') && !f.includes('/test')).slice(0, max) : []],
];

for (const [name, files] of sets) {
  let flagged = 0;
  let bytes = 0;
  const t0 = performance.now();
  for (const file of files) {
    const text = fs.readFileSync(file, 'utf8');
    bytes += text.length;
    const findings = scanSecrets(text);
    if (findings.length === 0) continue;
    flagged++;
    const lines = text.split('\n');
    for (const f of findings) {
      console.log(`  ${path.relative(root, file)}:${f.line}  ${f.rule}${showLines ? `  ${lines[f.line - 1].trim().slice(0, 160)}` : ''}`);
    }
  }
  const ms = performance.now() - t0;
  console.log(
    `${name}: ${flagged} of ${files.length} files flagged (${((100 * flagged) / Math.max(1, files.length)).toFixed(2)}%), ` +
      `${(bytes / 1e6).toFixed(1)} MB scanned in ${ms.toFixed(0)} ms (${(bytes / 1e6 / (ms / 1000)).toFixed(1)} MB/s)`,
  );
}
