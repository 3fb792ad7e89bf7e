import { strict as assert } from 'node:assert';
import { SuggestionOutcomeTracker, type SuggestionOutcome } from '../../../src/completion/suggestionOutcomes';

const URI = 'file:///a.py';

function tracker() {
  const outcomes: SuggestionOutcome[] = [];
  const t = new SuggestionOutcomeTracker((o) => outcomes.push(o), () => 1000);
  return { t, outcomes };
}

/** Shows "path)" after `print(` (anchor 6). */
function showPath(t: SuggestionOutcomeTracker): void {
  t.shown(URI, 6, 'print(', 'path)', 'python');
}

describe('SuggestionOutcomeTracker', () => {
  it('Tab: the accept edit then the accept command give one accepted outcome with the text', () => {
    const { t, outcomes } = tracker();
    showPath(t);
    t.edited(URI, { offset: 6, replacedLength: 0, text: 'path)' });
    t.accepted(URI);
    assert.deepEqual(outcomes, [{ shownAt: 1000, languageId: 'python', prefix: 'print(', suggestion: 'path)', outcome: 'accepted', takenChars: 5 }]);
  });

  it('typing the suggestion through to its end is accepted; its re-shows are the same suggestion', () => {
    const { t, outcomes } = tracker();
    showPath(t);
    for (const [i, ch] of [...'path)'].entries()) {
      t.edited(URI, { offset: 6 + i, replacedLength: 0, text: ch });
      if (i < 4) t.shown(URI, 7 + i, 'print(' + 'path)'.slice(0, i + 1), 'path)'.slice(i + 1), 'python');
    }
    assert.equal(outcomes.length, 1);
    assert.equal(outcomes[0].outcome, 'accepted');
  });

  it('typing something else where it stood is typed over, counting what was taken before', () => {
    const { t, outcomes } = tracker();
    showPath(t);
    t.edited(URI, { offset: 6, replacedLength: 0, text: 'pa' }); // accept word-ish
    t.edited(URI, { offset: 8, replacedLength: 0, text: 'r' });
    assert.equal(outcomes[0].outcome, 'typed-over');
    assert.equal(outcomes[0].takenChars, 2);
  });

  it('an edit elsewhere, a deletion, undo, closing or another suggestion rejects it', () => {
    const cases: ((t: SuggestionOutcomeTracker) => void)[] = [
      (t) => t.edited(URI, { offset: 0, replacedLength: 0, text: '#' }),
      (t) => t.edited(URI, { offset: 5, replacedLength: 1, text: '' }),
      (t) => t.edited(URI, undefined),
      (t) => t.closed(URI),
      (t) => t.shown(URI, 20, 'print(x)\ny = ', '1', 'python'),
      (t) => t.flush(),
    ];
    for (const act of cases) {
      const { t, outcomes } = tracker();
      showPath(t);
      act(t);
      assert.equal(outcomes.length, 1, act.toString());
      assert.equal(outcomes[0].outcome, 'rejected', act.toString());
      assert.equal(outcomes[0].suggestion, 'path)');
    }
  });

  it('the same suggestion shown again at the same place is not a new one; other documents are apart', () => {
    const { t, outcomes } = tracker();
    showPath(t);
    showPath(t);
    t.shown('file:///b.py', 0, '', 'import os', 'python');
    t.edited('file:///b.py', { offset: 0, replacedLength: 0, text: 'import os' });
    assert.deepEqual(outcomes.map((o) => o.suggestion), ['import os']);
    t.accepted(URI);
    assert.deepEqual(outcomes.map((o) => [o.suggestion, o.outcome]), [['import os', 'accepted'], ['path)', 'accepted']]);
  });

  it('a commit applied as one replacement of what was typed counts as taking the rest', () => {
    const { t, outcomes } = tracker();
    showPath(t);
    t.edited(URI, { offset: 6, replacedLength: 0, text: 'p' });
    t.edited(URI, { offset: 6, replacedLength: 1, text: 'path)' });
    assert.equal(outcomes[0].outcome, 'accepted');
    assert.equal(outcomes[0].takenChars, 5);
  });

  it('nothing is emitted for edits without a suggestion, or for an empty one', () => {
    const { t, outcomes } = tracker();
    t.edited(URI, { offset: 0, replacedLength: 0, text: 'x' });
    t.shown(URI, 0, '', '', 'python');
    t.accepted(URI);
    t.flush();
    assert.equal(outcomes.length, 0);
  });
});
