/** --min-confidence is checked before any model loads: one line saying what is wrong. */
import { strict as assert } from 'node:assert';
import { UserError } from '../../src/engine/errors';
import { openPipelineRunner } from '../../src/cli/pipelineRunner';

describe('--min-confidence', () => {
  for (const bad of ['1.5', '-0.1', 'high', '']) {
    it(`refuses ${JSON.stringify(bad)} before loading a model`, async () => {
      await assert.rejects(
        openPipelineRunner('complete', { model: '/nonexistent/model', 'min-confidence': bad }),
        (e: unknown) => e instanceof UserError && /^complete: --min-confidence must be a probability from 0 to 1/.test(e.message),
      );
    });
  }
});
