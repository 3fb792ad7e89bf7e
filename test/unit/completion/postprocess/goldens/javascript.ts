import type { GoldenSuite } from './goldenCase';

export const javascriptGoldens: GoldenSuite = {
  languageId: 'javascript',
  indentUnit: '  ',
  cases: [
    {
      name: 'single line: cut at the first line break',
      doc: 'const port = process.env.PORT || █',
      completion: '3000;\napp.listen(port);',
      expected: '3000;',
    },
    {
      name: 'callback block closed below by "});": body only',
      doc: 'items.forEach((item) => {█\n});\n',
      completion: '\n  console.log(item);\n});\n',
      expected: '\n  console.log(item);',
      multiline: true,
    },
    {
      name: 'object literal at end of file: members, closer with its semicolon, stop at dedent',
      doc: 'const config = {█',
      completion: "\n  port: 8080,\n  host: 'localhost',\n};\nmodule.exports = config;",
      expected: "\n  port: 8080,\n  host: 'localhost',\n};",
      multiline: true,
    },
    {
      name: 'array literal: unmatched closer inside the body ends it',
      doc: 'const primes = [█\n];',
      completion: '\n  2, 3, 5, 7]\n];',
      expected: '\n  2, 3, 5, 7',
      multiline: true,
    },
    {
      name: 'duplicated closers and semicolon dropped',
      doc: 'const el = document.querySelector(█);',
      completion: "'#app');",
      expected: "'#app'",
    },
    {
      name: 'template literal: stop at the closing backtick already there',
      doc: 'const msg = `Hello ${name}█`;',
      completion: '!`;\nconsole.log(msg);',
      expected: '!',
    },
    {
      name: 'next-line repetition is dropped',
      doc: 'function f() {\n  const a = 1;\n  █\n  return a;\n}',
      completion: 'return a;',
      expected: null,
    },
    {
      name: 'trailing whitespace trimmed',
      doc: 'let i = █',
      completion: '0;  ',
      expected: '0;',
    },
    {
      name: 'trivial: whitespace only',
      doc: 'const x = 1;█',
      completion: '   ',
      expected: null,
    },
    {
      name: 'end-of-text cuts the completion',
      doc: 'module.exports = █',
      completion: '{ run };<|endoftext|>\n',
      expected: '{ run };',
    },
    {
      name: 'completion starting on the next line is dropped in single-line mode',
      doc: 'doThing();█',
      completion: '\ndoOther();',
      expected: null,
    },
  ],
};
