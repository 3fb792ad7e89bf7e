/** Each post-processing step on its own, table-driven; the goldens test them composed. */
import { strict as assert } from 'node:assert';
import { collapseRepeatedLines } from '../../../../src/completion/postprocess/collapseRepeatedLines';
import { cutAtMismatchedCloser } from '../../../../src/completion/postprocess/cutAtMismatchedCloser';
import { cutRepeatedPattern } from '../../../../src/completion/postprocess/cutRepeatedPattern';
import { cutToSingleLine } from '../../../../src/completion/postprocess/cutToSingleLine';
import { dropClosersAlreadyAfterCursor } from '../../../../src/completion/postprocess/dropClosersAlreadyAfterCursor';
import { dropReplacementCharacter } from '../../../../src/completion/postprocess/dropReplacementCharacter';
import { dropTrivial } from '../../../../src/completion/postprocess/dropTrivial';
import { POSTPROCESS_STEPS } from '../../../../src/completion/postprocess';
import { limitToBlock, MAX_BLOCK_LINES } from '../../../../src/completion/postprocess/limitToBlock';
import { normalizeLineBreaks } from '../../../../src/completion/postprocess/normalizeLineBreaks';
import { removeDoubleLeadingSpace } from '../../../../src/completion/postprocess/removeDoubleLeadingSpace';
import { stopAtNextLineRepetition } from '../../../../src/completion/postprocess/stopAtNextLineRepetition';
import { stopAtSuffixRepetition } from '../../../../src/completion/postprocess/stopAtSuffixRepetition';
import { stripEndOfText } from '../../../../src/completion/postprocess/stripEndOfText';
import { trimTrailingWhitespace } from '../../../../src/completion/postprocess/trimTrailingWhitespace';
import type { PostprocessContext, PostprocessStep } from '../../../../src/completion/postprocess/types';

function ctx(overrides: Partial<PostprocessContext> = {}): PostprocessContext {
  return {
    prefixOnLine: '',
    suffixOnLine: '',
    nextLines: [],
    indentUnit: '  ',
    languageId: 'typescript',
    multiline: false,
    ...overrides,
  };
}

type Row = [name: string, completion: string, context: Partial<PostprocessContext>, expected: string | null];

function table(stepName: string, step: PostprocessStep, rows: Row[]): void {
  describe(stepName, () => {
    for (const [name, completion, context, expected] of rows) {
      it(name, () => assert.equal(step(completion, ctx(context)), expected));
    }
  });
}

describe('post-processing steps', () => {
  it('run in the documented order', () => {
    assert.deepEqual(
      POSTPROCESS_STEPS.map((s) => s.name),
      [
        'stripEndOfText',
        'normalizeLineBreaks',
        'cutToSingleLine',
        'limitToBlock',
        'collapseRepeatedLines',
        'cutRepeatedPattern',
        'trimTrailingWhitespace',
        'stopAtSuffixRepetition',
        'dropClosersAlreadyAfterCursor',
        'cutAtMismatchedCloser',
        'stopAtNextLineRepetition',
        'removeDoubleLeadingSpace',
        'dropReplacementCharacter',
        'dropTrivial',
      ],
    );
  });

  table('stripEndOfText', stripEndOfText, [
    ['no marker', 'abc', {}, 'abc'],
    ['cut at the marker', 'abc<|endoftext|>def<|endoftext|>', {}, 'abc'],
    ['marker first', '<|endoftext|>x', {}, ''],
  ]);

  table('normalizeLineBreaks', normalizeLineBreaks, [
    ['CRLF', 'a\r\nb', {}, 'a\nb'],
    ['lone CR', 'a\rb', {}, 'a\nb'],
  ]);

  table('cutToSingleLine', cutToSingleLine, [
    ['single-line mode cuts', 'a\nb', {}, 'a'],
    ['leading break leaves nothing', '\nb', {}, ''],
    ['multi-line mode keeps', 'a\nb', { multiline: true }, 'a\nb'],
  ]);

  const block = { multiline: true, prefixOnLine: 'if (x) {' };
  table('limitToBlock', limitToBlock, [
    ['single-line mode: untouched', 'a\nb', {}, 'a\nb'],
    ['stops at a blank line', '\n  a();\n\n  b();', block, '\n  a();'],
    ['stops at a dedent, adding the missing closer', '\n  a();\n}\nb();', block, '\n  a();\n}'],
    ['closer line keeps only closers and one ";"', '\n  a();\n}); more', block, '\n  a();\n});'],
    ['closer "} else {" keeps only the brace', '\n  a();\n} else {\n  b();', block, '\n  a();\n}'],
    ['no closer when the block is closed below', '\n  a();\n}', { ...block, nextLines: ['}'] }, '\n  a();'],
    ['a closer of an outer block below does not count', '\n    a();\n  }', { ...block, prefixOnLine: '  if (x) {', nextLines: ['}'] }, '\n    a();\n  }'],
    ['non-closer at the same depth stops without a closer', '\n  a();\nb();', block, '\n  a();'],
    ['unmatched closer inside the body cuts', '\n  a(1));\n}', block, '\n  a(1)'],
    ['continuation lines inside own brackets are body', '\n  call(\nx,\n  );', block, '\n  call(\nx,\n  );'],
    ['closer on the cursor line cuts', ' }\n  a();', block, ' '],
    ['code then the closer on the cursor line: a one-line construct, kept whole', ' a } from "./a";\n  b();', { multiline: true, prefixOnLine: 'import {' }, ' a } from "./a";'],
    ['python subscript closed on the cursor line', 'name] = value\n        x', { multiline: true, prefixOnLine: 'self.storage[', languageId: 'python', indentUnit: '    ' }, 'name] = value'],
    ['python dedent, no closer line', '\n    return 1\nprint(f())', { multiline: true, prefixOnLine: 'def f():', languageId: 'python', indentUnit: '    ' }, '\n    return 1'],
    ['tabs measured by the indent unit', '\n\t\treturn\n\t}', { multiline: true, prefixOnLine: '\tif x {', languageId: 'go', indentUnit: '\t' }, '\n\t\treturn\n\t}'],
    [
      'at most MAX_BLOCK_LINES body lines',
      '\n' + Array.from({ length: 30 }, (_, i) => `  a${i}();`).join('\n'),
      block,
      '\n' + Array.from({ length: MAX_BLOCK_LINES }, (_, i) => `  a${i}();`).join('\n'),
    ],
  ]);

  table('collapseRepeatedLines', collapseRepeatedLines, [
    ['three in a row: a loop', 'a\nx\nx\nx\ny', {}, 'a\nx'],
    ['two in a row stay', 'i++;\ni++;\nj++;', {}, 'i++;\ni++;\nj++;'],
    ['blank lines are not a loop', 'a\n\n\n\nb', {}, 'a\n\n\n\nb'],
  ]);

  table('trimTrailingWhitespace', trimTrailingWhitespace, [
    ['line ends and trailing lines', 'a  \n  b\t\n\n  ', {}, 'a\n  b'],
    ['leading break kept', '\n  a ', {}, '\n  a'],
  ]);

  table('stopAtSuffixRepetition', stopAtSuffixRepetition, [
    ['no suffix: untouched', 'a);', {}, 'a);'],
    ['cut where the suffix starts', 'a, b);', { prefixOnLine: 'f(', suffixOnLine: ');' }, 'a, b'],
    ['own brackets are not the suffix', 'g(1), 2);', { prefixOnLine: 'f(', suffixOnLine: ')' }, 'g(1), 2'],
    ['nested auto-closed: keep closers for brackets the suffix does not close', 'x));', { prefixOnLine: 'f(g(', suffixOnLine: ')' }, 'x)'],
    ['nested: the suffix closes the inner call', 'a), b);', { prefixOnLine: 'f(g(', suffixOnLine: ')' }, 'a), b'],
    ['no more closers than brackets open on the line', 'a) + b)', { prefixOnLine: 'f(', suffixOnLine: ')' }, 'a'],
    ['nothing open on the line: the first repetition', 'a"; y = "b";', { prefixOnLine: 'x = "', suffixOnLine: '";' }, 'a'],
    ['string then more code: the first repetition', 'hi"); log("x");', { prefixOnLine: 'log("', suffixOnLine: '");' }, 'hi'],
    ['suffix inside a string of the completion is skipped', '")", x)', { prefixOnLine: 'f(', suffixOnLine: ')' }, '")", x'],
    ['cursor inside a string: cut at its closing quote', 'Hi ");', { prefixOnLine: 'log("', suffixOnLine: '");' }, 'Hi '],
    ['suffix inside a comment is skipped', 'a /* ) */ + b)', { prefixOnLine: 'f(', suffixOnLine: ')' }, 'a /* ) */ + b'],
    ['suffix with leading spaces', 'x + 1; // done', { prefixOnLine: 'y = ', suffixOnLine: '  // done' }, 'x + 1;'],
    ['no repetition: untouched', 'abc', { suffixOnLine: ')' }, 'abc'],
  ]);

  table('dropClosersAlreadyAfterCursor', dropClosersAlreadyAfterCursor, [
    ['trailing outer closer that follows', 'x)', { prefixOnLine: 'f(', suffixOnLine: ')' }, 'x'],
    ['closers and semicolon', 'x)];', { prefixOnLine: 'f([', suffixOnLine: ')];' }, 'x'],
    ['all closers the suffix has', 'x))', { prefixOnLine: 'f(g(', suffixOnLine: '))' }, 'x'],
    ['only the closers the suffix has', 'x))', { prefixOnLine: 'f(g(', suffixOnLine: ')' }, 'x)'],
    ['own closer kept', 'g()', { prefixOnLine: 'f(', suffixOnLine: ')' }, 'g()'],
    ['closing quote of the cursor string', 'hi"', { prefixOnLine: 'x = "', suffixOnLine: '"' }, 'hi'],
    ['quote that is not the outer one kept', 'a + "b"', { prefixOnLine: 'f(', suffixOnLine: '")' }, 'a + "b"'],
    ['no suffix: untouched', 'x)', { prefixOnLine: 'f(' }, 'x)'],
    ['suffix differs: untouched', 'x)', { prefixOnLine: 'f(', suffixOnLine: ']' }, 'x)'],
  ]);

  table('cutAtMismatchedCloser', cutAtMismatchedCloser, [
    ['matches the open bracket on the line', 'a, b)', { prefixOnLine: 'f(' }, 'a, b)'],
    ['wrong kind for the open bracket', 'a, b]', { prefixOnLine: 'f(' }, 'a, b'],
    ['first closer wrong', '1))', { prefixOnLine: 'f([' }, '1'],
    ['second closer wrong', '1))', { prefixOnLine: '[f(' }, '1)'],
    ['mismatch inside the completion', '(a]', {}, '(a'],
    ['nothing open on the line: may close an earlier line', '});', {}, '});'],
    ['brackets in strings are ignored', '"]")', { prefixOnLine: 'f(' }, '"]")'],
  ]);

  table('stopAtNextLineRepetition', stopAtNextLineRepetition, [
    ['cursor line becomes the next line: drop', 'return x;', { nextLines: ['', '  return x;'] }, null],
    ['with the prefix', ' x;', { prefixOnLine: 'return', nextLines: ['return x;'] }, null],
    ['whitespace differences ignored', 'return  x;', { nextLines: ['return x;'] }, null],
    ['different line: untouched', 'return y;', { nextLines: ['return x;'] }, 'return y;'],
    ['multi-line: cut before the repeated line', '\n  a();\n  b();\n  c();', { nextLines: ['  b();'] }, '\n  a();'],
    ['punctuation-only next line is left alone', '}', { nextLines: ['}'] }, '}'],
    ['no next lines', 'x', {}, 'x'],
  ]);

  table('removeDoubleLeadingSpace', removeDoubleLeadingSpace, [
    ['after "= "', ' 1;', { prefixOnLine: 'x = ' }, '1;'],
    ['no space before the cursor', ' 1;', { prefixOnLine: 'x =' }, ' 1;'],
    ['indentation only: spaces are deliberate', '  x', { prefixOnLine: '    ' }, '  x'],
  ]);

  table('dropReplacementCharacter', dropReplacementCharacter, [
    ['no U+FFFD: kept', 'naïve café 漢字 🎉', {}, 'naïve café 漢字 🎉'],
    ['only U+FFFD', '\uFFFD\uFFFD\uFFFD', { prefixOnLine: 'const s = "漢' }, null],
    ['U+FFFD after text', 'abc\uFFFD', {}, null],
    ['U+FFFD inside a later line', 'a\n  b\uFFFDc', { multiline: true }, null],
    ['the line before the cursor has one', 'x\uFFFD', { prefixOnLine: 'bad = "\uFFFD' }, 'x\uFFFD'],
    ['the line after the cursor has one', '\uFFFD', { suffixOnLine: '\uFFFD"' }, '\uFFFD'],
    ['the previous line has one', '\uFFFD', { previousLine: 'REPLACEMENT = "\uFFFD"' }, '\uFFFD'],
    ['a following line has one', '\uFFFD', { nextLines: ['', 'x = "\uFFFD"'] }, '\uFFFD'],
  ]);

  table('dropTrivial', dropTrivial, [
    ['empty', '', {}, null],
    ['whitespace only', ' \n ', {}, null],
    ['closer already after the cursor', ');', { suffixOnLine: ');' }, null],
    ['closer at the start of the next line', '}', { nextLines: ['', '}'] }, null],
    ['closer not present: kept', ')', {}, ')'],
    ['real text kept', 'x', { suffixOnLine: ')' }, 'x'],
  ]);
});

table('cutRepeatedPattern', cutRepeatedPattern, [
  ['a path that loops is cut where the loop starts', 'Error("../../../../../../../..', {}, 'Error("../'],
  ['a repeated argument list', 'self.get_name, self.get_name, self.get_name,', {}, 'self.get_name, '],
  ['two occurrences stay', 'import "../../lib";', {}, 'import "../../lib";'],
  ['runs of one character are padding, not loops', '# ---------- x ==========', {}, '# ---------- x =========='],
  ['ordinary code is untouched', 'return (a * a + b * b) ** 0.5', {}, 'return (a * a + b * b) ** 0.5'],
  ['only the looping line is cut; lines before it stay', 'x = 1\ny = abcabcabcabc', {}, 'x = 1\ny = abc'],
  ['digits that repeat are a loop too', '[1, 2, 1, 2, 1, 2, 1, 2', {}, '[1, 2, '],
  ['three occurrences that give way to more code stay', 'readFileSync(new URL("../../../locales/en.ts"), "utf8");', {}, 'readFileSync(new URL("../../../locales/en.ts"), "utf8");'],
  ['three to the end of the line, trailing spaces aside, are a loop', 'f(a, a, a,  ', {}, 'f(a, '],
  ['five occurrences are a loop even when more follows', 'x = [0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 2]', {}, 'x = [0, 1, '],
]);
