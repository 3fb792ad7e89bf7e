/**
 * Speculative greedy decoding (prompt-lookup drafts verified in one run) must give exactly what plain
 * greedy decoding gives: tokens, text, finish reason, streamed events, cache reuse afterwards,
 * cancellation and deadlines. Checked on the fake model (logits are an exact function of the history,
 * so any wrong or stale K/V shows) and on a tiny random checkpoint through onnxruntime.
 */
import assert from 'node:assert/strict';
import { NAMED_CONFIGS } from '../../src/engine/config';
import { CancelledError } from '../../src/engine/errors';
import { Generator, type GenerateRequest, type GenerateResult, type TokenEvent } from '../../src/engine/generator';
import { OrtModel } from '../../src/engine/ortModel';
import { Rng } from '../../src/engine/random';
import { getTokenizer } from '../../src/engine/tokenizer';
import { FakeModel, fakeTokenizer, hashTokens, type FakeModelOptions } from '../helpers/fakeModel';
import { testWeights } from '../helpers/randomWeights';
import { recomputeGreedy } from '../helpers/recomputeGreedy';

const LETTERS = 'abcdefgh .\n'.split('').map((c) => c.charCodeAt(0));

/**
 * A fake model that mostly continues the text's period (copies the token `period` back), and at
 * hashed histories (about one in `every`) does something else: drafts are accepted for a while and
 * then rejected.
 */
function repeatingModel(period: number, every: number, extra: FakeModelOptions = {}): FakeModelOptions {
  return { ...extra, forced: (h) => (h.length >= period && hashTokens(h) % every !== 0 ? h[h.length - period] : undefined) };
}

function randomLetters(rng: Rng, length: number): number[] {
  return Array.from({ length }, () => LETTERS[Math.floor(rng.next() * LETTERS.length)]);
}

/** A prompt that repeats a random unit of `period` letters. */
function repeatingPrompt(rng: Rng, period: number, length: number): number[] {
  const unit = randomLetters(rng, period);
  return Array.from({ length }, (_, i) => unit[i % period]);
}

/** What a request returns, without timings. */
const outcome = (r: GenerateResult) => ({ candidates: r.candidates, promptTokens: r.promptTokens, droppedTokens: r.droppedTokens });

async function runWithEvents(gen: Generator, req: GenerateRequest): Promise<{ result: GenerateResult; events: TokenEvent[] }> {
  const events: TokenEvent[] = [];
  const result = await gen.generate({ ...req, onToken: (e) => events.push(e) });
  return { result, events };
}

describe('speculative greedy decoding (fake model)', function () {
  this.timeout(60_000); // the fake model fills a 50257-wide row per logit position
  it('equals plain greedy over random requests, stop rules and token limits included', async () => {
    const rng = new Rng(11);
    let drafted = 0, accepted = 0, plainSteps = 0, specSteps = 0;
    for (let trial = 0; trial < 120; trial++) {
      const period = 2 + Math.floor(rng.next() * 8);
      const options = repeatingModel(period, 3 + Math.floor(rng.next() * 10), { nPositions: 96, seed: trial });
      const prompt = trial % 4 === 3 ? randomLetters(rng, 5 + Math.floor(rng.next() * 30)) : repeatingPrompt(rng, period, 5 + Math.floor(rng.next() * 40));
      const req: GenerateRequest = {
        promptTokens: prompt,
        maxTokens: 1 + Math.floor(rng.next() * 40),
        stopStrings: rng.next() < 0.3 ? [String.fromCharCode(LETTERS[Math.floor(rng.next() * 8)]) + 'a'] : undefined,
        maxLines: rng.next() < 0.3 ? 1 + Math.floor(rng.next() * 3) : undefined,
        stopAtEndOfText: rng.next() < 0.7,
        minTokens: rng.next() < 0.2 ? 3 : undefined,
        draftTokens: 1 + Math.floor(rng.next() * 10),
      };
      const plainModel = new FakeModel(options), specModel = new FakeModel(options);
      const plain = await runWithEvents(new Generator(plainModel, fakeTokenizer), { ...req, draftTokens: 0 });
      const spec = await runWithEvents(new Generator(specModel, fakeTokenizer), req);
      assert.deepEqual(outcome(spec.result), outcome(plain.result), `trial ${trial}`);
      assert.deepEqual(spec.events, plain.events, `trial ${trial}: streamed tokens`);
      assert.equal(spec.result.timings.decodeTokens, plain.result.timings.decodeTokens);
      // Never past maxTokens: the last run ends at prompt + maxTokens - 1 positions at most.
      for (const c of specModel.calls.slice(1)) assert.ok(c.pastLength + c.newTokens <= prompt.length + req.maxTokens - 1, `trial ${trial}`);
      assert.equal(specModel.calls.length, 1 + spec.result.timings.decodeSteps);
      drafted += spec.result.timings.draftTokens;
      accepted += spec.result.timings.acceptedDraftTokens;
      plainSteps += plain.result.timings.decodeSteps;
      specSteps += spec.result.timings.decodeSteps;
    }
    assert.ok(accepted > 0 && drafted > accepted, `both outcomes exercised: ${accepted} of ${drafted} drafts accepted`);
    assert.ok(specSteps < plainSteps * 0.6, `fewer model runs: ${specSteps} vs ${plainSteps}`);
  });

  it('a warm cache after rolled-back drafts serves the next requests as a cold one would', async () => {
    const options = repeatingModel(5, 4, { nPositions: 128, seed: 2 });
    const model = new FakeModel(options);
    const warm = new Generator(model, fakeTokenizer);
    const rng = new Rng(5);
    let prompt = repeatingPrompt(rng, 5, 20);
    let rolledBack = 0, reused = 0;
    for (let i = 0; i < 40; i++) {
      const req: GenerateRequest = { promptTokens: prompt, maxTokens: 1 + Math.floor(rng.next() * 12), stopAtEndOfText: false };
      const got = await warm.generate(req);
      rolledBack += got.timings.draftTokens - got.timings.acceptedDraftTokens;
      reused += got.reusedTokens;
      const want = await new Generator(new FakeModel(options), fakeTokenizer, { draftTokens: 0 }).generate(req);
      assert.deepEqual(outcome(got), outcome(want), `request ${i}`);
      // The cache holds the prompt and a prefix of what was generated, nothing rejected.
      const cached = warm.cachedTokens;
      assert.deepEqual(cached.slice(0, got.promptTokens), prompt.slice(got.droppedTokens));
      assert.deepEqual(cached.slice(got.promptTokens), got.candidates[0].tokens.slice(0, cached.length - got.promptTokens));
      // Accept the suggestion and type a little, or edit the end.
      prompt = rng.next() < 0.7 ? [...prompt, ...got.candidates[0].tokens, ...randomLetters(rng, Math.floor(rng.next() * 3))] : prompt.slice(0, -2);
      if (prompt.length > 100) prompt = repeatingPrompt(rng, 5, 20);
    }
    assert.ok(rolledBack > 0 && reused > 0, `rolled back ${rolledBack} drafts, reused ${reused} tokens`);
  });

  it('cancellation inside an accepted run emits nothing after the abort and keeps a consistent cache', async () => {
    const options = repeatingModel(4, 1000, { stepDelayMs: 2 }); // drafts (almost) always right
    for (const abortAt of [3, 4, 5, 8]) {
      const model = new FakeModel(options);
      const gen = new Generator(model, fakeTokenizer, { draftTokens: 6 });
      const prompt = repeatingPrompt(new Rng(abortAt), 4, 12);
      const controller = new AbortController();
      const seen: number[] = [];
      const run = gen.generate({
        promptTokens: prompt, maxTokens: 30, stopAtEndOfText: false, signal: controller.signal,
        onToken: (e) => {
          seen.push(e.token);
          if (seen.length === abortAt) controller.abort();
        },
      });
      await assert.rejects(run, CancelledError);
      assert.equal(seen.length, abortAt, 'no token after the abort');
      assert.ok(model.calls.length < abortAt, 'the abort fell inside a run of accepted drafts');
      const cached = gen.cachedTokens.slice();
      assert.deepEqual(cached.slice(0, prompt.length), prompt);
      assert.ok(cached.length <= prompt.length + abortAt);
      assert.deepEqual(cached.slice(prompt.length), seen.slice(0, cached.length - prompt.length));
      const next = { promptTokens: [...prompt, ...seen], maxTokens: 10 };
      const r = await gen.generate(next);
      assert.equal(r.reusedTokens, Math.min(cached.length, next.promptTokens.length - 1));
      assert.deepEqual(outcome(r), outcome(await new Generator(new FakeModel(options), fakeTokenizer, { draftTokens: 0 }).generate(next)));
    }
  });

  it('a deadline ends at the same token as plain decoding (fake clock)', async () => {
    const options = repeatingModel(3, 1000);
    const prompt = repeatingPrompt(new Rng(9), 3, 9);
    const results: GenerateResult[] = [];
    for (const draftTokens of [0, 8]) {
      let clock = 0;
      const model = new FakeModel(options);
      const gen = new Generator(model, fakeTokenizer, { now: () => clock, draftTokens });
      results.push(await gen.generate({ promptTokens: prompt, maxTokens: 20, stopAtEndOfText: false, deadlineMs: 35, onToken: () => (clock += 10) }));
    }
    const [plain, spec] = results;
    assert.equal(spec.candidates[0].finishReason, 'deadline');
    assert.equal(spec.candidates[0].tokens.length, 5);
    assert.deepEqual(outcome(spec), outcome(plain));
    assert.ok(spec.timings.decodeSteps < plain.timings.decodeSteps);
  });

  it('runs one token per step when off, sampling, or decoding several candidates', async () => {
    const options = repeatingModel(3, 1000);
    const prompt = repeatingPrompt(new Rng(1), 3, 12);
    const cases: Partial<GenerateRequest>[] = [{ draftTokens: 0 }, { temperature: 0.7 }, { n: 2 }];
    for (const c of cases) {
      const model = new FakeModel(options);
      const r = await new Generator(model, fakeTokenizer).generate({ promptTokens: prompt, maxTokens: 10, stopAtEndOfText: false, ...c });
      assert.ok(model.calls.slice(1).every((call) => call.newTokens === 1), JSON.stringify(c));
      assert.equal(r.timings.draftTokens, 0);
    }
    // And the default greedy request does draft.
    const model = new FakeModel(options);
    await new Generator(model, fakeTokenizer).generate({ promptTokens: prompt, maxTokens: 10, stopAtEndOfText: false });
    assert.ok(model.calls.slice(1).some((call) => call.newTokens > 1));
  });

  it('fits the context window when maxTokens nearly fills it', async () => {
    const options = repeatingModel(4, 1000, { nPositions: 32 });
    const prompt = repeatingPrompt(new Rng(3), 4, 40); // longer than the context: the window drops some
    const req = { promptTokens: prompt, maxTokens: 28, stopAtEndOfText: false };
    const spec = await new Generator(new FakeModel(options), fakeTokenizer, { windowChunk: 8 }).generate(req);
    const plain = await new Generator(new FakeModel(options), fakeTokenizer, { windowChunk: 8, draftTokens: 0 }).generate(req);
    assert.equal(spec.candidates[0].tokens.length, 28);
    assert.deepEqual(outcome(spec), outcome(plain));
  });

  it('rejects a draftTokens that is not a whole number', async () => {
    const gen = new Generator(new FakeModel(), fakeTokenizer);
    await assert.rejects(gen.generate({ promptTokens: [97], maxTokens: 3, draftTokens: -1 }), /draftTokens/);
    await assert.rejects(gen.generate({ promptTokens: [97], maxTokens: 3, draftTokens: 1.5 }), /draftTokens/);
    assert.throws(() => new Generator(new FakeModel(), fakeTokenizer, { draftTokens: NaN }), /draftTokens/);
  });
});

describe('speculative greedy decoding (OrtModel, tiny random checkpoint)', function () {
  this.timeout(300_000);
  const config = NAMED_CONFIGS.tiny; // the real vocabulary, 128 positions
  const tokenizer = getTokenizer();
  let model: OrtModel;

  before(async () => {
    // Scaled random weights: large logit gaps, so a batched run and single steps pick the same argmax.
    model = await OrtModel.load({ weights: testWeights(config, 7), device: 'cpu', threads: 1 });
  });
  after(async () => model?.dispose());

  const code = [
    'def add(a, b):\n    return a + b\n\ndef sub(a, b):\n    return a - b\n\ndef mul(a, b):\n    return',
    'x0 = f(0);\nx1 = f(1);\nx2 = f(2);\nx3 = f(3);\nx4 = f(',
    'import { a } from "./a";\nimport { b } from "./b";\nimport { c } from "./',
    'for (let i = 0; i < n; i++) {\n  for (let j = 0; j < n; j++) {\n',
    'the the the the the the the',
  ];

  function promptFor(i: number, rng: Rng): number[] {
    if (i < code.length) return tokenizer.encode(code[i]);
    if (i % 2 === 0) {
      const unit = Array.from({ length: 2 + (i % 5) }, () => Math.floor(rng.next() * 50000));
      return Array.from({ length: 10 + (i % 30) }, (_, j) => unit[j % unit.length]); // engineered repeats
    }
    return Array.from({ length: 5 + (i % 40) }, () => Math.floor(rng.next() * 50000)); // random
  }

  it('equals plain greedy token for token over many prompts', async () => {
    const rng = new Rng(17);
    let drafted = 0, accepted = 0;
    for (let i = 0; i < 30; i++) {
      const prompt = promptFor(i, rng);
      const req: GenerateRequest = {
        promptTokens: prompt,
        maxTokens: 1 + ((i * 7) % 40),
        stopAtEndOfText: i % 3 !== 0,
        maxLines: i % 4 === 1 ? 2 : undefined,
        stopStrings: i % 5 === 2 ? [')'] : undefined,
      };
      const plain = await runWithEvents(new Generator(model, tokenizer, { draftTokens: 0 }), req);
      const spec = await runWithEvents(new Generator(model, tokenizer, { draftTokens: 1 + (i % 10) }), req);
      assert.deepEqual(outcome(spec.result), outcome(plain.result), `prompt ${i}`);
      assert.deepEqual(spec.events, plain.events, `prompt ${i}: streamed tokens`);
      drafted += spec.result.timings.draftTokens;
      accepted += spec.result.timings.acceptedDraftTokens;
    }
    assert.ok(accepted > 0 && drafted > accepted, `both outcomes exercised: ${accepted} of ${drafted} drafts accepted`);
  });

  it('rolling back drafted K/V leaves the cache equal to recomputing', async () => {
    const prompt = tokenizer.encode('function add(a, b) {\n  return');
    const drafts = tokenizer.encode(' a + b;\n}');
    const last = prompt.length - 1;
    const { cache: past } = await model.forward([prompt.slice(0, last)], null);
    const verify = await model.forward([[prompt[last], ...drafts]], past, [0, 1, 2, 3, 4]);
    // Keep the last prompt token and two drafts; the rest of the run is rolled back.
    const kept = model.truncate(verify.cache, last + 3);
    assert.equal(kept.length, last + 3);
    const next = 13; // any token other than drafts[2]
    const continued = await model.forward([[next, drafts[3]]], kept, [0, 1]);
    const seq = [...prompt, drafts[0], drafts[1], next, drafts[3]];
    const fresh = await model.forward([seq], null, [seq.length - 2, seq.length - 1]);
    let maxDiff = 0;
    for (let i = 0; i < fresh.logits.length; i++) maxDiff = Math.max(maxDiff, Math.abs(fresh.logits[i] - continued.logits[i]));
    assert.ok(maxDiff < 1e-3, `max |logit difference| ${maxDiff}`);
    assert.throws(() => model.truncate(verify.cache, 1), /overwrote|stale/i, 'the pre-rollback handle is stale after the overwrite');
  });

  it('a request after rolled-back drafts reuses the cache and equals recomputation', async () => {
    const gen = new Generator(model, tokenizer, { draftTokens: 8 });
    const rng = new Rng(23);
    let rolledBack = 0;
    for (let i = 0; i < 8; i++) {
      const prompt = promptFor(i, rng);
      const first = await gen.generate({ promptTokens: prompt, maxTokens: 20, stopAtEndOfText: false });
      rolledBack += first.timings.draftTokens - first.timings.acceptedDraftTokens;
      const next = [...prompt, ...first.candidates[0].tokens.slice(0, 10)];
      const warm = await gen.generate({ promptTokens: next, maxTokens: 12, stopAtEndOfText: false });
      assert.ok(warm.reusedTokens >= next.length - 1, `request ${i}: reused ${warm.reusedTokens} of ${next.length}`);
      assert.deepEqual(warm.candidates[0].tokens, await recomputeGreedy(model, next, 12), `request ${i}`);
    }
    assert.ok(rolledBack > 0, 'some drafts were rejected and rolled back');
  });
});
