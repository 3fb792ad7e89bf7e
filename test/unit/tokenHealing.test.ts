import assert from 'node:assert/strict';
import { CompletionEngine } from '../../src/engine/engine';
import { Generator } from '../../src/engine/generator';
import { healPrompt, restrictLogits, tokensExtending } from '../../src/engine/tokenHealing';
import { getTokenizer } from '../../src/engine/tokenizer';
import { FakeModel, fakeTokenizer, TWO_CHARS } from '../helpers/fakeModel';

const A = 'a'.charCodeAt(0);
const X = 'x'.charCodeAt(0);
const text = (bytes: Uint8Array) => Buffer.from(bytes).toString('utf8');

describe('token healing', function () {
  this.timeout(60_000);

  describe('with the GPT-2 tokenizer', () => {
    const tok = getTokenizer();
    const V = 50257;

    it('a prompt ending in a space backs off the lone space token and allows every token that starts with a space but blanks', () => {
      const prompt = tok.encode('def f(x):\n    return ');
      assert.equal(prompt[prompt.length - 1], 220); // GPT-2 ends "return " with a lone " "
      const h = healPrompt(prompt, tok, V)!;
      assert.deepEqual(h.prompt, prompt.slice(0, -1));
      assert.equal(text(h.prefix), ' ');
      const allowed = new Set(h.allowed);
      assert.ok(allowed.has(tok.encode(' x')[0]) && allowed.has(tok.encode(' self')[0]));
      // The typed space is not continued with more blanks (a weak model's favourite after indentation).
      for (const blank of [' ', '  ', '\t', '    ']) for (const id of tok.encode(blank)) assert.ok(!allowed.has(id), `blank token ${id}`);
      for (const id of h.allowed) assert.ok(text(tok.decodeBytes([id])).startsWith(' '), `token ${id}`);
      assert.ok(!allowed.has(tok.encode('x')[0]));
    });

    it('a word at the end may be re-spelled longer ("return" → "returned")', () => {
      const ids = tok.encode('x = return');
      const last = ids[ids.length - 1];
      assert.equal(text(tok.decodeBytes([last])), ' return');
      const allowed = new Set(tokensExtending(tok, V, last));
      assert.ok(allowed.has(last));
      assert.ok([...allowed].some((id) => text(tok.decodeBytes([id])) === ' returned'));
    });

    it('is skipped for a one-token prompt and for half a character', () => {
      assert.equal(healPrompt(tok.encode(' return'), tok, V), null);
      const emoji = tok.encode('x🙂');
      assert.ok(emoji.length > 2, 'the emoji is several byte tokens');
      assert.equal(healPrompt(emoji, tok, V), null);
    });
  });

  it('restrictLogits keeps the allowed entries and sets the rest to −∞ without touching the input', () => {
    const row = Float32Array.of(1, 2, 3, 4);
    const out = restrictLogits(row, Int32Array.of(0, 2));
    assert.deepEqual([...out], [1, -Infinity, 3, -Infinity]);
    assert.deepEqual([...row], [1, 2, 3, 4]);
  });

  describe('in the generator (fake byte-level model: TWO_CHARS is "ab")', () => {
    // The model reads "...a" as "..." and must spell "a" again: it prefers "ab" after the healed prompt.
    const forced = (history: readonly number[]) => (history[history.length - 1] === X ? TWO_CHARS : undefined);
    const prompt = [X, X, A];

    it('the first token must start with the dropped bytes, which are not repeated in the text', async () => {
      const g = new Generator(new FakeModel({ seed: 1, forced }), fakeTokenizer);
      const r = await g.generate({ promptTokens: prompt, maxTokens: 3, healLastToken: true, draftTokens: 0 });
      assert.equal(r.healedTokens, 1);
      assert.equal(r.promptTokens, 2);
      assert.equal(r.candidates[0].tokens[0], TWO_CHARS);
      assert.ok(r.candidates[0].text.startsWith('b'), JSON.stringify(r.candidates[0].text));
      // Healing off: the model reads "xxa" and "ab" is not what it was forced to there.
      const plain = await new Generator(new FakeModel({ seed: 1, forced }), fakeTokenizer)
        .generate({ promptTokens: prompt, maxTokens: 3, draftTokens: 0 });
      assert.equal(plain.healedTokens, 0);
      assert.notEqual(plain.candidates[0].tokens[0], TWO_CHARS);
    });

    it('a first token outside the allowed set is never chosen, even when the model prefers it', async () => {
      // After "xx" the model would say "x"; healing only allows tokens starting with "a".
      const preferX = (history: readonly number[]) => (history[history.length - 1] === X ? X : undefined);
      for (let seed = 0; seed < 20; seed++) {
        const r = await new Generator(new FakeModel({ seed, forced: preferX }), fakeTokenizer)
          .generate({ promptTokens: prompt, maxTokens: 2, healLastToken: true, temperature: seed % 2 ? 1 : 0, seed, n: 2 });
        for (const c of r.candidates) assert.ok(c.tokens[0] === A || c.tokens[0] === TWO_CHARS, `seed ${seed}: ${c.tokens[0]}`);
      }
    });

    it('speculative greedy with healing gives what plain greedy with healing gives', async () => {
      const repeat = [X, X, A, 'b'.charCodeAt(0), X, X, A];
      for (let seed = 0; seed < 10; seed++) {
        const req = { promptTokens: repeat, maxTokens: 12, healLastToken: true };
        const spec = await new Generator(new FakeModel({ seed, forced }), fakeTokenizer).generate({ ...req, draftTokens: 8 });
        const plain = await new Generator(new FakeModel({ seed, forced }), fakeTokenizer).generate({ ...req, draftTokens: 0 });
        assert.deepEqual(spec.candidates, plain.candidates, `seed ${seed}`);
      }
    });

    it('CompletionEngine heals completions but not raw generation', async () => {
      const engine = new CompletionEngine(new FakeModel({ seed: 2, forced }), fakeTokenizer);
      assert.equal((await engine.complete({ prompt: 'xxa', maxTokens: 2 })).healedTokens, 1);
      assert.equal((await engine.complete({ prompt: 'xxa', maxTokens: 2, raw: true })).healedTokens, 0);
    });
  });
});
