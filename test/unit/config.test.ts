/** config.json checks: every dimension an integer in its range, named in one line, before anything is sized from it. */
import assert from 'node:assert/strict';
import * as os from 'os';
import { checkFitsInMemory, CONFIG_LIMITS, configFromHuggingFace, configToHuggingFace, NAMED_CONFIGS, parameterCount, parameterShapes, weightBytes } from '../../src/engine/config';
import { UserError } from '../../src/engine/errors';

const GOOD = configToHuggingFace(NAMED_CONFIGS.tiny);

function refuses(json: Record<string, unknown>, re: RegExp): void {
  assert.throws(() => configFromHuggingFace(json, 'x/config.json'), (e: unknown) => {
    assert.ok(e instanceof UserError, String(e));
    assert.match(e.message, re);
    assert.ok(e.message.startsWith('x/config.json: '));
    assert.ok(!/[\r\n]/.test(e.message));
    return true;
  });
}

describe('config', () => {
  it('reads a Hugging Face config.json', () => {
    assert.deepEqual(configFromHuggingFace(GOOD, 'c'), NAMED_CONFIGS.tiny);
    const { n_positions: _, ...old } = GOOD;
    assert.equal(configFromHuggingFace({ ...old, n_ctx: 77 }, 'c').nPositions, 77, 'n_ctx alone names the context');
  });

  const cases: [string, Record<string, unknown>, RegExp][] = [
    ['n_ctx 0 (and no n_positions)', { ...GOOD, n_positions: undefined, n_ctx: 0 }, /"n_ctx" must be an integer from 1 to 1048576 \(found 0\)/],
    ['n_positions 0', { ...GOOD, n_positions: 0 }, /"n_positions" must be an integer from 1 to/],
    ['no context at all', { ...GOOD, n_positions: undefined, n_ctx: undefined }, /"n_positions" must be an integer from 1 to \d+ \(found nothing\)/],
    ['n_layer 1e8', { ...GOOD, n_layer: 1e8 }, /"n_layer" must be an integer from 1 to 1024 \(found 100000000\)/],
    ['n_layer 2.5', { ...GOOD, n_layer: 2.5 }, /"n_layer" must be an integer/],
    ['n_embd negative', { ...GOOD, n_embd: -32 }, /"n_embd" must be an integer from 1/],
    ['n_head a string', { ...GOOD, n_head: '2' }, /"n_head" must be an integer from 1 to \d+ \(found "2"\)/],
    ['vocab_size past the limit', { ...GOOD, vocab_size: 2 ** 30 }, /"vocab_size" must be an integer from 1 to 16777216/],
    ['n_embd not divisible by n_head', { ...GOOD, n_head: 3 }, /n_embd \(32\) is not divisible by n_head \(3\)/],
    ['layer_norm_epsilon 0', { ...GOOD, layer_norm_epsilon: 0 }, /"layer_norm_epsilon" must be a number between 0 and 1/],
    ['an array', [] as unknown as Record<string, unknown>, /not a JSON object/],
  ];
  for (const [title, json, re] of cases) it(`refuses ${title}`, () => refuses(json, re));

  it('refuses n_layer 1e8 at once, without sizing anything', () => {
    const t0 = performance.now();
    refuses({ ...GOOD, n_layer: 1e8 }, /n_layer/);
    assert.ok(performance.now() - t0 < 50);
  });

  it('parameterCount is the sum of parameterShapes, by formula', () => {
    for (const c of [...Object.values(NAMED_CONFIGS), { ...NAMED_CONFIGS.tiny, vocabSize: 50304, nLayer: 5 }]) {
      let sum = 0;
      for (const shape of parameterShapes(c).values()) sum += shape.reduce((a, b) => a * b, 1);
      assert.equal(parameterCount(c), sum);
    }
    assert.equal(parameterCount(NAMED_CONFIGS.small), 124_439_808, 'gpt2 as Hugging Face counts it');
  });

  it('checkFitsInMemory says how much is needed and what the machine has', () => {
    const big = { ...NAMED_CONFIGS.xl, nLayer: CONFIG_LIMITS.n_layer, nEmbd: 16384, nHead: 128 };
    assert.throws(() => checkFitsInMemory(big, 16e9, 'm/config.json'), /^UserError: m\/config.json: a model of this shape \(3.30 trillion parameters\) needs ~13,198 GB of memory for its weights alone, this machine has 16 GB; check n_layer/);
    checkFitsInMemory(NAMED_CONFIGS.xl, os.totalmem() + weightBytes(NAMED_CONFIGS.xl), 'ok'); // fits
    assert.throws(() => checkFitsInMemory(NAMED_CONFIGS.xl, 4e9, 'm'), /needs ~6.2 GB .* this machine has 4.0 GB/);
  });
});
