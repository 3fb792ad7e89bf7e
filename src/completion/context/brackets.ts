/**
 * Which brackets are open at the cursor, and what a candidate line does to them: a line that
 * closes a bracket nobody opened, or closes `)` where `{` is open, is not the line typed here, and
 * after `parser.add_argument(` with the line below dedented the next line is most likely `)`. The
 * model reads tokens, the lookups read whole lines; neither counts brackets. A small scanner that
 * skips strings and comments (Python's `#` and triple quotes, the C family's `//`, `/* *\/` and
 * template strings); regular expressions and other rarities are read as code, which the choice rule
 * learns to discount.
 */

const OPENERS = '([{';
const CLOSERS = ')]}';

/** Where a scan stands: the open brackets (innermost last) and what it is inside. */
export interface BracketState {
  readonly open: string;
  /** 'code', or the string's quote (`'`, `"`, `` ` ``, `'''`, `"""`), or 'block' for a C comment. */
  readonly inside: string;
}

export const CODE: BracketState = { open: '', inside: 'code' };

/** What scanning a piece of text did to the brackets. */
export interface BracketScan {
  readonly state: BracketState;
  /** Open brackets it closed, and closers that matched nothing open or the wrong kind. */
  readonly closed: number;
  readonly unopened: number;
  readonly mismatched: number;
  /** The fewest brackets open at any point of it. */
  readonly lowest: number;
}

/** Languages whose comments start with `#` (Python's triple-quoted strings are read in all of them: elsewhere `'''` is rare). */
const HASH_COMMENTS = new Set(['python', 'ruby', 'shellscript', 'perl', 'r', 'yaml', 'toml', 'dockerfile', 'makefile', 'powershell', 'coffeescript', 'julia', 'elixir', 'nim']);

/** Python's comments and strings (and other `#`-comment languages'), or the C family's (JavaScript, TypeScript, and the rest). */
export function usesHashComments(languageId: string | undefined): boolean {
  return languageId !== undefined && HASH_COMMENTS.has(languageId);
}

export function scanBrackets(text: string, from: BracketState, hashComments: boolean): BracketScan {
  const stack = [...from.open];
  let inside = from.inside, closed = 0, unopened = 0, mismatched = 0, lowest = stack.length;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (inside === 'block') {
      if (ch === '*' && text[i + 1] === '/') [inside, i] = ['code', i + 1];
      continue;
    }
    if (inside !== 'code') {
      if (ch === '\\') i++;
      else if (text.startsWith(inside, i)) [inside, i] = ['code', i + inside.length - 1];
      // A line ends a one-line string that was never closed (the cursor's own line, mid-typing).
      else if (ch === '\n' && (inside === '"' || inside === "'")) inside = 'code';
      continue;
    }
    if (hashComments ? ch === '#' : ch === '/' && text[i + 1] === '/') {
      const newline = text.indexOf('\n', i);
      if (newline < 0) break;
      i = newline;
    } else if (!hashComments && ch === '/' && text[i + 1] === '*') [inside, i] = ['block', i + 1];
    else if (ch === '"' || ch === "'" || (!hashComments && ch === '`')) {
      const triple = hashComments && text.startsWith(ch.repeat(3), i);
      inside = triple ? ch.repeat(3) : ch;
      if (triple) i += 2;
    } else if (OPENERS.includes(ch)) stack.push(ch);
    else if (CLOSERS.includes(ch)) {
      const want = OPENERS[CLOSERS.indexOf(ch)];
      if (stack.length === 0) unopened++;
      else if (stack[stack.length - 1] !== want) mismatched++;
      else {
        stack.pop();
        closed++;
        lowest = Math.min(lowest, stack.length);
      }
    }
  }
  return { state: { open: stack.join(''), inside }, closed, unopened, mismatched, lowest };
}
