import { strict as assert } from 'node:assert';
import { createCompletionRequest, cursorNeighbourhood } from '../../../src/completion/cursorLines';
import { indentColumns, inferIndentUnit, leadingWhitespace } from '../../../src/completion/indentation';

describe('cursor neighbourhood', () => {
  const table: { name: string; text: string; offset: number; expected: ReturnType<typeof cursorNeighbourhood> }[] = [
    {
      name: 'middle of a middle line',
      text: 'a\nfoo(bar)\nb\nc',
      offset: 6,
      expected: { lineText: 'foo(bar)', prefixOnLine: 'foo(', suffixOnLine: 'bar)', previousLine: 'a', nextLines: ['b', 'c'] },
    },
    {
      name: 'first line, start',
      text: 'x = 1\n',
      offset: 0,
      expected: { lineText: 'x = 1', prefixOnLine: '', suffixOnLine: 'x = 1', previousLine: undefined, nextLines: [''] },
    },
    {
      name: 'end of a document without a final newline',
      text: 'a\nb',
      offset: 3,
      expected: { lineText: 'b', prefixOnLine: 'b', suffixOnLine: '', previousLine: 'a', nextLines: [] },
    },
    {
      name: 'CRLF line breaks',
      text: 'a\r\nbc\r\nd\r\n',
      offset: 4,
      expected: { lineText: 'bc', prefixOnLine: 'b', suffixOnLine: 'c', previousLine: 'a', nextLines: ['d', ''] },
    },
    {
      name: 'cursor at the end of a CRLF line',
      text: 'ab\r\ncd',
      offset: 2,
      expected: { lineText: 'ab', prefixOnLine: 'ab', suffixOnLine: '', previousLine: undefined, nextLines: ['cd'] },
    },
    {
      name: 'offset past the end is clamped',
      text: 'ab',
      offset: 99,
      expected: { lineText: 'ab', prefixOnLine: 'ab', suffixOnLine: '', previousLine: undefined, nextLines: [] },
    },
  ];
  for (const row of table) {
    it(row.name, () => assert.deepEqual(cursorNeighbourhood(row.text, row.offset), row.expected));
  }

  it('limits the next lines', () => {
    assert.deepEqual(cursorNeighbourhood('a\nb\nc\nd', 1, 2).nextLines, ['b', 'c']);
  });

  it('builds a request with defaults', () => {
    const request = createCompletionRequest({ text: 'let a = [1, 2];', offset: 12, languageId: 'typescript' });
    assert.deepEqual(request, {
      documentUri: 'untitled:document',
      documentVersion: 1,
      languageId: 'typescript',
      text: 'let a = [1, 2];',
      offset: 12,
      lineText: 'let a = [1, 2];',
      prefixOnLine: 'let a = [1, ',
      suffixOnLine: '2];',
      selectionEmpty: true,
      cursorCount: 1,
      triggerKind: 'automatic',
    });
  });
});

describe('indentation', () => {
  it('measures columns with tabs', () => {
    assert.equal(leadingWhitespace('\t  x'), '\t  ');
    assert.equal(indentColumns('\t  x', '    '), 6);
    assert.equal(indentColumns('\tx', '  '), 2);
    assert.equal(indentColumns('\t\tx', '\t'), 8);
    assert.equal(indentColumns('x', '\t'), 0);
  });

  const table: [string, string, string][] = [
    ['two spaces', 'a {\n  b {\n    c\n  }\n}\n', '  '],
    ['four spaces', 'def f():\n    if x:\n        y\n    return\n', '    '],
    ['tabs', 'func f() {\n\tif x {\n\t\ty()\n\t}\n}\n', '\t'],
    ['no indentation: fallback', 'a\nb\n', '  '],
  ];
  for (const [name, text, expected] of table) {
    it(`infers the indent unit: ${name}`, () => assert.equal(inferIndentUnit(text), expected));
  }
});
