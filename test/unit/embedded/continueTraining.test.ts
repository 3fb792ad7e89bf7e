/**
 * Continued training end to end on a tiny model (scripts/embedded/continueTraining.ts): a stage
 * stopped at a checkpoint resumes with the same plan and data and finishes, is scored and promoted
 * only when it beats the reference, and the card records it; the shipped folder is written only by
 * `--ship` (shipCandidate).
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { writeRandomCheckpoint } from '../../../src/engine/randomCheckpoint';
import { continueTraining, shipCandidate, shippedStages, type ContinueOptions } from '../../../scripts/embedded/continueTraining';
import { configOf } from '../../../scripts/embedded/pretrain';
import { readHistory, stageDir, writeHistory } from '../../../scripts/embedded/stages';
import { lmWindows } from '../../../scripts/embedded/windows';
import { corpusOf } from './corpusFixture';

const T = 64;

function moduleText(m: number): string {
  const lines = [`# module ${m}`];
  for (let k = 0; k < 12; k++) lines.push(`def total_plus_${k}(value):`, `    check_value(value)`, `    return value + ${k + m}`, '');
  return lines.join('\n');
}

describe('embedded continued training (tiny model)', function () {
  this.timeout(300_000);
  let dir = '';
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'continue-'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('resumes a stopped stage, promotes it only when it beats the shipped model, and records it in the card', async () => {
    const shipped = path.join(dir, 'shipped');
    writeRandomCheckpoint(shipped, configOf({ nLayer: 1, nEmbd: 64, nPositions: T }), 5);
    const shippedBytes = fs.readFileSync(path.join(shipped, 'model.safetensors'));
    const corpus = corpusOf([
      ...Array.from({ length: 6 }, (_, m) => ({ source: 'lib', path: `m${m}.py`, split: 'train' as const, text: moduleText(m) })),
      { source: 'lib', path: 'held.py', split: 'heldout', text: moduleText(9) },
    ]);
    const train = lmWindows(corpus, 'train', T);
    const heldOut = lmWindows(corpus, 'heldout', T);
    const card = path.join(dir, 'MODEL_CARD.md');
    fs.writeFileSync(card, '# The embedded model\n\n## Summary\n\nrows\n');
    const lines: string[] = [];
    const options: ContinueOptions = {
      work: path.join(dir, 'work'), shippedDir: shipped, candidateDir: path.join(dir, 'candidate'), cardFile: card, corpus, train,
      evalWindows: heldOut.slice(0, 4), heldOutWindows: heldOut.length, hyper: { rows: 2, lr: 3e-3, warmupSteps: 2, minLrRatio: 0.1, weightDecay: 0.1, seed: 0 },
      stageTokens: 6 * 2 * T, share: 0.5, threads: 1, device: 'cpu', checkpointEvery: 2, maxStages: 1, machine: 'test machine', log: (l) => lines.push(l),
    };

    // A pid file naming a live process that is no training run (a stale file after a restart) does not block.
    fs.mkdirSync(path.join(options.work, 'stages'), { recursive: true });
    fs.writeFileSync(path.join(options.work, 'stages', 'running.pid'), String(process.ppid));

    // A sitting whose time is up at once stops at its first checkpoint (step 1: an improving evaluation checkpoints).
    await continueTraining({ ...options, minutes: 0 });
    assert.equal(readHistory(options.work).stages.length, 0);
    assert.ok(fs.existsSync(path.join(stageDir(options.work, 1), 'plan.json')));
    assert.match(fs.readFileSync(card, 'utf8'), /in progress \(step 1 of 6\)/);

    // The same call resumes it and finishes; a promotion calls the hook (--auto-ship ships there), and
    // what the hook writes to the history is kept by the stages after it.
    const promotedStages: number[] = [];
    options.onPromoted = async (stage) => {
      promotedStages.push(stage);
      writeHistory(options.work, { ...readHistory(options.work), shippedStage: { stage, hash: 'marker', shippedAt: 'now' } });
    };
    await continueTraining(options);
    const h = readHistory(options.work);
    assert.equal(h.stages.length, 1);
    const s = h.stages[0];
    assert.equal(s.sittings.length, 2);
    assert.deepEqual(s.sittings.map((x) => [x.fromStep, x.toStep]), [[0, 1], [1, 6]]);
    assert.equal(s.retrievalShare, 0.5);
    assert.ok(s.evals.length >= 2);
    assert.ok(s.retrieval !== undefined);
    assert.equal(s.promoted, s.heldOut.loss < h.shipped!.heldOut.loss - 0.001);
    assert.ok(s.promoted, `a random model trained on its corpus beats itself untrained (${s.heldOut.loss} vs ${h.shipped!.heldOut.loss})`);
    assert.ok(fs.existsSync(path.join(options.candidateDir, 'model.safetensors')));
    assert.ok(!fs.existsSync(path.join(stageDir(options.work, 1), 'run')), 'the trainer checkpoints are removed once the stage is recorded');
    assert.deepEqual(fs.readFileSync(path.join(shipped, 'model.safetensors')), shippedBytes);
    assert.deepEqual(fs.readdirSync(shipped).sort(), ['config.json', 'model.safetensors']);
    const text = fs.readFileSync(card, 'utf8');
    assert.match(text, /^# The embedded model\n\n## Summary\n\nrows\n\n## Continued training/);
    assert.match(text, /\| 1 \| shipped model \| 50% \| .*\*\*promoted\*\*/);
    // The trigram baseline is trained once on the same split and shown beside the reference.
    assert.ok(h.trigram !== undefined && h.trigram.loss > 0 && Number.isFinite(h.trigram.loss));
    assert.equal(h.trigram.windows, options.evalWindows.length);
    assert.match(text, new RegExp(`token trigram .* scores \\*\\*${h.trigram.loss.toFixed(3).replace('.', '\\.')}\\*\\*`));

    // The next stage starts from stage 1, must beat it, and reads the next slice of the stream.
    await continueTraining(options);
    const h2 = readHistory(options.work);
    assert.equal(h2.stages.length, 2);
    assert.equal(h2.stages[1].from.label, 'stage 1');
    assert.equal(h2.stages[1].windowOffset, 12);
    assert.deepEqual(h2.stages[1].reference, { label: 'stage 1', loss: s.heldOut.loss });
    assert.deepEqual(promotedStages, h2.stages[1].promoted ? [1, 2] : [1]);
    assert.equal(h2.shippedStage?.hash, 'marker', "the hook's write survives the next stage's record");
    assert.deepEqual(shippedStages(options.work, shipped), [], 'nothing is shipped until asked');

    // --ship: the latest promoted stage's weights become the shipped model, and the card's report knows which stages they went through.
    const latest = h2.stages[1].promoted ? 2 : 1;
    fs.writeFileSync(path.join(shipped, 'head.json'), '{}');
    shipCandidate({ work: options.work, candidateDir: options.candidateDir, shippedDir: shipped, log: (l) => lines.push(l) });
    assert.deepEqual(fs.readFileSync(path.join(shipped, 'model.safetensors')), fs.readFileSync(path.join(options.candidateDir, 'model.safetensors')));
    assert.notDeepEqual(fs.readFileSync(path.join(shipped, 'model.safetensors')), shippedBytes);
    assert.deepEqual(fs.readdirSync(shipped).sort(), ['config.json', 'head.json', 'model.safetensors'], 'other files stay; no temporary file is left');
    assert.equal(readHistory(options.work).shippedStage?.stage, latest);
    assert.deepEqual(shippedStages(options.work, shipped).map((x) => x.stage), latest === 2 ? [1, 2] : [1]);
    // Weights changed by hand are no longer the shipped stage.
    fs.writeFileSync(path.join(shipped, 'model.safetensors'), shippedBytes);
    assert.deepEqual(shippedStages(options.work, shipped), []);
    // A candidate that is not the latest promoted stage is refused.
    fs.writeFileSync(path.join(options.candidateDir, 'candidate.json'), JSON.stringify({ stage: 7 }));
    assert.throws(() => shipCandidate({ work: options.work, candidateDir: options.candidateDir, shippedDir: shipped, log: () => undefined }), /not the latest promoted stage/);
  });
});
