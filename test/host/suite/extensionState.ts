// What the suite reads from and sets in the running extension: the test-hook commands that expose
// its state (registered because the host runs it in test mode), and its settings.
import * as vscode from 'vscode';
import { waitFor, type WaitOptions } from './editorDriver';

export interface DeviceInfo {
  provider: string;
  reason: string;
  threads: number;
}

export interface CompletionTrace {
  documentUri: string;
  languageId: string;
  offset: number;
  trigger: 'automatic' | 'manual';
  source: 'model' | 'typing-through' | 'cache' | 'prefetch';
  raw: string[];
  items: string[];
  multiline: boolean;
  latencyMs: number;
  /** How long the request waited for typing to pause. */
  debounceMs?: number;
  /** From the editor's request to the answer. */
  totalMs: number;
  checkpointDir?: string;
  /** Why nothing is shown, when items is empty. */
  suppressed?: string;
  result?: {
    promptTokens: number;
    reusedTokens: number;
    timings: { promptMs: number; prefillMs: number; decodeMs: number; decodeTokens: number; totalMs: number };
  };
}

export interface HookState {
  model: {
    state: 'unloaded' | 'loading' | 'ready' | 'restarting' | 'error';
    label?: string;
    checkpointDir?: string;
    device?: DeviceInfo;
    loadMs?: number;
    error?: string;
    loadCount: number;
    /** The engine process's id while one runs. */
    enginePid?: number;
  };
  counters: { engineCalls: number; engineCancelled: number; typingThroughHits: number; cacheHits: number; prefetches: number; prefetchHits: number };
  /** The document the last next-line prefetch after an accept was computed for, and its items once done. */
  lastPrefetch?: { documentUri: string; text: string; offset: number; items?: string[] };
  generating: boolean;
  /** Why the last request made by hand showed nothing (the status bar said so). */
  manualEmpty?: string;
  /** The engine process's last workspace index (the cache model's files). */
  workspaceIndex?: { files: number; tokens: number; skipped: number; overCap: number; ms: number };
  generationStarts: number;
  outcomes: { id: number; outcome: 'completed' | 'cancelled' | 'failed'; tokensBeforeCancel?: number }[];
  lastCompletion?: CompletionTrace;
  notifications: { message: string; actions: string[] }[];
  status: { state: 'idle' | 'loading' | 'generating' | 'paused' | 'restarting' | 'error'; text: string; tooltip: string };
  stats: { shown: number; accepted: number; acceptedChars: number; partialAccepts: number };
  /** The workspace's accept/reject log file (absent without a workspace folder). */
  storage: { modelsRoot: string; suggestionLog?: string };
  /** The model download's questions, progress reports and messages (testHooks.ts, DownloadProbe). */
  download?: {
    questions: string[];
    progress: { receivedBytes: number; totalBytes: number; message: string }[];
    messages: string[];
    running: number;
  };
}

export interface EventLoopReport {
  worstGapMs: number;
  delayMaxMs: number;
  delayP99Ms: number;
  /** Longest garbage-collection pause of the host's thread in the same time. */
  worstGcMs: number;
  durationMs: number;
}

export async function hookState(): Promise<HookState> {
  const state = await vscode.commands.executeCommand<HookState | undefined>('gpt2Complete._testState');
  if (state === undefined) throw new Error('gpt2Complete._testState is not registered: is the extension running in test mode?');
  return state;
}

export async function resetHooks(): Promise<void> {
  await vscode.commands.executeCommand('gpt2Complete._testReset');
}

export async function probeEventLoop(action: 'start'): Promise<void>;
export async function probeEventLoop(action: 'stop'): Promise<EventLoopReport>;
export async function probeEventLoop(action: 'start' | 'stop'): Promise<EventLoopReport | void> {
  return vscode.commands.executeCommand('gpt2Complete._eventLoopProbe', action);
}

export async function setSetting(key: string, value: unknown, section = 'gpt2Complete'): Promise<void> {
  await vscode.workspace.getConfiguration(section).update(key, value, vscode.ConfigurationTarget.Global);
}

/** What puts a suite's settings back (inlineSuiteSettings), with `alsoReset`: keys its tests change. */
export type RestoreSettings = (alsoReset?: readonly string[]) => Promise<void>;

/**
 * For a suite of inline suggestions: VS Code's own suggestions off (IntelliSense's widget would take
 * over the inline suggestion; the provider stands back for it) and `settings` (gpt2Complete.*, in
 * order; undefined resets one). Returns what puts every one of them back to its default.
 */
export async function inlineSuiteSettings(settings: Record<string, unknown>): Promise<RestoreSettings> {
  await setSetting('quickSuggestions', { other: 'off', comments: 'off', strings: 'off' }, 'editor');
  await setSetting('suggestOnTriggerCharacters', false, 'editor');
  for (const [key, value] of Object.entries(settings)) await setSetting(key, value);
  return async (alsoReset = []) => {
    for (const key of [...Object.keys(settings), ...alsoReset]) await setSetting(key, undefined);
    await setSetting('quickSuggestions', undefined, 'editor');
    await setSetting('suggestOnTriggerCharacters', undefined, 'editor');
  };
}

/** Waits until the hook state satisfies `predicate`, returning that state. */
export function waitForState(predicate: (s: HookState) => boolean, options: WaitOptions = {}): Promise<HookState> {
  return waitFor(async () => {
    const s = await hookState();
    return predicate(s) ? s : undefined;
  }, options);
}

/** Waits for the model at `checkpointDir` to be loaded. */
export function waitForModel(checkpointDir: string, timeoutMs = 60_000): Promise<HookState> {
  return waitForState((s) => s.model.state === 'ready' && s.model.checkpointDir === checkpointDir, {
    timeoutMs,
    intervalMs: 100,
    what: `model ${checkpointDir} to load`,
  });
}

/** The provider's trace for the request at `offset` in the document `uri`, once it has answered. */
export function waitForTraceAt(uri: string, offset: number, timeoutMs: number, intervalMs = 25): Promise<CompletionTrace> {
  return waitFor(
    async () => {
      const t = (await hookState()).lastCompletion;
      return t?.documentUri === uri && t.offset === offset ? t : undefined;
    },
    { timeoutMs, intervalMs, what: `a completion at offset ${offset} of ${uri}` },
  );
}
