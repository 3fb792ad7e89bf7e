import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { openCheckpoint } from '../../../src/engine/checkpoint';
import type { GPT2Config } from '../../../src/engine/config';
import { CancelledError, UserError } from '../../../src/engine/errors';
import { randomWeights } from '../../../src/engine/randomCheckpoint';
import { sessionScorer } from '../../../src/training/evaluate';
import { loadAdapter, loraParams, type LoraConfig } from '../../../src/training/lora';
import type { Losses, TrainBatch, TrainableParam, TrainingSessionLike } from '../../../src/training/objective';
import { latestCheckpoint } from '../../../src/training/checkpointStore';
import { epochOrder, initialValues, train, type TrainProgress, type TrainerOptions } from '../../../src/training/trainer';
import { BigramSession, bigramValues, cloneValues, markovExamples } from './bigramSession';

const V = 12;
const SHAPE = { rows: 4, seqLen: 16 };

function tempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'gpt2c-trainer-'));
}

/**
 * A session over any named tensors with loss ½‖θ − target‖² (exact gradient θ − target). Its
 * held-out `losses` can follow a script, to make early stopping's choice known in advance.
 */
class QuadraticSession implements TrainingSessionLike {
  lossCalls = 0;
  constructor(
    readonly params: TrainableParam[],
    private readonly target: number,
    private readonly script?: number[],
  ) {}

  private loss(values: Map<string, Float32Array>): number {
    let s = 0;
    for (const p of this.params) for (const x of values.get(p.name)!) s += 0.5 * (x - this.target) ** 2;
    return s;
  }

  async step(_b: TrainBatch, values: Map<string, Float32Array>): Promise<Losses & { grads: Map<string, Float32Array> }> {
    const grads = new Map(this.params.map((p) => [p.name, values.get(p.name)!.map((x) => x - this.target)]));
    const l2 = this.loss(values);
    return { l1: 0, l2, l3: l2, grads };
  }

  async losses(_b: TrainBatch, values: Map<string, Float32Array>): Promise<Losses> {
    const l2 = this.script ? this.script[this.lossCalls] : this.loss(values);
    this.lossCalls++;
    return { l1: 0, l2, l3: l2 };
  }
}

function bigramRun(outDir: string, extra: Partial<TrainerOptions> = {}): TrainerOptions {
  return {
    session: new BigramSession(V, SHAPE.rows, SHAPE.seqLen),
    values: bigramValues(V, 5),
    train: markovExamples(V, 120, 1),
    heldOut: markovExamples(V, 30, 2),
    shape: SHAPE,
    outDir,
    lr: 0.05,
    seed: 7,
    ...extra,
  };
}

describe('trainer', function () {
  this.timeout(60_000);
  let dir: string;
  beforeEach(() => (dir = tempDir()));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('shuffles each epoch reproducibly from (seed, epoch)', () => {
    const a = epochOrder(50, 3, 0);
    assert.deepEqual([...a].sort((x, y) => x - y), Array.from({ length: 50 }, (_, i) => i));
    assert.deepEqual(epochOrder(50, 3, 0), a);
    assert.notDeepEqual(epochOrder(50, 3, 1), a);
    assert.notDeepEqual(epochOrder(50, 4, 0), a);
  });

  it('lowers held-out L2 clearly', async () => {
    const opts = bigramRun(dir, { steps: 150, evalEvery: 25, patience: 10 });
    const before = await sessionScorer(opts.session, cloneValues(opts.values), SHAPE)(opts.heldOut!, 0.5);
    const progress: TrainProgress[] = [];
    const r = await train({ ...opts, onProgress: (p) => progress.push(p) });
    assert.equal(r.steps, 150);
    assert.equal(r.evals.length, 6);
    assert.ok(r.best!.l2 < 0.6 * before.l2, `held-out L2 ${before.l2.toFixed(3)} → ${r.best!.l2.toFixed(3)}`);
    assert.ok(r.train.l2 < 0.6 * progress[0].losses.l2);
    assert.equal(progress.length, 150);
    assert.deepEqual(progress.map((p) => p.step), Array.from({ length: 150 }, (_, i) => i + 1));
    assert.ok(progress.every((p) => p.tokensPerSec > 0 && p.etaSec >= 0 && p.tokens > 0));
    assert.equal(progress[149].etaSec, 0);
    assert.ok(progress[0].lr < progress[10].lr, 'warm-up');
    assert.ok(progress[149].lr < progress[50].lr, 'decay');
    assert.equal(r.tokens, progress[149].tokens);
  });

  it('resumes a cancelled run to exactly the values of an uninterrupted one', async () => {
    const a = path.join(dir, 'a');
    const b = path.join(dir, 'b');
    const common = { steps: 40, accumulation: 2, checkpointEvery: 5, evalEvery: 10, patience: 10 };
    const straight = await train(bigramRun(a, common));

    const controller = new AbortController();
    const first = bigramRun(b, { ...common, signal: controller.signal, onProgress: (p) => p.step === 23 && controller.abort() });
    await assert.rejects(train(first), CancelledError);
    // Cancelled after step 23: the checkpoint of step 20 is the last good one, complete and pointed to.
    const latest = latestCheckpoint(b)!;
    assert.equal(latest.step, 20);
    assert.deepEqual(fs.readdirSync(latest.dir).sort(), ['optimizer.safetensors', 'trainable.safetensors', 'trainer.json']);
    assert.ok(!fs.readdirSync(path.join(b, 'checkpoints')).some((e) => e.includes('tmp')));
    assert.equal(JSON.parse(fs.readFileSync(path.join(latest.dir, 'trainer.json'), 'utf8')).step, 20);

    const session = new BigramSession(V, SHAPE.rows, SHAPE.seqLen);
    const resumed = await train({ ...bigramRun(b, common), session });
    assert.equal(resumed.resumedFrom, 20);
    assert.equal(session.stepCalls, 20 * 2, 'only the steps after the checkpoint run again');
    assert.equal(resumed.steps, 40);
    for (const [name, v] of straight.values) assert.deepEqual(resumed.values.get(name), v, `${name} differs`);
    assert.deepEqual(resumed.evals, straight.evals);
    assert.deepEqual(resumed.best, straight.best);
    assert.equal(resumed.tokens, straight.tokens);
    assert.deepEqual(resumed.train, straight.train);
  });

  it('holds after holdAfterStep, with its checkpoint written, until cancelled', async () => {
    const controller = new AbortController();
    const steps: number[] = [];
    const run = train(bigramRun(dir, { steps: 12, checkpointEvery: 2, evalEvery: 0, holdAfterStep: 4, signal: controller.signal, onProgress: (p) => steps.push(p.step) }));
    // However fast the steps are, the run cannot pass step 4 before the cancel.
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.deepEqual(steps, [1, 2, 3, 4]);
    assert.equal(latestCheckpoint(dir)?.step, 4);
    controller.abort();
    await assert.rejects(run, CancelledError);
    assert.deepEqual(steps, [1, 2, 3, 4]);
  });

  it('stops at its time limit: the step then is the last, evaluated and written', async () => {
    const dir = tempDir();
    let clock = 0;
    const evals: number[] = [];
    // The clock moves on every reading (a few per step): the limit falls a few steps in, well before 20.
    const r = await train(bigramRun(dir, { steps: 20, evalEvery: 10, timeLimitMs: 35, now: () => (clock += 5), onEval: (e) => evals.push(e.step) }));
    assert.ok(r.steps >= 1 && r.steps < 10, `${r.steps} steps`);
    assert.equal(r.stoppedByTime, true);
    assert.deepEqual(evals, [r.steps], 'the last step is evaluated');
    assert.equal(latestCheckpoint(dir)!.step, r.steps);
    const full = await train(bigramRun(tempDir(), { steps: 20, evalEvery: 10 }));
    assert.equal(full.steps, 20);
    assert.equal(full.stoppedByTime, false);
  });

  it('keeps only the latest and the best checkpoints', async () => {
    const session = new QuadraticSession([{ name: 'x', shape: [3] }], 1, [1, 0.5, 0.9, 0.8]);
    await train({ session, values: new Map([['x', new Float32Array(3)]]), train: markovExamples(V, 16, 1), heldOut: markovExamples(V, 4, 2), shape: SHAPE, outDir: dir, steps: 16, evalEvery: 4, checkpointEvery: 2, patience: 10, lr: 0.1 });
    assert.deepEqual(fs.readdirSync(path.join(dir, 'checkpoints')).sort(), ['latest.json', 'step-0000008', 'step-0000016']);
  });

  it('stops early when held-out L2 stops improving, and returns and writes the best values (LoRA adapter)', async () => {
    const model: GPT2Config = { vocabSize: 32, nPositions: 16, nEmbd: 4, nLayer: 1, nHead: 1, layerNormEpsilon: 1e-5 };
    const lora: LoraConfig = { rank: 2, alpha: 4, dropout: 0, targets: ['attn.c_attn'] };
    const params = loraParams(model, lora);
    // One held-out batch per evaluation: evaluations at steps 5, 10, …; the best is the third (step 15).
    const session = new QuadraticSession(params, 0.5, [2.0, 1.5, 1.2, 1.3, 1.25, 1.4, 0.1]);
    const snapshots = new Map<number, Map<string, Float32Array>>();
    let values = initialValues(params, { method: 'lora', lora, model, seed: 3 });
    const r = await train({
      session,
      values,
      train: markovExamples(V, 40, 1),
      heldOut: markovExamples(V, 3, 2),
      shape: SHAPE,
      outDir: dir,
      output: { method: 'lora', lora, model, baseModel: 'tiny' },
      steps: 100,
      evalEvery: 5,
      checkpointEvery: 50,
      patience: 3,
      lr: 0.01,
      onProgress: (p) => snapshots.set(p.step, cloneValues(values)),
    });
    assert.equal(r.stoppedEarly, true);
    assert.equal(r.steps, 30);
    assert.deepEqual(r.best, { step: 15, l1: 0, l2: 1.2, l3: 1.2, improved: true });
    assert.deepEqual(r.evals.map((e) => [e.step, e.improved]), [[5, true], [10, true], [15, true], [20, false], [25, false], [30, false]]);
    for (const [name, v] of snapshots.get(15)!) assert.deepEqual(r.values.get(name), v);
    assert.notDeepEqual(r.values, snapshots.get(30));
    const adapter = loadAdapter(dir, model);
    assert.equal(adapter.baseModel, 'tiny');
    for (const [name, v] of snapshots.get(15)!) assert.deepEqual(adapter.values.get(name), v);

    // Running again finds the finished run and only writes the result again.
    values = initialValues(params, { method: 'lora', lora, model, seed: 3 });
    fs.rmSync(path.join(dir, 'adapter_model.safetensors'));
    const again = await train({
      session: new QuadraticSession(params, 0.5, [2.0, 1.5, 1.2, 1.3, 1.25, 1.4, 0.1]), values, train: markovExamples(V, 40, 1), heldOut: markovExamples(V, 3, 2), shape: SHAPE,
      outDir: dir, output: { method: 'lora', lora, model, baseModel: 'tiny' }, steps: 100, evalEvery: 5, checkpointEvery: 50, patience: 3, lr: 0.01,
    });
    assert.equal(again.resumedFrom, 30);
    for (const [name, v] of snapshots.get(15)!) assert.deepEqual(loadAdapter(dir, model).values.get(name), v);
  });

  it('writes a full checkpoint with the trained tensors over the base', async () => {
    const model: GPT2Config = { vocabSize: 32, nPositions: 16, nEmbd: 4, nLayer: 1, nHead: 1, layerNormEpsilon: 1e-5 };
    const base = randomWeights(model, 1);
    const params: TrainableParam[] = [{ name: 'ln_f.weight', shape: [4] }, { name: 'h.0.mlp.c_fc.weight', shape: [4, 16] }];
    const values = initialValues(params, { method: 'full', base });
    assert.notEqual(values.get('ln_f.weight'), base.tensor('ln_f.weight'), 'trainable values are copies');
    const r = await train({ session: new QuadraticSession(params, 0.25), values, train: markovExamples(V, 8, 1), shape: SHAPE, outDir: dir, output: { method: 'full', base }, steps: 3, lr: 0.1 });
    const ckpt = openCheckpoint(dir);
    try {
      assert.deepEqual(ckpt.tensor('ln_f.weight'), r.values.get('ln_f.weight'));
      assert.deepEqual(ckpt.tensor('h.0.mlp.c_fc.weight'), r.values.get('h.0.mlp.c_fc.weight'));
      assert.notDeepEqual(ckpt.tensor('ln_f.weight'), base.tensor('ln_f.weight'));
      assert.deepEqual(ckpt.tensor('wte.weight'), base.tensor('wte.weight'));
    } finally {
      ckpt.close();
    }
    assert.equal(r.best, null, 'no held-out data: no evaluation, the last step wins');
  });

  it('refuses to resume a checkpoint of a different run', async () => {
    await train(bigramRun(dir, { steps: 4, checkpointEvery: 2 }));
    await assert.rejects(train(bigramRun(dir, { steps: 4, checkpointEvery: 2, lr: 0.01 })), (e: unknown) => e instanceof UserError && /different run \(its lr differs\)/.test(e.message));
    await assert.rejects(
      train({ ...bigramRun(dir, { steps: 4, checkpointEvery: 2 }), train: markovExamples(V, 120, 99) }),
      (e: unknown) => e instanceof UserError && /its data differs/.test(e.message),
    );
  });

  it('stops with a clear error when the loss diverges, keeping the last checkpoint', async () => {
    const inner = new BigramSession(V, SHAPE.rows, SHAPE.seqLen);
    let calls = 0;
    const session: TrainingSessionLike = {
      params: inner.params,
      losses: (b, v, l) => inner.losses(b, v, l),
      step: async (b, v, l) => {
        const r = await inner.step(b, v, l);
        return ++calls === 7 ? { ...r, l2: NaN, l3: NaN } : r;
      },
    };
    await assert.rejects(train({ ...bigramRun(dir, { steps: 10, checkpointEvery: 5, heldOut: undefined }), session }), (e: unknown) => e instanceof UserError && /diverged at step 7/.test(e.message));
    assert.equal(latestCheckpoint(dir)!.step, 5);
  });

  it('checks its options', async () => {
    await assert.rejects(train(bigramRun(dir, { steps: 3, epochs: 2 })), /either a number of steps or of epochs/);
    await assert.rejects(train(bigramRun(dir, { lr: -1 })), /learning rate/);
    await assert.rejects(train({ ...bigramRun(dir), train: [] }), /no training examples/);
  });

  it('runs whole epochs: steps = ⌈epochs · batches / accumulation⌉', async () => {
    const r = await train(bigramRun(dir, { epochs: 2, accumulation: 3, heldOut: undefined }));
    assert.equal(r.steps, Math.ceil((2 * Math.ceil(120 / SHAPE.rows)) / 3));
  });
});
