/**
 * Glob patterns → RegExp, for the user's include/exclude globs and for .gitignore lines.
 *
 * Written here rather than taken from minimatch/ignore: those sit in node_modules only as
 * transitive dev dependencies, and the data miner must not depend on what a dev tool pulls in.
 *
 * Syntax: `*` (any run of characters but `/`), `?` (one character but `/`), `[abc]`, `[a-z]`,
 * `[!a]` / `[^a]`, `\x` (x literally), `**` as a whole path segment (zero or more directories),
 * and, for include/exclude globs only, `{a,b}` alternatives (git's wildmatch has no braces).
 * `*` and `?` match a leading dot too: a glob the user wrote for "all files" should not silently
 * drop `.eslintrc.js`.
 */

/** Expands `{a,b}` alternatives (nested too), as minimatch does; `{a}` and unbalanced braces stay literal. */
export function expandBraces(pattern: string): string[] {
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '\\') {
      i++;
      continue;
    }
    if (c !== '{') continue;
    // Find the matching close brace and the top-level commas between.
    let depth = 0;
    const commas: number[] = [];
    let close = -1;
    for (let j = i; j < pattern.length; j++) {
      const d = pattern[j];
      if (d === '\\') {
        j++;
      } else if (d === '{') {
        depth++;
      } else if (d === '}') {
        depth--;
        if (depth === 0) {
          close = j;
          break;
        }
      } else if (d === ',' && depth === 1) {
        commas.push(j);
      }
    }
    if (close < 0 || commas.length === 0) continue;
    const head = pattern.slice(0, i);
    const tail = pattern.slice(close + 1);
    const bounds = [i, ...commas, close];
    const out: string[] = [];
    for (let k = 0; k + 1 < bounds.length; k++) {
      const alternative = pattern.slice(bounds[k] + 1, bounds[k + 1]);
      for (const expanded of expandBraces(head + alternative + tail)) out.push(expanded);
    }
    return out;
  }
  return [pattern];
}

const REGEX_SPECIAL = /[.*+?^${}()|[\]\\/]/;

function escapeChar(c: string): string {
  return REGEX_SPECIAL.test(c) ? `\\${c}` : c;
}

/**
 * RegExp source (unanchored) for one brace-free glob matched against a whole `/`-separated path.
 * A `**` segment matches zero or more whole segments; any other run of stars is one `*`.
 */
export function globSource(glob: string): string {
  let out = '';
  let i = 0;
  while (i < glob.length) {
    const c = glob[i];
    if (c === '\\') {
      if (i + 1 < glob.length) out += escapeChar(glob[i + 1]);
      i += 2;
      continue;
    }
    if (c === '*') {
      let end = i;
      while (end < glob.length && glob[end] === '*') end++;
      const segmentStart = i === 0 || glob[i - 1] === '/';
      const segmentEnd = end === glob.length || glob[end] === '/';
      if (end - i >= 2 && segmentStart && segmentEnd) {
        if (end === glob.length) {
          out += '.*'; // trailing `**`: everything below (or everything, for a bare `**`)
          i = end;
        } else {
          out += '(?:.*/)?'; // `**/`: zero or more directories
          i = end + 1;
        }
      } else {
        out += '[^/]*';
        i = end;
      }
      continue;
    }
    if (c === '?') {
      out += '[^/]';
      i++;
      continue;
    }
    if (c === '[') {
      const parsed = characterClass(glob, i);
      if (parsed !== null) {
        out += parsed.source;
        i = parsed.end;
        continue;
      }
    }
    out += escapeChar(c);
    i++;
  }
  return out;
}

/** `[...]` starting at `start` → a JS character class that never matches `/`; null when unclosed. */
function characterClass(glob: string, start: number): { source: string; end: number } | null {
  let i = start + 1;
  let negate = false;
  if (glob[i] === '!' || glob[i] === '^') {
    negate = true;
    i++;
  }
  let body = '';
  let first = true;
  while (i < glob.length) {
    const c = glob[i];
    if (c === ']' && !first) {
      return { source: negate ? `[^/${body}]` : `(?!/)[${body}]`, end: i + 1 };
    }
    if (c === '\\' && i + 1 < glob.length) {
      body += `\\${glob[i + 1]}`;
      i += 2;
    } else {
      // Inside a JS class only these need escaping; '-' keeps its range meaning.
      body += c === ']' || c === '[' || c === '^' || c === '\\' ? `\\${c}` : c;
      i++;
    }
    first = false;
  }
  return null;
}

/**
 * A user glob (include/exclude) → a RegExp over a relative POSIX path. A glob without `/` matches
 * the file name at any depth (`*.ts`, like minimatch's matchBase and like .gitignore); a leading
 * `/` or `./` anchors it at the folder; a trailing `/` is dropped (directories match through
 * `matchesPathOrParent`).
 */
export function globToRegExp(glob: string): RegExp {
  const sources = expandBraces(glob.trim()).map((g) => {
    let pattern = g.startsWith('./') ? g.slice(2) : g;
    const anchored = pattern.startsWith('/') || pattern.replace(/\/+$/, '').includes('/');
    pattern = pattern.replace(/^\/+/, '').replace(/\/+$/, '');
    return anchored ? globSource(pattern) : `(?:.*/)?${globSource(pattern)}`;
  });
  return new RegExp(`^(?:${sources.join('|')})$`);
}

/** True when `re` matches the path or one of its parent folders (so `docs` and `docs/**` both cover docs/a.md). */
export function matchesPathOrParent(re: RegExp, relPath: string): boolean {
  if (re.test(relPath)) return true;
  for (let slash = relPath.lastIndexOf('/'); slash > 0; slash = relPath.lastIndexOf('/', slash - 1)) {
    if (re.test(relPath.slice(0, slash))) return true;
  }
  return false;
}

/** Include/exclude globs together: a path is kept when some include matches (or there are none) and no exclude does. */
export class PathGlobs {
  private readonly includes: RegExp[];
  private readonly excludes: RegExp[];

  constructor(include: readonly string[] = [], exclude: readonly string[] = []) {
    const nonEmpty = (g: string) => g.trim() !== '';
    this.includes = include.filter(nonEmpty).map(globToRegExp);
    this.excludes = exclude.filter(nonEmpty).map(globToRegExp);
  }

  keeps(relPath: string): boolean {
    if (this.includes.length > 0 && !this.includes.some((re) => matchesPathOrParent(re, relPath))) return false;
    return !this.excludes.some((re) => matchesPathOrParent(re, relPath));
  }
}
