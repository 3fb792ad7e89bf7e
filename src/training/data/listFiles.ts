/**
 * The candidate files of a folder: what git would call the project's files. Inside a git work
 * tree, git lists them itself (tracked + untracked-but-not-ignored, which also honours
 * .git/info/exclude and the user's global excludes); elsewhere a walk that applies every
 * .gitignore on the way down. The user's include/exclude globs apply on top, and the files they
 * drop are returned too, so the report can say why a file is missing.
 */
import { execFile } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { CancelledError, UserError } from '../../engine/errors';
import { describeKind, kindOf } from '../../engine/pathKind';
import { IgnoreRule, isIgnored, parseGitignore } from './gitignore';
import { PathGlobs } from './glob';

export interface ListOptions {
  /** Globs a file must match (any of them); none = every file. See glob.ts for the syntax. */
  readonly include?: readonly string[];
  /** Globs that drop a file (any of them). */
  readonly exclude?: readonly string[];
  /** Use `git ls-files` when the folder is in a work tree (default true); false forces the walk. */
  readonly useGit?: boolean;
  readonly signal?: AbortSignal;
}

export interface FileList {
  /** How the candidates were found. */
  readonly source: 'git' | 'walk';
  /** Candidate files, relative to the folder with `/` separators, sorted by code unit. */
  readonly files: string[];
  /** Files the include/exclude globs dropped, same form. */
  readonly excludedByGlob: string[];
}

/** Sorts by UTF-16 code unit, not locale: the order (and so which duplicate is kept) must not depend on the machine. */
export function byCodeUnit(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export async function listFiles(folder: string, options: ListOptions = {}): Promise<FileList> {
  const root = path.resolve(folder);
  const stat = await fs.promises.stat(root).catch(() => null);
  // Shared by finetune, quality, eval and the workspace index: say what is wrong, not what it was for.
  if (stat === null) throw new UserError(`no folder at ${root}: give a workspace folder of source files`);
  if (!stat.isDirectory()) throw new UserError(`${root} ${describeKind(kindOf(stat))}: give the workspace folder that holds it`);
  let listed = options.useGit === false ? null : await gitListFiles(root, options.signal);
  const source = listed === null ? 'walk' : 'git';
  if (listed === null) listed = await walkFiles(root, options.signal);

  const globs = new PathGlobs(options.include, options.exclude);
  const files: string[] = [];
  const excludedByGlob: string[] = [];
  for (const file of [...new Set(listed)].sort(byCodeUnit)) (globs.keeps(file) ? files : excludedByGlob).push(file);
  return { source, files, excludedByGlob };
}

function runGit(cwd: string, args: string[], signal?: AbortSignal): Promise<string | null> {
  return new Promise((resolve) => {
    // No shell: arguments go to git as they are. A large repo lists many megabytes of names.
    execFile('git', args, { cwd, maxBuffer: 1 << 30, windowsHide: true, signal }, (error, stdout) => {
      resolve(error ? null : stdout);
    });
  });
}

/**
 * `git ls-files` run in the folder itself, so a subfolder of a repository lists only its own
 * files, relative to itself. Null when the folder is not in a work tree, is ignored by it, git is
 * missing, or git refuses the repository (e.g. "dubious ownership"): the walk then takes over.
 */
async function gitListFiles(root: string, signal?: AbortSignal): Promise<string[] | null> {
  const inside = await runGit(root, ['rev-parse', '--is-inside-work-tree'], signal);
  if (signal?.aborted) throw new CancelledError();
  if (inside === null || inside.trim() !== 'true') return null;
  // A folder its own repository ignores (node_modules/x, or a project under a home folder whose
  // repository ignores '*') would list nothing; the user chose it, so walk it as a folder of its own.
  const ignored = await runGit(root, ['check-ignore', '-q', '.'], signal);
  if (signal?.aborted) throw new CancelledError();
  if (ignored !== null) return null;
  // -z: NUL-separated, no quoting of unusual names. Unmerged paths appear once per stage (deduped
  // by the caller); an untracked nested repository appears as "dir/" and a submodule as its
  // folder: both are kept and later reported as not regular files.
  const out = await runGit(root, ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], signal);
  if (signal?.aborted) throw new CancelledError();
  if (out === null) return null;
  return out
    .split('\0')
    .filter((p) => p !== '')
    .map((p) => p.replace(/\/+$/, ''));
}

/**
 * Recursive walk honouring .gitignore files at every level. Never enters `.git`; does not follow
 * symbolic links (git does not either: a link is listed as a file, and reported as not regular).
 */
async function walkFiles(root: string, signal?: AbortSignal): Promise<string[]> {
  const out: string[] = [];
  const visit = async (dir: string, inherited: readonly IgnoreRule[]): Promise<void> => {
    if (signal?.aborted) throw new CancelledError();
    const absolute = dir === '' ? root : path.join(root, ...dir.split('/'));
    let entries: fs.Dirent[];
    try {
      entries = await fs.promises.readdir(absolute, { withFileTypes: true });
    } catch {
      return; // unreadable folder: nothing to list, as git would skip it
    }
    let rules = inherited;
    const gitignore = entries.find((e) => e.name === '.gitignore' && !e.isDirectory());
    if (gitignore) {
      try {
        const text = await fs.promises.readFile(path.join(absolute, '.gitignore'), 'utf8');
        rules = [...inherited, ...parseGitignore(text, dir)];
      } catch {
        // an unreadable .gitignore ignores nothing
      }
    }
    entries.sort((a, b) => byCodeUnit(a.name, b.name));
    for (const entry of entries) {
      if (entry.name === '.git') continue; // the repository itself, or a submodule's link file
      const rel = dir === '' ? entry.name : `${dir}/${entry.name}`;
      const isDir = entry.isDirectory();
      if (isIgnored(rules, rel, isDir)) continue;
      if (isDir) await visit(rel, rules);
      else out.push(rel);
    }
  };
  await visit('', []);
  return out;
}
