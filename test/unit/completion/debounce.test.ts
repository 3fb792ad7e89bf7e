import { strict as assert } from 'node:assert';
import { AdaptiveDebouncer, wait, type Timers } from '../../../src/completion/debounce';

/** Timers driven by hand: `advance(ms)` runs what falls due, in time order. */
class FakeClock implements Timers {
  now = 0;
  private nextId = 1;
  private readonly pending = new Map<number, { at: number; callback: () => void }>();

  setTimeout(callback: () => void, ms: number): unknown {
    const id = this.nextId++;
    this.pending.set(id, { at: this.now + ms, callback });
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.pending.delete(handle as number);
  }

  advance(ms: number): void {
    const until = this.now + ms;
    for (;;) {
      let due: [number, { at: number; callback: () => void }] | undefined;
      for (const entry of this.pending) if (entry[1].at <= until && (due === undefined || entry[1].at < due[1].at)) due = entry;
      if (due === undefined) break;
      this.pending.delete(due[0]);
      this.now = due[1].at;
      due[1].callback();
    }
    this.now = until;
  }

  get timerCount(): number {
    return this.pending.size;
  }
}

/** Types `count` keystrokes `intervalMs` apart; returns the delay after the last one. */
function typeSteadily(debouncer: AdaptiveDebouncer, clock: FakeClock, count: number, intervalMs: number): number {
  let delay = 0;
  for (let i = 0; i < count; i++) {
    delay = debouncer.delayFor(clock.now);
    clock.now += intervalMs;
  }
  return delay;
}

describe('adaptive debouncer', () => {
  it('uses the base delay until the rhythm is known', () => {
    const clock = new FakeClock();
    const debouncer = new AdaptiveDebouncer({ baseDelayMs: 200 });
    assert.equal(typeSteadily(debouncer, clock, 5, 50), 200); // 4 intervals < 5 samples
    assert.equal(debouncer.typingIntervalMs(), undefined);
  });

  const table: { name: string; intervalMs: number; hints?: Parameters<AdaptiveDebouncer['delayFor']>[1]; expected: number }[] = [
    { name: 'steady 120 ms typing waits two intervals', intervalMs: 120, expected: 240 },
    { name: 'at a likely point (line end, after ".") waits 1.25 intervals', intervalMs: 120, hints: { atLineEnd: true, typedCharacter: '.' }, expected: 150 },
    { name: 'line end alone', intervalMs: 120, hints: { atLineEnd: true }, expected: 204 },
    { name: 'a word character is no hint', intervalMs: 120, hints: { typedCharacter: 'a' }, expected: 240 },
    { name: 'fast typist: clamped to half the base', intervalMs: 25, expected: 100 },
    { name: 'slow typist: clamped to four times the base', intervalMs: 900, expected: 800 },
    { name: 'manual trigger does not wait', intervalMs: 100, hints: { manual: true }, expected: 0 },
  ];
  for (const row of table) {
    it(row.name, () => {
      const clock = new FakeClock();
      const debouncer = new AdaptiveDebouncer({ baseDelayMs: 200 });
      typeSteadily(debouncer, clock, 20, row.intervalMs);
      assert.equal(debouncer.delayFor(clock.now, row.hints), row.expected);
    });
  }

  it('follows a change of pace through the moving average', () => {
    const clock = new FakeClock();
    const debouncer = new AdaptiveDebouncer({ baseDelayMs: 200 });
    typeSteadily(debouncer, clock, 30, 200);
    const slow = debouncer.currentDelay();
    typeSteadily(debouncer, clock, 3, 60);
    const adapting = debouncer.currentDelay();
    typeSteadily(debouncer, clock, 40, 60);
    const fast = debouncer.currentDelay();
    assert.equal(slow, 400);
    assert.ok(adapting < slow && adapting > fast, `${slow} > ${adapting} > ${fast}`);
    assert.equal(fast, 120);
  });

  it("spends the model's expected response time inside the pause", () => {
    const clock = new FakeClock();
    const debouncer = new AdaptiveDebouncer({ baseDelayMs: 200 });
    typeSteadily(debouncer, clock, 20, 150);
    assert.equal(debouncer.currentDelay(), 300); // no answer timed yet
    debouncer.recordLatency(80);
    assert.equal(debouncer.expectedLatency(), 80);
    assert.equal(debouncer.currentDelay(), 220); // the ghost text still shows ~300 ms after the last key
    debouncer.recordLatency(180); // moving average: 80 + 0.3 × 100
    assert.equal(debouncer.expectedLatency(), 110);
    assert.equal(debouncer.currentDelay(), 190);
    debouncer.recordLatency(5000); // a slow model never makes the wait shorter than half the base
    assert.equal(debouncer.currentDelay(), 100);
    debouncer.recordLatency(Number.NaN);
    assert.ok(Number.isFinite(debouncer.expectedLatency()));
  });

  it('before the rhythm is known the base delay stands, whatever the latency', () => {
    const clock = new FakeClock();
    const debouncer = new AdaptiveDebouncer({ baseDelayMs: 200 });
    debouncer.recordLatency(150);
    assert.equal(typeSteadily(debouncer, clock, 3, 100), 200);
  });

  it('ignores pauses longer than pauseMs', () => {
    const clock = new FakeClock();
    const debouncer = new AdaptiveDebouncer({ baseDelayMs: 200, pauseMs: 1000 });
    typeSteadily(debouncer, clock, 10, 100);
    clock.now += 5000;
    debouncer.recordKeystroke(clock.now);
    assert.equal(debouncer.typingIntervalMs(), 100);
  });

  it('base 0 turns debouncing off; adaptive false keeps the base', () => {
    const clock = new FakeClock();
    const off = new AdaptiveDebouncer({ baseDelayMs: 0 });
    const fixed = new AdaptiveDebouncer({ baseDelayMs: 250, adaptive: false });
    assert.equal(typeSteadily(off, clock, 20, 100), 0);
    assert.equal(typeSteadily(fixed, clock, 20, 30), 250);
  });

  it('reset forgets the rhythm', () => {
    const clock = new FakeClock();
    const debouncer = new AdaptiveDebouncer({ baseDelayMs: 200 });
    typeSteadily(debouncer, clock, 20, 30);
    debouncer.reset();
    assert.equal(debouncer.typingIntervalMs(), undefined);
    assert.equal(debouncer.delayFor(clock.now), 200);
  });
});

describe('wait', () => {
  it('resolves true once the time has passed', async () => {
    const clock = new FakeClock();
    let result: boolean | undefined;
    void wait(300, undefined, clock).then((r) => (result = r));
    clock.advance(299);
    await Promise.resolve();
    assert.equal(result, undefined);
    clock.advance(1);
    await Promise.resolve();
    assert.equal(result, true);
  });

  it('resolves false at once on abort and clears its timer', async () => {
    const clock = new FakeClock();
    const controller = new AbortController();
    const pending = wait(300, controller.signal, clock);
    assert.equal(clock.timerCount, 1);
    controller.abort();
    assert.equal(await pending, false);
    assert.equal(clock.timerCount, 0);
  });

  it('resolves false without a timer when already aborted', async () => {
    const clock = new FakeClock();
    const controller = new AbortController();
    controller.abort();
    assert.equal(await wait(300, controller.signal, clock), false);
    assert.equal(clock.timerCount, 0);
  });

  it('works with the real timers', async () => {
    assert.equal(await wait(1), true);
  });
});
