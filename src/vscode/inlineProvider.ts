/**
 * The InlineCompletionItemProvider: adapts VS Code's document, cursor and trigger to the pure
 * stages in src/completion and runs them in order:
 *
 *   gates → typing-through / result cache → debounce → model → prompt + generate (worker)
 *   → post-process → items
 *
 * The caches sit before the debounce because a hit costs nothing and should show at once
 * (typing through a suggestion must not flicker). One generation per document: a newer request
 * aborts the older one, and the worker stops it at its next decode step.
 * An explicit request (Alt+\, or cycling with Alt+] / Alt+[) asks for several sampled candidates.
 */
import * as vscode from 'vscode';
import {
  AcceptanceTracker, AdaptiveDebouncer, checkGates, CompletionResultCache, createCompletionRequest, inferIndentUnit,
  postprocessCompletion, postprocessContextAt, TypingThroughCache, wait, type PostprocessContext,
} from '../completion';
import { isCancelled } from '../engine/errors';
import type { WorkerCompleteRequest, WorkerCompleteResult } from './engineProtocol';
import type { ErrorNotifier } from './errorNotifier';
import type { LoadedModel, ModelManager } from './modelManager';
import type { PauseState } from './pauseState';
import type { Settings } from './settings';
import type { StatsStore } from './statsStore';

/**
 * Runs when a suggestion is accepted in full (InlineCompletionItem.command, arguments: the
 * document URI and the item's text): counts it. Partial accepts (word, line) run no command; the
 * provider sees them as edits (see completion/acceptance.ts).
 */
export const ACCEPTED_COMMAND = 'gpt2Complete._accepted';

/** Candidates generated for an explicit request (Tabby and llama.vscode use 3). */
const ALTERNATIVES = 3;
/** Sampling temperature for alternatives when the setting is greedy (Tabby: 0.8). */
const ALTERNATIVE_TEMPERATURE = 0.8;
const ALTERNATIVE_TOP_P = 0.95;
/** Lines a multi-line suggestion may have before post-processing trims it to its block. */
const MULTILINE_MAX_LINES = 12;
/** Past this, show what is ready: a late suggestion is worth less than a shorter one. */
const AUTOMATIC_DEADLINE_MS = 2000;
const MANUAL_DEADLINE_MS = 8000;
/**
 * The prompt window is at most 1024 tokens (a few thousand characters), so only this much text
 * before the cursor is sent to the worker and hashed: per-keystroke cost stays flat in huge files.
 * It starts at a multiple of PROMPT_SOURCE_ALIGN so that it moves rarely (see promptSource).
 */
const PROMPT_SOURCE_CHARS = 64 * 1024;
const PROMPT_SOURCE_ALIGN = 16 * 1024;
/** Lines around the cursor that the indentation unit is inferred from. */
const INDENT_SAMPLE_CHARS = 16 * 1024;

export type CompletionSource = 'model' | 'typing-through' | 'cache';

/** What one request produced; kept for the status bar, the logs and the test hooks. */
export interface CompletionTrace {
  readonly documentUri: string;
  readonly languageId: string;
  readonly offset: number;
  readonly trigger: 'automatic' | 'manual';
  readonly source: CompletionSource;
  /** The engine's candidate texts (model source only). */
  readonly raw: readonly string[];
  /** The items' insert texts, after post-processing. */
  readonly items: readonly string[];
  readonly multiline: boolean;
  /** From the end of the debounce to the items (model source), or the whole request (cache). */
  readonly latencyMs: number;
  readonly result?: WorkerCompleteResult;
  readonly checkpointDir?: string;
}

export interface ProviderDependencies {
  readonly manager: ModelManager;
  readonly settings: () => Settings;
  readonly pause: PauseState;
  readonly stats: StatsStore;
  readonly errors: ErrorNotifier;
  readonly log: vscode.LogOutputChannel;
}

/** Counters of where answers came from (status tooltip, tests). */
export interface ProviderCounters {
  engineCalls: number;
  engineCancelled: number;
  typingThroughHits: number;
  cacheHits: number;
}

export class InlineProvider implements vscode.InlineCompletionItemProvider, vscode.Disposable {
  private debouncer: AdaptiveDebouncer;
  private readonly typingThrough = new TypingThroughCache();
  private readonly results = new CompletionResultCache();
  private readonly acceptance = new AcceptanceTracker();
  private readonly subscriptions: vscode.Disposable[] = [];
  /** The running request per document, so a newer one can cancel it. */
  private readonly running = new Map<string, AbortController>();
  /** The previous prompt window start per document (keeps the KV cache prefix stable). */
  private readonly windowStarts = new Map<string, number>();
  private seed = 1;
  private busy = 0;
  readonly counters: ProviderCounters = { engineCalls: 0, engineCancelled: 0, typingThroughHits: 0, cacheHits: 0 };
  lastTrace: CompletionTrace | undefined;

  private readonly busyEmitter = new vscode.EventEmitter<boolean>();
  private readonly traceEmitter = new vscode.EventEmitter<CompletionTrace>();
  private readonly startEmitter = new vscode.EventEmitter<void>();
  /** True while a generation runs (status "generating"). */
  readonly onDidChangeBusy = this.busyEmitter.event;
  readonly onDidComplete = this.traceEmitter.event;
  /** The worker read the prompt and is sampling tokens. */
  readonly onDidStartGenerating = this.startEmitter.event;

  constructor(private readonly deps: ProviderDependencies) {
    this.debouncer = new AdaptiveDebouncer({ baseDelayMs: deps.settings().debounceMs });
    this.subscriptions.push(
      vscode.workspace.onDidChangeTextDocument((e) => this.documentChanged(e)),
      vscode.workspace.onDidCloseTextDocument((d) => this.acceptance.clear(d.uri.toString())),
    );
  }

  /**
   * The accept command of an item ran (Tab): counts one acceptance and the characters it inserted.
   * Takes the arguments `items` gives the command: the document URI and the item's text.
   */
  accepted(documentUri: unknown, itemText: unknown): void {
    if (typeof documentUri === 'number') {
      // The form of older builds' items: the item's length only.
      this.deps.stats.recordAccepted(documentUri);
      return;
    }
    if (typeof documentUri !== 'string' || typeof itemText !== 'string') return;
    this.deps.stats.recordAccepted(this.acceptance.recordAccepted(documentUri, itemText));
  }

  /** Partial accepts (accept word, accept line) show up as edits that insert part of the suggestion. */
  private documentChanged(e: vscode.TextDocumentChangeEvent): void {
    if (e.contentChanges.length === 0) return;
    const uri = e.document.uri.toString();
    if (e.contentChanges.length !== 1 || e.reason !== undefined) {
      // Several cursors, undo or redo: not an accept.
      this.acceptance.clear(uri);
      return;
    }
    const change = e.contentChanges[0];
    const chars = this.acceptance.recordEdit(uri, change.rangeOffset, change.rangeLength, change.text);
    if (chars > 0) {
      this.deps.stats.recordPartialAccept(chars);
      this.deps.log.trace(`partial accept of ${chars} character(s)`);
    }
  }

  /** The debounce setting changed: start over with the new base delay. */
  resetDebouncer(): void {
    this.debouncer = new AdaptiveDebouncer({ baseDelayMs: this.deps.settings().debounceMs });
  }

  /** Forget cached suggestions (the model changed, or the user asked). */
  clearCaches(): void {
    this.typingThrough.clear();
    this.results.clear();
    this.windowStarts.clear();
  }

  get generating(): boolean {
    return this.busy > 0;
  }

  async provideInlineCompletionItems(
    document: vscode.TextDocument,
    position: vscode.Position,
    context: vscode.InlineCompletionContext,
    token: vscode.CancellationToken,
  ): Promise<vscode.InlineCompletionItem[] | undefined> {
    try {
      return await this.provide(document, position, context, token);
    } catch (err) {
      if (isCancelled(err)) return undefined;
      const error = err instanceof Error ? err : new Error(String(err));
      this.deps.log.error(`completion failed: ${error.stack ?? error.message}`);
      this.deps.errors.notify(error);
      return undefined;
    }
  }

  dispose(): void {
    for (const controller of this.running.values()) controller.abort();
    this.running.clear();
    for (const s of this.subscriptions) s.dispose();
    this.busyEmitter.dispose();
    this.traceEmitter.dispose();
    this.startEmitter.dispose();
  }

  private async provide(
    document: vscode.TextDocument,
    position: vscode.Position,
    context: vscode.InlineCompletionContext,
    token: vscode.CancellationToken,
  ): Promise<vscode.InlineCompletionItem[] | undefined> {
    const settings = this.deps.settings();
    if (!settings.enable) return undefined;
    const startedAt = performance.now();
    const manual = context.triggerKind === vscode.InlineCompletionTriggerKind.Invoke;
    // The suggest widget is open: VS Code only shows inline text that extends its item; stay out of its way.
    if (!manual && context.selectedCompletionInfo !== undefined) return undefined;

    const editor = editorOf(document);
    const text = document.getText();
    const offset = document.offsetAt(position);
    const uri = document.uri.toString();
    const request = createCompletionRequest({
      text,
      offset,
      languageId: document.languageId,
      documentUri: uri,
      documentVersion: document.version,
      selectionEmpty: editor?.selection.isEmpty ?? true,
      cursorCount: editor?.selections.length ?? 1,
      triggerKind: manual ? 'manual' : 'automatic',
    });
    const gate = checkGates(request, { languages: settings.languages, paused: this.deps.pause.paused });
    if (!gate.ok) {
      this.deps.log.trace(`no completion (${gate.reason}) in ${document.languageId}`);
      return undefined;
    }

    // One generation per document: this request supersedes the previous one.
    const controller = new AbortController();
    this.running.get(uri)?.abort();
    this.running.set(uri, controller);
    const onCancel = token.onCancellationRequested(() => controller.abort());
    try {
      const prefix = text.slice(0, offset);
      const suffix = text.slice(offset);
      const delay = this.debouncer.delayFor(Date.now(), {
        manual,
        typedCharacter: prefix.length > 0 ? prefix[prefix.length - 1] : undefined,
        atLineEnd: request.suffixOnLine.trim() === '',
      });
      const indentSample = text.slice(Math.max(0, offset - INDENT_SAMPLE_CHARS), offset + INDENT_SAMPLE_CHARS / 4);
      const ctx = postprocessContextAt(text, offset, document.languageId, inferIndentUnit(indentSample, editorIndentUnit(editor)));
      const source = promptSource(text, offset);
      const model = this.deps.manager.loaded;
      const cacheKey = model === undefined ? undefined : resultCacheKey(model, source.text, ctx, settings);
      const trace = (from: CompletionSource, items: readonly string[], extra: Partial<CompletionTrace> = {}): void => {
        this.record({
          documentUri: uri,
          languageId: document.languageId,
          offset,
          trigger: manual ? 'manual' : 'automatic',
          source: from,
          raw: [],
          items,
          multiline: ctx.multiline,
          latencyMs: performance.now() - startedAt,
          ...extra,
        });
      };

      if (!manual) {
        const rest = this.typingThrough.lookup(uri, prefix, suffix);
        if (rest !== null) {
          this.counters.typingThroughHits++;
          trace('typing-through', [rest]);
          return this.items([rest], position, uri);
        }
        const cached = cacheKey === undefined ? undefined : this.results.get(cacheKey);
        if (cached !== undefined && cached.length > 0) {
          this.counters.cacheHits++;
          this.show(uri, prefix, suffix, cached);
          trace('cache', cached);
          return this.items(cached, position, uri);
        }
      }

      if (!(await wait(delay, controller.signal))) return undefined;
      const loaded = await untilAborted(this.deps.manager.acquire(), controller.signal);
      if (loaded === undefined || controller.signal.aborted) return undefined;

      const generated = await this.generate(loaded, uri, source, ctx, manual, settings, controller.signal);
      if (generated === undefined || controller.signal.aborted || document.version !== request.documentVersion) return undefined;
      const { result, latencyMs } = generated;

      const processed = unique(result.candidates.map((c) => postprocessCompletion(c.text, ctx)));
      // Alternatives lead with the suggestion already on screen, when there was one.
      const greedyKey = resultCacheKey(loaded, source.text, ctx, settings);
      const items = manual ? unique([...(this.results.get(greedyKey) ?? []), ...processed]) : processed;
      if (!manual) this.results.set(greedyKey, processed);
      trace('model', items, { raw: result.candidates.map((c) => c.text), latencyMs, result, checkpointDir: loaded.info.checkpointDir });
      if (items.length === 0) return undefined;
      this.show(uri, prefix, suffix, items);
      return this.items(items, position, uri);
    } finally {
      onCancel.dispose();
      if (this.running.get(uri) === controller) this.running.delete(uri);
    }
  }

  private async generate(
    model: LoadedModel,
    uri: string,
    source: PromptSource,
    ctx: PostprocessContext,
    manual: boolean,
    settings: Settings,
    signal: AbortSignal,
  ): Promise<{ result: WorkerCompleteResult; latencyMs: number } | undefined> {
    const temperature = manual ? Math.max(settings.temperature, ALTERNATIVE_TEMPERATURE) : settings.temperature;
    // Window starts are kept in document offsets; the worker sees offsets into `source.text`.
    const previous = this.windowStarts.get(uri);
    const request: WorkerCompleteRequest = {
      textBeforeCursor: source.text,
      previousWindowStart: previous !== undefined && previous >= source.start ? previous - source.start : undefined,
      maxTokens: settings.maxTokens,
      temperature,
      topP: temperature > 0 ? ALTERNATIVE_TOP_P : undefined,
      seed: manual ? this.seed++ : 0,
      n: manual ? ALTERNATIVES : 1,
      maxLines: ctx.multiline ? MULTILINE_MAX_LINES : 1,
      deadlineMs: manual ? MANUAL_DEADLINE_MS : AUTOMATIC_DEADLINE_MS,
    };
    const t0 = performance.now();
    this.counters.engineCalls++;
    this.setBusy(+1);
    try {
      const result = await model.client.complete(request, signal, () => this.startEmitter.fire());
      this.windowStarts.set(uri, source.start + result.windowStartOffset);
      this.deps.manager.touch();
      return { result, latencyMs: performance.now() - t0 };
    } catch (err) {
      if (!isCancelled(err)) throw err;
      this.counters.engineCancelled++;
      return undefined;
    } finally {
      this.setBusy(-1);
    }
  }

  private show(uri: string, prefix: string, suffix: string, items: readonly string[]): void {
    this.typingThrough.remember({ documentUri: uri, prefix, suffix, completion: items[0] });
    this.acceptance.recordShown(uri, prefix.length, items);
    this.deps.stats.recordShown();
  }

  private items(texts: readonly string[], position: vscode.Position, uri: string): vscode.InlineCompletionItem[] {
    const range = new vscode.Range(position, position);
    return texts.map(
      (text) => new vscode.InlineCompletionItem(text, range, { title: 'Accepted', command: ACCEPTED_COMMAND, arguments: [uri, text] }),
    );
  }

  private record(trace: CompletionTrace): void {
    this.lastTrace = trace;
    this.traceEmitter.fire(trace);
    if (trace.source === 'model' && trace.result !== undefined) {
      const t = trace.result.timings;
      this.deps.log.debug(
        `${trace.trigger} ${trace.languageId}: ${trace.items.length} item(s) in ${Math.round(trace.latencyMs)} ms ` +
          `(prompt ${trace.result.promptTokens} tokens, ${trace.result.reusedTokens} reused; prefill ${Math.round(t.prefillMs)} ms, ` +
          `${t.decodeTokens} tokens in ${Math.round(t.decodeMs)} ms)`,
      );
    }
  }

  private setBusy(delta: number): void {
    const was = this.busy > 0;
    this.busy += delta;
    if (was !== this.busy > 0) this.busyEmitter.fire(this.busy > 0);
  }
}

/** Key parts of a greedy result: everything that shaped it, the model's load included. */
function resultCacheKey(model: LoadedModel, prefix: string, ctx: PostprocessContext, settings: Settings): string[] {
  return [
    String(model.epoch),
    prefix,
    ctx.suffixOnLine,
    ctx.nextLines[0] ?? '',
    ctx.multiline ? 'multi' : 'single',
    String(settings.temperature),
    String(settings.maxTokens),
  ];
}

/** The text before the cursor that the prompt is built from, and where it starts in the document. */
interface PromptSource {
  readonly text: string;
  readonly start: number;
}

function promptSource(text: string, offset: number): PromptSource {
  const start = Math.floor(Math.max(0, offset - PROMPT_SOURCE_CHARS) / PROMPT_SOURCE_ALIGN) * PROMPT_SOURCE_ALIGN;
  return { text: text.slice(start, offset), start };
}

function unique(texts: readonly (string | null)[]): string[] {
  return [...new Set(texts.filter((t): t is string => t !== null))];
}

function editorOf(document: vscode.TextDocument): vscode.TextEditor | undefined {
  const active = vscode.window.activeTextEditor;
  if (active?.document === document) return active;
  return vscode.window.visibleTextEditors.find((e) => e.document === document);
}

function editorIndentUnit(editor: vscode.TextEditor | undefined): string {
  if (editor === undefined) return '    ';
  const size = typeof editor.options.tabSize === 'number' ? editor.options.tabSize : 4;
  return editor.options.insertSpaces === false ? '\t' : ' '.repeat(size);
}

/** `promise`'s value, or undefined as soon as `signal` aborts (the promise keeps running). */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T | undefined> {
  if (signal.aborted) return Promise.resolve(undefined);
  return new Promise<T | undefined>((resolve, reject) => {
    const onAbort = (): void => resolve(undefined);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err);
      },
    );
  });
}
