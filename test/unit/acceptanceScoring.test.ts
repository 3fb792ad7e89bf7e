/**
 * The engine side of the acceptance head on a real (tiny, random) ONNX model: the generator's
 * hiddenAt gives the reference forward pass's final state and reuses the KV cache, afterPrefill can
 * end a request before decoding, and completeWithEngine scores the post-processed candidate (and
 * skips decoding when the prompt head says so and gating is on).
 */
import assert from 'node:assert/strict';
import type { EngineCompleteRequest } from '../../src/completion/backend';
import { completeWithEngine, SUGGESTION_FEATURES, type ConfidenceHead, type RequestStates } from '../../src/completion/engineCompletion';
import { LINE_BELOW_TOKENS, lineBelow, READ_TOKENS, readCandidate, readLineBelow } from '../../src/completion/candidateReading';
import { modelLogProb } from '../../src/engine/cacheModel/mixture';
import { postprocessCompletion, postprocessContextAt } from '../../src/completion/postprocess';
import { NAMED_CONFIGS } from '../../src/engine/config';
import { CompletionEngine } from '../../src/engine/engine';
import { OrtModel } from '../../src/engine/ortModel';
import { getTokenizer } from '../../src/engine/tokenizer';
import { referenceHidden, referenceLogits } from '../reference/gpt2Reference';
import { WorkspaceCache } from '../../src/completion/context/workspaceCache';
import { logSumExp } from '../../src/engine/sampling';
import { testWeights } from '../helpers/randomWeights';

describe('acceptance scoring on OrtModel', function () {
  this.timeout(120_000);
  const config = NAMED_CONFIGS.tiny;
  const weights = testWeights(config, 7);
  const tokenizer = getTokenizer();
  let model: OrtModel;
  before(async () => { model = await OrtModel.load({ weights, device: 'cpu', threads: 1 }); });
  after(async () => model?.dispose());

  const close = (a: ArrayLike<number>, b: ArrayLike<number>) => {
    assert.equal(a.length, b.length);
    for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i] - b[i]) < 1e-4, `index ${i}: ${a[i]} vs ${b[i]}`);
  };

  it('hiddenAt: the reference final state at the last token, running only what the cache lacks', async () => {
    const engine = new CompletionEngine(model, tokenizer);
    const prompt = tokenizer.encode('def add(a, b):\n    return');
    const r = await engine.generator.generate({ promptTokens: prompt, maxTokens: 6, stopAtEndOfText: false });
    const generated = r.candidates[0].tokens;
    const seq = [...prompt, ...generated.slice(0, 3)];
    const calls: number[] = [];
    const forward = model.forward.bind(model);
    model.forward = (tokens, past, positions) => { calls.push(tokens[0].length); return forward(tokens, past, positions); };
    try {
      const h = await engine.generator.hiddenAt(seq);
      const E = config.nEmbd;
      close(h!, referenceHidden(weights, seq).subarray((seq.length - 1) * E, seq.length * E));
      assert.deepEqual(calls, [1], 'one forward of one token: the rest was cached');
      assert.deepEqual(engine.generator.cachedTokens, seq);
    } finally {
      model.forward = forward;
    }
  });

  it('scoreTail: the reference logits predicting the tail and the final state, rerunning from the first scored position', async () => {
    const engine = new CompletionEngine(model, tokenizer);
    const prompt = tokenizer.encode('def add(a, b):\n    return');
    await engine.generator.generate({ promptTokens: prompt, maxTokens: 4, stopAtEndOfText: false });
    const seq = [...prompt, ...tokenizer.encode(' a + b  # sum')];
    const calls: number[] = [];
    const forward = model.forward.bind(model);
    model.forward = (tokens, past, positions) => { calls.push(tokens[0].length); return forward(tokens, past, positions); };
    try {
      const { hidden, logits, logNorms, count } = await engine.generator.scoreTail(seq, prompt.length);
      const V = config.vocabSize, E = config.nEmbd;
      assert.equal(count, seq.length - prompt.length);
      assert.equal(logNorms?.length, count);
      const want = referenceLogits(weights, seq);
      for (let j = 0; j < count; j++) {
        const at = prompt.length - 1 + j; // the position predicting seq[prompt.length + j]
        close(logits.subarray(j * V, (j + 1) * V), want.subarray(at * V, (at + 1) * V));
        assert.ok(Math.abs(logNorms![j] - logSumExp(want.subarray(at * V, (at + 1) * V))) < 1e-4);
      }
      close(hidden!, referenceHidden(weights, seq).subarray((seq.length - 1) * E, seq.length * E));
      assert.deepEqual(calls, [seq.length - prompt.length + 1], 'the prompt but its last token came from the cache');
      assert.deepEqual(engine.generator.cachedTokens, seq);
      // At most maxCount logits: the first tokens' (the output head is the costly part); h is still the last token's.
      const capped = await engine.generator.scoreTail(seq, prompt.length, undefined, 2);
      assert.equal(capped.count, 2);
      assert.equal(capped.logits.length, 2 * V);
      close(capped.logits, logits.subarray(0, 2 * V));
      close(capped.hidden!, hidden!);
    } finally {
      model.forward = forward;
    }
  });

  it('logitsAt: the reference logits at chosen positions only, rerunning from the first of them', async () => {
    const engine = new CompletionEngine(model, tokenizer);
    const prompt = tokenizer.encode('def add(a, b):\n    return');
    await engine.generator.generate({ promptTokens: prompt, maxTokens: 4, stopAtEndOfText: false });
    const seq = [...prompt, ...tokenizer.encode(' a + b\n\nprint(add(1, 2))')];
    const at = [prompt.length + 2, prompt.length + 5, seq.length - 1];
    const calls: number[][] = [];
    const forward = model.forward.bind(model);
    model.forward = (tokens, past, positions) => { calls.push([tokens[0].length, positions?.length ?? 1]); return forward(tokens, past, positions); };
    try {
      const { logits, logNorms } = await engine.generator.logitsAt(seq, at);
      const V = config.vocabSize;
      const want = referenceLogits(weights, seq);
      at.forEach((a, i) => close(logits.subarray(i * V, (i + 1) * V), want.subarray((a - 1) * V, a * V)));
      // The graph's normaliser of each row (its log-softmax), as the reference's log Σ exp.
      at.forEach((a, i) => assert.ok(Math.abs(logNorms![i] - logSumExp(want.subarray((a - 1) * V, a * V))) < 1e-4, `row ${i}: ${logNorms![i]}`));
      assert.deepEqual(calls, [[seq.length - prompt.length, 3]], 'one forward of what the cache lacks (it holds the prompt), three rows of logits');
      assert.deepEqual(engine.generator.cachedTokens, seq);
      await assert.rejects(engine.generator.logitsAt(seq, [5, 5]), /ascend/);
      await assert.rejects(engine.generator.logitsAt(seq, [seq.length]), /ascend/);
    } finally {
      model.forward = forward;
    }
  });

  it('completeWithEngine: each workspace candidate is read after the prompt (the head input, its log P with the cache model mixed in)', async () => {
    const engine = new CompletionEngine(model, tokenizer);
    const workspace = new WorkspaceCache(tokenizer);
    const line = 'total = compute_total(items, tax_rate)';
    workspace.setFile('/ws/other.py', `${line}\n${line}\n${line}\n`);
    const text = 'import os\ntotal =';
    let states: RequestStates | undefined;
    const req = request(text, { cacheModel: true, documentPath: '/ws/doc.py', textAfterCursor: '' });
    await completeWithEngine(engine, req, undefined, undefined, { workspace, onStates: (s) => (states = s) });
    const lookup = states!.offered.find((o) => o.source === 'lookup');
    assert.ok(lookup !== undefined, `the workspace line is offered (${JSON.stringify(states!.offered)})`);
    assert.equal(lookup.text, ' compute_total(items, tax_rate)');
    const tokens = tokenizer.encode(text + lookup.text);
    const E = config.nEmbd, V = config.vocabSize;
    close(lookup.x.subarray(0, E), referenceHidden(weights, tokens).subarray((tokens.length - 1) * E, tokens.length * E));
    const promptTokens = tokenizer.encode(text);
    let from = 0;
    while (tokens[from] === promptTokens[from]) from++;
    assert.ok(tokens.length - from > READ_TOKENS, 'the line is longer than what is read of it');
    assert.equal(lookup.logprobs.length, READ_TOKENS, 'one log P per token after the prompt, the first READ_TOKENS');
    // The cache model saw the line three times: it makes the line likelier than the random model alone does.
    const raw = referenceLogits(weights, tokens);
    const rawLp = lookup.logprobs.map((_, j) => {
      const row = raw.subarray((from - 1 + j) * V, (from + j) * V);
      return row[tokens[from + j]] - logSumExp(row);
    });
    const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
    assert.ok(lookup.logprobs.every((lp) => lp <= 0));
    assert.ok(sum(lookup.logprobs) > sum(rawLp) + 1, `mixed ${sum(lookup.logprobs)} vs model alone ${sum(rawLp)}`);
    // Without a workspace candidate nothing is read.
    await completeWithEngine(engine, request('import os\nqqq ='), undefined, undefined, { onStates: (s) => (states = s) });
    assert.deepEqual(states!.offered, []);
  });

  it('lineBelow: the rest of the cursor line down to the nearest non-blank line', () => {
    assert.equal(lineBelow(')\n\n  \n    return x\nmore'), ')\n\n  \n    return x');
    assert.equal(lineBelow('\r\nnext\r\n'), '\nnext');
    assert.equal(lineBelow('  # rest of the line only'), '');
    assert.equal(lineBelow('\n\n   \n'), '');
  });

  it('readLineBelow: mean reference log P of the first token after the candidate and the next line\'s first words, indentation skipped', async () => {
    const engine = new CompletionEngine(model, tokenizer);
    const prompt = 'def add(a, b):\n', shown = '    total = a + b', below = '\n        return total * 2 + 1';
    const got = await readLineBelow(engine, prompt, 0, shown, below, modelLogProb, undefined);
    const own = tokenizer.encode(prompt + shown), tokens = tokenizer.encode(prompt + shown + below);
    let from = 0;
    while (own[from] === tokens[from]) from++;
    const blank = (t: number) => tokenizer.decode([t]).trim() === '';
    const at = [from];
    for (let i = from + 1; i < tokens.length && at.length <= LINE_BELOW_TOKENS; i++) if (!blank(tokens[i])) at.push(i);
    assert.equal(at.length, 1 + LINE_BELOW_TOKENS);
    assert.ok(at.at(-1)! - at[0] > LINE_BELOW_TOKENS, 'the indentation\'s space tokens were skipped');
    const V = config.vocabSize, raw = referenceLogits(weights, tokens);
    const want = at.reduce((sum, t) => { const row = raw.subarray((t - 1) * V, t * V); return sum + Math.max(-10, row[tokens[t]] - logSumExp(row)); }, 0) / at.length;
    assert.ok(Math.abs(got! - want) < 1e-4, `${got} vs ${want}`);
    assert.equal(await readLineBelow(engine, prompt, 0, shown, '', modelLogProb, undefined), undefined, 'nothing below');
    // Past the context window nothing is read (the KV cache holds the window from its start).
    const filler = tokenizer.decode(tokenizer.encode('x = 1\n'.repeat(config.nPositions)).slice(0, config.nPositions - tokenizer.encode(prompt + shown).length - 3));
    assert.ok(tokenizer.encode(filler + prompt + shown + below).length > config.nPositions, 'the line below does not fit');
    assert.equal(await readLineBelow(engine, filler + prompt, 0, shown, below, modelLogProb, undefined), undefined);
  });

  it('completeWithEngine: the line below is read after each candidate, likelier after the one the workspace saw before it', async () => {
    const engine = new CompletionEngine(model, tokenizer);
    const workspace = new WorkspaceCache(tokenizer);
    workspace.setFile('/ws/other.py', 'total = compute_total(items, tax_rate)\nreport_total(total, currency)\n'.repeat(3));
    const text = 'import os\ntotal =';
    let states: RequestStates | undefined;
    await completeWithEngine(engine, request(text, { cacheModel: true, documentPath: '/ws/doc.py', textAfterCursor: '\nreport_total(total, currency)\n' }), undefined, undefined, { workspace, onStates: (s) => (states = s) });
    const lookup = states!.offered.find((o) => o.source === 'lookup')!;
    const own = states!.candidates[0]!;
    assert.ok(lookup.next !== undefined && own.next !== undefined);
    assert.ok(lookup.next > own.next + 1, `after the workspace's line ${lookup.next}, after the model's ${JSON.stringify(own.text)} ${own.next}`);
    await completeWithEngine(engine, request(text, { cacheModel: true, documentPath: '/ws/doc.py', textAfterCursor: '' }), undefined, undefined, { workspace, onStates: (s) => (states = s) });
    assert.equal(states!.offered.find((o) => o.source === 'lookup')!.next, undefined, 'no line below: nothing read');
  });

  it('readCandidate: h, log P and the fit to the line below in one forward, equal to the reference and to readLineBelow', async () => {
    const engine = new CompletionEngine(model, tokenizer);
    const prompt = 'def add(a, b):\n    return';
    await engine.generator.generate({ promptTokens: tokenizer.encode(prompt), maxTokens: 4, stopAtEndOfText: false });
    const shown = ' a + b', below = '\n\nprint(add(1, 2))';
    const promptTokens = tokenizer.encode(prompt);
    const tokens = tokenizer.encode(prompt + shown);
    const calls: number[] = [];
    const forward = model.forward.bind(model);
    model.forward = (t, past, positions) => { calls.push(t[0].length); return forward(t, past, positions); };
    let read: Awaited<ReturnType<typeof readCandidate>>;
    try {
      read = await readCandidate(engine, tokens, prompt, 0, shown, below, modelLogProb, undefined, promptTokens);
    } finally {
      model.forward = forward;
    }
    assert.equal(calls.length, 1, 'one forward for the candidate and the line below');
    const E = config.nEmbd, V = config.vocabSize;
    close(read!.h!, referenceHidden(weights, tokens).subarray((tokens.length - 1) * E, tokens.length * E));
    let first = 0; // the first token of prompt ++ shown that the prompt alone does not spell
    while (tokens[first] === promptTokens[first]) first++;
    const raw = referenceLogits(weights, tokens);
    const want = tokens.slice(first, first + READ_TOKENS).map((t, j) => {
      const row = raw.subarray((first - 1 + j) * V, (first + j) * V);
      return row[t] - logSumExp(row);
    });
    close(Float32Array.from(read!.logprobs!), Float32Array.from(want));
    const separate = await readLineBelow(engine, prompt, 0, shown, below, modelLogProb, undefined);
    assert.ok(read!.next !== undefined && Math.abs(read!.next - separate!) < 1e-4, `${read!.next} vs ${separate}`);
    // Without a line below: no fit, the same h and log P.
    const plain = await readCandidate(engine, tokens, prompt, 0, shown, '', modelLogProb, undefined, promptTokens);
    assert.equal(plain!.next, undefined);
    close(plain!.h!, read!.h!);
    close(Float32Array.from(plain!.logprobs!), Float32Array.from(read!.logprobs!));
  });

  it('afterPrefill sees the prompt state and can end the request before decoding', async () => {
    const engine = new CompletionEngine(model, tokenizer);
    const prompt = tokenizer.encode('x = 1\ny =');
    let seen: Float32Array | undefined;
    const r = await engine.generator.generate({ promptTokens: prompt, maxTokens: 8, afterPrefill: (h) => { seen = h.slice(); return false; } });
    assert.equal(r.stoppedAfterPrefill, true);
    assert.deepEqual(r.candidates, []);
    assert.equal(r.timings.decodeSteps, 0);
    const E = config.nEmbd;
    close(seen!, referenceHidden(weights, prompt).subarray((prompt.length - 1) * E, prompt.length * E));
  });

  function request(text: string, extra: Partial<EngineCompleteRequest> = {}): EngineCompleteRequest {
    return {
      textBeforeCursor: text, previousWindowStart: undefined, maxTokens: 8, temperature: 0, topP: undefined, seed: 0, n: 1,
      maxLines: 1, deadlineMs: undefined, postprocess: postprocessContextAt(text, text.length, 'python', '    '), ...extra,
    };
  }

  /** A head whose P is a fixed function of h's first entries, so the test can recompute it. */
  function fixedHead(skipBelow: number, promptP = 0.01): ConfidenceHead & { seen: Float32Array[] } {
    const seen: Float32Array[] = [];
    return {
      nEmbd: config.nEmbd, skipBelow, seen,
      suggestion: (h) => { seen.push(h.slice()); return 1 / (1 + Math.exp(-h[0])); },
      prompt: () => promptP,
    };
  }

  it('completeWithEngine: confidence is the head on h at prompt ++ the post-processed candidate', async () => {
    const engine = new CompletionEngine(model, tokenizer);
    const text = 'import os\nvalue = os.path.join(';
    const head = fixedHead(0.5);
    let states: RequestStates | undefined;
    const req = request(text);
    const r = await completeWithEngine(engine, req, undefined, undefined, { head, onStates: (s) => (states = s) });
    const shown = postprocessCompletion(r.candidates[0].text, req.postprocess!);
    assert.ok(shown !== null && shown.trim() !== '', `this prompt gives a shown candidate (${JSON.stringify(r.candidates[0].text)})`);
    assert.equal(states!.candidates[0]!.text, shown);
    const tokens = tokenizer.encode(text + shown);
    const E = config.nEmbd;
    const want = referenceHidden(weights, tokens).subarray((tokens.length - 1) * E, tokens.length * E);
    const x = head.seen[0];
    assert.equal(x.length, E + SUGGESTION_FEATURES.length, 'h, then the scalar features');
    close(x.subarray(0, E), want);
    const [meanLp, minLp, lineStart, logLength] = x.subarray(E);
    assert.ok(minLp <= meanLp && meanLp <= 0, `log-probabilities: mean ${meanLp}, min ${minLp}`);
    assert.equal(lineStart, 0, 'mid-line');
    assert.ok(Math.abs(logLength - Math.log1p(shown!.length) / 4) < 1e-6);
    assert.deepEqual(Array.from(states!.candidates[0]!.x), Array.from(x));
    assert.ok(Math.abs(r.candidates[0].confidence! - 1 / (1 + Math.exp(-want[0]))) < 1e-4);
    assert.equal(r.skippedBeforeDecoding, undefined, 'minConfidence 0: never skipped');
    assert.equal(r.promptConfidence, 0.01);
  });

  it('with gating on, a prompt head below skipBelow skips decoding; above it, decoding runs', async () => {
    const engine = new CompletionEngine(model, tokenizer);
    const skipped = await completeWithEngine(engine, request('a = [1, 2,', { minConfidence: 0.3 }), undefined, undefined, { head: fixedHead(0.5, 0.2) });
    assert.equal(skipped.skippedBeforeDecoding, true);
    assert.deepEqual(skipped.candidates, []);
    assert.equal(skipped.timings.decodeTokens, 0);
    const kept = await completeWithEngine(engine, request('a = [1, 2,', { minConfidence: 0.3 }), undefined, undefined, { head: fixedHead(0.5, 0.7) });
    assert.equal(kept.skippedBeforeDecoding, undefined);
    assert.ok(kept.timings.decodeTokens > 0);
  });
});
