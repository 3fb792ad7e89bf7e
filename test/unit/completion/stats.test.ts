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
    assert.deepEqual(stats.snapshot(), { shown: 4, accepted: 3, acceptedChars: 15, partialAccepts: 0 });
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
    stats.recordPartialAccept(4);
    const json = JSON.stringify(stats);
    assert.equal(json, '{"shown":2,"accepted":1,"acceptedChars":11,"partialAccepts":1}');
    assert.deepEqual(CompletionStats.fromJSON(json).snapshot(), stats.snapshot());
    assert.deepEqual(CompletionStats.fromJSON(JSON.parse(json)).snapshot(), stats.snapshot());
  });

  it('restarts from zero on malformed stored data', () => {
    const zero = { shown: 0, accepted: 0, acceptedChars: 0, partialAccepts: 0 };
    for (const bad of [undefined, null, 42, 'not json', '{"shown":-1,"accepted":0,"acceptedChars":0}', { shown: 1.5, accepted: 0, acceptedChars: 0 }, { shown: 3 }]) {
      assert.deepEqual(CompletionStats.fromJSON(bad).snapshot(), zero, JSON.stringify(bad));
    }
  });

  it('reset clears the counters', () => {
    const stats = new CompletionStats();
    stats.recordShown();
    stats.recordAccepted(4);
    stats.recordPartialAccept(2);
    stats.reset();
    assert.deepEqual(stats.toJSON(), { shown: 0, accepted: 0, acceptedChars: 0, partialAccepts: 0 });
  });

  it('partial accepts add characters but not acceptances', () => {
    const stats = new CompletionStats();
    stats.recordShown();
    stats.recordPartialAccept(5); // a word
    stats.recordPartialAccept(9.9); // a line
    stats.recordAccepted(3); // Tab takes the rest
    assert.deepEqual(stats.snapshot(), { shown: 1, accepted: 1, acceptedChars: 17, partialAccepts: 2 });
    assert.equal(stats.acceptRate(), 1);
  });

  it('reads counters stored before partial accepts were counted', () => {
    const old = CompletionStats.fromJSON('{"shown":5,"accepted":2,"acceptedChars":30}');
    assert.deepEqual(old.snapshot(), { shown: 5, accepted: 2, acceptedChars: 30, partialAccepts: 0 });
    const bad = CompletionStats.fromJSON({ shown: 5, accepted: 2, acceptedChars: 30, partialAccepts: -1 });
    assert.equal(bad.snapshot().partialAccepts, 0);
  });
});
