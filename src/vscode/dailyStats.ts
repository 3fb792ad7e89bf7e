/**
 * Suggestion counters per local calendar day, for "Show Suggestion Quality": acceptance rate and
 * characters accepted over time, so a user can see whether a fine-tune helped. Kept on this machine
 * only, at most MAX_DAYS days (older days are dropped as new ones start). No `vscode` import.
 */

export interface DayCounts {
  shown: number;
  accepted: number;
  /** Word or line accepts (their characters are in acceptedChars). */
  partialAccepts: number;
  acceptedChars: number;
}

export const MAX_DAYS = 90;

/** "2026-12-05" in the machine's time zone: a user's day, not UTC's. */
export function dayKey(date: Date): string {
  const pad = (n: number): string => String(n).padStart(2, '0');
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`;
}

const count = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? Math.floor(v) : 0);

export class DailyStats {
  private readonly days = new Map<string, DayCounts>();

  constructor(private readonly now: () => Date = () => new Date()) {}

  recordShown(): void {
    this.today().shown++;
  }

  recordAccepted(chars: number): void {
    const d = this.today();
    d.accepted++;
    d.acceptedChars += count(chars);
  }

  recordPartialAccept(chars: number): void {
    const d = this.today();
    d.partialAccepts++;
    d.acceptedChars += count(chars);
  }

  reset(): void {
    this.days.clear();
  }

  /** Days with counts, oldest first. */
  rows(): { day: string; counts: DayCounts }[] {
    return [...this.days.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([day, counts]) => ({ day, counts: { ...counts } }));
  }

  toJSON(): Record<string, DayCounts> {
    return Object.fromEntries(this.rows().map((r) => [r.day, r.counts]));
  }

  /** From stored JSON; malformed days are skipped, not fatal. */
  static fromJSON(stored: unknown, now?: () => Date): DailyStats {
    const daily = new DailyStats(now);
    if (typeof stored !== 'object' || stored === null) return daily;
    for (const [day, v] of Object.entries(stored as Record<string, unknown>)) {
      if (!/^\d{4}-\d{2}-\d{2}$/.test(day) || typeof v !== 'object' || v === null) continue;
      const o = v as Record<string, unknown>;
      daily.days.set(day, { shown: count(o.shown), accepted: count(o.accepted), partialAccepts: count(o.partialAccepts), acceptedChars: count(o.acceptedChars) });
    }
    daily.prune();
    return daily;
  }

  private today(): DayCounts {
    const key = dayKey(this.now());
    let d = this.days.get(key);
    if (d === undefined) {
      d = { shown: 0, accepted: 0, partialAccepts: 0, acceptedChars: 0 };
      this.days.set(key, d);
      this.prune();
    }
    return d;
  }

  private prune(): void {
    const keys = [...this.days.keys()].sort();
    for (const k of keys.slice(0, Math.max(0, keys.length - MAX_DAYS))) this.days.delete(k);
  }
}

/** Accepted / shown for a day or a span; undefined when nothing was shown. */
export function acceptRate(c: Pick<DayCounts, 'shown' | 'accepted'>): number | undefined {
  return c.shown === 0 ? undefined : Math.min(1, c.accepted / c.shown);
}

function sum(rows: { counts: DayCounts }[]): DayCounts {
  const total: DayCounts = { shown: 0, accepted: 0, partialAccepts: 0, acceptedChars: 0 };
  for (const { counts } of rows) {
    total.shown += counts.shown;
    total.accepted += counts.accepted;
    total.partialAccepts += counts.partialAccepts;
    total.acceptedChars += counts.acceptedChars;
  }
  return total;
}

const percent = (r: number | undefined): string => (r === undefined ? '–' : `${(r * 100).toFixed(1)}%`);

/**
 * The report as plain text: one row per day, newest first, and when the workspace's adapter was
 * trained within the kept days, the acceptance before and since, side by side.
 */
export function qualityReport(rows: { day: string; counts: DayCounts }[], fineTunedOn?: string): string {
  const lines = ['GPT-2 Complete: suggestion quality', `Counted on this machine only; the last ${MAX_DAYS} days are kept.`, ''];
  if (rows.length === 0) {
    lines.push('No suggestions counted yet.');
    return lines.join('\n') + '\n';
  }
  if (fineTunedOn !== undefined) {
    const before = sum(rows.filter((r) => r.day < fineTunedOn));
    const since = sum(rows.filter((r) => r.day >= fineTunedOn));
    const daysBefore = rows.filter((r) => r.day < fineTunedOn).length;
    const daysSince = rows.filter((r) => r.day >= fineTunedOn).length;
    const perDay = (c: DayCounts, days: number): string => (days === 0 ? '–' : String(Math.round(c.acceptedChars / days)));
    lines.push(
      `This workspace's adapter was fine-tuned on ${fineTunedOn}.`,
      `  before: ${percent(acceptRate(before))} of ${before.shown} suggestions accepted, ${perDay(before, daysBefore)} characters accepted a day (${daysBefore} ${daysBefore === 1 ? 'day' : 'days'})`,
      `  since:  ${percent(acceptRate(since))} of ${since.shown} suggestions accepted, ${perDay(since, daysSince)} characters accepted a day (${daysSince} ${daysSince === 1 ? 'day' : 'days'})`,
      '',
    );
  }
  const header = ['day       ', '  shown', ' accepted', '   rate', ' partly', ' chars accepted'];
  lines.push(header.join(''));
  for (const { day, counts: c } of rows.slice().reverse()) {
    const mark = fineTunedOn === day ? '  ← fine-tuned' : '';
    lines.push(
      day + String(c.shown).padStart(7) + String(c.accepted).padStart(9) + percent(acceptRate(c)).padStart(7) +
        String(c.partialAccepts).padStart(7) + String(c.acceptedChars).padStart(15) + mark,
    );
  }
  const total = sum(rows);
  lines.push('', `All ${rows.length === 1 ? 'one day' : `${rows.length} days`}: ${percent(acceptRate(total))} of ${total.shown} suggestions accepted, ${total.acceptedChars} characters accepted.`);
  return lines.join('\n') + '\n';
}
