import { strict as assert } from 'node:assert';
import { remainingAfterTyping, TypingThroughCache, type ShownSuggestion } from '../../../src/completion/typingThrough';

const SHOWN: ShownSuggestion = {
  documentUri: 'file:///a.ts',
  prefix: 'const total = ',
  suffix: ';\nexport {};\n',
  completion: 'items.reduce(sum, 0)',
};

describe('typing through a shown suggestion', () => {
  const table: { name: string; uri?: string; prefix: string; suffix?: string; expected: string | null }[] = [
    { name: 'nothing typed yet: the whole suggestion', prefix: 'const total = ', expected: 'items.reduce(sum, 0)' },
    { name: 'one character typed', prefix: 'const total = i', expected: 'tems.reduce(sum, 0)' },
    { name: 'a word typed', prefix: 'const total = items.', expected: 'reduce(sum, 0)' },
    { name: 'all but the last character', prefix: 'const total = items.reduce(sum, 0', expected: ')' },
    { name: 'all of it typed: nothing left, a miss', prefix: 'const total = items.reduce(sum, 0)', expected: null },
    { name: 'typed something else', prefix: 'const total = x', expected: null },
    { name: 'typed past the suggestion', prefix: 'const total = items.reduce(sum, 0);', expected: null },
    { name: 'deleted before the suggestion', prefix: 'const total =', expected: null },
    { name: 'edited earlier in the document', prefix: 'let total = items', expected: null },
    { name: 'text after the cursor changed', prefix: 'const total = items', suffix: ');\nexport {};\n', expected: null },
    { name: 'another document', uri: 'file:///b.ts', prefix: 'const total = items', expected: null },
  ];
  for (const row of table) {
    it(row.name, () => {
      assert.equal(remainingAfterTyping(SHOWN, row.uri ?? SHOWN.documentUri, row.prefix, row.suffix ?? SHOWN.suffix), row.expected);
    });
  }

  it('works through line breaks of a multi-line suggestion', () => {
    const shown: ShownSuggestion = { documentUri: 'u', prefix: 'if (x) {', suffix: '', completion: '\n  go();\n}' };
    assert.equal(remainingAfterTyping(shown, 'u', 'if (x) {\n  g', ''), 'o();\n}');
  });
});

describe('typing-through cache', () => {
  it('serves the rest of the last shown suggestion', () => {
    const cache = new TypingThroughCache();
    cache.remember(SHOWN);
    assert.equal(cache.lookup(SHOWN.documentUri, 'const total = items.re', SHOWN.suffix), 'duce(sum, 0)');
    assert.equal(cache.lookup(SHOWN.documentUri, 'const total = y', SHOWN.suffix), null);
  });

  it('after backspacing, finds an earlier suggestion again (newest first)', () => {
    const cache = new TypingThroughCache();
    cache.remember(SHOWN);
    // Typing "items." served "reduce(sum, 0)"; the user went on, and the model suggested something new.
    cache.remember({ ...SHOWN, prefix: 'const total = items.', completion: 'length' });
    assert.equal(cache.lookup(SHOWN.documentUri, 'const total = items.l', SHOWN.suffix), 'ength');
    assert.equal(cache.lookup(SHOWN.documentUri, 'const total = ite', SHOWN.suffix), 'ms.reduce(sum, 0)');
  });

  it('is bounded, drops empty suggestions and duplicates, and clears', () => {
    const cache = new TypingThroughCache(2);
    cache.remember({ ...SHOWN, completion: '' });
    assert.equal(cache.size, 0);
    cache.remember(SHOWN);
    cache.remember(SHOWN);
    assert.equal(cache.size, 1);
    cache.remember({ ...SHOWN, completion: 'a' });
    cache.remember({ ...SHOWN, completion: 'b' });
    assert.equal(cache.size, 2);
    assert.equal(cache.lookup(SHOWN.documentUri, 'const total = i', SHOWN.suffix), null, 'the oldest was evicted');
    cache.clear();
    assert.equal(cache.size, 0);
  });
});
