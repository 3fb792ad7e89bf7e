import { strict as assert } from 'node:assert';
import { NAMED_CONFIGS } from '../../../src/engine/config';
import { UserError } from '../../../src/engine/errors';
import { DEFAULT_LORA_CONFIG } from '../../../src/training/lora';
import {
  activationBytes, availableMemory, checkTrainingMemory, estimateTrainingMemory, formatBytes, trainableParameterCount,
} from '../../../src/training/memoryEstimate';

const GB = 1e9;

describe('training memory estimate', () => {
  it('matches PERF.md: full fine-tuning is 16 B/param before activations', () => {
    const table: [string, string][] = [['small', '2.0 GB'], ['medium', '5.7 GB'], ['large', '12.4 GB'], ['xl', '24.9 GB']];
    for (const [name, expected] of table) {
      const e = estimateTrainingMemory({ config: NAMED_CONFIGS[name], method: 'full', rows: 4, seqLen: 256 });
      assert.equal(formatBytes(e.weights + e.gradients + e.optimizer), expected, name);
      assert.equal(e.accumulation, 0);
    }
  });

  it('charges LoRA gradients and AdamW state for the adapter only', () => {
    const config = NAMED_CONFIGS.small;
    // r 8 on all four projections of GPT-2 small: 8·(768+2304 + 768+768 + 768+3072 + 3072+768) per layer.
    assert.equal(trainableParameterCount({ config, method: 'lora', lora: DEFAULT_LORA_CONFIG }), 12 * 8 * (3072 + 1536 + 3840 + 3840));
    const lora = estimateTrainingMemory({ config, method: 'lora', lora: DEFAULT_LORA_CONFIG, rows: 4, seqLen: 256 });
    const full = estimateTrainingMemory({ config, method: 'full', rows: 4, seqLen: 256 });
    assert.ok(lora.gradients + lora.optimizer < 0.02 * GB);
    assert.ok(Math.abs(lora.weights - full.weights) < 0.01 * GB, 'frozen base weights are held once either way');
    assert.equal(lora.activations, full.activations, 'the backward pass still runs through every block');
    assert.ok(full.total - lora.total > 1.4 * GB);
  });

  it('grows activations with the batch: linearly in rows, with attention quadratic in seqLen', () => {
    const c = NAMED_CONFIGS.small;
    assert.equal(activationBytes(c, 8, 256), 2 * activationBytes(c, 4, 256));
    // Doubling T at one row doubles the per-token parts; what is left over is the attention's T².
    const quadratic = activationBytes(c, 1, 512) - 2 * activationBytes(c, 1, 256);
    assert.equal(quadratic, 4 * (c.nLayer + 2) * 2 * c.nHead * (512 * 512 - 2 * 256 * 256));
    // GPT-2 small, 4×256 tokens: about 1.5 GB of activations (0.6 GB of it at the 50k-vocabulary head).
    const bytes = activationBytes(c, 4, 256);
    assert.ok(bytes > 1.2 * GB && bytes < 2 * GB, formatBytes(bytes));
    const withAccumulation = estimateTrainingMemory({ config: c, method: 'full', rows: 4, seqLen: 256, accumulation: 4 });
    assert.equal(withAccumulation.accumulation, withAccumulation.gradients);
  });

  it('lets a run through that fits', () => {
    const e = checkTrainingMemory({ config: NAMED_CONFIGS.small, method: 'full', rows: 4, seqLen: 256 }, { free: 16 * GB, total: 24 * GB }, { modelName: 'gpt2' });
    assert.ok(e.total > 3 * GB && e.total < 5 * GB, formatBytes(e.total));
  });

  it('refuses a run that does not, saying what would fit', () => {
    const req = { config: NAMED_CONFIGS.medium, method: 'full' as const, rows: 4, seqLen: 256 };
    assert.throws(
      () => checkTrainingMemory(req, { free: 5.1 * GB, total: 24 * GB }, { modelName: 'gpt2-medium' }),
      (e: unknown) => {
        assert.ok(e instanceof UserError);
        assert.match(e.message, /^full fine-tuning of gpt2-medium needs ~\d+\.\d GB \(weights 1\.4 GB, gradients and AdamW state 4\.3 GB, activations for 4×256 tokens \d\.\d GB\), 5\.1 GB free: use --method lora/);
        assert.match(e.message, /--batch-tokens 512/);
        return true;
      },
    );
    // Plenty for LoRA at this batch, but not for full: the smaller full batch is offered too when it fits.
    assert.throws(
      () => checkTrainingMemory({ ...req, config: NAMED_CONFIGS.small, rows: 16 }, { free: 5 * GB, total: 24 * GB }, { modelName: 'gpt2' }),
      (e: unknown) => e instanceof UserError && /use --method lora.*, or --batch-tokens \d+$/.test(e.message),
    );
  });

  it('says so when nothing fits', () => {
    assert.throws(
      () => checkTrainingMemory({ config: NAMED_CONFIGS.xl, method: 'lora', lora: DEFAULT_LORA_CONFIG, rows: 1, seqLen: 256 }, { free: 2 * GB, total: 4 * GB }, { modelName: 'gpt2-xl' }),
      (e: unknown) => e instanceof UserError && /LoRA fine-tuning of gpt2-xl needs .* smaller model/.test(e.message),
    );
  });

  it('reads the memory available to this process', () => {
    const a = availableMemory();
    assert.ok(a.free > 0 && a.free <= a.total);
  });
});
