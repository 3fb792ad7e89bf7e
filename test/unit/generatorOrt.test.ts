/**
 * The generator on the real ONNX Runtime model (tiny random GPT-2, CPU): the KV cache, its reuse
 * across requests, batching and the scorer must give what recomputing everything from scratch gives.
 */
import assert from 'node:assert/strict';
import { NAMED_CONFIGS } from '../../src/engine/config';
import { CompletionEngine } from '../../src/engine/engine';
import { Generator } from '../../src/engine/generator';
import { OrtModel } from '../../src/engine/ortModel';
import { logSumExp } from '../../src/engine/sampling';
import { getTokenizer } from '../../src/engine/tokenizer';
import { testWeights } from '../helpers/randomWeights';
import { recomputeGreedy } from '../helpers/recomputeGreedy';

describe('Generator on OrtModel', function () {
  this.timeout(120_000);
  const config = NAMED_CONFIGS.tiny; // the real vocabulary, 128 positions
  let model: OrtModel;
  const tokenizer = getTokenizer();
  const prompt = tokenizer.encode('function add(a, b) {\n  return');

  before(async () => {
    // Scaled random weights: large logit gaps, so greedy choices do not hinge on rounding.
    model = await OrtModel.load({ weights: testWeights(config, 7), device: 'cpu', threads: 1 });
  });
  after(async () => model?.dispose());

  it('greedy decoding with the KV cache equals recomputing every step', async () => {
    const gen = new Generator(model, tokenizer);
    const r = await gen.generate({ promptTokens: prompt, maxTokens: 24, stopAtEndOfText: false });
    const want = await recomputeGreedy(model, prompt, 24);
    assert.deepEqual(r.candidates[0].tokens, want);
    assert.equal(r.candidates[0].text, tokenizer.decode(want));
  });

  it('a warm request after a one-token prefix edit equals a cold one', async () => {
    const gen = new Generator(model, tokenizer);
    await gen.generate({ promptTokens: prompt, maxTokens: 10, stopAtEndOfText: false });
    const k = prompt.length - 3;
    const edited = prompt.map((t, i) => (i === k ? tokenizer.encode(' x')[0] : t));
    const warm = await gen.generate({ promptTokens: edited, maxTokens: 10, stopAtEndOfText: false });
    assert.equal(warm.reusedTokens, k);
    const cold = await new Generator(model, tokenizer).generate({ promptTokens: edited, maxTokens: 10, stopAtEndOfText: false });
    assert.equal(cold.reusedTokens, 0);
    assert.deepEqual(warm.candidates, cold.candidates);
    assert.deepEqual(warm.candidates[0].tokens, await recomputeGreedy(model, edited, 10));
  });

  it('n sampled candidates in one batch equal each seed run alone', async () => {
    const gen = new Generator(model, tokenizer);
    const req = { promptTokens: prompt, maxTokens: 8, temperature: 1, topK: 50, seed: 3, stopAtEndOfText: false };
    const batch = await gen.generate({ ...req, n: 3 });
    for (let row = 0; row < 3; row++) {
      const alone = await new Generator(model, tokenizer).generate({ ...req, seed: req.seed + row });
      assert.deepEqual(batch.candidates[row], alone.candidates[0], `row ${row}`);
    }
  });

  it('score matches per-prefix log-softmax, across context windows', async () => {
    const engine = new CompletionEngine(model, tokenizer);
    const text = Array.from({ length: 40 }, (_, i) => `x${i} = f(${i});`).join('\n');
    const r = await engine.score(text);
    assert.ok(r.tokens.length > config.nPositions, 'the text spans two windows');
    for (const i of [0, 5, config.nPositions - 1, config.nPositions, r.tokens.length - 2]) {
      const start = Math.floor(i / config.nPositions) * config.nPositions;
      const { logits } = await model.forward([r.tokens.slice(start, i + 1)], null);
      const want = logits[r.tokens[i + 1]] - logSumExp(logits);
      assert.ok(Math.abs(r.logprobs[i] - want) < 1e-3, `position ${i}: ${r.logprobs[i]} vs ${want}`);
    }
    assert.ok(Math.abs(r.loss + r.logprobs.reduce((a, b) => a + b, 0) / r.logprobs.length) < 1e-9);
  });
});
