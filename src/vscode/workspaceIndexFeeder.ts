/**
 * Keeps the engine process's workspace index (the cache model's files, completion/context/
 * workspaceCache.ts) current: the folders are indexed in that process whenever a model loads (the
 * extension host only names them), and opened, edited, saved and deleted files are sent as they
 * change, edits debounced per document. The index applies the fine-tuning data filters itself.
 */
import * as vscode from 'vscode';
import type { WorkspaceIndexInfo } from './engineProtocol';
import type { ModelManager } from './modelManager';
import type { Settings } from './settings';

/** Typing pauses this long before the document's text is sent again. */
const EDIT_DEBOUNCE_MS = 1000;
/** GPT-2 tokens per MB of source code (about 3.3 bytes a token). */
const TOKENS_PER_MB = 300_000;

export class WorkspaceIndexFeeder implements vscode.Disposable {
  private readonly subscriptions: vscode.Disposable[] = [];
  private readonly pending = new Map<string, NodeJS.Timeout>();
  /** The last index built, for the logs, the status tooltip and tests. */
  lastIndex: WorkspaceIndexInfo | undefined;
  private indexedEpoch = -1;

  constructor(
    private readonly manager: ModelManager,
    private readonly settings: () => Settings,
    private readonly log: vscode.LogOutputChannel,
  ) {
    this.subscriptions.push(
      manager.onDidChangeState((state) => {
        if (state.kind === 'ready') void this.indexIfNew();
      }),
      vscode.workspace.onDidChangeWorkspaceFolders(() => void this.reindex()),
      vscode.workspace.onDidChangeTextDocument((e) => {
        if (e.contentChanges.length > 0) this.schedule(e.document);
      }),
      vscode.workspace.onDidSaveTextDocument((d) => this.send(d)),
      vscode.workspace.onDidOpenTextDocument((d) => this.send(d)),
      vscode.workspace.onDidDeleteFiles((e) => {
        for (const uri of e.files) if (uri.scheme === 'file') this.manager.loaded?.client.fileChanged(uri.fsPath, null);
      }),
    );
  }

  /** Builds the index again (the settings or the folders changed). */
  async reindex(): Promise<void> {
    this.indexedEpoch = -1;
    await this.indexIfNew();
  }

  dispose(): void {
    for (const timer of this.pending.values()) clearTimeout(timer);
    this.pending.clear();
    for (const s of this.subscriptions) s.dispose();
  }

  private async indexIfNew(): Promise<void> {
    const loaded = this.manager.loaded;
    const settings = this.settings();
    const folders = (vscode.workspace.workspaceFolders ?? []).filter((f) => f.uri.scheme === 'file').map((f) => f.uri.fsPath);
    if (loaded === undefined || loaded.epoch === this.indexedEpoch || !(settings.cacheModel || settings.context) || folders.length === 0) return;
    this.indexedEpoch = loaded.epoch;
    try {
      const info = await loaded.client.indexWorkspace(folders, Math.round(settings.indexMaxMB * TOKENS_PER_MB), settings.context);
      this.lastIndex = info;
      this.log.info(
        `workspace index: ${info.files} file(s), ${info.tokens} tokens in ${Math.round(info.ms)} ms` +
          (info.overCap > 0 ? `; ${info.overCap} file(s) past the ${settings.indexMaxMB} MB cap (gpt2Complete.context.maxIndexMB)` : ''),
      );
      // Documents open before the index existed have edits it has not seen.
      for (const d of vscode.workspace.textDocuments) if (d.isDirty) this.send(d);
    } catch (err) {
      // An unloaded or restarted model ends the request; the next load indexes again.
      this.log.debug(`workspace index not built: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  private schedule(document: vscode.TextDocument): void {
    if (document.uri.scheme !== 'file') return;
    const key = document.uri.toString();
    clearTimeout(this.pending.get(key));
    this.pending.set(key, setTimeout(() => {
      this.pending.delete(key);
      this.send(document);
    }, EDIT_DEBOUNCE_MS));
  }

  private send(document: vscode.TextDocument): void {
    const settings = this.settings();
    if (document.uri.scheme !== 'file' || !(settings.cacheModel || settings.context) || this.indexedEpoch < 0) return;
    if (document.isClosed) return;
    this.manager.loaded?.client.fileChanged(document.uri.fsPath, document.getText());
  }
}
