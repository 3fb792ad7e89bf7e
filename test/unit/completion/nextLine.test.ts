// The document as Enter at the end of a line leaves it, with the indentation VS Code's built-in
// language configurations type there (checked against the editor in the host suite).
import { strict as assert } from 'node:assert';
import { afterEnter, type AutoIndent } from '../../../src/completion/nextLine';

/** The new line's indentation after Enter at the end of `text` (the cursor at its end), or null. */
function indentAfter(text: string, languageId: string, unit = '  ', autoIndent: AutoIndent = 'full'): string | null {
  const next = afterEnter({ text, offset: text.length }, languageId, unit, autoIndent);
  if (next === null) return null;
  assert.equal(next.offset, next.text.length);
  return next.text.slice(next.text.lastIndexOf('\n') + 1);
}

describe('afterEnter: the document after Enter at the end of a line', () => {
  it('keeps the line\'s indentation, one unit deeper after an open bracket in every language', () => {
    assert.equal(indentAfter('  const x = 1;', 'typescript'), '  ');
    assert.equal(indentAfter('  if (ready) {', 'typescript'), '    ');
    assert.equal(indentAfter('  call(a,', 'typescript'), '    ', 'a bracket left open anywhere on the line');
    assert.equal(indentAfter('  call(a, [', 'go', '\t'), '  \t');
    assert.equal(indentAfter('    items = [', 'python', '    '), '        ');
    assert.equal(indentAfter('  const s = "(";', 'typescript'), '  ', 'a bracket in a string opens nothing');
    assert.equal(indentAfter('  done(); // then {', 'typescript'), '  ', 'nor one in a comment');
  });

  it('in JavaScript and TypeScript, after an arrow, a braceless if/else and a case label', () => {
    assert.equal(indentAfter('  const f = () =>', 'typescript'), '    ');
    assert.equal(indentAfter('  if (x > 0)', 'javascript'), '    ');
    assert.equal(indentAfter('  else', 'typescript'), '    ');
    assert.equal(indentAfter('    case "a":', 'typescript'), '      ');
    assert.equal(indentAfter('  const f = () =>', 'go'), '  ', 'not a rule of other brace languages');
  });

  it("in Python, after a compound statement's colon only", () => {
    assert.equal(indentAfter('    def area(self):', 'python', '    '), '        ');
    assert.equal(indentAfter('    if x and not y:', 'python', '    '), '        ');
    assert.equal(indentAfter("    d = {'a': 1}", 'python', '    '), '    ');
    assert.equal(indentAfter("    key = 'x':", 'python', '    '), '    ', 'a colon after other code is not a block');
    assert.equal(indentAfter('    return value', 'python', '    '), '    ');
  });

  it("applies as much as editor.autoIndent says: full, advanced, brackets, keep, none", () => {
    const at = (text: string, languageId: string) => (['full', 'advanced', 'brackets', 'keep', 'none'] as const).map((mode) => indentAfter(text, languageId, '  ', mode));
    // An unclosed bracket mid-line and an arrow are indentation rules (full only); a bracket at the end is a bracket rule.
    assert.deepEqual(at('  call(a,', 'typescript'), ['    ', '  ', '  ', '  ', '']);
    assert.deepEqual(at('  const f = () =>', 'typescript'), ['    ', '  ', '  ', '  ', '']);
    assert.deepEqual(at('  if (ready) {', 'typescript'), ['    ', '    ', '    ', '  ', '']);
    // A case label and a compound statement's colon are onEnter rules (advanced and full).
    assert.deepEqual(at('    case "a":', 'typescript'), ['      ', '      ', '    ', '    ', '']);
    assert.deepEqual(at('  def f(self):', 'python'), ['    ', '    ', '  ', '  ', '']);
  });

  it('inserts at the cursor, before the rest of the document, with the document\'s line ending', () => {
    const next = afterEnter({ text: 'if (a) {\n}\n', offset: 8 }, 'typescript', '  ')!;
    assert.deepEqual(next, { text: 'if (a) {\n  \n}\n', offset: 11 });
    const crlf = afterEnter({ text: 'a = 1\r\nb = 2\r\nc', offset: 5 }, 'python', '    ')!;
    assert.deepEqual(crlf, { text: 'a = 1\r\n\r\nb = 2\r\nc', offset: 7 });
    const last = afterEnter({ text: 'a = 1\r\nb = 2', offset: 12 }, 'python', '    ')!;
    assert.equal(last.text, 'a = 1\r\nb = 2\r\n');
  });

  it('is null where Enter does not open a plain new line: mid-line, a blank line, a doc comment', () => {
    assert.equal(afterEnter({ text: 'foo(bar)', offset: 4 }, 'typescript', '  '), null);
    assert.equal(afterEnter({ text: 'a\n    ', offset: 6 }, 'typescript', '  '), null);
    assert.equal(indentAfter('  /** Docs', 'typescript'), null);
    assert.equal(indentAfter('   * more docs', 'typescript'), null);
  });
});
