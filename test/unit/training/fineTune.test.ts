/**
 * A whole fine-tuning run on a tiny random GPT-2 (real vocabulary, 64 positions, 32 wide) and a
 * small, very repetitive TypeScript corpus, through runFineTune and through the child process.
 * Sizes are chosen for time: 2 × 64-token steps, a few evaluation cases, tens of steps.
 */
import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { evalCommand } from '../../../src/cli/evalCommand';
import { openCheckpoint } from '../../../src/engine/checkpoint';
import { CancelledError, UserError } from '../../../src/engine/errors';
import { OrtModel } from '../../../src/engine/ortModel';
import { adapterOverlay } from '../../../src/training/adapterOverlay';
import { mineDataset } from '../../../src/training/data/dataset';
import { DEFAULT_EVAL_CASES, evalCases, modelScorer, sessionScorer } from '../../../src/training/evaluate';
import { pipelineHeadTrainer } from '../../../src/cli/headCommand';
import { earlyStoppingCases, miningOptions, runFineTune, type HeadTrainer, type HeadTrainRequest, type QualityJudge, type QualityJudgeRequest } from '../../../src/training/fineTune';
import { loadAcceptanceHead } from '../../../src/training/head/acceptanceHead';
import { startFineTune, trainingEnvironment } from '../../../src/training/fineTuneClient';
import type { ChildMessage, FineTuneJob, FineTuneResultJson } from '../../../src/training/fineTuneProtocol';
import { ADAPTER_CONFIG_FILE, ADAPTER_WEIGHTS_FILE, loadAdapter, mergedWeights } from '../../../src/training/lora';
import { latestCheckpoint } from '../../../src/training/checkpointStore';
import { TrainingSession } from '../../../src/training/trainingSession';
import { captureStdout } from '../../helpers/captureStdout';
import { CONFIG, collect, useFineTuneFixture, writeCorpus } from './fineTuneFixtures';

const REPO = path.resolve(__dirname, '../../..');

describe('fine-tuning run', function () {
  this.timeout(120_000);
  const fixture = useFineTuneFixture('gpt2c-finetune-', 2);
  const job = fixture.job;
  let dir: string;
  let corpus: string;
  let model: string;
  before(() => ({ dir, corpus, model } = fixture));

  it('lowers held-out L2 clearly (full fine-tuning), reporting every stage and writing the model and report.json', async () => {
    const { messages, emit } = collect();
    const r = (await runFineTune(job('full', { method: 'full', steps: 60, lr: 5e-3, evalCases: 8 }), emit, new AbortController().signal))!;
    const { before, after } = r.eval;
    assert.ok(before.l2 > 10, `a random model starts near ln(50257): ${before.l2}`);
    assert.ok(after.l2 < before.l2 - 3, `held-out L2 ${before.l2.toFixed(3)} → ${after.l2.toFixed(3)}`);
    assert.ok(Math.abs(after.perplexity - Math.exp(after.l2)) < 1e-6 * after.perplexity);
    assert.equal(r.steps, 60);
    assert.ok(r.tokens > 0 && r.tokens_per_s > 0);
    assert.deepEqual(Object.keys(r).sort(), ['eval', 'method', 'out', 'steps', 'tokens', 'tokens_per_s', 'train', 'verdict']);
    assert.equal(r.method, 'full');
    // Exact match as counts, and a verdict from them (no quality judge in this process: the evaluation's counts).
    assert.equal(after.cases, 8);
    assert.equal(after.exact_match, after.exact_matches! / 8);
    assert.equal(r.verdict.improved, after.exact_matches! > before.exact_matches! || (after.exact_matches === before.exact_matches && after.l2 < before.l2));
    assert.match(r.verdict.reason, /next-line exact match (rose|fell|stayed).* of 8 held-out cuts/);

    const types = messages.map((m) => m.type);
    assert.deepEqual(types.slice(0, 3), ['report', 'estimate', 'eval']);
    assert.deepEqual(types.slice(-2), ['eval', 'done']);
    assert.equal(types.filter((t) => t === 'progress').length, 60);
    const estimate = messages[1] as Extract<ChildMessage, { type: 'estimate' }>;
    assert.equal(estimate.steps, 60);
    assert.ok(estimate.secondsPerStep! > 0 && estimate.memoryBytes > 0);
    const done = messages.at(-1) as Extract<ChildMessage, { type: 'done' }>;
    assert.equal(done.lossCurve.length, 60);
    assert.ok(done.lossCurve.some((p) => p.validationL2 !== undefined));

    const out = path.join(dir, 'full');
    const trained = openCheckpoint(out);
    trained.close();
    const report = JSON.parse(fs.readFileSync(path.join(out, 'report.json'), 'utf8'));
    assert.deepEqual(report.result, r);
    assert.equal(report.lossCurve.length, 60);
    // Early stopping measured whole validation files, apart from the training and held-out ones.
    assert.ok(report.data.validation.files >= 1 && report.validationCases > 0);
    assert.equal(report.data.train.files + report.data.validation.files + report.data.heldOut.files, 48);
    // A completed run keeps no resume checkpoint (optimizer state: several times the model's size).
    assert.ok(!fs.existsSync(path.join(out, 'checkpoints')));
  });

  describe('LoRA', () => {
    const lora = { steps: 12, lr: 2e-2, checkpointEvery: 4, evalEvery: 4, patience: 10 };
    let straight: FineTuneResultJson;

    before(async () => {
      straight = (await runFineTune(job('lora-a', lora), () => undefined, new AbortController().signal))!;
    });

    it('saves an adapter that, loaded and merged, gives the logits training saw', async () => {
      const out = path.join(dir, 'lora-a');
      assert.ok(fs.existsSync(path.join(out, ADAPTER_WEIGHTS_FILE)) && fs.existsSync(path.join(out, ADAPTER_CONFIG_FILE)));
      const base = openCheckpoint(model);
      try {
        const adapter = loadAdapter(out, base.config);
        assert.ok([...adapter.values].some(([name, v]) => name.includes('lora_B') && v.some((x) => x !== 0)), 'B has moved');
        const data = await mineDataset(corpus, miningOptions(CONFIG, { seed: 3 }));
        const examples = data.heldOut.slice(0, 6);
        const shape = { rows: 2, seqLen: 64 };

        const session = await TrainingSession.create({ weights: base, method: 'lora', lora: adapter.config, batch: shape.rows, seqLen: shape.seqLen, threads: 2 });
        const merged = await OrtModel.load({ weights: mergedWeights(base, adapter), threads: 2 });
        const plain = await OrtModel.load({ weights: base, threads: 2 });
        try {
          const training = await sessionScorer(session, adapter.values, shape)(examples, 0.5);
          const inference = await modelScorer(merged)(examples, 0.5);
          const untouched = await modelScorer(plain)(examples, 0.5);
          assert.ok(Math.abs(training.l2 - inference.l2) < 1e-4, `L2 ${training.l2} (training) vs ${inference.l2} (merged)`);
          assert.ok(Math.abs(training.l1 - inference.l1) < 1e-4, `L1 ${training.l1} (training) vs ${inference.l1} (merged)`);
          assert.ok(Math.abs(untouched.l2 - inference.l2) > 1e-3, 'the adapter changes the model');

          // The best step was chosen on the validation files: its recorded L2 is the saved adapter's
          // L2 on the validation cases, not on the held-out ones reported as "after".
          const report = JSON.parse(fs.readFileSync(path.join(out, 'report.json'), 'utf8'));
          const validation = earlyStoppingCases(evalCases(data.validation, { max: DEFAULT_EVAL_CASES, seed: 3 }), shape.rows, 12);
          assert.equal(report.validationCases, validation.length);
          const onValidation = await sessionScorer(session, adapter.values, shape)(validation, 0.5);
          assert.ok(Math.abs(onValidation.l2 - report.best.l2) < 1e-4, `validation L2 ${onValidation.l2} vs best ${report.best.l2}`);
          assert.ok(Math.abs(straight.eval.after.l2 - report.best.l2) > 1e-4, 'the held-out L2 is a different measurement');
          const heldOutFiles = new Set(data.heldOut.map((e) => e.file));
          assert.ok(validation.every((e) => !heldOutFiles.has(e.file)));
        } finally {
          await Promise.all([session.dispose(), merged.dispose(), plain.dispose()]);
        }
      } finally {
        base.close();
      }
    });

    it('`eval --adapter` scores the same cut points as finetune with the same seed, and gets its numbers', async () => {
      const savedHome = process.env.GPT2_COMPLETE_HOME;
      process.env.GPT2_COMPLETE_HOME = path.join(dir, 'home');
      let stdout: string;
      try {
        stdout = await captureStdout(() => evalCommand([corpus, '--model', model, '--adapter', path.join(dir, 'lora-a'), '--seed', '3', '--eval-cases', '4', '--threads', '2', '--json']));
      } finally {
        if (savedHome === undefined) delete process.env.GPT2_COMPLETE_HOME;
        else process.env.GPT2_COMPLETE_HOME = savedHome;
      }
      const r = JSON.parse(stdout);
      assert.deepEqual(Object.keys(r), ['l1', 'l2', 'perplexity', 'exact_match', 'head']);
      assert.equal(r.head, null, 'this adapter has no acceptance head');
      const after = straight.eval.after;
      assert.ok(Math.abs(r.l2 - after.l2) < 1e-4 && Math.abs(r.l1 - after.l1) < 1e-4, `${JSON.stringify(r)} vs ${JSON.stringify(after)}`);
      assert.equal(r.exact_match, after.exact_match);
      assert.throws(() => adapterOverlay(path.join(dir, 'no-such')), (e: unknown) => e instanceof UserError && /no such folder/.test(e.message));
      assert.throws(() => adapterOverlay(corpus), (e: unknown) => e instanceof UserError && /not an adapter/.test(e.message));
    });

    it('resumes a cancelled run to the adapter of an uninterrupted one', async () => {
      const controller = new AbortController();
      const emit = (m: ChildMessage) => {
        if (m.type === 'progress' && m.step === 6) controller.abort();
      };
      await assert.rejects(runFineTune(job('lora-b', lora), emit, controller.signal), CancelledError);
      const out = path.join(dir, 'lora-b');
      assert.equal(latestCheckpoint(out)!.step, 4);
      assert.ok(!fs.existsSync(path.join(out, ADAPTER_WEIGHTS_FILE)));

      const { messages, emit: record } = collect();
      const resumed = (await runFineTune(job('lora-b', lora), record, new AbortController().signal))!;
      const steps = messages.filter((m) => m.type === 'progress').map((m) => (m as { step: number }).step);
      assert.deepEqual(steps, [5, 6, 7, 8, 9, 10, 11, 12], 'continues after the checkpoint of step 4');
      assert.equal(resumed.steps, straight.steps);
      assert.equal(resumed.tokens, straight.tokens);
      assert.deepEqual(resumed.eval.before, straight.eval.before);

      const a = loadAdapter(path.join(dir, 'lora-a'), CONFIG).values;
      const b = loadAdapter(out, CONFIG).values;
      assert.deepEqual([...b.keys()], [...a.keys()]);
      let worst = 0;
      for (const [name, va] of a) {
        const vb = b.get(name)!;
        for (let i = 0; i < va.length; i++) worst = Math.max(worst, Math.abs(va[i] - vb[i]));
      }
      assert.ok(worst <= 1e-6, `largest difference ${worst}`);
    });
  });

  it('trains the acceptance head for the new adapter when the job asks (head.safetensors beside it, in the result and the messages)', async () => {
    const { messages, emit } = collect();
    const requests: HeadTrainRequest[] = [];
    const trainHead: HeadTrainer = (request) => {
      requests.push(request);
      return pipelineHeadTrainer(request);
    };
    // The judge's requests are recorded: with a head of its own, the adapter is judged as the editor shows it.
    const judged: QualityJudgeRequest[] = [];
    const judge: QualityJudge = async (request) => {
      judged.push(request);
      const counts = { cuts: 12, exact: request.adapter === undefined ? 3 : 4, shown: 6, edit_similarity: 0.5 };
      return { model: counts, bestBaseline: { ...counts, exact: 2, shown: 12 } };
    };
    const r = (await runFineTune(job('lora-head', { steps: 4, head: true, headCuts: 60, qualityCuts: 12 }), emit, new AbortController().signal, { trainHead, judge }))!;
    const out = path.join(dir, 'lora-head');
    assert.deepEqual(judged.map((q) => [q.adapter, q.head]), [[undefined, true], [out, true]]);
    assert.equal(r.quality?.head, true);
    assert.equal(r.verdict.reason.split(' (')[0], 'next-line exact match rose from 3 to 4 of 12 held-out cuts, by the completion pipeline with its acceptance head');
    // The head reads the adapter's states: the base model with the new adapter over it.
    assert.equal(requests.length, 1);
    assert.equal(requests[0].model, model);
    assert.equal(requests[0].adapter, out);
    assert.equal(requests[0].cuts, 60);
    assert.ok(r.head !== undefined && r.head.out === out && r.head.examples >= 20, JSON.stringify(r.head));
    assert.equal(r.head.fromSuggestionLog, 0);
    const head = loadAcceptanceHead(out, CONFIG.nEmbd);
    assert.ok(head !== undefined && head.meta.examples === r.head.examples);
    const headMessages = messages.filter((m): m is Extract<ChildMessage, { type: 'head' }> => m.type === 'head');
    assert.deepEqual(headMessages.at(-1)!.result, r.head);
    assert.ok(headMessages.some((m) => m.result === undefined && m.done > 0 && m.total === 60));
    const types = messages.map((m) => m.type);
    assert.ok(types.indexOf('head') > types.lastIndexOf('progress'), 'after training');
    assert.deepEqual(JSON.parse(fs.readFileSync(path.join(out, 'report.json'), 'utf8')).result.head, r.head);
  });

  it('stops before training with a one-line message when the folder has too little data', async () => {
    const small = path.join(dir, 'small');
    writeCorpus(small, 3, 4);
    const { messages, emit } = collect();
    await assert.rejects(runFineTune(job('small-out', { folder: small }), emit, new AbortController().signal), (e: unknown) => {
      assert.ok(e instanceof UserError);
      assert.match(e.message, /^too little data to fine-tune on in .*: found 3 usable files, .* tokens .*needs at least 20,000 tokens/);
      assert.ok(!e.message.includes('\n'));
      return true;
    });
    assert.deepEqual(messages.map((m) => m.type), ['report']);
    assert.ok(!fs.existsSync(path.join(dir, 'small-out')));
  });

  describe('in a child process', () => {
    const script = path.join(REPO, 'dist', 'fineTuneProcess.js');
    before(function () {
      this.timeout(120_000);
      execFileSync(process.execPath, [path.join(REPO, 'scripts', 'build.mjs')], { cwd: REPO, stdio: 'pipe' });
    });

    it('runs a job end to end and reports through messages', async () => {
      const messages: ChildMessage[] = [];
      const output: string[] = [];
      let environ: string[] | undefined;
      const handle = startFineTune(job('child', { steps: 2, qualityCuts: 12 }), {
        script,
        execArgv: [],
        onOutput: (t) => output.push(t),
        onMessage: (m) => {
          // While the child runs: glibc read these at its start (trainingEnvironment).
          if (messages.length === 0 && fs.existsSync(`/proc/${handle.pid}/environ`)) environ = fs.readFileSync(`/proc/${handle.pid}/environ`, 'utf8').split('\0');
          messages.push(m);
        },
      });
      const r = (await handle.result)!;
      if (process.platform === 'linux') assert.ok(environ, 'read the child\'s environment while it ran');
      if (environ) assert.ok(environ.includes('MALLOC_MMAP_MAX_=0') && environ.includes(`MALLOC_TRIM_THRESHOLD_=${2 ** 40}`), 'malloc settings reach the training process');
      assert.equal(r.steps, 2);
      assert.equal(r.out, path.join(dir, 'child'));
      assert.ok(fs.existsSync(path.join(dir, 'child', ADAPTER_WEIGHTS_FILE)));
      assert.deepEqual([...new Set(messages.map((m) => m.type))], ['report', 'estimate', 'eval', 'quality', 'progress', 'done']);
      // The child judged the base model and the adapter with the editor's pipeline on the same held-out cuts.
      const quality = messages.filter((m): m is Extract<ChildMessage, { type: 'quality' }> => m.type === 'quality');
      assert.deepEqual(quality.map((m) => m.phase), ['before', 'after']);
      assert.ok(r.quality && r.quality.before.cuts === 12 && r.quality.after.cuts === 12, JSON.stringify(r.quality));
      assert.deepEqual(r.quality.before, quality[0].result);
      assert.ok(r.quality.before.exact <= r.quality.before.shown && r.quality.best_baseline.cuts === 12);
      assert.match(r.verdict.reason, /of 12 held-out cuts, by the completion pipeline without the acceptance head/);
    });

    it("trainingEnvironment: large buffers stay in malloc's heap for reuse; the user's own settings win", () => {
      assert.deepEqual(trainingEnvironment({ PATH: '/bin', MALLOC_MMAP_MAX_: '65536' }), { PATH: '/bin', MALLOC_MMAP_MAX_: '65536', MALLOC_TRIM_THRESHOLD_: String(2 ** 40) });
    });

    it('cancels through the client at a step boundary, and a dry run stops before training', async () => {
      const messages: ChildMessage[] = [];
      const handle = startFineTune(job('child-cancel', { steps: 500 }), {
        script,
        execArgv: [],
        onOutput: () => undefined,
        onMessage: (m) => {
          messages.push(m);
          if (m.type === 'progress') handle.cancel();
        },
      });
      await assert.rejects(handle.result, CancelledError);
      assert.equal(messages.at(-1)!.type, 'cancelled');
      assert.ok(messages.filter((m) => m.type === 'progress').length < 5);

      const dry = startFineTune(job('child-dry', { dryRun: true }), { script, execArgv: [], onOutput: () => undefined });
      assert.equal(await dry.result, null);
      assert.ok(!fs.existsSync(path.join(dir, 'child-dry')));
    });

    it('reports a child that dies without a result, with its exit', async () => {
      const crash = path.join(dir, 'crash.js');
      fs.writeFileSync(crash, "process.on('message', () => { process.stderr.write('boom\\n'); process.exit(3); });");
      const handle = startFineTune(job('never'), { script: crash, execArgv: [], onOutput: () => undefined });
      await assert.rejects(handle.result, /exited with code 3 before reporting a result; its last output:\nboom/);
    });
  });
});
