import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { NAMED_CONFIGS, type GPT2Config } from '../../../src/engine/config';
import { RECIPE, TRAINING_BUDGET_SECONDS, chooseSteps, defaultMethod, parameterCount } from '../../../src/training/fineTune';

const REPO = path.resolve(__dirname, '../../..');

describe('fine-tuning recipe per model size', () => {
  it('counts parameters as GPT-2 has them (tied head)', () => {
    assert.equal(parameterCount(NAMED_CONFIGS.small), 124_439_808);
  });

  it('trains every weight of the embedded model and a LoRA adapter of gpt2 and larger', () => {
    const raw = JSON.parse(fs.readFileSync(path.join(REPO, 'models', 'embedded', 'config.json'), 'utf8'));
    const embedded: GPT2Config = { vocabSize: raw.vocab_size, nPositions: raw.n_positions, nEmbd: raw.n_embd, nLayer: raw.n_layer, nHead: raw.n_head, layerNormEpsilon: raw.layer_norm_epsilon };
    assert.ok(Math.abs(parameterCount(embedded) - 8.1e6) < 0.05e6);
    assert.equal(defaultMethod(embedded), 'full');
    assert.equal(defaultMethod(NAMED_CONFIGS.small), 'lora');
    assert.equal(defaultMethod(NAMED_CONFIGS.distil), 'lora');
  });

  it('by default runs the recipe\'s epochs, cut to the time budget at the measured pace; --steps and --epochs win', () => {
    // 3,000 examples in rows of 3: 1,000 batches an epoch.
    assert.equal(chooseSteps({}, 'full', 3000, 3, 0.1), RECIPE.full.epochs * 1000);
    assert.equal(chooseSteps({}, 'full', 3000, 3, 1), TRAINING_BUDGET_SECONDS);
    assert.equal(chooseSteps({}, 'lora', 3000, 3, 0.01), RECIPE.lora.epochs * 1000);
    assert.equal(chooseSteps({ steps: 5000 }, 'full', 3000, 3, 1), 5000);
    assert.equal(chooseSteps({ epochs: 3 }, 'full', 3000, 3, 1), 3000);
    assert.equal(chooseSteps({}, 'full', 3000, 3, 1e9), 1);
  });
});
