import { strict as assert } from 'node:assert';
import { isBlockClosedBelow, isMultilineContext, type MultilineQuestion } from '../../../../src/completion/postprocess';

function question(overrides: Partial<MultilineQuestion>): MultilineQuestion {
  return { prefixOnLine: '', suffixOnLine: '', nextLines: [], indentUnit: '  ', languageId: 'typescript', ...overrides };
}

describe('multi-line decision', () => {
  const table: [name: string, q: Partial<MultilineQuestion>, expected: boolean][] = [
    ['"{" at end of file', { prefixOnLine: 'function f() {' }, true],
    ['"{" with an empty next line', { prefixOnLine: 'if (x) {', nextLines: [''] }, true],
    ['"{" with the closer next', { prefixOnLine: 'if (x) {', nextLines: ['}'] }, true],
    ['"(" with ")" next', { prefixOnLine: 'call(', nextLines: [');'] }, true],
    ['"[" at end of file', { prefixOnLine: 'const xs = [' }, true],
    ['"{" followed by trailing spaces', { prefixOnLine: 'if (x) {  ' }, true],
    ['block already has a body', { prefixOnLine: 'if (x) {', nextLines: ['  y();', '}'] }, false],
    ['next line at the same depth is not a closer', { prefixOnLine: 'if (x) {', nextLines: ['y();'] }, false],
    ['text after the cursor', { prefixOnLine: 'if (x) {', suffixOnLine: '}' }, false],
    ['plain statement', { prefixOnLine: 'x = 1;' }, false],
    ['"{" inside a string', { prefixOnLine: 'const s = "{' }, false],
    ['"{" inside a comment', { prefixOnLine: 'x(); // {' }, false],
    ['":" in TypeScript does not open a block', { prefixOnLine: 'case 1:' }, false],
    ['fresh line under an auto-closed block', { prefixOnLine: '  ', previousLine: 'if (x) {', nextLines: ['}'] }, true],
    ['fresh line under a plain line', { prefixOnLine: '  ', previousLine: 'x();', nextLines: ['}'] }, false],
    ['python ":"', { prefixOnLine: 'def f():', languageId: 'python', indentUnit: '    ' }, true],
    ['python ":" then a line not deeper', { prefixOnLine: 'if x:', nextLines: ['y()'], languageId: 'python' }, true],
    ['python ":" with a body', { prefixOnLine: 'if x:', nextLines: ['    y()'], languageId: 'python', indentUnit: '    ' }, false],
    ['python ":" in a comment', { prefixOnLine: '# todo:', languageId: 'python' }, false],
    ['python fresh line under "class A:"', { prefixOnLine: '    ', previousLine: 'class A:', languageId: 'python' }, true],
    ['markdown ":" is prose', { prefixOnLine: 'Steps:', languageId: 'markdown' }, false],
  ];
  for (const [name, q, expected] of table) {
    it(name, () => assert.equal(isMultilineContext(question(q)), expected));
  }

  it('block closed below: a closer at the opener depth', () => {
    assert.equal(isBlockClosedBelow(question({ prefixOnLine: '  f() {', nextLines: ['', '  }'] })), true);
    assert.equal(isBlockClosedBelow(question({ prefixOnLine: '  f() {', nextLines: ['}'] })), false);
    assert.equal(isBlockClosedBelow(question({ prefixOnLine: 'f() {', nextLines: ['g();'] })), false);
    assert.equal(isBlockClosedBelow(question({ prefixOnLine: 'f() {' })), false);
  });
});
