import { strict as assert } from 'node:assert';
import { AcceptanceTracker } from '../../../src/completion/acceptance';

const URI = 'file:///a.ts';

describe('acceptance tracker (full and partial accepts from edits)', () => {
  it('a full accept counts the inserted characters once, whichever of edit and command comes first', () => {
    const t = new AcceptanceTracker();
    t.recordShown(URI, 10, ['foo(bar);']);
    assert.equal(t.recordEdit(URI, 10, 0, 'foo(bar);'), 0, 'the completing edit is the command\'s to count');
    assert.equal(t.recordAccepted(URI, 'foo(bar);'), 9);

    t.recordShown(URI, 10, ['foo(bar);']);
    assert.equal(t.recordAccepted(URI, 'foo(bar);'), 9, 'command before the edit');
    assert.equal(t.recordEdit(URI, 10, 0, 'foo(bar);'), 0, 'the edit after the command is not counted again');
  });

  it('accept word then Tab: the word is a partial accept, Tab counts only the rest', () => {
    const t = new AcceptanceTracker();
    t.recordShown(URI, 4, [' value = compute(x);', ' other']);
    assert.equal(t.recordEdit(URI, 4, 0, ' value'), 6);
    assert.equal(t.recordEdit(URI, 10, 0, ' = '), 3);
    // Tab: the edit inserts the rest, then the command of the item (original or the typing-through rest) runs.
    assert.equal(t.recordEdit(URI, 13, 0, 'compute(x);'), 0);
    assert.equal(t.recordAccepted(URI, ' value = compute(x);'), 11);
  });

  it('accept word then Tab applied as one edit rewriting the word: Tab counts only the rest', () => {
    const t = new AcceptanceTracker();
    t.recordShown(URI, 4, [' value = compute(x);']);
    assert.equal(t.recordEdit(URI, 4, 0, ' value'), 6);
    assert.equal(t.recordEdit(URI, 4, 6, ' value = compute(x);'), 0, 'the completing edit is the command\'s to count');
    assert.equal(t.recordAccepted(URI, ' value = compute(x);'), 14);
  });

  it('accept word, suggestions re-shown, then the original item accepted: only the rest counts', () => {
    const t = new AcceptanceTracker();
    t.recordShown(URI, 4, [' value = compute(x);']);
    assert.equal(t.recordEdit(URI, 4, 0, ' value'), 6);
    t.recordShown(URI, 10, [' = other();']); // VS Code asked again at the new cursor; the model said something else
    assert.equal(t.recordEdit(URI, 10, 0, ' = compute(x);'), 0, 'not a partial accept of the new suggestion');
    assert.equal(t.recordAccepted(URI, ' value = compute(x);'), 14);
    assert.equal(t.recordAccepted(URI, ' value = compute(x);'), 20, 'remembered for that one accept only');
  });

  it('the rest served by typing-through, accepted by its command before the edit, counts the rest', () => {
    const t = new AcceptanceTracker();
    t.recordShown(URI, 0, ['return total;']);
    assert.equal(t.recordEdit(URI, 0, 0, 'return'), 6);
    assert.equal(t.recordAccepted(URI, ' total;'), 7);
  });

  it('typing the suggestion one character at a time is not accepting it', () => {
    const t = new AcceptanceTracker();
    t.recordShown(URI, 0, ['abc def']);
    for (const [i, ch] of [...'abc '].entries()) assert.equal(t.recordEdit(URI, i, 0, ch), 0);
    assert.equal(t.recordEdit(URI, 4, 0, 'de'), 2, 'a later word accept still counts');
    assert.equal(t.recordAccepted(URI, 'abc def'), 1, 'Tab inserts the last character only');
  });

  it('any other edit ends the suggestion', () => {
    const t = new AcceptanceTracker();
    t.recordShown(URI, 5, ['hello world']);
    assert.equal(t.recordEdit(URI, 5, 0, 'help'), 0, 'text that leaves the suggestion');
    assert.equal(t.recordEdit(URI, 9, 0, 'lo'), 0, 'nothing shown any more');
    assert.equal(t.recordAccepted(URI, 'hello world'), 11, 'an unknown suggestion counts the whole item');

    t.recordShown(URI, 5, ['hello world']);
    assert.equal(t.recordEdit(URI, 3, 0, 'hello'), 0, 'insertion elsewhere');
    t.recordShown(URI, 5, ['hello world']);
    assert.equal(t.recordEdit(URI, 5, 1, 'hello'), 0, 'a replacement');
    t.recordShown(URI, 5, ['hello world']);
    assert.equal(t.recordEdit('file:///other.ts', 5, 0, 'hello'), 0, 'another document');
    assert.equal(t.recordEdit(URI, 5, 0, 'hello'), 5, 'the shown document is unaffected by another one');
    t.clear(URI);
    assert.equal(t.recordEdit(URI, 10, 0, ' wo'), 0, 'forgotten');
  });

  it('partial accepts follow whichever candidate the user cycled to', () => {
    const t = new AcceptanceTracker();
    t.recordShown(URI, 0, ['alpha beta', 'alps', '']);
    assert.equal(t.recordEdit(URI, 0, 0, 'alp'), 3);
    assert.equal(t.recordEdit(URI, 3, 0, 's'), 0, 'completes "alps"');
    assert.equal(t.recordAccepted(URI, 'alps'), 1);
  });
});
