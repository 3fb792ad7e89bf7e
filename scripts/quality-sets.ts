/**
 * `npm run quality:fetch`: the completion-quality benchmark's sets (bench/QUALITY.md), real
 * repositories none of whose files are in the embedded model's corpus (that corpus is this
 * project's node_modules and Python 3.11's standard library): two npm packages that ship their
 * TypeScript sources and two Debian Python packages. Each is fetched by pinned version and SHA-256
 * through its own client (`npm pack`, `apt-get download`), and only its source folder is kept in
 * `.test-cache/quality-sets/<name>/`. A hash mismatch is refused; a verified copy is not fetched again.
 *
 *   npx tsx scripts/quality-sets.ts [--dir DIR] [NAME ...]
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export interface QualitySet {
  /** Folder name under the cache. */
  readonly name: string;
  readonly source: 'npm' | 'debian';
  readonly package: string;
  readonly version: string;
  /** Of the .tgz that `npm pack` writes, or of the .deb (Debian's own SHA256 field). */
  readonly sha256: string;
  readonly licence: string;
  readonly language: 'TypeScript' | 'Python';
  /** The folder inside the archive that holds the sources; it becomes the set's folder. */
  readonly keep: string;
}

export const QUALITY_SETS: readonly QualitySet[] = [
  {
    name: 'rxjs',
    source: 'npm',
    package: 'rxjs',
    version: '7.8.2',
    sha256: '2312f8ffd9726ffd7bd53ea12c5f13663d09a3dc3326f448c70b88f5ef6fac82',
    licence: 'Apache-2.0',
    language: 'TypeScript',
    keep: 'package/src',
  },
  {
    name: 'zod',
    source: 'npm',
    package: 'zod',
    version: '4.6.7',
    sha256: '84efd155bed93270286e793fc951be270b536cbd5b0eeb111f0fa3967201d698',
    licence: 'MIT',
    language: 'TypeScript',
    keep: 'package/src',
  },
  {
    name: 'rich',
    source: 'debian',
    package: 'python3-rich',
    version: '13.3.1-1',
    sha256: '4922761342dd42eb989dcc148e7a251401caf0266796f9fb0907be262d4a4083',
    licence: 'MIT',
    language: 'Python',
    keep: 'usr/lib/python3/dist-packages/rich',
  },
  {
    name: 'werkzeug',
    source: 'debian',
    package: 'python3-werkzeug',
    version: '2.2.2-3+deb12u1',
    sha256: '283e2d849e93531581948b0c49ebdd3831c0a5fc22edb7bc08efd3c38ae055b8',
    licence: 'BSD-3-Clause',
    language: 'Python',
    keep: 'usr/lib/python3/dist-packages/werkzeug',
  },
];

export function defaultSetsDir(): string {
  return path.resolve(__dirname, '..', '.test-cache', 'quality-sets');
}

class SetError extends Error {}

const sha256Of = (file: string): string => createHash('sha256').update(fs.readFileSync(file)).digest('hex');

/** Written after a set is verified and extracted; its hash says which archive the folder came from. */
const markerOf = (dir: string, set: QualitySet): string => path.join(dir, `${set.name}.verified.json`);

/** Whether `dir` holds a verified copy of the set, of the pinned version and archive. */
export function isCached(dir: string, set: QualitySet): boolean {
  try {
    const marker = JSON.parse(fs.readFileSync(markerOf(dir, set), 'utf8')) as { sha256?: string; version?: string };
    return marker.sha256 === set.sha256 && marker.version === set.version && fs.statSync(path.join(dir, set.name)).isDirectory();
  } catch {
    return false;
  }
}

/** Downloads the archive into `work` with the package's own client; returns its path. */
function download(set: QualitySet, work: string): string {
  const run = (command: string, args: string[]) => execFileSync(command, args, { cwd: work, stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    if (set.source === 'npm') run('npm', ['pack', `${set.package}@${set.version}`, '--silent']);
    else run('apt-get', ['download', `${set.package}=${set.version}`]);
  } catch (e) {
    const stderr = String((e as { stderr?: Buffer }).stderr ?? '').trim().split('\n').pop();
    throw new SetError(`${set.name}: could not download ${set.package} ${set.version} (${stderr || (e as Error).message})`);
  }
  const archive = fs.readdirSync(work).find((f) => f.endsWith(set.source === 'npm' ? '.tgz' : '.deb'));
  if (archive === undefined) throw new SetError(`${set.name}: ${set.source === 'npm' ? 'npm pack' : 'apt-get download'} wrote no archive`);
  return path.join(work, archive);
}

/** Fetches one set into `dir/<name>` unless a verified copy is there; returns the set's folder. */
export function fetchSet(set: QualitySet, dir: string, log: (line: string) => void = () => {}): string {
  const target = path.join(dir, set.name);
  if (isCached(dir, set)) return target;
  fs.mkdirSync(dir, { recursive: true });
  const work = fs.mkdtempSync(path.join(os.tmpdir(), `quality-set-${set.name}-`));
  try {
    log(`${set.name}: fetching ${set.package} ${set.version}`);
    const archive = download(set, work);
    const actual = sha256Of(archive);
    if (actual !== set.sha256) {
      throw new SetError(`${set.name}: refused ${path.basename(archive)}: SHA-256 ${actual}, pinned ${set.sha256}`);
    }
    const extracted = path.join(work, 'x');
    fs.mkdirSync(extracted);
    if (set.source === 'npm') execFileSync('tar', ['-xzf', archive, '-C', extracted]);
    else execFileSync('dpkg-deb', ['-x', archive, extracted]);
    const kept = path.join(extracted, ...set.keep.split('/'));
    if (!fs.existsSync(kept)) throw new SetError(`${set.name}: ${set.keep} is not in ${path.basename(archive)}`);
    fs.rmSync(target, { recursive: true, force: true });
    fs.cpSync(kept, target, { recursive: true });
    fs.writeFileSync(markerOf(dir, set), JSON.stringify({ package: set.package, version: set.version, sha256: set.sha256 }) + '\n');
    return target;
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

/** Fetches the named sets (default: all); one line per problem, thrown as an Error. */
export function fetchQualitySets(options: { dir?: string; names?: readonly string[]; log?: (line: string) => void } = {}): { set: QualitySet; dir: string }[] {
  const dir = options.dir ?? defaultSetsDir();
  const wanted = options.names && options.names.length > 0 ? options.names : QUALITY_SETS.map((s) => s.name);
  return wanted.map((name) => {
    const set = QUALITY_SETS.find((s) => s.name === name);
    if (set === undefined) throw new SetError(`no quality set named "${name}" (sets: ${QUALITY_SETS.map((s) => s.name).join(', ')})`);
    return { set, dir: fetchSet(set, dir, options.log) };
  });
}

if (require.main === module) {
  const argv = process.argv.slice(2);
  let dir: string | undefined;
  const names: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--dir') dir = path.resolve(argv[++i]);
    else names.push(argv[i]);
  }
  try {
    for (const { set, dir: folder } of fetchQualitySets({ dir, names, log: (l) => process.stderr.write(`${l}\n`) })) {
      process.stdout.write(`${set.name} ${set.version} ${folder}\n`);
    }
  } catch (e) {
    process.stderr.write(`quality-sets: ${e instanceof SetError ? e.message : (e as Error).stack}\n`);
    process.exitCode = 1;
  }
}
