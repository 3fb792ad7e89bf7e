/**
 * The embedded model's card (scripts/embedded/modelCard.ts) from a small synthetic report: a fresh
 * build's card, and the same build after `train:embedded --ship` shipped a continued-training stage,
 * whose card must say which weights it scores and count the stage's tokens.
 */
import { strict as assert } from 'node:assert';
import { parameterCount } from '../../../src/engine/config';
import type { CorpusManifest } from '../../../scripts/embedded/corpus';
import { renderModelCard, type EmbeddedReport } from '../../../scripts/embedded/modelCard';
import { configOf } from '../../../scripts/embedded/pretrain';

const hyper = { rows: 2, lr: 1e-3, warmupSteps: 30, minLrRatio: 0.1, weightDecay: 0.1, seed: 0 };
const sitting = { startedAt: '2026-11-26T14:29:00.000Z', fromStep: 0, toStep: 100, tokens: 102_400, wallSec: 600, cpuSec: 900 };
const ev = (step: number, l2: number) => ({ step, l1: 0, l2, l3: l2, improved: true });
const stats = { tokens: 1_000_000, trigramTypes: 5, bigramTypes: 4, discounts: { d1: 0.5, d2: 0.6, d2raw: 0.6, d3: 0.7 } };

function report(): EmbeddedReport {
  const config = configOf({ nLayer: 8, nEmbd: 128, nPositions: 512 });
  const corpus = {
    version: 1,
    options: { seed: 0, maxTokensPerPackage: 250_000, maxPythonTokens: 3_000_000, heldOutFraction: 0.05 },
    tokenizer: 'gpt2',
    sources: [{ name: 'lodash', kind: 'npm', version: '4.18.1', licence: 'MIT', root: '/x', accepted: 10, overCap: 0, skipped: {}, files: 10, tokens: 1_000_000, heldOutFiles: 1, heldOutTokens: 50_000 }],
    files: [],
    totals: { train: { files: 9, tokens: 1_000_000 }, heldOut: { files: 1, tokens: 50_000 } },
  } as CorpusManifest;
  return {
    corpus,
    shape: { name: '8x128-ctx512', config, params: parameterCount(config), fileBytes: 16_178_472 },
    training: { hyper, steps: 100, tokens: 102_400, bestStep: 100, evals: [ev(50, 3.4), ev(100, 3.2)], evalWindows: 24, sittings: [sitting], wallSec: 600, cpuSec: 900, threads: 2, machine: 'test machine' },
    eval: { windows: 100, targets: 51_100, modelLoss: 2.43, ngramLoss: 2.71, matchedLoss: 2.89, ngramStats: stats, matchedStats: { ...stats, tokens: 102_400 }, exactMatch: { cases: 500, maxTokens: 32, model: 39, ngram: 3, matched: 3 } },
    examples: [],
    latency: { threads: 1, meanPromptTokens: 378, prefillMs: 121, decodeMsPerToken: 3.8 },
    machine: 'test machine',
  };
}

describe('embedded model card', () => {
  it('a fresh build: trained from random weights, no continued stages', () => {
    const card = renderModelCard(report());
    assert.match(card, /trained from random weights by this project's own trainer, on code/);
    assert.match(card, /briefly trained \(102,400 tokens on two CPU cores\)/);
    assert.ok(!card.includes('continued-training stage'));
    assert.ok(!card.includes('(its first build)'));
  });

  it('after --ship: the shipped stage is named, its tokens counted, and the baselines say which build they match', () => {
    const card = renderModelCard({
      ...report(),
      continued: [{ stage: 1, tokens: 7_633_322, retrievalShare: 0.25, wallSec: 6480, sittings: 2, heldOutLoss: 2.429, machine: 'test machine' }],
    });
    assert.match(card, /and then trained further in a continued-training stage \(Continued training\)/);
    assert.match(card, /briefly trained \(7,735,722 tokens on two CPU cores\)/);
    assert.match(card, /\| continued training \| then continued-training stage 1: 7,633,322 tokens \(25% of its windows with workspace-context snippets\), 1\.8 h in 2 sittings: the shipped weights/);
    assert.match(card, /they are those of continued-training stage 1 \(held-out loss 2\.429/);
    assert.match(card, /\| trigram KN, the model's training tokens \(its first build\) \|/);
    assert.match(card, /`npm run train:embedded -- --ship`/);
  });
});
