/**
 * The embedded model's corpus: code this machine already has. TypeScript/JavaScript sources and
 * .d.ts files of the npm packages installed in this project's node_modules, and Python's standard
 * library as Debian's python3 installs it. Files pass the fine-tuning pipeline's filters (no
 * secrets, generated, minified, binary or duplicate files) and whole files are held out for testing
 * (split.ts), so held-out numbers measure unseen code, not memorised windows.
 *
 * Deterministic: paths are sorted, and every choice (which files fit a source's cap, which are held
 * out) is a hash of (seed, path), so the same machine state gives the same corpus byte for byte.
 *
 * Output, in `outDir`:
 *   manifest.json     sources (package, version, licence, files, tokens, skips), files (split, offset)
 *   tokens.u16        every file's GPT-2 token ids, concatenated in manifest order (uint16 LE)
 *   heldout.json      held-out texts by id, for mining evaluation cut points exactly as fine-tuning does
 *
 *   npx tsx scripts/embedded/corpus.ts [--out DIR] [--seed N]
 */
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { getTokenizer } from '../../src/engine/tokenizer';
import { normalizeLineBreaks } from '../../src/training/data/examples';
import { filterFiles, type SkipReason } from '../../src/training/data/fileFilters';
import { byCodeUnit } from '../../src/training/data/listFiles';
import { hashToUnit } from '../../src/training/data/seededHash';
import { splitFiles } from '../../src/training/data/split';

export const CORPUS_VERSION = 1;

export interface CorpusOptions {
  outDir: string;
  /** The project whose node_modules are read (default: this repository). */
  projectRoot?: string;
  /** Default /usr/lib/python3.11. */
  pythonLib?: string;
  seed?: number;
  /**
   * Tokens one npm package may contribute: without a cap the few large SDKs installed here (Azure,
   * Playwright) would make up most of the JavaScript; with it the corpus spreads over many authors.
   */
  maxTokensPerPackage?: number;
  /** Tokens of the Python standard library at most (it is one source, and large). */
  maxPythonTokens?: number;
  /** Share of tokens in held-out files. */
  heldOutFraction?: number;
  log?: (line: string) => void;
}

export const CORPUS_DEFAULTS = {
  pythonLib: '/usr/lib/python3.11',
  seed: 0,
  maxTokensPerPackage: 250_000,
  maxPythonTokens: 3_000_000,
  heldOutFraction: 0.05,
} as const;

/** Where the text came from, for the model card's table. */
export interface CorpusSource {
  name: string;
  kind: 'npm' | 'python';
  version: string;
  licence: string;
  root: string;
  /** Files that passed the filters. */
  accepted: number;
  /** Accepted files left out because the source's token cap was reached. */
  overCap: number;
  skipped: Partial<Record<SkipReason, number>>;
  files: number;
  tokens: number;
  heldOutFiles: number;
  heldOutTokens: number;
}

export interface CorpusFile {
  id: number;
  source: string;
  /** Relative to the source's root, `/`-separated. */
  path: string;
  split: 'train' | 'heldout';
  tokens: number;
  /** Index of the file's first token in tokens.u16. */
  offset: number;
  sha256: string;
}

export interface CorpusManifest {
  version: number;
  options: { seed: number; maxTokensPerPackage: number; maxPythonTokens: number; heldOutFraction: number };
  tokenizer: 'gpt2';
  sources: CorpusSource[];
  files: CorpusFile[];
  totals: { train: { files: number; tokens: number }; heldOut: { files: number; tokens: number } };
}

export const MANIFEST_FILE = 'manifest.json';
export const TOKENS_FILE = 'tokens.u16';
export const HELDOUT_TEXTS_FILE = 'heldout.json';

const NPM_EXTENSIONS = /\.(?:ts|mts|cts|js|mjs|cjs)$/;
/** Debian ships the test suite separately, but a few test folders remain; tests are mostly fixtures. */
const PYTHON_TEST_DIRS = new Set(['test', 'tests', 'idle_test']);

/** Files under `root` whose names match, relative and sorted; folders in `prune` are not entered. */
function walk(root: string, wanted: RegExp, prune: (dir: string) => boolean): string[] {
  const out: string[] = [];
  const visit = (rel: string) => {
    const entries = fs.readdirSync(path.join(root, rel), { withFileTypes: true });
    for (const e of entries) {
      const child = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) {
        if (!prune(e.name)) visit(child);
      } else if (wanted.test(e.name)) {
        out.push(child); // symlinks too: filterFiles counts them as not regular files
      }
    }
  };
  visit('');
  return out.sort(byCodeUnit);
}

/** Top-level and scoped packages of node_modules, sorted, each with its package.json. */
function npmPackages(nodeModules: string): { name: string; root: string; version: string; licence: string }[] {
  const names: string[] = [];
  for (const entry of fs.readdirSync(nodeModules).sort(byCodeUnit)) {
    if (entry.startsWith('.')) continue;
    if (entry.startsWith('@')) {
      for (const sub of fs.readdirSync(path.join(nodeModules, entry)).sort(byCodeUnit)) names.push(`${entry}/${sub}`);
    } else {
      names.push(entry);
    }
  }
  const out = [];
  for (const name of names) {
    const root = path.join(nodeModules, name);
    let pkg: { version?: unknown; license?: unknown; licenses?: unknown };
    try {
      pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as typeof pkg;
    } catch {
      continue; // not a package (a stray folder or a broken install)
    }
    out.push({ name, root, version: typeof pkg.version === 'string' ? pkg.version : 'unknown', licence: licenceOf(pkg) });
  }
  return out;
}

/** The SPDX expression of package.json's `license` (or the old `licenses` array). */
function licenceOf(pkg: { license?: unknown; licenses?: unknown }): string {
  if (typeof pkg.license === 'string') return pkg.license;
  if (pkg.license && typeof pkg.license === 'object' && typeof (pkg.license as { type?: unknown }).type === 'string') {
    return (pkg.license as { type: string }).type;
  }
  if (Array.isArray(pkg.licenses)) {
    const types = pkg.licenses.map((l: unknown) => (l && typeof l === 'object' ? (l as { type?: unknown }).type : undefined));
    if (types.every((t): t is string => typeof t === 'string') && types.length > 0) return types.join(' OR ');
  }
  return 'UNKNOWN';
}

/** The installed Debian package's version of the standard library, or the folder's name. */
function pythonVersion(lib: string): string {
  const minor = path.basename(lib).replace(/^python/, '');
  try {
    const status = fs.readFileSync('/var/lib/dpkg/status', 'utf8');
    const block = status.split('\n\n').find((b) => b.startsWith(`Package: libpython${minor}-stdlib\n`));
    const version = block && /^Version: (.+)$/m.exec(block)?.[1];
    if (version) return `${version} (Debian libpython${minor}-stdlib)`;
  } catch {
    // not Debian: the folder name is all we know
  }
  return minor;
}

interface Accepted {
  source: string;
  path: string;
  text: string;
  ids: number[];
  sha256: string;
}

/** Keeps files in an order fixed by hash(seed, source, path) while they fit `cap` tokens. */
function withinCap(files: Accepted[], cap: number, seed: number): { kept: Set<Accepted>; overCap: number } {
  const order = [...files].sort((a, b) => hashToUnit(seed, 'select', a.source, a.path) - hashToUnit(seed, 'select', b.source, b.path) || byCodeUnit(a.path, b.path));
  const kept = new Set<Accepted>();
  let tokens = 0;
  for (const f of order) {
    if (tokens + f.ids.length > cap) continue; // a smaller file later may still fit
    kept.add(f);
    tokens += f.ids.length;
  }
  return { kept, overCap: files.length - kept.size };
}

export async function buildCorpus(o: CorpusOptions): Promise<CorpusManifest> {
  const log = o.log ?? (() => undefined);
  const seed = o.seed ?? CORPUS_DEFAULTS.seed;
  const perPackage = o.maxTokensPerPackage ?? CORPUS_DEFAULTS.maxTokensPerPackage;
  const pythonCap = o.maxPythonTokens ?? CORPUS_DEFAULTS.maxPythonTokens;
  const heldOutFraction = o.heldOutFraction ?? CORPUS_DEFAULTS.heldOutFraction;
  const projectRoot = path.resolve(o.projectRoot ?? path.join(__dirname, '..', '..'));
  const pythonLib = o.pythonLib ?? CORPUS_DEFAULTS.pythonLib;
  const tokenizer = getTokenizer();
  // Exact duplicates across sources too (an ESM and a CJS copy, a vendored copy): the first in source order wins.
  const seen = new Set<string>();

  const sources: CorpusSource[] = [];
  const chosen: Accepted[] = [];
  const addSource = async (
    meta: { name: string; kind: 'npm' | 'python'; version: string; licence: string; root: string },
    relPaths: string[],
    cap: number,
  ) => {
    const accepted: Accepted[] = [];
    const skipped: Partial<Record<SkipReason, number>> = {};
    for await (const v of filterFiles(meta.root, relPaths)) {
      let reason: SkipReason | null = v.ok ? null : v.reason;
      if (v.ok) {
        const text = normalizeLineBreaks(v.text);
        const sha256 = createHash('sha256').update(text).digest('hex');
        if (seen.has(sha256)) reason = 'duplicate';
        else {
          seen.add(sha256);
          accepted.push({ source: meta.name, path: v.path, text, ids: tokenizer.encode(text), sha256 });
        }
      }
      if (reason) skipped[reason] = (skipped[reason] ?? 0) + 1;
    }
    const { kept, overCap } = withinCap(accepted, cap, seed);
    const files = accepted.filter((f) => kept.has(f));
    chosen.push(...files);
    sources.push({
      ...meta,
      accepted: accepted.length,
      overCap,
      skipped,
      files: files.length,
      tokens: files.reduce((n, f) => n + f.ids.length, 0),
      heldOutFiles: 0,
      heldOutTokens: 0,
    });
  };

  const nodeModules = path.join(projectRoot, 'node_modules');
  for (const pkg of npmPackages(nodeModules)) {
    const files = walk(pkg.root, NPM_EXTENSIONS, (dir) => dir === 'node_modules' || dir === '.git');
    if (files.length === 0) continue;
    await addSource({ name: pkg.name, kind: 'npm', version: pkg.version, licence: pkg.licence, root: pkg.root }, files, perPackage);
  }
  log(`npm: ${sources.length} packages, ${chosen.length} files, ${chosen.reduce((n, f) => n + f.ids.length, 0)} tokens`);
  if (fs.existsSync(pythonLib)) {
    const files = walk(pythonLib, /\.py$/, (dir) => PYTHON_TEST_DIRS.has(dir) || dir === 'site-packages' || dir === 'dist-packages' || dir === '__pycache__');
    await addSource(
      { name: `python${path.basename(pythonLib).replace(/^python/, '')} stdlib`, kind: 'python', version: pythonVersion(pythonLib), licence: 'PSF-2.0', root: pythonLib },
      files,
      pythonCap,
    );
    log(`python: ${sources[sources.length - 1].files} files, ${sources[sources.length - 1].tokens} tokens`);
  } else {
    log(`python: ${pythonLib} not found; the corpus has no Python`);
  }

  // Whole files held out, over the whole corpus (keyed by source and path, so the split of one
  // file does not depend on which other packages are installed beyond the token quota).
  const keyed = chosen.map((f) => ({ file: f, path: `${f.source}:${f.path}`, tokens: f.ids.length }));
  const { heldOut } = splitFiles(keyed, { heldOutFraction, seed });
  const held = new Set(heldOut.map((k) => k.file));

  fs.mkdirSync(o.outDir, { recursive: true });
  const total = chosen.reduce((n, f) => n + f.ids.length, 0);
  const tokens = new Uint16Array(total);
  const files: CorpusFile[] = [];
  const heldOutTexts: Record<string, string> = {};
  let offset = 0;
  for (const f of chosen) {
    const split = held.has(f) ? 'heldout' : 'train';
    const id = files.length;
    files.push({ id, source: f.source, path: f.path, split, tokens: f.ids.length, offset, sha256: f.sha256 });
    tokens.set(f.ids, offset);
    offset += f.ids.length;
    if (split === 'heldout') {
      heldOutTexts[String(id)] = f.text;
      const s = sources.find((x) => x.name === f.source)!;
      s.heldOutFiles++;
      s.heldOutTokens += f.ids.length;
    }
  }
  const sum = (split: 'train' | 'heldout') => {
    const inSplit = files.filter((f) => f.split === split);
    return { files: inSplit.length, tokens: inSplit.reduce((n, f) => n + f.tokens, 0) };
  };
  const manifest: CorpusManifest = {
    version: CORPUS_VERSION,
    options: { seed, maxTokensPerPackage: perPackage, maxPythonTokens: pythonCap, heldOutFraction },
    tokenizer: 'gpt2',
    sources,
    files,
    totals: { train: sum('train'), heldOut: sum('heldout') },
  };
  fs.writeFileSync(path.join(o.outDir, TOKENS_FILE), Buffer.from(tokens.buffer, tokens.byteOffset, tokens.byteLength));
  fs.writeFileSync(path.join(o.outDir, HELDOUT_TEXTS_FILE), JSON.stringify(heldOutTexts));
  // The manifest goes last: a folder with a manifest is a complete corpus.
  fs.writeFileSync(path.join(o.outDir, MANIFEST_FILE), JSON.stringify(manifest, null, 1) + '\n');
  log(`corpus: train ${manifest.totals.train.files} files / ${manifest.totals.train.tokens} tokens, held out ${manifest.totals.heldOut.files} files / ${manifest.totals.heldOut.tokens} tokens`);
  return manifest;
}

/** A corpus built earlier, with its token ids. */
export interface LoadedCorpus {
  manifest: CorpusManifest;
  tokens: Uint16Array;
  heldOutTexts: Map<number, string>;
}

export function loadCorpus(dir: string): LoadedCorpus | null {
  const manifestFile = path.join(dir, MANIFEST_FILE);
  if (!fs.existsSync(manifestFile)) return null;
  const manifest = JSON.parse(fs.readFileSync(manifestFile, 'utf8')) as CorpusManifest;
  if (manifest.version !== CORPUS_VERSION) return null;
  const buf = fs.readFileSync(path.join(dir, TOKENS_FILE));
  const tokens = new Uint16Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
  const texts = JSON.parse(fs.readFileSync(path.join(dir, HELDOUT_TEXTS_FILE), 'utf8')) as Record<string, string>;
  return { manifest, tokens, heldOutTexts: new Map(Object.entries(texts).map(([k, v]) => [Number(k), v])) };
}

/** A file's token ids (a view into the corpus buffer). */
export function fileTokens(corpus: LoadedCorpus, f: CorpusFile): Uint16Array {
  return corpus.tokens.subarray(f.offset, f.offset + f.tokens);
}

if (require.main === module) {
  const arg = (name: string) => {
    const i = process.argv.indexOf(`--${name}`);
    return i >= 0 ? process.argv[i + 1] : undefined;
  };
  const outDir = arg('out') ?? path.join(__dirname, '..', '..', '.test-cache', 'embedded-train', 'corpus');
  buildCorpus({ outDir, seed: arg('seed') ? Number(arg('seed')) : undefined, log: (l) => console.log(l) }).catch((e: unknown) => {
    console.error(e);
    process.exitCode = 1;
  });
}
