/**
 * The local acceptance counters (CompletionStats), in total and per day (dailyStats.ts), kept in
 * the extension's global state so they survive restarts. Nothing leaves the machine.
 */
import * as vscode from 'vscode';
import { CompletionStats, type CompletionStatsSnapshot } from '../completion';
import { DailyStats, type DayCounts } from './dailyStats';

const KEY = 'gpt2Complete.stats';

export class StatsStore implements vscode.Disposable {
  private readonly stats: CompletionStats;
  private readonly daily: DailyStats;
  private readonly changed = new vscode.EventEmitter<CompletionStatsSnapshot>();
  readonly onDidChange = this.changed.event;

  constructor(private readonly memento: vscode.Memento, now?: () => Date) {
    const stored = memento.get<unknown>(KEY);
    this.stats = CompletionStats.fromJSON(stored);
    // The days ride along in the same record (older versions stored none).
    this.daily = DailyStats.fromJSON(typeof stored === 'object' && stored !== null ? (stored as { daily?: unknown }).daily : undefined, now);
  }

  recordShown(): void {
    this.stats.recordShown();
    this.daily.recordShown();
    this.save();
  }

  recordAccepted(chars: number): void {
    this.stats.recordAccepted(chars);
    this.daily.recordAccepted(chars);
    this.save();
  }

  /** Part of a suggestion (a word, a line) was accepted. */
  recordPartialAccept(chars: number): void {
    this.stats.recordPartialAccept(chars);
    this.daily.recordPartialAccept(chars);
    this.save();
  }

  reset(): void {
    this.stats.reset();
    this.daily.reset();
    this.save();
  }

  snapshot(): CompletionStatsSnapshot {
    return this.stats.snapshot();
  }

  acceptRate(): number {
    return this.stats.acceptRate();
  }

  /** Counts per day, oldest first. */
  days(): { day: string; counts: DayCounts }[] {
    return this.daily.rows();
  }

  dispose(): void {
    this.changed.dispose();
  }

  private save(): void {
    void this.memento.update(KEY, { ...this.stats.toJSON(), daily: this.daily.toJSON() });
    this.changed.fire(this.stats.snapshot());
  }
}
