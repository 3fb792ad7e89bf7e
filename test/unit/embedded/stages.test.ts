/** Continued training's bookkeeping (scripts/embedded/stages.ts): data stream, stage data files, promotion reference, the card's record. */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  HISTORY_TITLE, loadExamples, referenceLoss, renderStageHistory, saveExamples, streamWindows, writeStageHistory,
  type StageHistory, type StagePlan, type StageRecord,
} from '../../../scripts/embedded/stages';

const hyper = { rows: 2, lr: 1e-3, warmupSteps: 30, minLrRatio: 0.1, weightDecay: 0.1, seed: 0 };

function plan(stage: number, windowOffset: number, windows: number): StagePlan {
  return {
    stage, from: { label: stage === 1 ? 'shipped model' : `stage ${stage - 1}`, dir: 'x', hash: 'h' }, hyper, nPositions: 512,
    steps: windows / 2, retrievalShare: 0.25, windowOffset, windows, windowsPerPass: 10, evalEvery: 1, plannedAt: '2026-12-05T00:00:00Z',
  };
}

function record(stage: number, loss: number, promoted: boolean): StageRecord {
  return {
    ...plan(stage, 0, 10), tokens: 5120, evals: [{ step: 5, l1: 0, l2: loss + 0.01, l3: loss + 0.01, improved: true }], evalWindows: 100, bestStep: 5,
    sittings: [{ startedAt: '2026-12-05T00:00:00Z', fromStep: 0, toStep: 5, tokens: 5120, wallSec: 600, cpuSec: 1100 }], wallSec: 600, cpuSec: 1100,
    threads: 2, device: 'cpu', machine: 'test machine', heldOut: { loss, windows: 100 }, reference: { label: 'shipped model', loss: 3.2 }, promoted,
    finishedAt: '2026-12-05T01:00:00Z',
  };
}

describe('embedded continued-training stages', () => {
  it('reads consecutive slices of one stream: every window once per pass, passes in different orders', () => {
    const a = streamWindows(10, 0, 6);
    const b = streamWindows(10, 6, 14);
    const all = [...a, ...b];
    assert.deepEqual([...all.slice(0, 10)].sort((x, y) => x - y), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    assert.deepEqual([...all.slice(10)].sort((x, y) => x - y), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    assert.notDeepEqual(all.slice(0, 10), all.slice(10));
    assert.deepEqual(streamWindows(10, 0, 20), all, 'a slice does not depend on how the stream was cut');
  });

  it('writes a stage\'s examples and reads them back exactly', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stages-'));
    try {
      const examples = [
        { contextIds: [50256], continuationIds: [1, 2, 3, 65535] },
        { contextIds: [10, 11, 12], continuationIds: [13] },
      ];
      saveExamples(path.join(dir, 'data.bin'), examples);
      assert.deepEqual(loadExamples(path.join(dir, 'data.bin')), examples);
      fs.appendFileSync(path.join(dir, 'data.bin'), Buffer.from([0, 0]));
      assert.throws(() => loadExamples(path.join(dir, 'data.bin')), /damaged/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('promotes against the best of the shipped model and the promoted stages', () => {
    const h: StageHistory = { shipped: { dir: 'm', hash: 'h', heldOut: { loss: 3.2, windows: 100 }, corpusTrainTokens: 1, measuredAt: '' }, stages: [] };
    assert.deepEqual(referenceLoss(h), { label: 'shipped model', loss: 3.2 });
    h.stages.push(record(1, 3.25, false));
    assert.deepEqual(referenceLoss(h), { label: 'shipped model', loss: 3.2 }, 'a stage that was not promoted is no reference');
    h.stages.push(record(2, 3.1, true));
    assert.deepEqual(referenceLoss(h), { label: 'stage 2', loss: 3.1 });
  });

  it('keeps the card\'s other sections when it writes the stage history', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stages-'));
    try {
      const card = path.join(dir, 'MODEL_CARD.md');
      fs.writeFileSync(card, '# The embedded model\n\nIntro.\n\n## Summary\n\nrows\n\n## Acceptance head\n\nhead text\n');
      const h: StageHistory = { shipped: { dir: 'm', hash: 'h', heldOut: { loss: 3.249, windows: 100 }, corpusTrainTokens: 7676946, measuredAt: '' }, stages: [record(1, 3.1, true)] };
      const progress = { plan: plan(2, 10, 10), step: 3, tokens: 3072, evals: [{ step: 1, l1: 0, l2: 3.15, l3: 3.15, improved: true }], sittings: [], machine: 'test machine' };
      writeStageHistory(card, renderStageHistory(h, progress));
      writeStageHistory(card, renderStageHistory(h, progress));
      const text = fs.readFileSync(card, 'utf8');
      assert.equal(text.split(HISTORY_TITLE).length, 2, 'one section, replaced in place');
      assert.ok(text.startsWith('# The embedded model\n\nIntro.\n\n## Summary\n\nrows\n\n## Acceptance head\n\nhead text\n\n## Continued training'));
      assert.match(text, /\| 1 \| shipped model \| 25% \| 5,120 \| 3\.100 \(shipped model 3\.200\) \|.*\*\*promoted\*\* \|/);
      assert.match(text, /\| 2 \| stage 1 \| 25% \| 3,072 of 5,120 \| in progress \(step 3 of 5\): 3\.150 at step 1 \(stage 1 3\.100\) \|/);
      assert.match(text, /Stage 2: .*Held-out loss by step .*: 1: 3\.150\./);
      assert.match(text, /held-out loss \*\*3\.249\*\*/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
