import { strict as assert } from 'node:assert';
import { endsInCode, openQuoteAtEnd, scanCode } from '../../../../src/completion/postprocess/codeScan';

describe('code scan', () => {
  it('tells own brackets from outer and mismatched closers', () => {
    const scan = scanCode('a(b)) + [c}]', 'typescript');
    assert.deepEqual(scan.outerClosers, [4]);
    assert.deepEqual(scan.mismatchedClosers, [10]);
    assert.equal(scan.openAtEnd, '');
    assert.equal(scan.before[2].depth, 1);
  });

  it('skips brackets in strings, comments and template literals', () => {
    assert.deepEqual(scanCode('")" + \')\' + `)` // )', 'typescript').outerClosers, []);
    assert.deepEqual(scanCode('/* ) */ )', 'typescript').outerClosers, [8]);
    assert.deepEqual(scanCode('"a\\")" )', 'typescript').outerClosers, [7]);
  });

  it('a string opened before the text: its closing quote is found', () => {
    const scan = scanCode('abc") + (', 'typescript', '"');
    assert.equal(scan.outerQuoteClose, 3);
    assert.deepEqual(scan.outerClosers, [4]);
    assert.equal(scan.openAtEnd, '(');
  });

  it('strings end at a line break, template literals do not', () => {
    assert.equal(scanCode('"abc\n)', 'typescript').outerClosers.length, 1);
    assert.equal(scanCode('`abc\n)', 'typescript').outerClosers.length, 0);
  });

  it('language rules: Python comments, prose apostrophes, Go raw strings', () => {
    assert.deepEqual(scanCode('x # )', 'python').outerClosers, []);
    assert.deepEqual(scanCode("don't )", 'markdown').outerClosers, [6]);
    assert.deepEqual(scanCode('`(]` )', 'go').outerClosers, [5]);
  });

  it('open quote and code at the end of a line', () => {
    assert.equal(openQuoteAtEnd('log("Total: ', 'typescript'), '"');
    assert.equal(openQuoteAtEnd('log("x")', 'typescript'), null);
    assert.equal(endsInCode('x = { // {', 'typescript'), false);
    assert.equal(endsInCode('x = {', 'typescript'), true);
  });
});
