import type { GoldenSuite } from './goldenCase';

export const typescriptGoldens: GoldenSuite = {
  languageId: 'typescript',
  indentUnit: '  ',
  cases: [
    {
      name: 'single line: cut at the first line break, drop the doubled space',
      doc: 'const limit = █',
      completion: ' 42;\nconst other = 1;\n',
      expected: '42;',
    },
    {
      name: 'block open at end of file: body plus the missing closing brace, stop at the blank line',
      doc: 'function add(a: number, b: number): number {█',
      completion: '\n  return a + b;\n}\n\nfunction sub(a: number, b: number): number {',
      expected: '\n  return a + b;\n}',
      multiline: true,
    },
    {
      name: 'block open with its closer below: no second closer, dedent stops',
      doc: 'class Box {\n  open(): void {█\n  }\n}\n',
      completion: '\n    this.isOpen = true;\n  }\n\n  close(): void {',
      expected: '\n    this.isOpen = true;',
      multiline: true,
    },
    {
      name: 'cursor on the fresh line of an auto-closed block',
      doc: 'if (ready) {\n  █\n}\n',
      completion: 'start();\n  log("started");\n}\nstop();',
      expected: 'start();\n  log("started");',
      multiline: true,
    },
    {
      name: 'duplicated closer dropped (auto-closed paren after the cursor)',
      doc: 'const total = sum(█)',
      completion: 'a, b)',
      expected: 'a, b',
    },
    {
      name: 'own brackets kept while the outer closer is dropped',
      doc: 'const total = sum(█)',
      completion: 'values.map(Number))',
      expected: 'values.map(Number)',
    },
    {
      name: 'suffix repetition: stop where the rest of the line is rewritten',
      doc: 'const name = user.get(█);',
      completion: '"name");',
      expected: '"name"',
    },
    {
      name: 'suffix repetition inside a string keeps the string text',
      doc: 'console.log("Total: █");',
      completion: 'value ");',
      expected: 'value ',
    },
    {
      name: 'next-line repetition is dropped',
      doc: 'let count = 0;\n█\nreturn count;\n',
      completion: 'return count;',
      expected: null,
    },
    {
      name: 'trailing whitespace trimmed',
      doc: 'const ok = █',
      completion: 'true;   \t',
      expected: 'true;',
    },
    {
      name: 'trivial: only the closer that is already there',
      doc: 'run(█)',
      completion: ')',
      expected: null,
    },
    {
      name: 'end-of-text cuts the completion',
      doc: 'export const version = █',
      completion: "'1.0.0';<|endoftext|>import fs from 'fs';",
      expected: "'1.0.0';",
    },
    {
      name: 'mismatched closer cut',
      doc: 'const xs = [1, 2█',
      completion: ', 3);',
      expected: ', 3',
    },
    {
      name: 'decoding loop collapsed to one line',
      doc: 'function init() {█',
      completion: '\n  setup();\n  setup();\n  setup();\n  setup();',
      expected: '\n  setup();',
      multiline: true,
    },
    {
      name: 'mid-line with a closer after the cursor stays single-line',
      doc: 'if (x) {█}',
      completion: '\n  y();\n}',
      expected: null,
    },
  ],
};
