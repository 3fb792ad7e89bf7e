/**
 * The local acceptance counters (CompletionStats), kept in the extension's global state so they
 * survive restarts. Nothing leaves the machine.
 */
import * as vscode from 'vscode';
import { CompletionStats, type CompletionStatsSnapshot } from '../completion';

const KEY = 'gpt2Complete.stats';

export class StatsStore implements vscode.Disposable {
  private readonly stats: CompletionStats;
  private readonly changed = new vscode.EventEmitter<CompletionStatsSnapshot>();
  readonly onDidChange = this.changed.event;

  constructor(private readonly memento: vscode.Memento) {
    this.stats = CompletionStats.fromJSON(memento.get<unknown>(KEY));
  }

  recordShown(): void {
    this.stats.recordShown();
    this.save();
  }

  recordAccepted(chars: number): void {
    this.stats.recordAccepted(chars);
    this.save();
  }

  /** Part of a suggestion (a word, a line) was accepted. */
  recordPartialAccept(chars: number): void {
    this.stats.recordPartialAccept(chars);
    this.save();
  }

  reset(): void {
    this.stats.reset();
    this.save();
  }

  snapshot(): CompletionStatsSnapshot {
    return this.stats.snapshot();
  }

  acceptRate(): number {
    return this.stats.acceptRate();
  }

  dispose(): void {
    this.changed.dispose();
  }

  private save(): void {
    void this.memento.update(KEY, this.stats.toJSON());
    this.changed.fire(this.stats.snapshot());
  }
}
