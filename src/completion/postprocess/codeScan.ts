/**
 * A shallow scan of code for brackets, strings and comments: enough to tell a completion's own
 * brackets from closers of brackets opened before it, and to ignore brackets inside strings and
 * comments. Strings end at a line break, except backtick strings (template literals).
 */
import { languageSyntax, type LanguageSyntax } from '../languages';

export const OPENERS = '([{';
export const CLOSERS = ')]}';

/** The closer of an opener: "(" → ")". */
export function closerOf(opener: string): string {
  return CLOSERS[OPENERS.indexOf(opener)] ?? '';
}

/** Scanner state before a character. */
export interface ScanState {
  /** Brackets opened inside the scanned text and still open. */
  readonly depth: number;
  /** The quote of the string the character is in, or null. */
  readonly quote: string | null;
  readonly inComment: boolean;
}

export interface CodeScan {
  /** State before each character, plus one for the end (length = text.length + 1). */
  readonly before: readonly ScanState[];
  /** Indices of closers of brackets opened before the text. */
  readonly outerClosers: readonly number[];
  /** Indices of closers that do not match the innermost bracket opened inside the text. */
  readonly mismatchedClosers: readonly number[];
  /** Index of the quote that ends the string the text started in, or -1. */
  readonly outerQuoteClose: number;
  /** Openers still open at the end, innermost last. */
  readonly openAtEnd: string;
}

/**
 * Scans `text` as code of `languageId`. `startQuote` says the text starts inside a string with
 * that quote (the cursor was inside a string literal).
 */
export function scanCode(text: string, languageId: string, startQuote: string | null = null): CodeScan {
  return scanWithSyntax(text, languageSyntax(languageId), startQuote);
}

function scanWithSyntax(text: string, syntax: LanguageSyntax, startQuote: string | null): CodeScan {
  const before: ScanState[] = [];
  const outerClosers: number[] = [];
  const mismatchedClosers: number[] = [];
  const stack: string[] = [];
  let outerQuoteClose = -1;
  let insideOuterString = startQuote !== null;
  let quote = startQuote;
  let lineComment = false;
  let blockComment = false;
  let escaped = false;

  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    before.push({ depth: stack.length, quote, inComment: lineComment || blockComment });
    if (ch === '\n') {
      lineComment = false;
      if (quote !== null && quote !== '`') {
        quote = null;
        insideOuterString = false;
      }
      escaped = false;
      continue;
    }
    if (lineComment) continue;
    if (blockComment) {
      const end = syntax.blockComment?.[1] ?? '';
      if (end !== '' && text.startsWith(end, i)) {
        blockComment = false;
        for (let j = 1; j < end.length; j++) before.push({ depth: stack.length, quote: null, inComment: true });
        i += end.length - 1;
      }
      continue;
    }
    if (quote !== null) {
      if (escaped) escaped = false;
      else if (ch === '\\') escaped = true;
      else if (ch === quote) {
        quote = null;
        if (insideOuterString) {
          outerQuoteClose = i;
          insideOuterString = false;
        }
      }
      continue;
    }
    if (syntax.lineComment !== undefined && text.startsWith(syntax.lineComment, i)) {
      lineComment = true;
      continue;
    }
    if (syntax.blockComment !== undefined && text.startsWith(syntax.blockComment[0], i)) {
      blockComment = true;
      const start = syntax.blockComment[0];
      for (let j = 1; j < start.length; j++) before.push({ depth: stack.length, quote: null, inComment: true });
      i += start.length - 1;
      continue;
    }
    if (syntax.quotes.includes(ch)) {
      quote = ch;
      continue;
    }
    if (OPENERS.includes(ch)) {
      stack.push(ch);
    } else if (CLOSERS.includes(ch)) {
      if (stack.length === 0) outerClosers.push(i);
      else if (closerOf(stack[stack.length - 1]) === ch) stack.pop();
      else mismatchedClosers.push(i);
    }
  }
  before.push({ depth: stack.length, quote, inComment: lineComment || blockComment });
  return { before, outerClosers, mismatchedClosers, outerQuoteClose, openAtEnd: stack.join('') };
}

/** The quote of a string still open at the end of `line` (the cursor is inside it), or null. */
export function openQuoteAtEnd(line: string, languageId: string): string | null {
  const scan = scanCode(line, languageId);
  return scan.before[scan.before.length - 1].quote;
}

/** True when the end of `line` is code: not inside a string or a comment. */
export function endsInCode(line: string, languageId: string): boolean {
  const scan = scanCode(line, languageId);
  const end = scan.before[scan.before.length - 1];
  return end.quote === null && !end.inComment;
}
