/**
 * What a fine-tune does to its output folder when things go wrong: a second run into the same
 * folder, a training process killed mid-run, a disk that fills up while the model is written.
 */
import { strict as assert } from 'node:assert';
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { resumeCommand } from '../../../src/cli/finetuneCommand';
import { CancelledError, UserError } from '../../../src/engine/errors';
import { runFineTune } from '../../../src/training/fineTune';
import { startFineTune } from '../../../src/training/fineTuneClient';
import type { ChildMessage, FineTuneJob } from '../../../src/training/fineTuneProtocol';
import { acquireLockFile, isStale } from '../../../src/training/lockFile';
import { OUTPUT_LOCK_FILE, OutputLockedError, acquireOutputLock } from '../../../src/training/outputLock';
import { latestCheckpoint } from '../../../src/training/checkpointStore';
import { mountSmallDisk } from '../../helpers/tmpfs';
import { collect, useFineTuneFixture } from './fineTuneFixtures';

const REPO = path.resolve(__dirname, '../../..');

/** A pid that is certainly not running: a process that has exited. */
function deadPid(): number {
  return spawnSync(process.execPath, ['-e', '']).pid!;
}

function writeLock(out: string, pid: number, startedAt = '2026-01-02T03:04:05.000Z'): void {
  fs.mkdirSync(out, { recursive: true });
  fs.writeFileSync(path.join(out, OUTPUT_LOCK_FILE), JSON.stringify({ pid, hostname: os.hostname(), startedAt, folder: '/elsewhere' }));
}

/** Resolves once `check` holds, polling. */
async function until(check: () => boolean, what: string, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('fine-tuning output safety', function () {
  this.timeout(180_000);
  const fixture = useFineTuneFixture('gpt2c-finetune-safety-', 1);
  const job = fixture.job;
  let dir: string;
  let corpus: string;
  let model: string;
  before(() => ({ dir, corpus, model } = fixture));

  describe('the output folder lock', () => {
    it('refuses a live holder with one line, takes over a dead one, and a holder in this process is live', () => {
      const out = path.join(dir, 'locks');
      writeLock(out, process.ppid);
      assert.throws(
        () => acquireOutputLock(out, corpus),
        (e: unknown) =>
          e instanceof OutputLockedError &&
          e.message === `${out} is being written by another fine-tune (pid ${process.ppid}, started 2026-01-02T03:04:05.000Z); wait for it or choose another --out`,
      );
      writeLock(out, deadPid());
      const held = acquireOutputLock(out, corpus);
      assert.equal(JSON.parse(fs.readFileSync(held.file, 'utf8')).pid, process.pid, 'the dead run\'s lock was taken over');
      assert.throws(() => acquireOutputLock(out, corpus), OutputLockedError, 'our own live lock');
      held.release();
      assert.ok(!fs.existsSync(held.file));
      held.release(); // idempotent
      // The extension's rule stays: a leftover lock with our pid that this process does not hold is stale.
      assert.equal(isStale({ pid: process.pid, hostname: os.hostname(), startedAt: '' }, { pid: process.pid, hostname: os.hostname() }, path.join(out, 'other.lock')), true);
      assert.equal(isStale({ pid: process.ppid, hostname: 'another-host', startedAt: '' }, { pid: process.pid, hostname: os.hostname() }), false);
      const unreadable = path.join(out, 'x.lock');
      fs.writeFileSync(unreadable, '{"pid":');
      acquireLockFile(unreadable, { pid: process.pid, hostname: os.hostname(), startedAt: 'now' }, () => new Error('held')).release();
    });

    it('runFineTune refuses an output folder a live fine-tune holds, before reading anything, and leaves its lock', async () => {
      const out = path.join(dir, 'held-out-folder');
      writeLock(out, process.ppid);
      const { messages, emit } = collect();
      await assert.rejects(runFineTune(job('held-out-folder'), emit, new AbortController().signal), (e: unknown) => e instanceof UserError && /is being written by another fine-tune/.test(e.message));
      assert.deepEqual(messages, []);
      assert.deepEqual(fs.readdirSync(out), [OUTPUT_LOCK_FILE]);
      assert.equal(JSON.parse(fs.readFileSync(path.join(out, OUTPUT_LOCK_FILE), 'utf8')).pid, process.ppid);
    });
  });

  describe('in child processes', () => {
    const script = path.join(REPO, 'dist', 'fineTuneProcess.js');
    before(function () {
      this.timeout(120_000);
      execFileSync(process.execPath, [path.join(REPO, 'scripts', 'build.mjs')], { cwd: REPO, stdio: 'pipe' });
    });

    it('two runs into one --out: the second is refused while the first runs; the lock goes when the first ends', async () => {
      const first: ChildMessage[] = [];
      const a = startFineTune(job('shared', { steps: 50, checkpointEvery: 1, holdAfterStep: 1 }), { script, execArgv: [], onOutput: () => undefined, onMessage: (m) => first.push(m) });
      const lock = path.join(dir, 'shared', OUTPUT_LOCK_FILE);
      await until(() => first.some((m) => m.type === 'progress'), 'the first run to train');
      const b = startFineTune(job('shared', { steps: 2 }), { script, execArgv: [], onOutput: () => undefined });
      await assert.rejects(b.result, (e: unknown) => {
        assert.ok(e instanceof UserError, String(e));
        assert.match(e.message, new RegExp(`^${path.join(dir, 'shared').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is being written by another fine-tune \\(pid ${a.pid}, started [^)]+\\); wait for it or choose another --out$`));
        return true;
      });
      assert.ok(fs.existsSync(lock), 'the first run still holds its lock');
      a.cancel();
      await assert.rejects(a.result, CancelledError);
      assert.ok(!fs.existsSync(lock), 'released on cancel');
    });

    it('a run killed after a checkpoint says so in one line, with the step and how to resume; the same job then resumes', async () => {
      const out = path.join(dir, 'killed');
      const base = job('killed', { steps: 4, checkpointEvery: 1, evalEvery: 2, patience: 10 });
      const messages: ChildMessage[] = [];
      const handle = startFineTune({ ...base, holdAfterStep: 2 }, {
        script,
        execArgv: [],
        onOutput: () => undefined,
        onMessage: (m) => messages.push(m),
        resumeHint: 'run the same command again to resume: gpt2-complete finetune corpus --out killed',
      });
      await until(() => latestCheckpoint(out)?.step === 2, 'the checkpoint of step 2');
      process.kill(handle.pid!, 'SIGKILL');
      await assert.rejects(handle.result, (e: unknown) => {
        assert.ok(e instanceof UserError, String(e));
        assert.equal(
          e.message,
          `the fine-tuning process was killed by SIGKILL (often the system running out of memory); its last checkpoint is step 2 in ${out}: ` +
            'run the same command again to resume: gpt2-complete finetune corpus --out killed',
        );
        return true;
      });
      assert.ok(fs.existsSync(path.join(out, OUTPUT_LOCK_FILE)), 'a killed run cannot release its lock');

      // The hint is true: the same job continues from step 2, taking over the dead run's lock.
      const resumed: ChildMessage[] = [];
      const again = startFineTune(base, { script, execArgv: [], onOutput: () => undefined, onMessage: (m) => resumed.push(m) });
      const result = (await again.result)!;
      assert.equal(result.steps, 4);
      assert.deepEqual(resumed.filter((m) => m.type === 'progress').map((m) => (m as { step: number }).step), [3, 4]);
      assert.ok(!fs.existsSync(path.join(out, OUTPUT_LOCK_FILE)), 'released when done');
    });

    it('a crash before any checkpoint still reports the exit and the output', async () => {
      const crash = path.join(dir, 'crash.js');
      fs.writeFileSync(crash, "process.on('message', () => { process.stderr.write('boom\\n'); process.kill(process.pid, 'SIGTERM'); });");
      const handle = startFineTune(job('never'), { script: crash, execArgv: [], onOutput: () => undefined });
      await assert.rejects(handle.result, (e: unknown) => !(e instanceof UserError) && /was killed by SIGTERM before reporting a result; its last output:\nboom/.test((e as Error).message));
    });
  });

  it('full fine-tuning onto a full disk: one line naming the folder, nothing half-written, the lock released', async function () {
    const disk = mountSmallDisk('1m');
    if ('reason' in disk) {
      console.log(`    (skipped: ${disk.reason})`);
      this.skip();
    }
    try {
      const out = path.join(disk.dir, 'full');
      await assert.rejects(runFineTune({ ...job('unused', { method: 'full', steps: 3, checkpointEvery: 1 }), out }, () => undefined, new AbortController().signal), (e: unknown) => {
        assert.ok(e instanceof UserError, String((e as Error).stack));
        assert.equal(e.message, `cannot write ${out}: no space left on the device (ENOSPC); free some space and try again`);
        return true;
      });
      const left: string[] = [];
      const walk = (d: string): void => {
        for (const e of fs.readdirSync(d, { withFileTypes: true })) {
          left.push(path.relative(out, path.join(d, e.name)));
          if (e.isDirectory()) walk(path.join(d, e.name));
        }
      };
      walk(out);
      assert.ok(!left.some((f) => f.includes('.tmp') || f.endsWith('.safetensors') || f === OUTPUT_LOCK_FILE), `left behind: ${left.join(', ')}`);
    } finally {
      disk.unmount();
    }
  });

  it('the CLI names the exact command that resumes', () => {
    assert.equal(
      resumeCommand(['./my project', '--model', 'gpt2', '--out', "it's/out", '--steps', '100']),
      "gpt2-complete finetune './my project' --model gpt2 --out 'it'\\''s/out' --steps 100",
    );
  });
});
