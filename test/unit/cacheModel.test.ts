// The workspace cache model: the token store's pair index (replace, hide, compact), the n-gram
// counts with Witten-Bell backoff, the mixture with the model's distribution, and decoding on the
// mixed distribution with and without prompt-lookup drafts (identical output).
import { strict as assert } from 'node:assert';
import { blankTokens, cacheDraft, predictNext, MAX_ORDER } from '../../src/engine/cacheModel/cacheModel';
import { cacheDrafter, cacheMixer, cacheTokenLogProb, cacheWeight, gateWeight, mixLogits, mixtureWeight, modelLogProb, DEFAULT_CACHE_WEIGHTS } from '../../src/engine/cacheModel/mixture';
import { logSumExp } from '../../src/engine/sampling';
import { TokenStore } from '../../src/engine/cacheModel/tokenStore';
import { CompletionEngine } from '../../src/engine/engine';
import { getTokenizer } from '../../src/engine/tokenizer';
import { DEFAULT_ALPHABET, FakeModel } from '../helpers/fakeModel';

/** Mixture weights with a gate (bench/fitCache.ts fits one much like it). */
const GATED = { ...DEFAULT_CACHE_WEIGHTS, gate: { bias: [-20, -2, -1, 0, 0.5, 0.5, 0.5, 0.5, 1.5], logCount: 0.5, cacheTop: 1.2 } };

/** No blank tokens among the small ids these tests use. */
const NONE_BLANK = new Uint8Array(65536);

function positionsAfter(store: TokenStore, a: number, b: number, limit = 100): number[] {
  return [...store.after(a, b, limit)];
}

describe('cache model', () => {
  describe('TokenStore', () => {
    it('indexes each token pair to the positions that follow it, newest first, within one text', () => {
      const s = new TokenStore();
      s.set('a', [1, 2, 3, 1, 2, 4]);
      s.set('b', [1, 2, 5]);
      const next = positionsAfter(s, 1, 2).map((p) => s.token(p));
      assert.deepEqual(next, [5, 4, 3]);
      // No pair spans two texts: 4 (end of a) then 1 (start of b) is not a pair.
      assert.deepEqual(positionsAfter(s, 4, 1), []);
      assert.deepEqual(positionsAfter(s, 1, 2, 2).map((p) => s.token(p)), [5, 4]);
    });

    it('replacing or removing a text hides its old tokens; compaction keeps the live ones', () => {
      const s = new TokenStore();
      s.set('a', [1, 2, 3]);
      s.set('a', [1, 2, 7]);
      assert.deepEqual(positionsAfter(s, 1, 2).map((p) => s.token(p)), [7]);
      s.set('b', [1, 2, 8]);
      s.remove('a');
      assert.deepEqual(positionsAfter(s, 1, 2).map((p) => s.token(p)), [8]);
      s.compact();
      assert.deepEqual(positionsAfter(s, 1, 2).map((p) => s.token(p)), [8]);
      assert.deepEqual(s.ids(), ['b']);
      assert.equal(s.liveTokens, s.length);
    });

    it('hides a text for a while and shows it again, across a compaction', () => {
      const s = new TokenStore();
      s.set('a', [1, 2, 3]);
      s.set('b', [1, 2, 4]);
      s.setHidden('a', true);
      assert.deepEqual(positionsAfter(s, 1, 2).map((p) => s.token(p)), [4]);
      s.compact();
      assert.deepEqual(positionsAfter(s, 1, 2).map((p) => s.token(p)), [4]);
      s.setHidden('a', false);
      assert.deepEqual(positionsAfter(s, 1, 2).map((p) => s.token(p)).sort(), [3, 4]);
    });

    it('a text set while hidden (indexed or edited during a request) stays hidden', () => {
      const s = new TokenStore();
      s.setHidden('doc', true);
      s.set('doc', [1, 2, 3]);
      assert.deepEqual(positionsAfter(s, 1, 2), []);
      s.set('doc', [1, 2, 4]);
      assert.deepEqual(positionsAfter(s, 1, 2), []);
      s.setHidden('doc', false);
      assert.deepEqual(positionsAfter(s, 1, 2).map((p) => s.token(p)), [4]);
    });
  });

  describe('predictNext', () => {
    it('counts what followed the longest matching context and backs off Witten-Bell style', () => {
      const s = new TokenStore();
      // After (1 2): 3 three times, 4 once. After (9 1 2) only 4.
      s.set('t', [1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3, 0, 9, 1, 2, 4]);
      const short = predictNext([7, 1, 2], [{ store: s, weight: 1 }], NONE_BLANK)!;
      assert.equal(short.order, 2);
      assert.equal(short.count, 4);
      const p = new Map([...short.tokens].map((t, i) => [t, short.probs[i]]));
      assert.ok(Math.abs(p.get(3)! - 0.75) < 1e-6 && Math.abs(p.get(4)! - 0.25) < 1e-6);

      const long = predictNext([9, 1, 2], [{ store: s, weight: 1 }], NONE_BLANK)!;
      assert.equal(long.order, 3);
      assert.equal(long.count, 1);
      const q = new Map([...long.tokens].map((t, i) => [t, long.probs[i]]));
      // P_3(t) = (c_3(t) + u_3 · P_2(t)) / (C_3 + u_3) with c_3 = {4: 1}, u_3 = 1.
      assert.ok(Math.abs(q.get(4)! - (1 + 0.25) / 2) < 1e-6);
      assert.ok(Math.abs(q.get(3)! - 0.75 / 2) < 1e-6);
      assert.ok(Math.abs([...long.probs].reduce((a, b) => a + b, 0) - 1) < 1e-6);
    });

    it('weights sources, matches at most MAX_ORDER tokens, and knows nothing of unseen pairs', () => {
      const doc = new TokenStore();
      doc.set('d', [1, 2, 5]);
      const ws = new TokenStore();
      ws.set('w', [1, 2, 6]);
      const r = predictNext([1, 2], [{ store: doc, weight: 4 }, { store: ws, weight: 1 }], NONE_BLANK)!;
      const p = new Map([...r.tokens].map((t, i) => [t, r.probs[i]]));
      assert.ok(Math.abs(p.get(5)! - 0.8) < 1e-6);
      assert.equal(r.count, 5);
      assert.equal(predictNext([3, 4], [{ store: doc, weight: 1 }], NONE_BLANK), null);
      const long = Array.from({ length: 30 }, (_, i) => 10 + i);
      const store = new TokenStore();
      store.set('x', [...long, 99]);
      assert.equal(predictNext(long, [{ store, weight: 1 }], NONE_BLANK)!.order, MAX_ORDER);
    });
  });

  it('blank tokens are the ones of only spaces, tabs and line breaks', () => {
    const tokenizer = getTokenizer();
    const blank = blankTokens((ids) => tokenizer.decodeBytes(ids), 50257);
    for (const text of [' ', '\n', '\t', '\n\n']) for (const id of tokenizer.encode(text)) assert.equal(blank[id], 1, JSON.stringify(text));
    for (const text of ['x', ' return', '(', ' =']) for (const id of tokenizer.encode(text)) assert.equal(blank[id], 0, JSON.stringify(text));
  });

  it('does not count blank tokens as context: a line start is matched on the line above', () => {
    const tokenizer = getTokenizer();
    const blank = blankTokens((ids) => tokenizer.decodeBytes(ids), 50257);
    const store = new TokenStore();
    store.set('w', tokenizer.encode('if a:\n        x = 1\nif b:\n        y = 2\n'));
    // Seven of the eight spaces: token healing backs off the last one, which ` y` re-spells.
    const history = tokenizer.encode('if b:\n       ');
    const r = predictNext(history, [{ store, weight: 1 }], blank)!;
    // Both lines start after 8 spaces, but only `if b:` matches further back.
    assert.equal(tokenizer.decode([r.tokens[r.probs.indexOf(Math.max(...r.probs))]]).trim(), 'y');
    assert.ok(r.order >= 2, `order ${r.order}`);
  });

  it('finds a line start through the line above, however many newer indented lines there are', () => {
    const tokenizer = getTokenizer();
    const blank = blankTokens((ids) => tokenizer.decodeBytes(ids), 50257);
    const store = new TokenStore();
    store.set('old', tokenizer.encode('def f(a):\n        return a\n'));
    // 400 newer lines at the same indentation: more occurrences of two spaces than a lookup walks.
    store.set('new', tokenizer.encode(Array.from({ length: 400 }, (_, i) => `        v${i} = ${i}\n`).join('')));
    const history = tokenizer.encode('x = 1\ndef f(a):\n       ');
    const r = predictNext(history, [{ store, weight: 1 }], blank)!;
    const best = tokenizer.decode([r.tokens[r.probs.indexOf(Math.max(...r.probs))]]);
    assert.equal(best, ' return');
    // Matched back over the indentation to `def f(a):`, the line above: five tokens of context.
    assert.equal(r.order, 5);
    assert.equal(r.count, 1);
    // Another indentation after the same line end is not a match.
    assert.equal(predictNext(tokenizer.encode('def f(a):\n           '), [{ store, weight: 1 }], blank), null);
  });

  describe('mixture', () => {
    it('is (1 − w)·softmax + w·P_cache, in log space', () => {
      const logits = Float32Array.from([0, Math.log(3), 0, 0]); // softmax: 1/6, 1/2, 1/6, 1/6
      const { logits: mixed, logNorm } = mixLogits(logits, Int32Array.from([2]), Float32Array.from([1]), 0.5);
      const norm = Math.log([...mixed].reduce((a, x) => a + Math.exp(x), 0));
      assert.ok(Math.abs(logNorm - norm) < 1e-6, 'the mixed row comes with its normaliser');
      const p = [...mixed].map((x) => Math.exp(x - norm));
      assert.ok(Math.abs(p[0] - 1 / 12) < 1e-6);
      assert.ok(Math.abs(p[1] - 1 / 4) < 1e-6);
      assert.ok(Math.abs(p[2] - (1 / 12 + 0.5)) < 1e-6);
      assert.ok(Math.abs(p.reduce((a, b) => a + b, 0) - 1) < 1e-6);
    });

    for (const [name, weights] of [['β', DEFAULT_CACHE_WEIGHTS], ['a gate', GATED]] as const) {
      it(`scoring one token gives the mixed row's log-softmax at it, without building the row (${name})`, () => {
        const tokenizer = getTokenizer();
        const blank = blankTokens((ids) => tokenizer.decodeBytes(ids), 50257);
        const store = new TokenStore();
        const ids = tokenizer.encode('value = compute(a, b)\nvalue = compute(a, c)\nother = 1\n');
        store.set('w', ids);
        const sources = [{ store, weight: 1 }];
        const mixer = cacheMixer(sources, blank, weights), score = cacheTokenLogProb(sources, blank, weights);
        let seed = 7;
        const logits = Float32Array.from({ length: 50257 }, () => ((seed = (seed * 16807) % 2147483647) / 2147483647) * 8 - 4);
        const history = tokenizer.encode('x = 1\nvalue = compute(a,');
        const next = tokenizer.encode(' b')[0], unseen = tokenizer.encode(' zebra')[0];
        let mixedSomewhere = false;
        const exactNorm = logSumExp(logits);
        for (const h of [history, history.slice(0, -2), tokenizer.encode('qqq')]) {
          const { logits: row, logNorm } = mixer(h, logits);
          mixedSomewhere ||= row !== logits;
          if (row !== logits) assert.ok(Math.abs(logNorm! - logSumExp(row)) < 1e-3, `mixed normaliser ${logNorm} vs ${logSumExp(row)}`);
          // Given the model row's exact normaliser (as the graph gives it), the mixed one is exact too.
          if (row !== logits) assert.ok(Math.abs(mixer(h, logits, exactNorm).logNorm! - logSumExp(row)) < 1e-5);
          for (const t of [next, unseen, 0]) {
            const want = row[t] - logSumExp(row);
            assert.ok(Math.abs(score(h, logits, t) - want) < 1e-3, `token ${t}: ${score(h, logits, t)} vs ${want}`);
            assert.ok(Math.abs(score(h, logits, t, exactNorm) - want) < 1e-5, `token ${t} with the normaliser given`);
          }
        }
        assert.ok(mixedSomewhere, 'the cache knew one of the contexts');
        assert.ok(score(history, logits, next) > modelLogProb(history, logits, next) + 0.5, 'the workspace raised what it saw');
        assert.ok(Math.abs(modelLogProb([], logits, 5) - (logits[5] - logSumExp(logits))) < 1e-3);
      });
    }

    it('trusts the cache more the more often it saw the context, never fully', () => {
      assert.ok(cacheWeight(3, 10, DEFAULT_CACHE_WEIGHTS) > cacheWeight(3, 1, DEFAULT_CACHE_WEIGHTS));
      assert.ok(cacheWeight(8, 1e9, DEFAULT_CACHE_WEIGHTS) <= DEFAULT_CACHE_WEIGHTS.maxWeight);
    });

    it("the gate's weight is maxWeight · σ of the order's bias, the count and the cache's top P", () => {
      const gate = GATED.gate;
      const prediction = { tokens: Int32Array.from([3, 1]), probs: Float32Array.from([0.25, 0.75]), order: 4, count: 6 };
      const z = gate.bias[4] + gate.logCount * Math.log(7) + gate.cacheTop * Math.log(0.75);
      assert.ok(Math.abs(mixtureWeight(prediction, GATED) - 0.95 / (1 + Math.exp(-z))) < 1e-9);
      assert.equal(mixtureWeight(prediction, DEFAULT_CACHE_WEIGHTS), cacheWeight(4, 6, DEFAULT_CACHE_WEIGHTS), 'no gate: the β rule');
      const x = { order: 4, count: 6, cacheTop: 0.75 };
      // Orders past the biases use the last; an order the fit never saw (bias −20) gets almost nothing.
      assert.equal(gateWeight(gate, 0.95, { ...x, order: 30 }), gateWeight(gate, 0.95, { ...x, order: 8 }));
      assert.ok(gateWeight(gate, 0.95, { ...x, order: 0 }) < 1e-6);
      // A surer cache, a longer or more often seen match: more weight.
      assert.ok(gateWeight(gate, 0.95, { ...x, cacheTop: 0.99 }) > gateWeight(gate, 0.95, x));
      assert.ok(gateWeight(gate, 0.95, { ...x, count: 60 }) > gateWeight(gate, 0.95, x));
      assert.ok(gateWeight(gate, 0.95, { ...x, order: 8 }) > gateWeight(gate, 0.95, x));
    });
  });

  describe('decoding on the mixed distribution', () => {
    const tokenizer = getTokenizer();
    const blank = blankTokens((ids) => tokenizer.decodeBytes(ids), 50257);

    function engineWith(alphabet: readonly number[]): CompletionEngine {
      return new CompletionEngine(new FakeModel({ seed: 3, alphabet, nPositions: 256 }), tokenizer);
    }

    it('the cache steers greedy decoding towards what the workspace wrote', async () => {
      const store = new TokenStore();
      const text = 'abc.def.ghi\n';
      const ids = tokenizer.encode(`${text}${text}`);
      store.set('w', ids);
      const prompt = 'abc.d';
      const mixer = cacheMixer([{ store, weight: 10 }], blank, { beta: [0.01], maxWeight: 0.99 });
      const engine = engineWith(DEFAULT_ALPHABET);
      // Token healing re-spells the cut `d` as the workspace's `def`.
      const plain = await engine.complete({ prompt, maxTokens: 6, stopAtEndOfText: false });
      const mixed = await engine.complete({ prompt, maxTokens: 6, stopAtEndOfText: false, mixer });
      assert.ok(mixed.candidates[0].text.startsWith('ef.ghi'), `mixed: ${JSON.stringify(mixed.candidates[0].text)} (plain ${JSON.stringify(plain.candidates[0].text)})`);
    });

    for (const [name, weights] of [['β', DEFAULT_CACHE_WEIGHTS], ['a gate', GATED]] as const) {
      it(`prompt-lookup drafts give exactly the tokens of one run per token (${name})`, async () => {
        const store = new TokenStore();
        store.set('w', tokenizer.encode('abc def abc deg abc dhh. '.repeat(3)));
        const mixer = cacheMixer([{ store, weight: 2 }], blank, weights);
        const prompt = 'abc def abc d'.repeat(2);
        const engine = engineWith(DEFAULT_ALPHABET);
        const drafted = await engine.complete({ prompt, maxTokens: 24, mixer, draftTokens: 6 });
        const single = await engine.complete({ prompt, maxTokens: 24, mixer, draftTokens: 0 });
        assert.deepEqual(drafted.candidates[0].tokens, single.candidates[0].tokens);
        assert.ok(drafted.timings.draftTokens > 0, 'no drafts were tried');
      });
    }

    it('workspace drafts (what followed the longest match) give the same tokens in fewer runs', async () => {
      const store = new TokenStore();
      store.set('w', tokenizer.encode('abc def abc deg abc dhh. '.repeat(3)));
      const sources = [{ store, weight: 2 }];
      const mixer = cacheMixer(sources, blank);
      const prompt = 'abc def abc d'.repeat(2);
      const engine = engineWith(DEFAULT_ALPHABET);
      const single = await engine.complete({ prompt, maxTokens: 24, mixer, draftTokens: 0 });
      const fromPrompt = await engine.complete({ prompt, maxTokens: 24, mixer, draftTokens: 6 });
      const fromWorkspace = await engine.complete({ prompt, maxTokens: 24, mixer, draftTokens: 6, drafter: cacheDrafter(sources, blank) });
      assert.deepEqual(fromWorkspace.candidates[0].tokens, single.candidates[0].tokens);
      assert.ok(fromWorkspace.timings.acceptedDraftTokens > 0, 'no workspace draft was accepted');
      assert.ok(fromWorkspace.timings.decodeSteps < single.timings.decodeSteps, `${fromWorkspace.timings.decodeSteps} runs`);
      assert.ok(fromWorkspace.timings.decodeSteps <= fromPrompt.timings.decodeSteps, `${fromWorkspace.timings.decodeSteps} vs ${fromPrompt.timings.decodeSteps} runs`);
    });

    it('a workspace draft continues the longest match, within its text, only past the minimum order', () => {
      const store = new TokenStore();
      store.set('a', tokenizer.encode('x = foo(1)\ny = bar(2)\n'));
      store.set('b', tokenizer.encode('z = foo(3)\n'));
      const history = tokenizer.encode('x = foo');
      // `x = foo` matches three non-blank tokens in a, two in the newer b: a's continuation wins.
      assert.equal(tokenizer.decode(cacheDraft(history, [{ store, weight: 1 }], blank, 4)), '(1)\n');
      // Drafts stop at the end of their text.
      assert.equal(tokenizer.decode(cacheDraft(tokenizer.encode('z = foo'), [{ store, weight: 1 }], blank, 50)), '(3)\n');
      assert.deepEqual(cacheDraft(tokenizer.encode('q = foo'), [{ store, weight: 1 }], blank, 4, 3), []);
    });
  });
});
