import { strict as assert } from 'node:assert';
import { NAMED_CONFIGS } from '../../../src/engine/config';
import { UserError } from '../../../src/engine/errors';
import { DEFAULT_LORA_CONFIG } from '../../../src/training/lora';
import {
  activationBytes, availableMemory, checkTrainingMemory, estimateTrainingMemory, formatBytes, trainableParameterCount,
} from '../../../src/training/memoryEstimate';

const GB = 1e9;

describe('training memory estimate', function () {
  this.timeout(30_000);
  it('matches the measured figure (bench/MACHINE.md): full fine-tuning is 16 B/param before activations, plus the previous step’s gradients', () => {
    const table: [string, string][] = [['small', '2.0 GB'], ['medium', '5.7 GB'], ['large', '12.4 GB']];
    for (const [name, expected] of table) {
      const e = estimateTrainingMemory({ config: NAMED_CONFIGS[name], method: 'full', rows: 1, seqLen: 64 });
      assert.equal(formatBytes(e.weights + e.gradients / 2 + e.optimizer), expected, name);
      assert.equal(e.gradients, 8 * e.trainableParams, 'two sets of gradients: this step\'s and the last, until collected');
      assert.equal(e.accumulation, 0);
    }
  });

  it('charges LoRA gradients and AdamW state for the adapter only', () => {
    const config = NAMED_CONFIGS.small;
    // r 8 on all four projections of GPT-2 small: 8·(768+2304 + 768+768 + 768+3072 + 3072+768) per layer.
    assert.equal(trainableParameterCount({ config, method: 'lora', lora: DEFAULT_LORA_CONFIG }), 12 * 8 * (3072 + 1536 + 3840 + 3840));
    const lora = estimateTrainingMemory({ config, method: 'lora', lora: DEFAULT_LORA_CONFIG, rows: 4, seqLen: 256 });
    const full = estimateTrainingMemory({ config, method: 'full', rows: 4, seqLen: 256 });
    assert.ok(lora.gradients + lora.optimizer < 0.03 * GB);
    // Frozen weights are initializers: the serialized model, onnxruntime's copy and its pre-packed one.
    assert.ok(Math.abs(lora.weights - 3 * full.weights) < 0.01 * GB);
    const noDropout = estimateTrainingMemory({ config, method: 'lora', lora: { ...DEFAULT_LORA_CONFIG, dropout: 0 }, rows: 4, seqLen: 256 });
    // The dropout masks: 4·256 rows of (768·3 + 768 + 3072) floats per block.
    assert.equal(lora.activations - noDropout.activations, 4 * 1024 * 12 * (3 * 768 + 3072));
    const ratio = noDropout.activations / full.activations;
    assert.ok(ratio > 0.9 && ratio < 1.3, `the backward pass still runs through every block (${ratio})`);
    assert.ok(full.total > lora.total);
  });

  it('grows activations with the batch: roughly linearly in rows, faster than linearly in seqLen', () => {
    const c = NAMED_CONFIGS.small;
    const rows = activationBytes(c, 8, 256) / activationBytes(c, 4, 256);
    assert.ok(rows > 1.8 && rows < 2.4, `rows ×2: ×${rows}`);
    // Same tokens, longer rows: the attention scores grow with T².
    assert.ok(activationBytes(c, 1, 1024) > activationBytes(c, 4, 256));
    // GPT-2 small, 4×256 tokens: the graph's live peak is ~1.2 GB (0.6 GB of it the head's three
    // [1024, 50257] tensors and the 0.5 GB of gradients), held ~3× by the allocator.
    const bytes = activationBytes(c, 4, 256);
    assert.ok(bytes > 3 * GB && bytes < 4 * GB, formatBytes(bytes));
    const withAccumulation = estimateTrainingMemory({ config: c, method: 'full', rows: 4, seqLen: 256, accumulation: 4 });
    assert.equal(withAccumulation.accumulation, withAccumulation.gradients / 2);
  });

  it('lets a run through that fits', () => {
    const e = checkTrainingMemory({ config: NAMED_CONFIGS.small, method: 'full', rows: 4, seqLen: 256 }, { free: 16 * GB, total: 24 * GB }, { modelName: 'gpt2' });
    // Measured peak RSS of this run: 5.5 GB (bench/RESULTS.md); the estimate must not undershoot it.
    assert.ok(e.total > 5.5 * GB && e.total < 7 * GB, formatBytes(e.total));
  });

  it('refuses a run that does not, saying what would fit', () => {
    const req = { config: NAMED_CONFIGS.medium, method: 'full' as const, rows: 4, seqLen: 256 };
    assert.throws(
      () => checkTrainingMemory(req, { free: 8.1 * GB, total: 24 * GB }, { modelName: 'gpt2-medium' }),
      (e: unknown) => {
        assert.ok(e instanceof UserError);
        assert.match(e.message, /^full fine-tuning of gpt2-medium needs ~\d+\.\d GB \(weights 1\.4 GB, gradients and AdamW state 5\.7 GB, activations for 4×256 tokens \d\.\d GB\), 8\.1 GB free: use --method lora/);
        assert.match(e.message, /--batch-tokens \d+/);
        return true;
      },
    );
    // Plenty for LoRA at this batch, but not for full: the smaller full batch is offered too when it fits.
    assert.throws(
      () => checkTrainingMemory({ ...req, config: NAMED_CONFIGS.small, rows: 16 }, { free: 8 * GB, total: 24 * GB }, { modelName: 'gpt2' }),
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
