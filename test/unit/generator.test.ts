import assert from 'node:assert/strict';
import { CompletionEngine } from '../../src/engine/engine';
import { CancelledError } from '../../src/engine/errors';
import { Generator, windowStart, type GenerateRequest, type GenerateResult } from '../../src/engine/generator';
import { Rng } from '../../src/engine/random';
import { logSumExp } from '../../src/engine/sampling';
import { DEFAULT_ALPHABET, EOT, FakeModel, fakeTokenizer, type FakeModelOptions } from '../helpers/fakeModel';

const LETTERS = 'abcdefgh .'.split('').map((c) => c.charCodeAt(0));
const bytes = (s: string): number[] => Array.from(Buffer.from(s, 'utf8'));
/** The fake model's tokens without the lone halves of 'é', for tests that need output to run its full length (a lone half stops it: 'malformed'). */
const WHOLE_CHARACTERS = DEFAULT_ALPHABET.filter((t) => t !== 0xc3 && t !== 0xa9);

function randomTokens(rng: Rng, length: number): number[] {
  return Array.from({ length }, () => LETTERS[Math.floor(rng.next() * LETTERS.length)]);
}

/** What a request's outcome is, without timings. */
function outcome(r: GenerateResult) {
  return { candidates: r.candidates, promptTokens: r.promptTokens, droppedTokens: r.droppedTokens };
}

/** The same request on a fresh model and generator: nothing cached. */
async function cold(options: FakeModelOptions, req: GenerateRequest): Promise<GenerateResult> {
  return new Generator(new FakeModel(options), fakeTokenizer).generate(req);
}

describe('Generator', function () {
  this.timeout(60_000); // as .mocharc: the fake model fills a 50257-wide row per logit position, slow on a busy machine
  it('with a warm cache equals a cleared cache over random edits', async () => {
    const options = { nPositions: 64, seed: 3 };
    const warm = new Generator(new FakeModel(options), fakeTokenizer);
    const clearing = new Generator(new FakeModel(options), fakeTokenizer);
    const rng = new Rng(42);
    let prompt = randomTokens(rng, 20);
    let reusedSome = false;
    for (let i = 0; i < 40; i++) {
      const req: GenerateRequest = {
        promptTokens: prompt,
        maxTokens: 1 + Math.floor(rng.next() * 10),
        temperature: i % 2 === 0 ? 0 : 0.9,
        topK: i % 3 === 0 ? 5 : undefined,
        topP: i % 4 === 1 ? 0.8 : undefined,
        seed: i,
        n: 1 + (i % 3),
      };
      const got = await warm.generate(req);
      await clearing.clearCache();
      const want = await clearing.generate(req);
      assert.deepEqual(outcome(got), outcome(want), `edit ${i}`);
      assert.equal(want.reusedTokens, 0);
      reusedSome ||= got.reusedTokens > 0;
      // Next edit: type, delete, change a middle token, accept candidate 0, or start over.
      const choice = Math.floor(rng.next() * 5);
      if (choice === 0) prompt = [...prompt, ...randomTokens(rng, 1 + Math.floor(rng.next() * 3))];
      else if (choice === 1) prompt = prompt.slice(0, Math.max(1, prompt.length - 1 - Math.floor(rng.next() * 3)));
      else if (choice === 2) {
        const at = Math.floor(rng.next() * prompt.length);
        prompt = prompt.map((t, j) => (j === at ? LETTERS[(LETTERS.indexOf(t) + 1) % LETTERS.length] : t));
      }
      else if (choice === 3) prompt = [...prompt, ...got.candidates[0].tokens];
      else prompt = randomTokens(rng, 5 + Math.floor(rng.next() * 60));
    }
    assert.ok(reusedSome);
  });

  it('after a prefix edit runs only the changed suffix, and equals a cold run', async () => {
    const model = new FakeModel();
    const gen = new Generator(model, fakeTokenizer, { draftTokens: 0 }); // one token per decode step
    const a = randomTokens(new Rng(1), 30);
    await gen.generate({ promptTokens: a, maxTokens: 5 });
    const b = [...a.slice(0, 20), a[20] === LETTERS[0] ? LETTERS[1] : LETTERS[0], ...bytes('cd')];
    const before = model.calls.length;
    const got = await gen.generate({ promptTokens: b, maxTokens: 5, stopAtEndOfText: false });
    const calls = model.calls.slice(before);
    assert.deepEqual(calls[0], { batch: 1, pastLength: 20, newTokens: 3, logitPositions: 1 });
    calls.slice(1).forEach((c, i) => assert.deepEqual(c, { batch: 1, pastLength: 23 + i, newTokens: 1, logitPositions: 1 }));
    assert.equal(calls.length, 5); // prefill gives token 1; four decode steps give tokens 2..5
    assert.equal(got.reusedTokens, 20);
    assert.deepEqual(outcome(got), outcome(await cold({}, { promptTokens: b, maxTokens: 5, stopAtEndOfText: false })));
  });

  it('serves a fully cached prompt by rerunning its last token, and reuses an accepted suggestion', async () => {
    const model = new FakeModel();
    const gen = new Generator(model, fakeTokenizer);
    const a = randomTokens(new Rng(2), 25);
    const req = { promptTokens: a, maxTokens: 6, temperature: 0.8, seed: 5 };
    const first = await gen.generate(req);

    let before = model.calls.length;
    const again = await gen.generate(req);
    assert.deepEqual(model.calls[before], { batch: 1, pastLength: 24, newTokens: 1, logitPositions: 1 });
    assert.equal(again.reusedTokens, 24);
    assert.deepEqual(outcome(again), outcome(first));

    const accepted = [...a, ...first.candidates[0].tokens, ...bytes('x')];
    before = model.calls.length;
    const next = await gen.generate({ ...req, promptTokens: accepted });
    assert.ok(next.reusedTokens >= a.length + first.candidates[0].tokens.length - 1);
    assert.equal(model.calls[before].newTokens, accepted.length - next.reusedTokens);
    assert.deepEqual(outcome(next), outcome(await cold({}, { ...req, promptTokens: accepted })));
  });

  describe('context window', () => {
    const cases: { prompt: number; max: number; n: number; chunk: number; want: number }[] = [
      { prompt: 50, max: 8, n: 64, chunk: 16, want: 0 },
      { prompt: 56, max: 8, n: 64, chunk: 16, want: 0 },
      { prompt: 57, max: 8, n: 64, chunk: 16, want: 16 },
      { prompt: 72, max: 8, n: 64, chunk: 16, want: 16 },
      { prompt: 73, max: 8, n: 64, chunk: 16, want: 32 },
      { prompt: 1100, max: 64, n: 1024, chunk: 256, want: 256 },
      // maxTokens near the context: a chunk step would leave no prompt, so drop exactly enough
      { prompt: 10, max: 60, n: 64, chunk: 16, want: 6 },
    ];
    for (const c of cases) {
      it(`windowStart(${c.prompt}, ${c.max}, ${c.n}, ${c.chunk}) = ${c.want}`, () => assert.equal(windowStart(c.prompt, c.max, c.n, c.chunk), c.want));
    }

    it('keeps the start stable across growing prompts and drops in chunk steps', async () => {
      const model = new FakeModel({ nPositions: 64 });
      const gen = new Generator(model, fakeTokenizer, { windowChunk: 16 });
      const text = randomTokens(new Rng(3), 130);
      const starts: number[] = [];
      let previous = -1;
      for (let length = 40; length <= 130; length++) {
        const req = { promptTokens: text.slice(0, length), maxTokens: 8, stopAtEndOfText: false };
        const before = model.calls.length;
        const r = await gen.generate(req);
        assert.equal(r.droppedTokens % 16, 0);
        assert.equal(r.promptTokens, length - r.droppedTokens);
        assert.ok(r.promptTokens + 8 <= 64);
        assert.ok(r.droppedTokens >= previous);
        if (r.droppedTokens === previous) {
          // Same start as the last keystroke: only the typed token runs.
          assert.ok(r.reusedTokens >= r.promptTokens - 1);
          assert.ok(model.calls[before].newTokens <= 1);
        }
        if (r.droppedTokens !== previous) starts.push(r.droppedTokens);
        previous = r.droppedTokens;
        if (length % 10 === 0) assert.deepEqual(outcome(r), outcome(await new Generator(new FakeModel({ nPositions: 64 }), fakeTokenizer, { windowChunk: 16 }).generate(req)));
      }
      assert.deepEqual(starts, [0, 16, 32, 48, 64, 80]);
    });

    it('rejects maxTokens that do not fit the context', async () => {
      const gen = new Generator(new FakeModel({ nPositions: 64 }), fakeTokenizer);
      await assert.rejects(gen.generate({ promptTokens: [97], maxTokens: 64 }), /maxTokens/);
    });
  });

  it('decodes n candidates as one batch, each equal to its seed run alone', async () => {
    let finishesDiffer = false;
    for (let seed = 0; seed < 6; seed++) {
      const model = new FakeModel({ seed });
      const gen = new Generator(model, fakeTokenizer);
      const prompt = randomTokens(new Rng(seed), 12);
      const req = { promptTokens: prompt, maxTokens: 10, temperature: 1, seed: 10 * seed, stopStrings: ['a'] };
      const r = await gen.generate({ ...req, n: 3 });
      // One prefill of batch 1, then every decode step runs all three rows together.
      assert.deepEqual(model.calls.map((c) => c.batch), [1, ...model.calls.slice(1).map(() => 3)]);
      const cachedAfterBatch = gen.cachedTokens.slice();
      assert.deepEqual(cachedAfterBatch.slice(0, prompt.length), prompt);
      const c0 = r.candidates[0];
      const sampled = c0.finishReason === 'eot' ? [...c0.tokens, EOT] : c0.tokens;
      assert.deepEqual(cachedAfterBatch.slice(prompt.length), sampled.slice(0, cachedAfterBatch.length - prompt.length));
      for (let row = 0; row < 3; row++) {
        const alone = await cold({ seed }, { ...req, seed: req.seed + row });
        assert.deepEqual(r.candidates[row], alone.candidates[0], `seed ${seed}, row ${row}`);
        const warmAlone = await gen.generate({ ...req, seed: req.seed + row });
        assert.deepEqual(warmAlone.candidates[0], alone.candidates[0], `seed ${seed}, row ${row}, warm`);
      }
      finishesDiffer ||= new Set(r.candidates.map((c) => c.tokens.length)).size > 1;
    }
    assert.ok(finishesDiffer, 'some batch should have rows that finish at different steps');
  });

  describe('cancellation', () => {
    for (const n of [1, 2]) {
      it(`between steps throws CancelledError, keeps a consistent cache (n = ${n})`, async () => {
        const options = { stepDelayMs: 5 };
        const model = new FakeModel(options);
        const gen = new Generator(model, fakeTokenizer, { draftTokens: 0 }); // speculative: speculative.test.ts
        const prompt = randomTokens(new Rng(4), 15);
        const controller = new AbortController();
        let seen = 0;
        const run = gen.generate({
          promptTokens: prompt,
          maxTokens: 40,
          n,
          stopAtEndOfText: false,
          signal: controller.signal,
          onToken: (e) => {
            if (e.candidate === 0 && ++seen === 4) controller.abort();
          },
        });
        await assert.rejects(run, CancelledError);
        assert.equal(model.calls.length, 4); // prefill + 3 steps; the 4th token's step never ran
        const cached = gen.cachedTokens.slice();
        assert.deepEqual(cached.slice(0, prompt.length), prompt);
        assert.equal(cached.length, prompt.length + 3);

        // The next request reuses what ran (prompt and three generated tokens) and is still right.
        const next = [...cached, ...bytes('b')];
        const before = model.calls.length;
        const r = await gen.generate({ promptTokens: next, maxTokens: 5 });
        assert.deepEqual(model.calls[before], { batch: 1, pastLength: cached.length, newTokens: 1, logitPositions: 1 });
        assert.deepEqual(outcome(r), outcome(await cold(options, { promptTokens: next, maxTokens: 5 })));
      });
    }

    it('a request aborted while waiting never runs; the one before it finishes', async () => {
      const model = new FakeModel({ stepDelayMs: 2, alphabet: WHOLE_CHARACTERS });
      const gen = new Generator(model, fakeTokenizer, { draftTokens: 0 });
      const prompt = randomTokens(new Rng(5), 10);
      const first = gen.generate({ promptTokens: prompt, maxTokens: 6, stopAtEndOfText: false });
      const controller = new AbortController();
      const second = gen.generate({ promptTokens: [...prompt, 98], maxTokens: 6, signal: controller.signal });
      controller.abort();
      await assert.rejects(second, CancelledError);
      const r = await first;
      assert.equal(r.candidates[0].tokens.length, 6);
      assert.equal(model.calls.length, 6);
      const third = await gen.generate({ promptTokens: prompt, maxTokens: 3 });
      assert.equal(third.reusedTokens, prompt.length - 1);
    });

    it('serializes concurrent requests', async () => {
      const options = { stepDelayMs: 1 };
      const gen = new Generator(new FakeModel(options), fakeTokenizer);
      const prompts = [0, 1, 2].map((i) => randomTokens(new Rng(10 + i), 8));
      const results = await Promise.all(prompts.map((p) => gen.generate({ promptTokens: p, maxTokens: 5, n: 2, temperature: 1 })));
      for (let i = 0; i < 3; i++) {
        assert.deepEqual(outcome(results[i]), outcome(await cold(options, { promptTokens: prompts[i], maxTokens: 5, n: 2, temperature: 1 })));
      }
    });
  });

  describe('deadline', () => {
    it('returns the tokens ready when the time budget ends (fake clock)', async () => {
      let clock = 0;
      const gen = new Generator(new FakeModel({ alphabet: WHOLE_CHARACTERS }), fakeTokenizer, { now: () => clock });
      const req = { promptTokens: randomTokens(new Rng(6), 10), maxTokens: 20, stopAtEndOfText: false };
      const r = await gen.generate({ ...req, deadlineMs: 35, onToken: () => (clock += 10) });
      const full = await cold({ alphabet: WHOLE_CHARACTERS }, req);
      const c = r.candidates[0];
      assert.equal(c.finishReason, 'deadline');
      assert.equal(c.tokens.length, 5); // sampled at t = 0, 10, 20, 30, 40 ≥ 35
      assert.deepEqual(c.tokens, full.candidates[0].tokens.slice(0, 5));
      assert.ok(full.candidates[0].text.startsWith(c.text));
    });

    it('stops a slow model in time (real clock)', async () => {
      const gen = new Generator(new FakeModel({ stepDelayMs: 20 }), fakeTokenizer);
      const started = Date.now();
      const r = await gen.generate({ promptTokens: bytes('abc'), maxTokens: 60, stopAtEndOfText: false, deadlineMs: 100 });
      assert.equal(r.candidates[0].finishReason, 'deadline');
      assert.ok(r.candidates[0].tokens.length >= 1 && r.candidates[0].tokens.length < 60);
      assert.ok(Date.now() - started < 1000);
    });
  });

  describe('text and stop rules on scripted output', () => {
    /** A model that emits `script` after the prompt (then anything). */
    const scripted = (script: number[], promptLength: number) =>
      new FakeModel({ forced: (h) => script[h.length - promptLength] });
    const prompt = bytes('p');
    const script = [...bytes('ab\ncd\nef'), EOT];
    const cases: { name: string; script: number[]; req: Partial<GenerateRequest>; text?: string; reason: string; tokens?: number }[] = [
      { name: 'end of text', script, req: {}, text: 'ab\ncd\nef', reason: 'eot', tokens: 8 },
      { name: 'max lines', script, req: { maxLines: 2 }, text: 'ab\ncd', reason: 'lines' },
      { name: 'stop string', script, req: { stopStrings: ['zz', 'd\n'] }, text: 'ab\nc', reason: 'stop' },
      { name: 'max tokens', script, req: { maxTokens: 4 }, text: 'ab\nc', reason: 'length', tokens: 4 },
      { name: 'end of text not a stop: no marker in the text', script, req: { maxTokens: 9, stopAtEndOfText: false }, text: 'ab\ncd\nef', reason: 'length', tokens: 9 },
      { name: 'half a character is held back', script: bytes('€x'), req: { maxTokens: 2 }, text: '', reason: 'length' },
      { name: 'a character completes', script: bytes('€x'), req: { maxTokens: 3 }, text: '€', reason: 'length' },
      { name: 'min tokens suppress end of text', script: [EOT, EOT, EOT, EOT, EOT], req: { minTokens: 3, maxTokens: 10 }, reason: 'eot', tokens: 3 },
      // Bytes that can never form a character end the candidate before they become U+FFFD.
      { name: 'a lone continuation byte stops', script: [...bytes('ab'), 0xa9, 0xa9, 0xa9, ...bytes('cd')], req: {}, text: 'ab', reason: 'malformed', tokens: 3 },
      { name: 'a lead byte without its continuation stops', script: [...bytes('x€'), 0xe6, ...bytes('yz')], req: {}, text: 'x€', reason: 'malformed', tokens: 6 },
      { name: 'a repeated lead byte stops', script: [0xe6, 0xe6, 0xe6, 0xe6], req: {}, text: '', reason: 'malformed', tokens: 2 },
      { name: 'an overlong form stops', script: [...bytes('a'), 0xe0, 0x80, 0x80], req: {}, text: 'a', reason: 'malformed', tokens: 3 },
      { name: 'a stop string before the bad byte still wins', script: [...bytes('abc'), 0xa9], req: { stopStrings: ['bc'] }, text: 'a', reason: 'stop', tokens: 3 },
    ];
    for (const c of cases) {
      it(c.name, async () => {
        const gen = new Generator(scripted(c.script, prompt.length), fakeTokenizer);
        const r = await gen.generate({ promptTokens: prompt, maxTokens: 20, ...c.req });
        const got = r.candidates[0];
        if (c.text !== undefined) assert.equal(got.text, c.text);
        assert.equal(got.finishReason, c.reason);
        if (c.tokens !== undefined) assert.equal(got.tokens.length, c.tokens);
        assert.ok(!got.text.includes('<|endoftext|>'));
      });
    }

    it('streams only text that stays', async () => {
      const gen = new Generator(scripted(bytes('abxcdef'), prompt.length), fakeTokenizer);
      const seen: string[] = [];
      const r = await gen.generate({ promptTokens: prompt, maxTokens: 10, stopStrings: ['cd', 'xq'], onToken: (e) => seen.push(e.text) });
      assert.equal(r.candidates[0].text, 'abx');
      for (let i = 1; i < seen.length; i++) assert.ok(seen[i].startsWith(seen[i - 1]), JSON.stringify(seen));
      assert.deepEqual(seen, ['a', 'ab', 'ab', 'abx', 'abx']);
    });

    it('starts an empty prompt from end of text', async () => {
      const model = new FakeModel();
      const r = await new Generator(model, fakeTokenizer).generate({ promptTokens: [], maxTokens: 3 });
      assert.equal(r.promptTokens, 1);
      assert.deepEqual(model.calls[0], { batch: 1, pastLength: 0, newTokens: 1, logitPositions: 1 });
    });
  });
});

describe('CompletionEngine', () => {
  it('scores with one forward per context window, matching the model', async () => {
    const model = new FakeModel({ nPositions: 64 });
    const engine = new CompletionEngine(model, fakeTokenizer);
    const text = 'abc def. gh\n'.repeat(13).slice(0, 150);
    const r = await engine.score(text);
    assert.deepEqual(r.tokens, bytes(text));
    assert.equal(r.logprobs.length, 149);
    assert.deepEqual(model.calls.map((c) => [c.pastLength, c.newTokens, c.logitPositions]), [[0, 64, 64], [0, 64, 64], [0, 22, 21]]);
    r.logprobs.forEach((lp, i) => {
      const start = Math.floor(i / 64) * 64;
      const logits = model.logitsAfter(r.tokens.slice(start, i + 1));
      assert.ok(Math.abs(lp - (logits[r.tokens[i + 1]] - logSumExp(logits))) < 1e-4, `position ${i}`);
    });
    assert.ok(Math.abs(r.loss + r.logprobs.reduce((a, b) => a + b, 0) / 149) < 1e-12);
  });

  it('completes text; raw mode ignores every stop rule but maxTokens', async () => {
    const prompt = 'q';
    const model = new FakeModel({ forced: (h) => bytes('ab\ncd')[h.length - 1] ?? EOT });
    const engine = new CompletionEngine(model, fakeTokenizer);
    const ruled = await engine.complete({ prompt, maxTokens: 8, maxLines: 1, stopStrings: ['c'] });
    assert.deepEqual(ruled.candidates.map((c) => [c.text, c.finishReason]), [['ab', 'lines']]);
    const raw = await engine.complete({ prompt, maxTokens: 8, maxLines: 1, stopStrings: ['c'], raw: true });
    assert.equal(raw.candidates[0].finishReason, 'length');
    assert.equal(raw.candidates[0].tokens.length, 8);
    assert.ok(raw.candidates[0].text.startsWith('ab\ncd'));
    assert.ok(!raw.candidates[0].text.includes('<|endoftext|>'));
  });
});
