import assert from 'node:assert/strict';
import { CODE, usesHashComments, scanBrackets } from '../../../src/completion/context/brackets';

describe('bracket scanner', () => {
  const open = (text: string, python = false) => scanBrackets(text, CODE, python).state.open;

  it('keeps the open brackets, innermost last, and counts what it closed', () => {
    assert.equal(open('f(a, [b, {c: 1'), '([{');
    const s = scanBrackets('x = g(h(1), [2])', CODE, false);
    assert.equal(s.state.open, '');
    assert.equal(s.closed, 3);
    assert.equal(s.unopened + s.mismatched, 0);
  });

  it('skips brackets in strings and comments, by language', () => {
    assert.equal(open('f("(", \'[\', `{ ${x}`, // )\n  /* ] */ a'), '(');
    assert.equal(open('f("""(\n)""", # )\n  ")"', true), '(');
    assert.equal(open('x = a // (2', false), '', 'a C line comment');
    assert.equal(open('x = (a // 2', true), '(', 'floor division in Python, not a comment');
    assert.equal(open('s = "it\\"s (" + t(', false), '(', 'an escaped quote does not end the string');
    assert.equal(open('s = "unclosed (\nf(', false), '(', 'a one-line string ends at the line');
  });

  it('reads `#` comments in Python and the other languages that have them, `//` in the rest', () => {
    assert.ok(usesHashComments('python') && usesHashComments('ruby') && usesHashComments('shellscript'));
    assert.ok(!usesHashComments('typescript') && !usesHashComments('javascript') && !usesHashComments('rust') && !usesHashComments(undefined));
  });

  it('continues from a state: closing what was open, and closers that match nothing or the wrong kind', () => {
    const at = scanBrackets('  parser.add_argument(\n    "-i",\n', CODE, true).state;
    const close = scanBrackets(')', at, true);
    assert.deepEqual([close.closed, close.unopened, close.mismatched, close.state.open, close.lowest], [1, 0, 0, '', 0]);
    const wrong = scanBrackets('});', scanBrackets('test("x", () => {\n  f(1);\n', CODE, false).state, false);
    assert.equal(wrong.closed, 2, '`}` then `)` close `{` then `(`');
    assert.equal(scanBrackets(']', at, true).mismatched, 1);
    assert.equal(scanBrackets(')', CODE, true).unopened, 1);
    const opens = scanBrackets('g(x, [', at, true);
    assert.equal(opens.state.open.length - opens.lowest, 2, 'two newly open');
    assert.equal(scanBrackets('"still in a string', CODE, false).state.inside, '"');
  });
});
