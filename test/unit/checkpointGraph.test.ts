// Checkpoints as they come from Hugging Face (both tensor-name layouts, fp16 and bf16 storage,
// attention buffers, a stored lm_head) load through the same path the CLI and the extension use,
// and the graph's logits equal the plain TypeScript reference on the weights as stored.
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { openCheckpoint, writeCheckpoint, type WriteCheckpointOptions } from '../../src/engine/checkpoint';
import { loadEngine } from '../../src/engine/loadModel';
import { referenceLogits } from '../reference/gpt2Reference';
import { SMALL_CONFIG, testWeights } from '../helpers/randomWeights';
import { useTmpDir } from '../helpers/tmpdir';

const LAYOUTS: [string, WriteCheckpointOptions][] = [
  ['GPT2Model names, F32', {}],
  ['transformer. prefix, attention buffers, lm_head, F32', { prefix: true, extraBuffers: true, lmHead: true }],
  ['F16', { dtype: 'F16' }],
  ['BF16 with prefix', { dtype: 'BF16', prefix: true }],
];

describe('checkpoints through the graph', () => {
  const tmp = useTmpDir('gpt2c-ckgraph-');
  // The GPT-2 tokenizer's vocabulary: loadEngine refuses a smaller one (tokenizerVocabulary.ts).
  const config = { ...SMALL_CONFIG, vocabSize: 50257 };
  const weights = testWeights(config, 11);
  const prompt = [5, 17, 300, 42, 9, 511, 0, 64];

  for (const [label, opts] of LAYOUTS) {
    it(`${label}: logits equal the reference within 1e-4`, async () => {
      const dir = path.join(tmp(), 'ckpt');
      writeCheckpoint(dir, config, weights, opts);
      const { engine } = await loadEngine({ model: dir, modelsRoot: tmp(), graphCacheDir: path.join(tmp(), 'graphs'), device: 'cpu', threads: 1 });
      try {
        const positions = prompt.map((_, i) => i);
        const { logits } = await engine.model.forward([prompt], null, positions);
        // The reference reads the checkpoint as stored (fp16/bf16 rounded), as the graph does.
        const stored = openCheckpoint(dir);
        const want = referenceLogits(stored, prompt);
        stored.close();
        let diff = 0;
        for (let i = 0; i < want.length; i++) diff = Math.max(diff, Math.abs(logits[i] - want[i]));
        assert.ok(diff <= 1e-4, `max abs diff ${diff}`);
      } finally {
        await engine.model.dispose();
      }
    });
  }
});
