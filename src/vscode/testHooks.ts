/**
 * Commands that let the extension-host suite observe what happened (which model is loaded, what
 * the engine generated, how generations ended, which errors were shown) and measure the host's
 * event loop. Registered only when VS Code runs the extension for tests (or GPT2C_TEST_HOOKS=1);
 * they read state and never change what the provider does.
 */
import { monitorEventLoopDelay, PerformanceObserver, type IntervalHistogram } from 'perf_hooks';
import * as vscode from 'vscode';
import { zeroCounters } from '../completion/pipeline';
import type { GenerationOutcome } from './engineClient';
import type { ErrorNotifier } from './errorNotifier';
import type { InlineProvider } from './inlineProvider';
import type { DownloadProbe } from './modelDownload';
import type { ModelManager } from './modelManager';
import type { ModelFolders } from './modelResolution';
import type { StatsStore } from './statsStore';
import type { StatusBar } from './statusBar';

export const TEST_COMMANDS = {
  /** Everything observable, as plain JSON. */
  state: 'gpt2Complete._testState',
  /** Forgets outcomes and counters, and the provider's caches. */
  reset: 'gpt2Complete._testReset',
  /** 'start' | 'stop': the worst event-loop gap between the two, in ms. */
  eventLoopProbe: 'gpt2Complete._eventLoopProbe',
  /** Unloads the model, as the idle timer does. */
  unload: 'gpt2Complete._testUnload',
  /**
   * The model download's UI, which a test cannot click: `{ answers: [...] }` answers the next
   * questions (null = dismissed), `'cancel'` is the progress notification's Cancel button,
   * `'reset'` forgets what was recorded and shows the real dialogs again.
   */
  download: 'gpt2Complete._testDownload',
} as const;

export function testHooksEnabled(mode: vscode.ExtensionMode): boolean {
  return mode === vscode.ExtensionMode.Test || process.env.GPT2C_TEST_HOOKS === '1';
}

export interface TestHookSources {
  readonly provider: InlineProvider;
  readonly manager: ModelManager;
  readonly errors: ErrorNotifier;
  readonly stats: StatsStore;
  readonly statusBar: StatusBar;
  readonly onGenerationFinished: vscode.Event<GenerationOutcome>;
  readonly download?: DownloadProbe;
  readonly folders: ModelFolders;
  readonly workspaceIndex?: { readonly lastIndex: unknown; reindex(): Promise<void> };
  readonly outcomeLog?: { readonly file: string; flushed(): Promise<void> };
}

/**
 * Worst gap of a 5 ms timer (what a user feels as a freeze) plus Node's own delay histogram, and
 * the longest garbage-collection pause of this thread in the same time (to tell the causes apart).
 */
class EventLoopProbe {
  private timer: NodeJS.Timeout | undefined;
  private histogram: IntervalHistogram | undefined;
  private gcObserver: PerformanceObserver | undefined;
  private last = 0;
  private worst = 0;
  private worstGc = 0;
  private startedAt = 0;

  start(): void {
    this.stop();
    this.worst = 0;
    this.worstGc = 0;
    this.gcObserver = new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) this.worstGc = Math.max(this.worstGc, entry.duration);
    });
    this.gcObserver.observe({ entryTypes: ['gc'] });
    this.startedAt = performance.now();
    this.last = this.startedAt;
    this.timer = setInterval(() => {
      const now = performance.now();
      this.worst = Math.max(this.worst, now - this.last);
      this.last = now;
    }, 5);
    this.histogram = monitorEventLoopDelay({ resolution: 5 });
    this.histogram.enable();
  }

  stop(): { worstGapMs: number; delayMaxMs: number; delayP99Ms: number; worstGcMs: number; durationMs: number } | undefined {
    if (this.timer === undefined || this.histogram === undefined) return undefined;
    clearInterval(this.timer);
    this.histogram.disable();
    this.gcObserver?.disconnect();
    this.gcObserver = undefined;
    const now = performance.now();
    const result = {
      worstGapMs: Math.max(this.worst, now - this.last),
      delayMaxMs: this.histogram.max / 1e6,
      delayP99Ms: this.histogram.percentile(99) / 1e6,
      worstGcMs: this.worstGc,
      durationMs: now - this.startedAt,
    };
    this.timer = undefined;
    this.histogram = undefined;
    return result;
  }
}

export function registerTestHooks(sources: TestHookSources): vscode.Disposable[] {
  const outcomes: Omit<GenerationOutcome, 'result'>[] = [];
  let generationStarts = 0;
  const probe = new EventLoopProbe();
  const { provider, manager } = sources;

  const state = (): unknown => {
    const s = manager.state;
    const trace = provider.lastTrace;
    return {
      model: {
        state: s.kind,
        label: s.kind === 'ready' || s.kind === 'loading' ? s.label : undefined,
        checkpointDir: s.kind === 'ready' ? s.info.checkpointDir : undefined,
        device: s.kind === 'ready' ? s.info.device : undefined,
        loadMs: s.kind === 'ready' ? s.info.loadMs : undefined,
        error: s.kind === 'error' || s.kind === 'restarting' ? s.error.message : undefined,
        loadCount: manager.loadCount,
        enginePid: manager.enginePid,
      },
      counters: { ...provider.counters },
      lastPrefetch: provider.lastPrefetch === undefined ? undefined : { ...provider.lastPrefetch },
      generating: provider.generating,
      manualEmpty: provider.lastManualEmpty,
      workspaceIndex: sources.workspaceIndex?.lastIndex,
      generationStarts,
      outcomes: outcomes.slice(),
      lastCompletion:
        trace === undefined
          ? undefined
          : { ...trace, result: trace.result === undefined ? undefined : { ...trace.result, candidates: trace.result.candidates.slice() } },
      notifications: sources.errors.shown.slice(),
      status: { state: sources.statusBar.state, text: sources.statusBar.text, tooltip: sources.statusBar.tooltipText },
      stats: sources.stats.snapshot(),
      storage: { modelsRoot: sources.folders.modelsRoot, suggestionLog: sources.outcomeLog?.file },
      download:
        sources.download === undefined
          ? undefined
          : {
              questions: sources.download.questions.slice(),
              progress: sources.download.progress.slice(),
              messages: sources.download.messages.slice(),
              running: sources.download.running,
            },
    };
  };

  return [
    sources.onGenerationFinished((o) => outcomes.push({ id: o.id, outcome: o.outcome, tokensBeforeCancel: o.tokensBeforeCancel })),
    provider.onDidStartGenerating(() => generationStarts++),
    vscode.commands.registerCommand(TEST_COMMANDS.state, state),
    vscode.commands.registerCommand(TEST_COMMANDS.reset, () => {
      outcomes.length = 0;
      generationStarts = 0;
      Object.assign(provider.counters, zeroCounters());
      provider.lastTrace = undefined;
      provider.lastPrefetch = undefined;
      provider.lastManualEmpty = undefined;
      provider.clearCaches();
    }),
    vscode.commands.registerCommand(TEST_COMMANDS.eventLoopProbe, (action: 'start' | 'stop') => {
      if (action === 'start') {
        probe.start();
        return undefined;
      }
      return probe.stop();
    }),
    vscode.commands.registerCommand(TEST_COMMANDS.unload, () => manager.unload()),
    vscode.commands.registerCommand(TEST_COMMANDS.download, (action: { answers: (string | null)[] } | 'cancel' | 'reset') => {
      const probe = sources.download;
      if (probe === undefined) throw new Error('the download probe is not registered');
      if (action === 'cancel') probe.cancel();
      else if (action === 'reset') probe.reset();
      else probe.answers = action.answers.map((a) => a ?? undefined);
    }),
    { dispose: () => probe.stop() },
  ];
}
