/**
 * The completion request flow, without `vscode`: the extension's inline provider, the CLI's
 * `complete --file` and `gpt2-complete quality` all run this one pipeline, so what the benchmark
 * measures is what the editor shows.
 *
 *   gates → typing-through / result cache → debounce → model → prompt + generate (engine side)
 *   → post-process → result cache → items
 *
 * After a full accept that ends its line, the next line's suggestion is computed for the document
 * as Enter will leave it (nextLine.ts) and put in the result cache, so a streak of accepted lines
 * does not wait for the debounce and the model at each new line.
 *
 * The caches sit before the debounce because a hit costs nothing and should show at once (typing
 * through a suggestion must not flicker). One generation per document: a newer request aborts the
 * older one, and the engine stops it at its next decode step. An explicit request (Alt+\, or
 * cycling with Alt+] / Alt+[) asks for several sampled candidates.
 */
import { AcceptanceTracker } from './acceptance';
import type { BackendModel, CompletionBackend, EngineCompleteRequest, EngineCompleteResult } from './backend';
import { createCompletionRequest } from './cursorLines';
import { AdaptiveDebouncer, wait } from './debounce';
import { SuggestionOutcomeTracker, type SuggestionOutcome } from './suggestionOutcomes';
import { checkGates, type GateReason, type LanguageEnablement } from './gates';
import { inferIndentUnit } from './indentation';
import { postprocessContextAt, tracePostprocess, type PostprocessContext } from './postprocess';
import { promptSource, type PromptSource } from './prompt';
import { afterEnter, type AutoIndent } from './nextLine';
import { completionCacheKey, CompletionResultCache } from './resultCache';
import { TypingThroughCache } from './typingThrough';
import type { TriggerKind } from './types';
import { isCancelled } from '../engine/errors';

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
/** Lines around the cursor that the indentation unit is inferred from. */
const INDENT_SAMPLE_CHARS = 16 * 1024;
/** Text after the cursor that the cache model counts (the prompt holds the text before it). */
const CACHE_SUFFIX_CHARS = 16 * 1024;

/** The settings the pipeline reads on every request. */
export interface PipelineSettings {
  readonly enable: boolean;
  readonly languages: LanguageEnablement;
  readonly maxTokens: number;
  readonly temperature: number;
  readonly debounceMs: number;
  /** Mix the workspace cache model into the model's distribution (default off). */
  readonly cacheModel?: boolean;
  /** Put snippets of similar code from other workspace files in the prompt (default off). */
  readonly context?: boolean;
  /**
   * Hide an automatic suggestion whose P(accepted), from the acceptance head, is below this (0 or
   * absent: show everything; no effect without a head). Explicit requests are never hidden.
   */
  readonly minConfidence?: number;
}

/** Local counters of shown and accepted suggestions (nothing leaves the machine). */
export interface PipelineStats {
  recordShown(): void;
  recordAccepted(characters: number): void;
  recordPartialAccept(characters: number): void;
}

export interface PipelineLog {
  trace(message: string): void;
  debug(message: string): void;
}

export interface PipelineDependencies {
  readonly backend: CompletionBackend;
  readonly settings: () => PipelineSettings;
  readonly paused?: () => boolean;
  readonly stats?: PipelineStats;
  readonly log?: PipelineLog;
  /** Wait the adaptive debounce before asking the model (default true; the CLI and benchmarks do not). */
  readonly debounce?: boolean;
  /** Told when generation starts and stops (status bar "generating"). */
  readonly onBusy?: (busy: boolean) => void;
  /** Told when the engine sampled the first token of a request. */
  readonly onStartedGenerating?: () => void;
  readonly onTrace?: (trace: CompletionTrace) => void;
  /** Told what became of each suggestion shown (accepted, typed over, rejected): the local accept/reject log. */
  readonly onOutcome?: (outcome: SuggestionOutcome) => void;
  /** Compute the next line's suggestion after an accept, before Enter asks for it (default true). */
  readonly prefetch?: boolean;
}

/** One request: a document, a cursor and how it was asked for. */
export interface PipelineRequest {
  readonly documentUri: string;
  readonly documentVersion: number;
  readonly languageId: string;
  /** The whole document. */
  readonly text: string;
  /** Cursor offset into `text`, in UTF-16 code units. */
  readonly offset: number;
  readonly trigger: TriggerKind;
  readonly selectionEmpty?: boolean;
  readonly cursorCount?: number;
  /** The editor's indentation unit (tab size / spaces), used when the text does not show one. */
  readonly editorIndentUnit?: string;
  /** The editor's `editor.autoIndent` for the document (what Enter types; default `full`). */
  readonly autoIndent?: AutoIndent;
  /** The document's file on disk (absolute path), when it has one. */
  readonly filePath?: string;
  /** False once the document changed after the request was made: the answer is not shown. */
  readonly isCurrent?: () => boolean;
  /**
   * When the document last changed (`Date.now()` ms), if the editor knows: the debounce counts the
   * pause from the keystroke, not from when the editor got round to asking (VS Code asks ~50–100 ms later).
   */
  readonly editedAt?: number;
}

/** An edit older than this is not the keystroke this request is for. */
const KEYSTROKE_MAX_AGE_MS = 1000;

/** `prefetch`: from the result cache, computed after an accept before the editor asked (prefetchAfterAccept). */
export type CompletionSource = 'model' | 'typing-through' | 'cache' | 'prefetch';

/** Why nothing is shown. */
export type SuppressReason =
  | 'disabled'
  | GateReason
  | 'cancelled'
  | 'no-model'
  | 'document-changed'
  | 'low-confidence'
  | `postprocess:${string}`;

export interface PipelineResult {
  /** What the editor shows, best first; empty when nothing is. */
  readonly items: readonly string[];
  readonly suppressed: SuppressReason | null;
  readonly source?: CompletionSource;
  readonly trace?: CompletionTrace;
}

/** What one request produced; kept for the status bar, the logs and the test hooks. */
export interface CompletionTrace {
  readonly documentUri: string;
  readonly languageId: string;
  readonly offset: number;
  readonly trigger: TriggerKind;
  readonly source: CompletionSource;
  /** The engine's candidate texts (model source only). */
  readonly raw: readonly string[];
  /** The items' texts, after post-processing. */
  readonly items: readonly string[];
  readonly multiline: boolean;
  /** From the end of the debounce to the items (model source), or the whole request (cache). */
  readonly latencyMs: number;
  /** How long the request waited for typing to pause (model source, automatic triggers). */
  readonly debounceMs?: number;
  /** From the editor's request to the answer, everything included. */
  readonly totalMs: number;
  readonly result?: EngineCompleteResult;
  readonly checkpointDir?: string;
  /** Why nothing is shown, when the items are empty. */
  readonly suppressed?: SuppressReason;
}

/** Counters of where answers came from (status tooltip, tests). */
export interface PipelineCounters {
  engineCalls: number;
  engineCancelled: number;
  typingThroughHits: number;
  cacheHits: number;
  /** Next-line suggestions computed after an accept, and requests they answered. */
  prefetches: number;
  prefetchHits: number;
}

/** Counters all at zero: a pipeline's start, and what the test hooks' reset puts back. */
export function zeroCounters(): PipelineCounters {
  return { engineCalls: 0, engineCancelled: 0, typingThroughHits: 0, cacheHits: 0, prefetches: 0, prefetchHits: 0 };
}

/** The document the last prefetch was computed for, and its items once it finished (test hooks, logs). */
export interface PrefetchRecord {
  readonly documentUri: string;
  readonly text: string;
  readonly offset: number;
  items?: readonly string[];
}

/** A next-line suggestion being computed after an accept. */
interface Prefetch {
  readonly key: string;
  readonly controller: AbortController;
  readonly done: Promise<void>;
}

export class CompletionPipeline {
  private debouncer: AdaptiveDebouncer;
  private readonly typingThrough = new TypingThroughCache();
  private readonly results = new CompletionResultCache();
  private readonly acceptance = new AcceptanceTracker();
  private readonly outcomes: SuggestionOutcomeTracker | undefined;
  /** The running request per document, so a newer one can cancel it. */
  private readonly running = new Map<string, AbortController>();
  /** The previous prompt window start per document (keeps the KV cache prefix stable). */
  private readonly windowStarts = new Map<string, number>();
  /**
   * Per document, the prefetch running, and the result-cache key the last one filled with why it
   * holds nothing, when it does (so the request after Enter does not compute the same nothing again).
   */
  private readonly prefetching = new Map<string, Prefetch>();
  private readonly prefetched = new Map<string, { key: string; nothing?: SuppressReason }>();
  private seed = 1;
  private busy = 0;
  readonly counters: PipelineCounters = zeroCounters();
  lastTrace: CompletionTrace | undefined;
  lastPrefetch: PrefetchRecord | undefined;

  constructor(private readonly deps: PipelineDependencies) {
    this.debouncer = new AdaptiveDebouncer({ baseDelayMs: deps.settings().debounceMs });
    this.outcomes = deps.onOutcome === undefined ? undefined : new SuggestionOutcomeTracker(deps.onOutcome);
  }

  get generating(): boolean {
    return this.busy > 0;
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
    this.prefetched.clear();
  }

  /** Full accept (Tab) of `itemText` in a document: counts it and the characters it inserted. */
  accepted(documentUri: string, itemText: string): void {
    this.deps.stats?.recordAccepted(this.acceptance.recordAccepted(documentUri, itemText));
    this.outcomes?.accepted(documentUri);
  }

  /**
   * After a full accept, `req` being the document as the accept left it: when the cursor ends its
   * line, the suggestion for the line Enter opens (nextLine.ts) is computed into the result cache,
   * so that it shows as soon as Enter is pressed. Only with a model already loaded (it never loads
   * one), the greedy automatic suggestion only, one per document (a newer accept's replaces it),
   * and no debounce: an accept is a decision, not typing.
   */
  prefetchAfterAccept(req: PipelineRequest): void {
    const settings = this.deps.settings();
    const model = this.deps.backend.current;
    if (this.deps.prefetch === false || !settings.enable || model === undefined || (this.deps.paused?.() ?? false)) return;
    const uri = req.documentUri;
    const unit = req.editorIndentUnit ?? inferIndentUnit(indentSample(req.text, req.offset), '    ');
    const next = afterEnter(req, req.languageId, unit, req.autoIndent);
    if (next === null) return;
    const request = createCompletionRequest({
      text: next.text, offset: next.offset, languageId: req.languageId, documentUri: uri, documentVersion: req.documentVersion,
      selectionEmpty: true, cursorCount: 1, triggerKind: 'automatic',
    });
    if (!checkGates(request, { languages: settings.languages, paused: false }).ok) return;
    const { ctx, source } = requestContext(next.text, next.offset, req.languageId, req.editorIndentUnit);
    const keyParts = resultCacheKey(model, source.text, ctx, settings);
    if (this.results.get(keyParts) !== undefined) return;
    this.prefetching.get(uri)?.controller.abort();
    const controller = new AbortController();
    const key = completionCacheKey(keyParts);
    const record: PrefetchRecord = { documentUri: uri, text: next.text, offset: next.offset };
    this.lastPrefetch = record;
    const document = { textAfterCursor: next.text.slice(next.offset, next.offset + CACHE_SUFFIX_CHARS), filePath: req.filePath };
    const run = async (): Promise<void> => {
      const generated = await this.generate(model, uri, source, document, ctx, false, settings, controller.signal, false);
      if (generated === undefined || controller.signal.aborted) return;
      const { result } = generated;
      const low = lowConfidence(result, settings);
      const { kept, droppedBy } = postprocessAll(result.candidates.map((c) => c.text), ctx);
      const items = low ? [] : kept;
      this.results.set(keyParts, items);
      record.items = items;
      this.prefetched.set(uri, { key, ...(items.length === 0 && { nothing: low ? 'low-confidence' : `postprocess:${droppedBy ?? 'empty'}` }) });
      this.counters.prefetches++;
    };
    const done = run()
      .catch((err: unknown) => {
        // Nobody waits on a prefetch but a request for the same document, which then runs as usual.
        if (!isCancelled(err)) this.deps.log?.debug(`next-line prefetch failed: ${err instanceof Error ? err.message : String(err)}`);
      })
      .finally(() => {
        if (this.prefetching.get(uri)?.controller === controller) this.prefetching.delete(uri);
      });
    this.prefetching.set(uri, { key, controller, done });
  }

  /**
   * A document edit: partial accepts (accept word, accept line) show up as edits that insert part of
   * the suggestion. `single` is false for several changes at once, undo or redo (never an accept).
   */
  documentEdited(documentUri: string, edit: { offset: number; replacedLength: number; text: string } | undefined): void {
    this.outcomes?.edited(documentUri, edit);
    if (edit === undefined) {
      this.acceptance.clear(documentUri);
      return;
    }
    const chars = this.acceptance.recordEdit(documentUri, edit.offset, edit.replacedLength, edit.text);
    if (chars > 0) {
      this.deps.stats?.recordPartialAccept(chars);
      this.deps.log?.trace(`partial accept of ${chars} character(s)`);
    }
  }

  documentClosed(documentUri: string): void {
    this.prefetching.get(documentUri)?.controller.abort();
    this.prefetched.delete(documentUri);
    this.acceptance.clear(documentUri);
    this.outcomes?.closed(documentUri);
  }

  /** Aborts every running request; suggestions still on screen count as not taken. */
  dispose(): void {
    this.outcomes?.flush();
    this.cancelRunning();
  }

  /** Stops every running request (automatic suggestions were paused: their CPU is not wanted now). */
  cancelRunning(): void {
    for (const controller of this.running.values()) controller.abort();
    this.running.clear();
    for (const p of this.prefetching.values()) p.controller.abort();
  }

  /** Runs one request; cancellation (by `signal` or a newer request) gives `suppressed: 'cancelled'`. */
  async complete(req: PipelineRequest, signal?: AbortSignal): Promise<PipelineResult> {
    const settings = this.deps.settings();
    if (!settings.enable) return { items: [], suppressed: 'disabled' };
    const startedAt = performance.now();
    const manual = req.trigger === 'manual';
    const uri = req.documentUri;
    const { text, offset } = req;
    const request = createCompletionRequest({
      text,
      offset,
      languageId: req.languageId,
      documentUri: uri,
      documentVersion: req.documentVersion,
      selectionEmpty: req.selectionEmpty ?? true,
      cursorCount: req.cursorCount ?? 1,
      triggerKind: req.trigger,
    });
    const gate = checkGates(request, { languages: settings.languages, paused: this.deps.paused?.() ?? false });
    if (!gate.ok) {
      this.deps.log?.trace(`no completion (${gate.reason}) in ${req.languageId}`);
      return { items: [], suppressed: gate.reason };
    }

    // One generation per document: this request supersedes the previous one.
    const controller = new AbortController();
    this.running.get(uri)?.abort();
    this.running.set(uri, controller);
    const onAbort = (): void => controller.abort();
    signal?.addEventListener('abort', onAbort, { once: true });
    if (signal?.aborted) controller.abort();
    try {
      const prefix = text.slice(0, offset);
      const suffix = text.slice(offset);
      const { ctx, source } = requestContext(text, offset, req.languageId, req.editorIndentUnit);
      const base = { documentUri: uri, languageId: req.languageId, offset, trigger: req.trigger, raw: [], multiline: ctx.multiline };
      const done = (result: PipelineResult, extra: Partial<CompletionTrace> = {}): PipelineResult => {
        const trace: CompletionTrace = {
          ...base,
          source: result.source ?? 'model',
          items: result.items,
          latencyMs: performance.now() - startedAt,
          totalMs: performance.now() - startedAt,
          ...(result.suppressed === null ? {} : { suppressed: result.suppressed }),
          ...extra,
        };
        this.lastTrace = trace;
        this.deps.onTrace?.(trace);
        return { ...result, trace };
      };

      if (!manual) {
        const rest = this.typingThrough.lookup(uri, prefix, suffix);
        if (rest !== null) {
          this.counters.typingThroughHits++;
          return done({ items: [rest], suppressed: null, source: 'typing-through' });
        }
        const current = this.deps.backend.current;
        const keyParts = current === undefined ? undefined : resultCacheKey(current, source.text, ctx, settings);
        const key = keyParts === undefined ? undefined : completionCacheKey(keyParts);
        // The prefetch for this very document is still running: its answer is nearer than a new one.
        const pending = this.prefetching.get(uri);
        if (key !== undefined && pending?.key === key) await untilAborted(pending.done, controller.signal);
        if (controller.signal.aborted) return { items: [], suppressed: 'cancelled' };
        const cached = keyParts === undefined ? undefined : this.results.get(keyParts);
        const prefetched = this.prefetched.get(uri);
        const nothing = cached?.length === 0 && prefetched?.key === key ? prefetched?.nothing : undefined;
        if (nothing !== undefined) {
          this.counters.prefetchHits++;
          return done({ items: [], suppressed: nothing, source: 'prefetch' });
        }
        if (cached !== undefined && cached.length > 0) {
          const fromPrefetch = prefetched?.key === key;
          if (fromPrefetch) this.counters.prefetchHits++;
          else this.counters.cacheHits++;
          this.show(uri, req, prefix, suffix, cached);
          return done({ items: cached, suppressed: null, source: fromPrefetch ? 'prefetch' : 'cache' });
        }
      }

      let debounceMs = 0;
      if (this.deps.debounce !== false) {
        const now = Date.now();
        const age = req.editedAt === undefined ? -1 : now - req.editedAt;
        const keystrokeAt = age >= 0 && age < KEYSTROKE_MAX_AGE_MS ? req.editedAt! : now;
        const pause = this.debouncer.delayFor(keystrokeAt, {
          manual,
          typedCharacter: prefix.length > 0 ? prefix[prefix.length - 1] : undefined,
          atLineEnd: request.suffixOnLine.trim() === '',
        });
        debounceMs = Math.max(0, pause - (now - keystrokeAt));
        if (!(await wait(debounceMs, controller.signal))) return { items: [], suppressed: 'cancelled' };
      }
      const model = await untilAborted(this.deps.backend.acquire(), controller.signal);
      if (controller.signal.aborted) return { items: [], suppressed: 'cancelled' };
      if (model === undefined) return done({ items: [], suppressed: 'no-model' });

      const document = { textAfterCursor: text.slice(offset, offset + CACHE_SUFFIX_CHARS), filePath: req.filePath };
      const generated = await this.generate(model, uri, source, document, ctx, manual, settings, controller.signal);
      if (generated === undefined || controller.signal.aborted) return { items: [], suppressed: 'cancelled' };
      if (req.isCurrent !== undefined && !req.isCurrent()) return { items: [], suppressed: 'document-changed' };
      const { result, latencyMs } = generated;
      // Alternatives (manual) take longer than the automatic answer the debounce plans for.
      if (!manual) this.debouncer.recordLatency(latencyMs);

      const { kept: processed, droppedBy } = postprocessAll(result.candidates.map((c) => c.text), ctx);
      // Alternatives lead with the suggestion already on screen, when there was one.
      const greedyKey = resultCacheKey(model, source.text, ctx, settings);
      const items = manual ? unique([...(this.results.get(greedyKey) ?? []), ...processed]) : processed;
      if (!manual) this.results.set(greedyKey, processed);
      const extra = { raw: result.candidates.map((c) => c.text), latencyMs, debounceMs, result, checkpointDir: model.checkpointDir };
      if (!manual && lowConfidence(result, settings)) {
        this.results.set(greedyKey, []);
        return done({ items: [], suppressed: 'low-confidence', source: 'model' }, extra);
      }
      if (items.length === 0) return done({ items: [], suppressed: `postprocess:${droppedBy ?? 'empty'}`, source: 'model' }, extra);
      this.show(uri, req, prefix, suffix, items);
      this.log(manual, req.languageId, items.length, latencyMs, result);
      return done({ items, suppressed: null, source: 'model' }, extra);
    } catch (err) {
      if (isCancelled(err)) return { items: [], suppressed: 'cancelled' };
      throw err;
    } finally {
      signal?.removeEventListener('abort', onAbort);
      if (this.running.get(uri) === controller) this.running.delete(uri);
    }
  }

  private async generate(
    model: BackendModel,
    uri: string,
    source: PromptSource,
    document: { textAfterCursor: string; filePath: string | undefined },
    ctx: PostprocessContext,
    manual: boolean,
    settings: PipelineSettings,
    signal: AbortSignal,
    announce = true,
  ): Promise<{ result: EngineCompleteResult; latencyMs: number } | undefined> {
    const temperature = manual ? Math.max(settings.temperature, ALTERNATIVE_TEMPERATURE) : settings.temperature;
    // Window starts are kept in document offsets; the engine sees offsets into `source.text`.
    const previous = this.windowStarts.get(uri);
    const request: EngineCompleteRequest = {
      textBeforeCursor: source.text,
      previousWindowStart: previous !== undefined && previous >= source.start ? previous - source.start : undefined,
      maxTokens: settings.maxTokens,
      temperature,
      topP: temperature > 0 ? ALTERNATIVE_TOP_P : undefined,
      seed: manual ? this.seed++ : 0,
      n: manual ? ALTERNATIVES : 1,
      maxLines: ctx.multiline ? MULTILINE_MAX_LINES : 1,
      deadlineMs: manual ? MANUAL_DEADLINE_MS : AUTOMATIC_DEADLINE_MS,
      ...(settings.cacheModel === true ? { cacheModel: true, textAfterCursor: document.textAfterCursor } : {}),
      ...(settings.context === true ? { context: true, languageId: ctx.languageId } : {}),
      documentPath: document.filePath,
      postprocess: ctx,
      minConfidence: manual ? 0 : settings.minConfidence ?? 0,
    };
    const t0 = performance.now();
    this.counters.engineCalls++;
    this.setBusy(+1);
    try {
      const result = await model.complete(request, signal, announce ? () => this.deps.onStartedGenerating?.() : undefined);
      this.windowStarts.set(uri, source.start + result.windowStartOffset);
      this.deps.backend.touch?.();
      return { result, latencyMs: performance.now() - t0 };
    } catch (err) {
      if (!isCancelled(err)) throw err;
      this.counters.engineCancelled++;
      return undefined;
    } finally {
      this.setBusy(-1);
    }
  }

  private show(uri: string, req: PipelineRequest, prefix: string, suffix: string, items: readonly string[]): void {
    this.typingThrough.remember({ documentUri: uri, prefix, suffix, completion: items[0] });
    this.acceptance.recordShown(uri, prefix.length, items);
    this.outcomes?.shown(uri, prefix.length, prefix, items[0], req.languageId, req.filePath);
    this.deps.stats?.recordShown();
  }

  private log(manual: boolean, languageId: string, items: number, latencyMs: number, result: EngineCompleteResult): void {
    const t = result.timings;
    const first = result.candidates[0];
    const origin = first?.origin === 'lookup' ? ', shown: a workspace line' : first?.origin === 'copy' ? ', shown: a line of this file' : '';
    const confidence = first?.confidence === undefined ? '' : `, confidence ${first.confidence.toFixed(2)}`;
    this.deps.log?.debug(
      `${manual ? 'manual' : 'automatic'} ${languageId}: ${items} item(s) in ${Math.round(latencyMs)} ms ` +
        `(prompt ${result.promptTokens} tokens, ${result.reusedTokens} reused; prefill ${Math.round(t.prefillMs)} ms, ` +
        `${t.decodeTokens} tokens in ${Math.round(t.decodeMs)} ms${confidence}${origin})`,
    );
  }

  private setBusy(delta: number): void {
    const was = this.busy > 0;
    this.busy += delta;
    if (was !== this.busy > 0) this.deps.onBusy?.(this.busy > 0);
  }
}

function indentSample(text: string, offset: number): string {
  return text.slice(Math.max(0, offset - INDENT_SAMPLE_CHARS), offset + INDENT_SAMPLE_CHARS / 4);
}

/** What a request's answer depends on besides the settings: the post-processing context and the prompt's source text. */
function requestContext(text: string, offset: number, languageId: string, editorIndentUnit: string | undefined): { ctx: PostprocessContext; source: PromptSource } {
  const ctx = postprocessContextAt(text, offset, languageId, inferIndentUnit(indentSample(text, offset), editorIndentUnit ?? '    '));
  return { ctx, source: promptSource(text, offset) };
}

/** Post-processes each candidate; the distinct survivors, and the step that dropped the first one dropped. */
function postprocessAll(candidates: readonly string[], ctx: PostprocessContext): { kept: string[]; droppedBy: string | undefined } {
  const kept: string[] = [];
  let droppedBy: string | undefined;
  for (const candidate of candidates) {
    const steps = tracePostprocess(candidate, ctx);
    const last = steps[steps.length - 1];
    if (last === undefined) continue;
    if (last.output === null) droppedBy ??= last.step;
    else if (!kept.includes(last.output)) kept.push(last.output);
  }
  return { kept, droppedBy };
}

/**
 * The acceptance head (engine side) said no: the prompt head skipped decoding and no workspace line
 * took the model's place, or the shown candidate's P(accepted) is below the setting. Without a head
 * there is no confidence: never low.
 */
function lowConfidence(result: EngineCompleteResult, settings: PipelineSettings): boolean {
  const threshold = settings.minConfidence ?? 0;
  if (!(threshold > 0)) return false;
  if (result.skippedBeforeDecoding === true && result.candidates.length === 0) return true;
  const confidence = result.candidates[0]?.confidence;
  return confidence !== undefined && confidence < threshold;
}

/** Key parts of a greedy result: everything that shaped it, the model's load included. */
function resultCacheKey(model: BackendModel, prefix: string, ctx: PostprocessContext, settings: PipelineSettings): string[] {
  return [
    String(model.epoch),
    prefix,
    ctx.suffixOnLine,
    ctx.nextLines[0] ?? '',
    ctx.multiline ? 'multi' : 'single',
    String(settings.temperature),
    String(settings.maxTokens),
    settings.cacheModel === true ? 'cache' : '',
    settings.context === true ? 'context' : '',
    String(settings.minConfidence ?? 0),
  ];
}

function unique(texts: readonly string[]): string[] {
  return [...new Set(texts)];
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
