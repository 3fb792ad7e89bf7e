/**
 * .gitignore rules, for folders that are not in a git work tree (inside one, git itself lists the
 * files). Follows gitignore(5): blank lines and `#` comments skipped, `\#` / `\!` / `\ ` escapes,
 * trailing unescaped spaces dropped, `!` negates, a trailing `/` matches directories only, a `/`
 * at the start or in the middle anchors the pattern to the .gitignore's folder (otherwise it
 * matches a name at any depth below it), `**` segments, and the last matching rule wins, deeper
 * .gitignore files after shallower ones. "A file cannot be re-included if a parent directory is
 * excluded" is the walker's part: it never descends into an ignored directory.
 */
import { globSource } from './glob';

export interface IgnoreRule {
  /** Folder of the .gitignore, relative to the walk root, POSIX ('' for the root). */
  readonly base: string;
  /** Matches the path relative to `base`. */
  readonly regex: RegExp;
  readonly negate: boolean;
  readonly dirOnly: boolean;
}

/** Drops trailing spaces unless backslash-escaped (`foo\ ` keeps one space). */
function trimTrailingSpaces(line: string): string {
  let end = line.length;
  while (end > 0 && line[end - 1] === ' ') {
    let backslashes = 0;
    for (let k = end - 2; k >= 0 && line[k] === '\\'; k--) backslashes++;
    if (backslashes % 2 === 1) break; // this space is escaped
    end--;
  }
  return line.slice(0, end);
}

/** The rules of one .gitignore file found in folder `base`. */
export function parseGitignore(text: string, base: string): IgnoreRule[] {
  const rules: IgnoreRule[] = [];
  for (const raw of text.split('\n')) {
    let line = trimTrailingSpaces(raw.endsWith('\r') ? raw.slice(0, -1) : raw);
    if (line === '' || line.startsWith('#')) continue;
    let negate = false;
    if (line.startsWith('!')) {
      negate = true;
      line = line.slice(1);
    }
    let dirOnly = false;
    if (line.endsWith('/') && !line.endsWith('\\/')) {
      dirOnly = true;
      line = line.replace(/\/+$/, '');
    }
    if (line === '') continue;
    const anchored = line.includes('/');
    if (line.startsWith('/')) line = line.slice(1);
    const source = anchored ? globSource(line) : `(?:.*/)?${globSource(line)}`;
    rules.push({ base, regex: new RegExp(`^${source}$`), negate, dirOnly });
  }
  return rules;
}

/**
 * Whether `relPath` (relative to the walk root, POSIX) is ignored by `rules`, given in precedence
 * order (root .gitignore first, each file's lines in order). Parent directories are the caller's.
 */
export function isIgnored(rules: readonly IgnoreRule[], relPath: string, isDir: boolean): boolean {
  for (let i = rules.length - 1; i >= 0; i--) {
    const rule = rules[i];
    if (rule.dirOnly && !isDir) continue;
    let rest: string;
    if (rule.base === '') rest = relPath;
    else if (relPath.startsWith(rule.base + '/')) rest = relPath.slice(rule.base.length + 1);
    else continue;
    if (rule.regex.test(rest)) return !rule.negate;
  }
  return false;
}
