/**
 * The full data report (every file used and skipped, with its reason) as a read-only editor tab:
 * a virtual document, so closing it never asks to save, unlike an untitled one.
 */
import * as vscode from 'vscode';

const SCHEME = 'gpt2-complete-report';

export class DataReportDocuments implements vscode.TextDocumentContentProvider, vscode.Disposable {
  private readonly texts = new Map<string, string>();
  private readonly registration: vscode.Disposable;
  private next = 1;

  constructor() {
    this.registration = vscode.workspace.registerTextDocumentContentProvider(SCHEME, this);
  }

  provideTextDocumentContent(uri: vscode.Uri): string {
    return this.texts.get(uri.toString()) ?? '';
  }

  /** Opens `text` in a read-only tab titled `title`. */
  async show(title: string, text: string): Promise<void> {
    // A fresh path per report: VS Code caches a virtual document's content by URI.
    const uri = vscode.Uri.from({ scheme: SCHEME, path: `/${this.next++}/${title.replace(/[\\/]/g, '-')}.txt` });
    this.texts.set(uri.toString(), text);
    const doc = await vscode.workspace.openTextDocument(uri);
    await vscode.window.showTextDocument(doc, { preview: true });
  }

  dispose(): void {
    this.registration.dispose();
    this.texts.clear();
  }
}
