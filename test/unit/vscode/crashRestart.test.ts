// The engine's automatic restart after a crash: growing pauses, and a stop after crashes close together.
import { strict as assert } from 'node:assert';
import { CrashRestartPolicy, EngineCrashLoopError } from '../../../src/vscode/crashRestart';

describe('crash restart policy', () => {
  const options = { delaysMs: [1_000, 5_000], maxCrashes: 3, windowMs: 5 * 60_000 };

  it('restarts after 1 s, then 5 s, and stops at the third crash within the window', () => {
    let now = 0;
    const policy = new CrashRestartPolicy(options, () => now);
    assert.deepEqual(policy.recordCrash(), { restart: true, delayMs: 1_000, crashes: 1 });
    now += 60_000;
    assert.deepEqual(policy.recordCrash(), { restart: true, delayMs: 5_000, crashes: 2 });
    now += 60_000;
    assert.deepEqual(policy.recordCrash(), { restart: false, crashes: 3 });
  });

  it('forgets crashes older than the window, so a rare crash always restarts', () => {
    let now = 0;
    const policy = new CrashRestartPolicy(options, () => now);
    for (let i = 0; i < 10; i++) {
      const d = policy.recordCrash();
      assert.equal(d.restart, true, `crash ${i + 1}`);
      now += 3 * 60_000; // two crashes never fall in the same five minutes with a third
    }
  });

  it('starts counting afresh after a reload the user asked for', () => {
    const policy = new CrashRestartPolicy(options, () => 0);
    policy.recordCrash();
    policy.recordCrash();
    policy.reset();
    assert.deepEqual(policy.recordCrash(), { restart: true, delayMs: 1_000, crashes: 1 });
  });

  it('the stopped state names the way out', () => {
    const e = new EngineCrashLoopError(3, 5 * 60_000, 'the model process crashed (SIGKILL)');
    assert.match(e.message, /keeps crashing \(3 times in 5 minutes; last: the model process crashed \(SIGKILL\)\)/);
    assert.match(e.message, /Reload Model/);
  });
});
