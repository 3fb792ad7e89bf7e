/**
 * The webview that shows a finished fine-tuning run (reportHtml.ts renders it). One panel per
 * window: a new report replaces the old one. Scripts run only from media/ with a per-render
 * nonce; the page reaches nothing outside the extension.
 */
import { randomBytes } from 'crypto';
import * as vscode from 'vscode';
import { renderReportHtml, type ReportData } from './reportHtml';

const VIEW_TYPE = 'gpt2Complete.fineTuneReport';

/** What the page's buttons do. */
export interface ReportActions {
  /** "Use It Anyway": switch on an adapter that did not improve held-out quality. */
  useAnyway?: () => void;
}

export class ReportPanel {
  private static current: ReportPanel | undefined;

  /** The report last shown (tests read it through the fine-tune test hooks). */
  static lastShown: { title: string; data: ReportData } | undefined;

  private actions: ReportActions = {};

  private constructor(private readonly panel: vscode.WebviewPanel) {
    panel.onDidDispose(() => {
      if (ReportPanel.current === this) ReportPanel.current = undefined;
    });
    // The page's one button posts {type: 'useAnyway'}; nothing else is accepted from it.
    panel.webview.onDidReceiveMessage((m: { type?: unknown }) => {
      if (m?.type === 'useAnyway') this.actions.useAnyway?.();
    });
  }

  static show(extensionUri: vscode.Uri, data: ReportData, actions: ReportActions = {}): void {
    const media = vscode.Uri.joinPath(extensionUri, 'media');
    const title = `Fine-tuning report: ${data.modelLabel}`;
    let report = ReportPanel.current;
    if (report === undefined) {
      const panel = vscode.window.createWebviewPanel(VIEW_TYPE, title, vscode.ViewColumn.Active, {
        enableScripts: true,
        localResourceRoots: [media],
        enableCommandUris: false,
      });
      report = new ReportPanel(panel);
      ReportPanel.current = report;
    }
    report.actions = actions;
    const { webview } = report.panel;
    report.panel.title = title;
    webview.html = renderReportHtml(data, {
      scriptUri: webview.asWebviewUri(vscode.Uri.joinPath(media, 'fineTuneReport.js')).toString(),
      styleUri: webview.asWebviewUri(vscode.Uri.joinPath(media, 'fineTuneReport.css')).toString(),
      cspSource: webview.cspSource,
      nonce: randomBytes(16).toString('base64'),
    });
    report.panel.reveal(vscode.ViewColumn.Active);
    ReportPanel.lastShown = { title, data };
  }

  static dispose(): void {
    ReportPanel.current?.panel.dispose();
  }
}
