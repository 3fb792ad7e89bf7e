import { strict as assert } from 'node:assert';
import { CompletionStats } from '../../../src/completion/stats';

describe('completion stats', () => {
  it('counts shown, accepted and accepted characters', () => {
    const stats = new CompletionStats();
    assert.equal(stats.acceptRate(), 0);
    for (let i = 0; i < 4; i++) stats.recordShown();
    stats.recordAccepted(12);
    stats.recordAccepted(3.7);
    stats.recordAccepted(-5);
    assert.deepEqual(stats.snapshot(), { shown: 4, accepted: 3, acceptedChars: 15 });
    assert.equal(stats.acceptRate(), 0.75);
  });

  it('accept rate never exceeds 1', () => {
    const stats = new CompletionStats();
    stats.recordShown();
    stats.recordAccepted(1);
    stats.recordAccepted(1); // two partial accepts of one suggestion
    assert.equal(stats.acceptRate(), 1);
  });

  it('round-trips through JSON', () => {
    const stats = new CompletionStats();
    stats.recordShown();
    stats.recordShown();
    stats.recordAccepted(7);
    const json = JSON.stringify(stats);
    assert.equal(json, '{"shown":2,"accepted":1,"acceptedChars":7}');
    assert.deepEqual(CompletionStats.fromJSON(json).snapshot(), stats.snapshot());
    assert.deepEqual(CompletionStats.fromJSON(JSON.parse(json)).snapshot(), stats.snapshot());
  });

  it('restarts from zero on malformed stored data', () => {
    const zero = { shown: 0, accepted: 0, acceptedChars: 0 };
    for (const bad of [undefined, null, 42, 'not json', '{"shown":-1,"accepted":0,"acceptedChars":0}', { shown: 1.5, accepted: 0, acceptedChars: 0 }, { shown: 3 }]) {
      assert.deepEqual(CompletionStats.fromJSON(bad).snapshot(), zero, JSON.stringify(bad));
    }
  });

  it('reset clears the counters', () => {
    const stats = new CompletionStats();
    stats.recordShown();
    stats.recordAccepted(4);
    stats.reset();
    assert.deepEqual(stats.toJSON(), { shown: 0, accepted: 0, acceptedChars: 0 });
  });
});
