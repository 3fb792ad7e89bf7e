/**
 * The document as it will read once Enter is pressed at the end of the cursor's line: a line break
 * and the indentation the editor types on the new line. After a suggestion is accepted, the
 * pipeline computes the next line's suggestion for that document before it is asked for, so that
 * in a streak of accepted lines the next one shows as soon as Enter is pressed (Cody's "hot
 * streak", llama.vim's speculative prefetch). A wrong guess costs one request and nothing else:
 * the editor's real request finds no result for its document and runs as usual.
 *
 * The indentation follows VS Code's own rules for an Enter at the end of a line (its built-in
 * language configurations), as far as `editor.autoIndent` applies them: at `full`, the default, one
 * unit deeper after an unclosed bracket, after `=>`, a braceless `if (…)` / `else` and `case …:` in
 * JavaScript and TypeScript, and after a compound statement's `:` or an open bracket in Python; the
 * line's own indentation everywhere else. `advanced` leaves out the indentation rules (the unclosed
 * bracket mid-line, `=>`, braceless `if`), `brackets` keeps only the open bracket at the line's end,
 * `keep` only the line's own indentation, and `none` types none.
 */
import { leadingWhitespace } from './indentation';
import { languageSyntax } from './languages';

/** VS Code's `editor.autoIndent`, from the least it does on Enter to the most. */
export const AUTO_INDENT_LEVELS = ['none', 'keep', 'brackets', 'advanced', 'full'] as const;
export type AutoIndent = (typeof AUTO_INDENT_LEVELS)[number];
const BRACKETS = 2, ADVANCED = 3, FULL = 4;

export interface DocumentState {
  readonly text: string;
  readonly offset: number;
}

/** VS Code's increaseIndentPattern for JavaScript and TypeScript: a bracket left open to the line's end. */
const OPEN_BRACKET = /(\{[^}]*|\([^)]*|\[[^\]]*)$/;
/** Its indentNextLinePattern: an arrow, a braceless `if (…)`, `for (…)`, `while (…)`, `else`. */
const INDENT_NEXT = /(=>\s*$)|(^\s*(((else ?)?if|for|while)\s*\(.*\)\s*|else\s*)$)/;
/** Its onEnterRule for a `case …:` or `default:` label. */
const CASE_LABEL = /^\s*(\bcase\s.+:|\bdefault:)$/;
/** Python's onEnterRules: a compound statement's header. */
const PYTHON_HEADER = /^\s*(?:def|class|for|if|elif|else|while|try|with|finally|except|async).*?:\s*$/;
/** What VS Code does after any language's open bracket. */
const ENDS_IN_OPEN_BRACKET = /[{([]\s*$/;
/** A doc-comment opener or continuation: the editor types ` * ` there, not plain indentation. */
const DOC_COMMENT = /^\s*(\/\*\*|\*)/;

/**
 * The document after Enter at `offset`, or null where the cursor is not at the end of a non-blank
 * line or the editor would type more than indentation. `indentUnit` is the editor's (tab size
 * and spaces).
 */
export function afterEnter(state: DocumentState, languageId: string, indentUnit: string, autoIndent: AutoIndent = 'full'): DocumentState | null {
  const { text, offset } = state;
  const lineStart = text.lastIndexOf('\n', offset - 1) + 1;
  const newline = text.indexOf('\n', offset);
  const lineEnd = newline < 0 ? text.length : newline;
  const rest = text.slice(offset, lineEnd);
  if (rest !== '' && rest !== '\r') return null;
  const line = text.slice(lineStart, offset);
  if (line.trim() === '' || DOC_COMMENT.test(line)) return null;
  const level = AUTO_INDENT_LEVELS.indexOf(autoIndent);
  const indent = level === 0 ? '' : leadingWhitespace(line) + (opensBlock(line, languageId, level) ? indentUnit : '');
  // The line break goes in at the cursor, before a CRLF document's '\r'.
  const eol = rest === '\r' || text.charAt(lineStart - 2) === '\r' ? '\r\n' : '\n';
  return { text: text.slice(0, offset) + eol + indent + text.slice(offset), offset: offset + eol.length + indent.length };
}

/** String literals on one line (VS Code reads indentation rules past strings and comments). */
const STRING = /"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`(?:[^`\\]|\\.)*`/g;
const JS_FAMILY = new Set(['javascript', 'typescript', 'javascriptreact', 'typescriptreact']);

function opensBlock(line: string, languageId: string, level: number): boolean {
  const syntax = languageSyntax(languageId);
  const withoutStrings = line.replace(STRING, '""');
  const code = syntax.lineComment === undefined ? withoutStrings : withoutStrings.split(syntax.lineComment)[0];
  if (level >= BRACKETS && ENDS_IN_OPEN_BRACKET.test(code)) return true;
  if (level < ADVANCED) return false;
  if (syntax.indentationScoped) return PYTHON_HEADER.test(line);
  const js = JS_FAMILY.has(languageId);
  if (js && CASE_LABEL.test(code)) return true;
  if (level < FULL || syntax.lineComment !== '//') return false;
  return OPEN_BRACKET.test(code) || (js && INDENT_NEXT.test(code));
}
