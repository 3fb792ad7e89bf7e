import assert from 'node:assert/strict';
import { lookupDraft, type PromptLookupOptions } from '../../src/engine/promptLookup';

/** Tokens from a string, one per character, so the tables read as text. */
const t = (s: string): number[] => Array.from(s, (c) => c.charCodeAt(0));
const s = (ids: number[]): string => String.fromCharCode(...ids);

describe('lookupDraft', () => {
  const cases: { name: string; context: string; max: number; options?: PromptLookupOptions; want: string }[] = [
    { name: 'empty context', context: '', max: 4, want: '' },
    { name: 'one token: nothing earlier to match', context: 'a', max: 4, want: '' },
    { name: 'no repeat at all', context: 'abcdef', max: 4, want: '' },
    { name: 'maxDraft 0', context: 'abcxabc', max: 0, want: '' },
    { name: 'trigram match, continuation', context: 'abcdefg abc', max: 4, want: 'defg' },
    { name: 'continuation cut to maxDraft', context: 'abcdefg abc', max: 2, want: 'de' },
    { name: 'the most recent occurrence wins', context: 'xabcP xabcQ xabc', max: 1, want: 'Q' },
    { name: 'longer suffix beats a more recent shorter one', context: 'abcX bcY abc', max: 1, want: 'X' },
    { name: 'falls back to a bigram', context: 'qbcZ abc', max: 2, want: 'Z ' },
    { name: 'falls back to a single token', context: 'xyz.w q.', max: 2, want: 'w ' },
    { name: 'minNgram 2 refuses a single-token match', context: 'xyz.w q.', max: 2, options: { minNgram: 2 }, want: '' },
    { name: 'maxNgram 1 takes the latest single-token match', context: 'abcdXc abc', max: 1, options: { maxNgram: 1 }, want: ' ' },
    { name: 'a period repeats past the end of the context', context: 'ab ab ab', max: 7, want: ' ab ab ' },
    { name: 'a repeated token repeats', context: 'xaaa', max: 3, want: 'aaa' },
    { name: 'a line of code seen before', context: 'foo(a, b);\nfoo(a, ', max: 4, want: 'b);\n' },
  ];
  for (const c of cases) {
    it(c.name, () => assert.equal(s(lookupDraft(t(c.context), c.max, c.options)), c.want));
  }

  it('every draft follows a real earlier occurrence of the matched suffix', () => {
    // Random low-entropy contexts: whatever is drafted, its first token must be one that followed
    // an occurrence of the context's last token somewhere before.
    let seed = 1;
    const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % 4;
    for (let trial = 0; trial < 200; trial++) {
      const context = Array.from({ length: 2 + (trial % 30) }, next);
      const draft = lookupDraft(context, 5);
      const last = context[context.length - 1];
      const followers = new Set(context.slice(1).filter((_, i) => context[i] === last));
      if (draft.length === 0) assert.equal(followers.size, 0, `trial ${trial}`);
      else {
        assert.equal(draft.length, 5);
        assert.ok(followers.has(draft[0]), `trial ${trial}`);
      }
    }
  });
});
