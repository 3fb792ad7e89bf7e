/**
 * The little each pipeline stage needs to know about a language's surface syntax: which quotes
 * delimit strings, how comments start, which characters open a block. Deliberately shallow (no
 * parser): GPT-2 output is short and the stages only need to skip brackets inside strings/comments.
 */

export interface LanguageSyntax {
  /** Characters that open and close a string on one line (escape with a backslash). */
  readonly quotes: string;
  /** Start of a comment that runs to the end of the line, if any. */
  readonly lineComment: string | undefined;
  /** Start and end of a block comment, if any. */
  readonly blockComment: readonly [string, string] | undefined;
  /** Last characters of a line that open an indented block (Python's ":" as well as brackets). */
  readonly blockOpeners: string;
  /** True where indentation alone ends a block (no closing line to add). */
  readonly indentationScoped: boolean;
  /** How to write a one-line comment holding `text` (used for the optional prompt header). */
  comment(text: string): string;
}

const slashComment = (text: string): string => `// ${text}`;
const hashComment = (text: string): string => `# ${text}`;
const htmlComment = (text: string): string => `<!-- ${text} -->`;

const C_LIKE: LanguageSyntax = {
  quotes: `"'`,
  lineComment: '//',
  blockComment: ['/*', '*/'],
  blockOpeners: '{([',
  indentationScoped: false,
  comment: slashComment,
};

const JS_LIKE: LanguageSyntax = { ...C_LIKE, quotes: '"\'`' };

const GO: LanguageSyntax = { ...C_LIKE, quotes: '"\'`' };

// Rust and friends use ' for lifetimes and labels, so only " is a reliable string quote.
const DOUBLE_QUOTE_ONLY: LanguageSyntax = { ...C_LIKE, quotes: '"' };

const PYTHON: LanguageSyntax = {
  quotes: `"'`,
  lineComment: '#',
  blockComment: undefined,
  blockOpeners: '{([:',
  indentationScoped: true,
  comment: hashComment,
};

const HASH_COMMENTED: LanguageSyntax = { ...PYTHON, blockOpeners: '{([', indentationScoped: false };

// Prose: apostrophes are not quotes, and brackets are only loosely paired.
const PROSE: LanguageSyntax = {
  quotes: '',
  lineComment: undefined,
  blockComment: undefined,
  blockOpeners: '{([',
  indentationScoped: false,
  comment: htmlComment,
};

const PLAIN: LanguageSyntax = { ...PROSE, comment: (text) => text };

const BY_LANGUAGE: Readonly<Record<string, LanguageSyntax>> = {
  typescript: JS_LIKE,
  typescriptreact: JS_LIKE,
  javascript: JS_LIKE,
  javascriptreact: JS_LIKE,
  json: DOUBLE_QUOTE_ONLY,
  jsonc: DOUBLE_QUOTE_ONLY,
  go: GO,
  c: C_LIKE,
  cpp: C_LIKE,
  csharp: C_LIKE,
  java: C_LIKE,
  kotlin: C_LIKE,
  scala: DOUBLE_QUOTE_ONLY,
  swift: DOUBLE_QUOTE_ONLY,
  dart: C_LIKE,
  php: C_LIKE,
  rust: DOUBLE_QUOTE_ONLY,
  python: PYTHON,
  shellscript: HASH_COMMENTED,
  ruby: HASH_COMMENTED,
  perl: HASH_COMMENTED,
  r: HASH_COMMENTED,
  yaml: HASH_COMMENTED,
  toml: HASH_COMMENTED,
  markdown: PROSE,
  html: { ...PROSE, quotes: '"\'' },
  plaintext: PLAIN,
};

/** Syntax for a VS Code language id; unknown languages get C-like rules with only " as a quote. */
export function languageSyntax(languageId: string): LanguageSyntax {
  return BY_LANGUAGE[languageId] ?? DOUBLE_QUOTE_ONLY;
}
