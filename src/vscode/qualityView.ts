/**
 * "GPT-2 Complete: Show Suggestion Quality": the per-day counters (acceptance rate, characters
 * accepted) as a read-only editor tab, with the days before and since this workspace's fine-tune
 * side by side. A virtual document: closing it never asks to save.
 */
import * as vscode from 'vscode';
import { dayKey, qualityReport } from './dailyStats';
import type { StatsStore } from './statsStore';

export const QUALITY_SCHEME = 'gpt2-complete-quality';

export class QualityView implements vscode.TextDocumentContentProvider, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<vscode.Uri>();
  readonly onDidChange = this.changed.event;
  private readonly uri = vscode.Uri.from({ scheme: QUALITY_SCHEME, path: '/Suggestion Quality.txt' });
  private readonly subscriptions: vscode.Disposable[];

  constructor(private readonly stats: StatsStore, private readonly fineTunedAt: () => string | undefined) {
    this.subscriptions = [
      vscode.workspace.registerTextDocumentContentProvider(QUALITY_SCHEME, this),
      // An open tab follows the counters.
      stats.onDidChange(() => this.changed.fire(this.uri)),
    ];
  }

  provideTextDocumentContent(): string {
    const trained = this.fineTunedAt();
    return qualityReport(this.stats.days(), trained !== undefined ? dayKey(new Date(trained)) : undefined);
  }

  async show(): Promise<void> {
    this.changed.fire(this.uri);
    const doc = await vscode.workspace.openTextDocument(this.uri);
    await vscode.window.showTextDocument(doc, { preview: true });
  }

  dispose(): void {
    for (const s of this.subscriptions) s.dispose();
    this.changed.dispose();
  }
}
