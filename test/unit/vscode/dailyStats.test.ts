// Per-day suggestion counters: local days, bounded history, and the before/after-fine-tune report.
import { strict as assert } from 'node:assert';
import { DailyStats, dayKey, MAX_DAYS, qualityReport } from '../../../src/vscode/dailyStats';

describe('daily suggestion stats', () => {
  it('counts per local day and survives a JSON round trip', () => {
    let now = new Date(2026, 11, 4, 23, 59);
    const daily = new DailyStats(() => now);
    daily.recordShown();
    daily.recordShown();
    daily.recordAccepted(10);
    now = new Date(2026, 11, 5, 0, 1);
    daily.recordShown();
    daily.recordPartialAccept(4);
    const back = DailyStats.fromJSON(JSON.parse(JSON.stringify(daily.toJSON())), () => now);
    assert.deepEqual(back.rows(), [
      { day: '2026-12-04', counts: { shown: 2, accepted: 1, partialAccepts: 0, acceptedChars: 10 } },
      { day: '2026-12-05', counts: { shown: 1, accepted: 0, partialAccepts: 1, acceptedChars: 4 } },
    ]);
  });

  it(`keeps at most ${MAX_DAYS} days, dropping the oldest`, () => {
    let now = new Date(2026, 0, 1, 12);
    const daily = new DailyStats(() => now);
    for (let i = 0; i < MAX_DAYS + 10; i++) {
      daily.recordShown();
      now = new Date(now.getTime() + 86_400_000);
    }
    const rows = daily.rows();
    assert.equal(rows.length, MAX_DAYS);
    assert.equal(rows[0].day, dayKey(new Date(2026, 0, 11, 12)));
  });

  it('skips malformed stored days instead of failing', () => {
    const daily = DailyStats.fromJSON({ 'not-a-day': { shown: 1 }, '2026-01-02': { shown: -3, accepted: 'x', acceptedChars: 7 } });
    assert.deepEqual(daily.rows(), [{ day: '2026-01-02', counts: { shown: 0, accepted: 0, partialAccepts: 0, acceptedChars: 7 } }]);
    assert.deepEqual(DailyStats.fromJSON(undefined).rows(), []);
  });

  it('reports acceptance before and since the fine-tune, and a row per day newest first', () => {
    const rows = [
      { day: '2026-12-01', counts: { shown: 10, accepted: 1, partialAccepts: 0, acceptedChars: 20 } },
      { day: '2026-12-02', counts: { shown: 10, accepted: 1, partialAccepts: 0, acceptedChars: 40 } },
      { day: '2026-12-03', counts: { shown: 10, accepted: 5, partialAccepts: 2, acceptedChars: 150 } },
    ];
    const text = qualityReport(rows, '2026-12-03');
    assert.match(text, /before: 10\.0% of 20 suggestions accepted, 30 characters accepted a day \(2 days\)/);
    assert.match(text, /since: {2}50\.0% of 10 suggestions accepted, 150 characters accepted a day \(1 day\)/);
    const dayLines = text.split('\n').filter((l) => /^2026-12-0\d/.test(l));
    assert.deepEqual(dayLines.map((l) => l.slice(0, 10)), ['2026-12-03', '2026-12-02', '2026-12-01']);
    assert.match(dayLines[0], /^2026-12-03\s+10\s+5\s+50\.0%\s+2\s+150 {2}← fine-tuned$/);
    assert.match(qualityReport([]), /No suggestions counted yet/);
  });
});
