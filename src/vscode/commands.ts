/**
 * The commands behind the palette, the keybinding, the status menu and notification actions.
 * Each is a few lines that call into the services; registerCommands returns their disposables.
 */
import * as vscode from 'vscode';
import { PRESETS } from '../engine/presets';
import { formatBytes } from '../engine/units';
import { ACCEPTED_COMMAND } from './inlineProvider';
import { ask, downloadPreset, inform, type DownloadDependencies, type DownloadProbe } from './modelDownload';
import type { ModelManager } from './modelManager';
import { isEmbeddedModelPresent, isPresetDownloaded, type ModelFolders } from './modelResolution';
import type { PauseState } from './pauseState';
import type { QualityView } from './qualityView';
import { SECTION, type Settings } from './settings';
import { showStatusMenu, type MenuCommands, type StatusSources } from './statusBar';
import type { StatsStore } from './statsStore';

export const COMMANDS = {
  trigger: 'gpt2Complete.trigger',
  pause: 'gpt2Complete.pause',
  resume: 'gpt2Complete.resume',
  togglePause: 'gpt2Complete.togglePause',
  showStats: 'gpt2Complete.showStats',
  showQuality: 'gpt2Complete.showQuality',
  selectModel: 'gpt2Complete.selectModel',
  downloadModel: 'gpt2Complete.downloadModel',
  reloadModel: 'gpt2Complete.reloadModel',
  showLogs: 'gpt2Complete.showLogs',
  showMenu: 'gpt2Complete.showMenu',
  openSettings: 'gpt2Complete.openSettings',
} as const;

/** The fine-tuning feature registers this; the status menu offers it only when it exists. */
export const FINE_TUNE_COMMAND = 'gpt2Complete.fineTune';

export interface CommandDependencies {
  readonly manager: ModelManager;
  readonly pause: PauseState;
  readonly stats: StatsStore;
  readonly settings: () => Settings;
  readonly log: vscode.LogOutputChannel;
  readonly folders: ModelFolders;
  readonly status: StatusSources;
  /** The accept command's handler (the provider's `accepted`). */
  readonly accepted: (...args: unknown[]) => void;
  /** The download's test probe, when the test hooks are on. */
  readonly downloadProbe?: DownloadProbe;
  readonly quality: QualityView;
}

function openSettings(query = SECTION): Thenable<unknown> {
  return vscode.commands.executeCommand('workbench.action.openSettings', query);
}

export function registerCommands(deps: CommandDependencies): vscode.Disposable[] {
  const download: DownloadDependencies = {
    folders: deps.folders,
    log: deps.log,
    openModelPathSetting: () => void openSettings(`${SECTION}.modelPath`),
    probe: deps.downloadProbe,
  };
  const menu: MenuCommands = {
    togglePause: COMMANDS.togglePause,
    selectModel: COMMANDS.selectModel,
    downloadModel: COMMANDS.downloadModel,
    showStats: COMMANDS.showStats,
    showQuality: COMMANDS.showQuality,
    showLogs: COMMANDS.showLogs,
    reloadModel: COMMANDS.reloadModel,
    openSettings: COMMANDS.openSettings,
    fineTune: FINE_TUNE_COMMAND,
  };
  const register = (id: string, run: (...args: never[]) => unknown): vscode.Disposable =>
    vscode.commands.registerCommand(id, run as (...args: unknown[]) => unknown);

  return [
    register(COMMANDS.trigger, () => vscode.commands.executeCommand('editor.action.inlineSuggest.trigger')),
    register(COMMANDS.pause, () => deps.pause.set(true)),
    register(COMMANDS.resume, () => deps.pause.set(false)),
    register(COMMANDS.togglePause, () => deps.pause.toggle()),
    register(COMMANDS.showStats, () => showStats(deps.stats, deps.quality)),
    register(COMMANDS.showQuality, () => deps.quality.show()),
    // A name skips the pick (the status menu and the tests use the same path as the picker).
    register(COMMANDS.selectModel, (name?: string) => selectModel(deps, download, name)),
    register(COMMANDS.downloadModel, (name?: string) => downloadAndUse(deps, download, name)),
    register(COMMANDS.reloadModel, () => deps.manager.reload()),
    register(COMMANDS.showLogs, () => deps.log.show()),
    register(COMMANDS.showMenu, () => showStatusMenu(deps.status, menu)),
    register(COMMANDS.openSettings, () => openSettings()),
    register(ACCEPTED_COMMAND, (...args: unknown[]) => deps.accepted(...args)),
  ];
}

async function showStats(stats: StatsStore, quality: QualityView): Promise<void> {
  const c = stats.snapshot();
  const picked = await vscode.window.showInformationMessage(
    `GPT-2 Complete: ${c.shown} suggestions shown, ${c.accepted} accepted (${(stats.acceptRate() * 100).toFixed(0)}%), ` +
      `${c.partialAccepts} partly (word or line), ${c.acceptedChars} characters accepted. Counted on this machine only.`,
    'Per Day',
    'Reset',
  );
  if (picked === 'Per Day') await quality.show();
  else if (picked === 'Reset') stats.reset();
}

// `choice`, not `kind`: QuickPickItem has a `kind` of its own (separators).
type ModelChoice = vscode.QuickPickItem & ({ choice: 'model'; name: string } | { choice: 'folder' });

async function selectModel(deps: CommandDependencies, download: DownloadDependencies, name?: string): Promise<void> {
  const settings = deps.settings();
  if (name !== undefined) return useChosenModel(deps, download, name);
  const current = settings.modelPath !== '' ? undefined : settings.model;
  const mark = (name: string): string => (name === current ? ' (current)' : '');
  const choices: ModelChoice[] = [
    {
      choice: 'model',
      name: 'embedded',
      label: 'embedded',
      description: `small, works offline${mark('embedded')}`,
      detail: isEmbeddedModelPresent(deps.folders) ? 'Built in' : 'Not built into this copy',
    },
    ...PRESETS.map<ModelChoice>((p) => ({
      choice: 'model',
      name: p.name,
      label: p.name,
      description: `${Math.round(p.parameters / 1e6)}M parameters, ${formatBytes(p.approxBytes)}${mark(p.name)}`,
      detail: isPresetDownloaded(deps.folders, p.name) ? 'Downloaded' : 'Not downloaded yet: asks before downloading',
    })),
    {
      choice: 'folder',
      label: '$(folder) Local checkpoint folder…',
      description: settings.modelPath !== '' ? `${settings.modelPath} (current)` : 'config.json + model.safetensors',
    },
  ];
  const picked = await vscode.window.showQuickPick(choices, { title: 'GPT-2 Complete: model for suggestions' });
  if (picked === undefined) return;
  const config = vscode.workspace.getConfiguration(SECTION);
  if (picked.choice === 'folder') {
    const folder = await vscode.window.showOpenDialog({ canSelectFolders: true, canSelectFiles: false, openLabel: 'Use this checkpoint' });
    if (folder?.[0] !== undefined) await config.update('modelPath', folder[0].fsPath, vscode.ConfigurationTarget.Global);
    return;
  }
  await useChosenModel(deps, download, picked.name);
}

/**
 * The model in use again: nothing to do (a reload would only cost a load). A preset not on disk:
 * the download asks first, with its size, as the Download command does.
 */
async function useChosenModel(deps: CommandDependencies, download: DownloadDependencies, name: string): Promise<void> {
  const settings = deps.settings();
  const state = deps.manager.state.kind;
  const onDisk = name === 'embedded' || isPresetDownloaded(deps.folders, name);
  if (settings.modelPath === '' && settings.model === name && onDisk && state !== 'error') {
    inform(download.probe, `GPT-2 Complete: ${name} is already the model for suggestions.`);
    return;
  }
  if (!onDisk && !(await downloadPreset(name, download))) return;
  await useModel(deps, name);
}

/** Points the settings at `name`; when they already do (e.g. after its download), reloads instead. */
async function useModel(deps: CommandDependencies, name: string): Promise<void> {
  const settings = deps.settings();
  if (settings.modelPath === '' && settings.model === name) {
    await deps.manager.reload();
    return;
  }
  const config = vscode.workspace.getConfiguration(SECTION);
  await config.update('model', name, vscode.ConfigurationTarget.Global);
  // modelPath wins over model wherever it is set, so clear it there.
  const inspected = config.inspect<string>('modelPath');
  const targets: [unknown, vscode.ConfigurationTarget][] = [
    [inspected?.globalValue, vscode.ConfigurationTarget.Global],
    [inspected?.workspaceValue, vscode.ConfigurationTarget.Workspace],
    [inspected?.workspaceFolderValue, vscode.ConfigurationTarget.WorkspaceFolder],
  ];
  for (const [value, target] of targets) if (value !== undefined && value !== '') await config.update('modelPath', undefined, target);
}

async function downloadAndUse(deps: CommandDependencies, download: DownloadDependencies, name?: string): Promise<void> {
  let preset = name;
  if (preset === undefined) {
    const picked = await vscode.window.showQuickPick(
      PRESETS.map((p) => ({
        label: p.name,
        description: `${Math.round(p.parameters / 1e6)}M parameters, ${formatBytes(p.approxBytes)}`,
        detail: isPresetDownloaded(deps.folders, p.name) ? 'Downloaded' : undefined,
      })),
      { title: 'GPT-2 Complete: download a model' },
    );
    preset = picked?.label;
  }
  if (preset === undefined || !(await downloadPreset(preset, download))) return;
  const settings = deps.settings();
  if (settings.modelPath === '' && settings.model === preset) {
    await deps.manager.reload();
    return;
  }
  const use = await ask(download.probe, `GPT-2 Complete: use ${preset} for suggestions now?`, {}, 'Use');
  if (use === 'Use') await useModel(deps, preset);
}
