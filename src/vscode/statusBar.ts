/**
 * The status bar item: state (idle, loading, generating, paused, restarting, error), model, device,
 * last latency and tokens/s, like llama.vscode's perf line; the tooltip adds the local acceptance
 * counters. States other than idle and generating are said in words, not only by their icon. A
 * click opens the actions menu (showStatusMenu).
 */
import * as vscode from 'vscode';
import type { CompletionTrace, InlineProvider } from './inlineProvider';
import type { ModelManager } from './modelManager';
import type { PauseState } from './pauseState';
import type { Settings } from './settings';
import type { StatsStore } from './statsStore';
import { ErrorNotifier } from './errorNotifier';
import { EngineCrashLoopError } from './crashRestart';
import { describeDevice, gpuPresent, plural, providerLabel } from './deviceText';

export type StatusState = 'idle' | 'loading' | 'generating' | 'paused' | 'restarting' | 'error';

export interface StatusSources {
  readonly manager: ModelManager;
  readonly provider: InlineProvider;
  readonly pause: PauseState;
  readonly stats: StatsStore;
  readonly settings: () => Settings;
  /** The command a click runs. */
  readonly menuCommand: string;
}

const ICONS: Record<StatusState, string> = {
  idle: '$(sparkle)',
  loading: '$(loading~spin)',
  generating: '$(sync~spin)',
  paused: '$(debug-pause)',
  restarting: '$(debug-restart)',
  error: '$(error)',
};

/** The state in words in the item's text; idle and generating need none (the numbers say it). */
const WORDS: Partial<Record<StatusState, string>> = {
  loading: 'loading',
  paused: 'paused',
  restarting: 'restarting',
  error: 'error',
};

/** A finished model generation's numbers, for the status line. */
interface Perf {
  latencyMs: number;
  tokensPerSecond: number | undefined;
  tokens: number;
  reusedTokens: number;
  promptTokens: number;
}

function perfOf(trace: CompletionTrace): Perf | undefined {
  const r = trace.result;
  if (trace.source !== 'model' || r === undefined) return undefined;
  const tokens = r.timings.decodeTokens;
  return {
    latencyMs: trace.latencyMs,
    tokensPerSecond: r.timings.decodeMs > 0 && tokens > 0 ? (tokens * 1000) / r.timings.decodeMs : undefined,
    tokens,
    reusedTokens: r.reusedTokens,
    promptTokens: r.promptTokens,
  };
}

export class StatusBar implements vscode.Disposable {
  private readonly item: vscode.StatusBarItem;
  private readonly subscriptions: vscode.Disposable[] = [];
  private perf: Perf | undefined;
  private readonly hasGpu = gpuPresent();

  constructor(private readonly sources: StatusSources) {
    this.item = vscode.window.createStatusBarItem('gpt2Complete.status', vscode.StatusBarAlignment.Right, 100);
    this.item.name = 'GPT-2 Complete';
    this.item.command = sources.menuCommand;
    const rerender = (): void => this.render();
    this.subscriptions.push(
      sources.manager.onDidChangeState(rerender),
      sources.provider.onDidChangeBusy(rerender),
      sources.provider.onDidComplete((trace) => {
        this.perf = perfOf(trace) ?? this.perf;
        this.render();
      }),
      sources.pause.onDidChange(rerender),
      sources.stats.onDidChange(rerender),
    );
    this.render();
    this.item.show();
  }

  get state(): StatusState {
    const { manager, provider, pause } = this.sources;
    const kind = manager.state.kind;
    if (kind === 'error') return 'error';
    if (kind === 'restarting') return 'restarting';
    if (kind === 'loading') return 'loading';
    if (provider.generating) return 'generating';
    if (pause.paused) return 'paused';
    return 'idle';
  }

  /** The item's current text (for tests). */
  get text(): string {
    return this.item.text;
  }

  /** The tooltip's text (for tests). */
  get tooltipText(): string {
    const t = this.item.tooltip;
    return typeof t === 'string' ? t : (t?.value ?? '');
  }

  render(): void {
    const state = this.state;
    const model = this.modelLabel();
    const device = this.deviceLabel();
    const parts = [`${ICONS[state]} ${model}`, device];
    const s = this.sources.manager.state;
    if (s.kind === 'error' && s.error instanceof EngineCrashLoopError) parts.push('engine keeps crashing — Reload Model');
    else if (WORDS[state] !== undefined) parts.push(WORDS[state]);
    if (this.perf !== undefined && (state === 'idle' || state === 'generating' || state === 'paused')) {
      parts.push(`${Math.round(this.perf.latencyMs)} ms`);
      if (this.perf.tokensPerSecond !== undefined) parts.push(`${this.perf.tokensPerSecond.toFixed(0)} tok/s`);
    }
    this.item.text = parts.join(' · ');
    this.item.tooltip = this.tooltip(state, model, device);
    this.item.backgroundColor = state === 'error' ? new vscode.ThemeColor('statusBarItem.errorBackground') : undefined;
  }

  dispose(): void {
    for (const s of this.subscriptions) s.dispose();
    this.item.dispose();
  }

  private modelLabel(): string {
    const s = this.sources.manager.state;
    if (s.kind === 'ready' || s.kind === 'loading' || s.kind === 'restarting') return s.label;
    const settings = this.sources.settings();
    return settings.modelPath !== '' ? settings.modelPath.split(/[\\/]/).filter(Boolean).pop() ?? 'model' : settings.model;
  }

  private deviceLabel(): string {
    const s = this.sources.manager.state;
    return s.kind === 'ready' ? providerLabel(s.info.device.provider) : this.sources.settings().device;
  }

  private tooltip(state: StatusState, model: string, device: string): vscode.MarkdownString {
    const { manager, stats } = this.sources;
    const md = new vscode.MarkdownString(undefined, true);
    md.appendMarkdown(`**GPT-2 Complete** — ${state}\n\n`);
    const s = manager.state;
    if (s.kind === 'ready') {
      md.appendMarkdown(`Model: ${model} (loaded in ${Math.round(s.info.loadMs)} ms)\n\n`);
      md.appendMarkdown(`Device: ${describeDevice(s.info.device, this.hasGpu)}\n\n`);
    } else if (s.kind === 'restarting') {
      md.appendText(`The model process stopped (${s.error.message.split('\n')[0]}); starting it again in ${plural(Math.round(s.delayMs / 1000), 'second')}\n\n`);
    } else if (s.kind === 'error') {
      md.appendText(`Error: ${ErrorNotifier.describe(s.error)}\n\n`);
    } else {
      md.appendMarkdown(`Model: ${model} (${s.kind === 'loading' ? 'loading' : 'loads on first use'})\n\n`);
    }
    if (this.perf !== undefined) {
      const p = this.perf;
      const rate = p.tokensPerSecond === undefined ? '' : ` at ${p.tokensPerSecond.toFixed(0)} tokens/s`;
      md.appendMarkdown(`Last suggestion: ${Math.round(p.latencyMs)} ms, ${plural(p.tokens, 'token')}${rate}; prompt ${plural(p.promptTokens, 'token')}, ${p.reusedTokens} from the cache\n\n`);
    }
    const counts = stats.snapshot();
    md.appendMarkdown(
      `Suggestions shown ${counts.shown}, accepted ${counts.accepted} (${(stats.acceptRate() * 100).toFixed(0)}%), ` +
        `${counts.partialAccepts} partly, ` +
        `${plural(counts.acceptedChars, 'character')} accepted — counted on this machine only\n\n`,
    );
    md.appendMarkdown('Click for actions');
    return md;
  }
}

/** What the status bar's menu can do; each entry names a command. */
export interface MenuCommands {
  togglePause: string;
  selectModel: string;
  downloadModel: string;
  showStats: string;
  showQuality: string;
  showLogs: string;
  reloadModel: string;
  openSettings: string;
  /** Contributed by the fine-tuning feature when it is installed. */
  fineTune: string;
}

export async function showStatusMenu(sources: StatusSources, commands: MenuCommands): Promise<void> {
  const paused = sources.pause.paused;
  const available = new Set(await vscode.commands.getCommands(true));
  const entries: (vscode.QuickPickItem & { command: string })[] = [
    {
      label: paused ? '$(debug-start) Resume automatic suggestions' : '$(debug-pause) Pause automatic suggestions',
      description: paused ? undefined : 'Alt+\\ still asks for one',
      command: commands.togglePause,
    },
    { label: '$(symbol-class) Select model…', description: sources.manager.loaded?.label, command: commands.selectModel },
    { label: '$(cloud-download) Download a model…', command: commands.downloadModel },
  ];
  if (available.has(commands.fineTune)) entries.push({ label: '$(beaker) Fine-tune on workspace…', command: commands.fineTune });
  if (sources.manager.state.kind === 'error') entries.push({ label: '$(refresh) Reload the model', command: commands.reloadModel });
  entries.push(
    { label: '$(graph) Show completion stats', command: commands.showStats },
    { label: '$(graph-line) Show suggestion quality per day', command: commands.showQuality },
    { label: '$(output) Show logs', command: commands.showLogs },
    { label: '$(settings-gear) Open settings', command: commands.openSettings },
  );
  const picked = await vscode.window.showQuickPick(entries, { title: 'GPT-2 Complete' });
  if (picked !== undefined) await vscode.commands.executeCommand(picked.command);
}
