/**
 * The document as it will read once Enter is pressed at the end of the cursor's line: a line break
 * and the indentation the editor types on the new line. After a suggestion is accepted, the
 * pipeline computes the next line's suggestion for that document before it is asked for, so that
 * in a streak of accepted lines the next one shows as soon as Enter is pressed (Cody's "hot
 * streak", llama.vim's speculative prefetch). A wrong guess costs one request and nothing else:
 * the editor's real request finds no result for its document and runs as usual.
 *
 * The indentation follows VS Code's own rules for an Enter at the end of a line (its built-in
 * language configurations, with `editor.autoIndent` at its default): one unit deeper after an
 * unclosed bracket, after `=>`, a braceless `if (…)` / `else` and `case …:` in the C family, and
 * after a compound statement's `:` or an open bracket in Python; the line's own indentation
 * everywhere else.
 */
import { leadingWhitespace } from './indentation';
import { languageSyntax } from './languages';

export interface DocumentState {
  readonly text: string;
  readonly offset: number;
}

/** VS Code's increaseIndentPattern for JavaScript and TypeScript: a bracket left open to the line's end. */
const OPEN_BRACKET = /(\{[^}]*|\([^)]*|\[[^\]]*)$/;
/** Its indentNextLinePattern (an arrow, a braceless `if (…)`, `for (…)`, `while (…)`, `else`) and `case …:` rule. */
const INDENT_NEXT = /(=>\s*$)|(^\s*(((else ?)?if|for|while)\s*\(.*\)\s*|else\s*)$)|(^\s*(\bcase\s.+:|\bdefault:)$)/;
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
export function afterEnter(state: DocumentState, languageId: string, indentUnit: string): DocumentState | null {
  const { text, offset } = state;
  const lineStart = text.lastIndexOf('\n', offset - 1) + 1;
  const newline = text.indexOf('\n', offset);
  const lineEnd = newline < 0 ? text.length : newline;
  const rest = text.slice(offset, lineEnd);
  if (rest !== '' && rest !== '\r') return null;
  const line = text.slice(lineStart, offset);
  if (line.trim() === '' || DOC_COMMENT.test(line)) return null;
  const deeper = opensBlock(line, languageId);
  const indent = leadingWhitespace(line) + (deeper ? indentUnit : '');
  const eol = rest === '\r' || text.charAt(lineStart - 2) === '\r' ? '\r\n' : '\n';
  const at = offset + rest.length - (rest === '\r' ? 1 : 0);
  return { text: text.slice(0, at) + eol + indent + text.slice(at), offset: at + eol.length + indent.length };
}

/** String literals on one line (VS Code reads indentation rules past strings and comments). */
const STRING = /"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`(?:[^`\\]|\\.)*`/g;
const JS_FAMILY = new Set(['javascript', 'typescript', 'javascriptreact', 'typescriptreact']);

function opensBlock(line: string, languageId: string): boolean {
  const syntax = languageSyntax(languageId);
  const code = line.replace(STRING, '""');
  if (syntax.indentationScoped) return PYTHON_HEADER.test(line) || ENDS_IN_OPEN_BRACKET.test(code.replace(/#.*$/, ''));
  if (syntax.lineComment !== '//') return ENDS_IN_OPEN_BRACKET.test(code);
  const bare = code.replace(/\/\/.*$/, '');
  return OPEN_BRACKET.test(bare) || (JS_FAMILY.has(languageId) && INDENT_NEXT.test(bare));
}
