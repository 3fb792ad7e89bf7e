/**
 * The InlineCompletionItemProvider: a thin adapter from VS Code's document, cursor and trigger to
 * the editor-free CompletionPipeline (src/completion/pipeline.ts), which the CLI and the quality
 * benchmark run too. What is VS Code's stays here: items and ranges, the suggest widget's selected
 * item, document events for acceptance counting, events for the status bar, and saying so when a
 * request made by hand finds nothing to show.
 */
import * as vscode from 'vscode';
import { CompletionPipeline, type CompletionTrace, type PipelineCounters, type PipelineResult, type PrefetchRecord } from '../completion/pipeline';
import type { BackendModel, CompletionBackend } from '../completion/backend';
import type { OutcomeLog } from '../completion/outcomeLog';
import { AUTO_INDENT_LEVELS, type AutoIndent } from '../completion/nextLine';
import { isCancelled } from '../engine/errors';
import type { ErrorNotifier } from './errorNotifier';
import type { LoadedModel, ModelManager } from './modelManager';
import type { PauseState } from './pauseState';
import type { Settings } from './settings';
import type { StatsStore } from './statsStore';

export type { CompletionSource, CompletionTrace } from '../completion/pipeline';

/**
 * Runs when a suggestion is accepted in full (InlineCompletionItem.command, arguments: the
 * document URI and the item's text): counts it. Partial accepts (word, line) run no command; the
 * pipeline sees them as edits (see completion/acceptance.ts).
 */
export const ACCEPTED_COMMAND = 'gpt2Complete._accepted';

/** How long "no suggestion" stays in the status bar after a request made by hand. */
const NOTHING_MESSAGE_MS = 4000;

export interface ProviderDependencies {
  readonly manager: ModelManager;
  readonly settings: () => Settings;
  readonly pause: PauseState;
  readonly stats: StatsStore;
  readonly errors: ErrorNotifier;
  readonly log: vscode.LogOutputChannel;
  /** The workspace's local accept/reject log (none without a workspace folder). */
  readonly outcomeLog?: OutcomeLog;
}

export type ProviderCounters = PipelineCounters;

export class InlineProvider implements vscode.InlineCompletionItemProvider, vscode.Disposable {
  private readonly pipeline: CompletionPipeline;
  private readonly subscriptions: vscode.Disposable[] = [];
  private readonly busyEmitter = new vscode.EventEmitter<boolean>();
  private readonly traceEmitter = new vscode.EventEmitter<CompletionTrace>();
  private readonly startEmitter = new vscode.EventEmitter<void>();
  /** True while a generation runs (status "generating"). */
  readonly onDidChangeBusy = this.busyEmitter.event;
  readonly onDidComplete = this.traceEmitter.event;
  /** The engine read the prompt and is sampling tokens. */
  readonly onDidStartGenerating = this.startEmitter.event;
  /** The last "nothing to show" reason given for a request made by hand (test hooks). */
  lastManualEmpty: string | undefined;
  /** When each document last changed: the debounce counts its pause from the keystroke. */
  private readonly editedAt = new Map<string, number>();

  constructor(private readonly deps: ProviderDependencies) {
    this.pipeline = new CompletionPipeline({
      backend: managerBackend(deps.manager),
      settings: deps.settings,
      paused: () => deps.pause.paused,
      stats: deps.stats,
      log: deps.log,
      onBusy: (busy) => this.busyEmitter.fire(busy),
      onStartedGenerating: () => this.startEmitter.fire(),
      onTrace: (trace) => this.traceEmitter.fire(trace),
      onOutcome: (outcome) => {
        if (deps.settings().suggestionLog) void deps.outcomeLog?.append(outcome);
      },
    });
    this.subscriptions.push(
      deps.pause.onDidChange((paused) => {
        if (paused) this.pipeline.cancelRunning();
      }),
      vscode.workspace.onDidChangeTextDocument((e) => this.documentChanged(e)),
      vscode.workspace.onDidCloseTextDocument((d) => {
        this.pipeline.documentClosed(d.uri.toString());
        this.editedAt.delete(d.uri.toString());
      }),
    );
  }

  get counters(): ProviderCounters {
    return this.pipeline.counters;
  }

  get lastTrace(): CompletionTrace | undefined {
    return this.pipeline.lastTrace;
  }

  set lastTrace(trace: CompletionTrace | undefined) {
    this.pipeline.lastTrace = trace;
  }

  get lastPrefetch(): PrefetchRecord | undefined {
    return this.pipeline.lastPrefetch;
  }

  set lastPrefetch(record: PrefetchRecord | undefined) {
    this.pipeline.lastPrefetch = record;
  }

  get generating(): boolean {
    return this.pipeline.generating;
  }

  /** The accept command of an item ran (Tab); takes the arguments `items` gives the command. */
  accepted(documentUri: unknown, itemText: unknown): void {
    if (typeof documentUri === 'number') {
      // The form of older builds' items: the item's length only.
      this.deps.stats.recordAccepted(documentUri);
      return;
    }
    if (typeof documentUri !== 'string' || typeof itemText !== 'string') return;
    this.pipeline.accepted(documentUri, itemText);
    // The command runs once the text is in: the cursor is where the accept left it.
    const editor = vscode.window.activeTextEditor;
    if (editor === undefined || editor.document.uri.toString() !== documentUri || editor.selections.length !== 1 || !editor.selection.isEmpty) return;
    const document = editor.document;
    this.pipeline.prefetchAfterAccept({
      ...documentFields(document, editor),
      documentUri,
      text: document.getText(),
      offset: document.offsetAt(editor.selection.active),
      trigger: 'automatic',
      autoIndent: autoIndentOf(document),
    });
  }

  resetDebouncer(): void {
    this.pipeline.resetDebouncer();
  }

  clearCaches(): void {
    this.pipeline.clearCaches();
  }

  async provideInlineCompletionItems(
    document: vscode.TextDocument,
    position: vscode.Position,
    context: vscode.InlineCompletionContext,
    token: vscode.CancellationToken,
  ): Promise<vscode.InlineCompletionItem[] | undefined> {
    const manual = context.triggerKind === vscode.InlineCompletionTriggerKind.Invoke;
    const controller = new AbortController();
    const onCancel = token.onCancellationRequested(() => controller.abort());
    try {
      const editor = editorOf(document);
      const uri = document.uri.toString();
      const version = document.version;
      // The suggest widget is open: complete the text as it will read with its selected item inserted,
      // and offer that item's text plus ours over the item's range (VS Code shows only inline text
      // that extends the selected item).
      const selected = context.selectedCompletionInfo;
      let text = document.getText();
      let offset = document.offsetAt(position);
      let lead = '';
      let range = new vscode.Range(position, position);
      if (selected !== undefined) {
        const start = document.offsetAt(selected.range.start);
        const end = document.offsetAt(selected.range.end);
        text = text.slice(0, start) + selected.text + text.slice(end);
        offset = start + selected.text.length;
        lead = selected.text;
        range = selected.range;
      }
      const result = await this.pipeline.complete(
        {
          ...documentFields(document, editor),
          documentUri: selected === undefined ? uri : `${uri}#suggest-widget`,
          text,
          offset,
          trigger: manual ? 'manual' : 'automatic',
          selectionEmpty: editor?.selection.isEmpty ?? true,
          cursorCount: editor?.selections.length ?? 1,
          isCurrent: () => document.version === version,
          editedAt: this.editedAt.get(uri),
        },
        controller.signal,
      );
      if (result.items.length === 0) {
        if (manual) this.sayNothing(result);
        return undefined;
      }
      return result.items.map(
        (item) => new vscode.InlineCompletionItem(lead + item, range, { title: 'Accepted', command: ACCEPTED_COMMAND, arguments: [uri, lead + item] }),
      );
    } catch (err) {
      if (isCancelled(err)) return undefined;
      const error = err instanceof Error ? err : new Error(String(err));
      this.deps.log.error(`completion failed: ${error.stack ?? error.message}`);
      this.deps.errors.notify(error);
      return undefined;
    } finally {
      onCancel.dispose();
    }
  }

  dispose(): void {
    this.pipeline.dispose();
    for (const s of this.subscriptions) s.dispose();
    this.busyEmitter.dispose();
    this.traceEmitter.dispose();
    this.startEmitter.dispose();
  }

  /** A request made by hand must not end in silence: say briefly that there is nothing, and why. */
  private sayNothing(result: PipelineResult): void {
    if (result.suppressed === 'cancelled' || result.suppressed === 'document-changed') return;
    const why = nothingReason(result.suppressed);
    this.lastManualEmpty = why;
    this.deps.log.info(`no suggestion here (${result.suppressed ?? 'empty'})`);
    vscode.window.setStatusBarMessage(`$(circle-slash) GPT-2 Complete: no suggestion${why ? ` (${why})` : ''}`, NOTHING_MESSAGE_MS);
  }

  /** Partial accepts (accept word, accept line) show up as edits that insert part of the suggestion. */
  private documentChanged(e: vscode.TextDocumentChangeEvent): void {
    if (e.contentChanges.length === 0) return;
    const uri = e.document.uri.toString();
    this.editedAt.set(uri, Date.now());
    // Several cursors, undo or redo: not an accept.
    const single = e.contentChanges.length === 1 && e.reason === undefined;
    const change = e.contentChanges[0];
    this.pipeline.documentEdited(uri, single ? { offset: change.rangeOffset, replacedLength: change.rangeLength, text: change.text } : undefined);
  }
}

/** Words for a user, from the pipeline's reason. */
function nothingReason(reason: PipelineResult['suppressed']): string {
  if (reason === null || reason.startsWith('postprocess:')) return 'the model had nothing worth showing here';
  switch (reason) {
    case 'disabled':
      return 'suggestions are turned off';
    case 'language-disabled':
      return 'turned off for this language';
    case 'selection':
      return 'text is selected';
    case 'multiple-cursors':
      return 'several cursors';
    case 'no-model':
      return 'no model loaded';
    default:
      return reason;
  }
}

/** The model manager as the pipeline's backend. */
function managerBackend(manager: ModelManager): CompletionBackend {
  const asBackend = (loaded: LoadedModel): BackendModel => ({
    epoch: loaded.epoch,
    checkpointDir: loaded.info.checkpointDir,
    complete: (request, signal, onStarted) => loaded.client.complete(request, signal, onStarted),
  });
  return {
    get current() {
      const loaded = manager.loaded;
      return loaded === undefined ? undefined : asBackend(loaded);
    },
    acquire: async () => {
      const loaded = await manager.acquire();
      return loaded === undefined ? undefined : asBackend(loaded);
    },
    touch: () => manager.touch(),
  };
}

function editorOf(document: vscode.TextDocument): vscode.TextEditor | undefined {
  const active = vscode.window.activeTextEditor;
  if (active?.document === document) return active;
  return vscode.window.visibleTextEditors.find((e) => e.document === document);
}

/** What a pipeline request says of the document and its editor, whatever the cursor. */
function documentFields(document: vscode.TextDocument, editor: vscode.TextEditor | undefined) {
  return {
    documentVersion: document.version,
    languageId: document.languageId,
    editorIndentUnit: editorIndentUnit(editor),
    filePath: document.uri.scheme === 'file' ? document.uri.fsPath : undefined,
  };
}

/** The document's `editor.autoIndent` (language overrides included); anything unknown reads as the default. */
function autoIndentOf(document: vscode.TextDocument): AutoIndent {
  const value = vscode.workspace.getConfiguration('editor', { languageId: document.languageId, uri: document.uri }).get<string>('autoIndent');
  return AUTO_INDENT_LEVELS.find((level) => level === value) ?? 'full';
}

function editorIndentUnit(editor: vscode.TextEditor | undefined): string {
  if (editor === undefined) return '    ';
  const size = typeof editor.options.tabSize === 'number' ? editor.options.tabSize : 4;
  return editor.options.insertSpaces === false ? '\t' : ' '.repeat(size);
}
