/**
 * Composition root: creates the services, wires their events, registers the provider, status bar
 * and commands, and hands every disposable to VS Code. Nothing heavy happens here: the model loads
 * in a worker thread on the first completion request.
 */
import * as path from 'path';
import { OutcomeLog, SUGGESTION_LOG_FILE } from './completion/outcomeLog';
import * as vscode from 'vscode';
import { COMMANDS, registerCommands } from './vscode/commands';
import type { GenerationOutcome } from './vscode/engineClient';
import { ErrorNotifier } from './vscode/errorNotifier';
import { AdapterStore } from './vscode/fineTune/adapterStore';
import { FineTuneController, registerFineTuneCommands } from './vscode/fineTune/fineTuneCommand';
import { registerFineTuneTestHooks } from './vscode/fineTune/fineTuneTestHooks';
import { cleanGraphCache } from './engine/graphCacheCleanup';
import { InlineProvider } from './vscode/inlineProvider';
import { DownloadProbe } from './vscode/modelDownload';
import { ModelManager } from './vscode/modelManager';
import type { ModelFolders } from './vscode/modelResolution';
import { PauseState } from './vscode/pauseState';
import { QualityView } from './vscode/qualityView';
import { onSettingsChanged, readSettings, SECTION, type Settings } from './vscode/settings';
import { StatsStore } from './vscode/statsStore';
import { StatusBar, type StatusSources } from './vscode/statusBar';
import { registerTestHooks, testHooksEnabled } from './vscode/testHooks';
import { WorkspaceIndexFeeder } from './vscode/workspaceIndexFeeder';

export function activate(context: vscode.ExtensionContext): void {
  const log = vscode.window.createOutputChannel('GPT-2 Complete', { log: true });
  let settings: Settings = readSettings();
  const getSettings = (): Settings => settings;

  const storage = context.globalStorageUri.fsPath;
  const folders: ModelFolders = {
    embeddedDir: path.join(context.extensionPath, 'models', 'embedded'),
    modelsRoot: path.join(storage, 'models'),
  };
  const graphCacheDir = path.join(storage, 'graphs');
  const generationFinished = new vscode.EventEmitter<GenerationOutcome>();
  // The workspace's fine-tuned adapter, merged into the model it was trained on when that loads.
  const adapters = new AdapterStore(context.workspaceState, context.storageUri?.fsPath);
  const manager = new ModelManager({
    getSettings,
    folders,
    graphCacheDir,
    processPath: path.join(context.extensionPath, 'dist', 'engineProcess.js'),
    log,
    onGenerationFinished: (outcome) => generationFinished.fire(outcome),
    adapterFor: (checkpointDir) => adapters.adapterFor(checkpointDir),
  });
  const fineTune = new FineTuneController({
    extensionUri: context.extensionUri,
    processPath: path.join(context.extensionPath, 'dist', 'fineTuneProcess.js'),
    graphCacheDir,
    adapters,
    settings: getSettings,
    folders,
    log,
    showLogs: () => log.show(),
  });
  const pause = new PauseState(context.globalState);
  const stats = new StatsStore(context.globalState);
  const quality = new QualityView(stats, () => adapters.current?.trainedAt);
  const errors = new ErrorNotifier({
    openSettings: () => void vscode.commands.executeCommand(COMMANDS.openSettings),
    showLogs: () => log.show(),
    download: (name) => void vscode.commands.executeCommand(COMMANDS.downloadModel, name),
    selectModel: () => void vscode.commands.executeCommand(COMMANDS.selectModel),
    reloadModel: () => void vscode.commands.executeCommand(COMMANDS.reloadModel),
  });
  // Without a workspace folder there is no workspace storage, and nothing to fine-tune on: no log.
  const outcomeLog =
    context.storageUri === undefined ? undefined : new OutcomeLog(path.join(context.storageUri.fsPath, SUGGESTION_LOG_FILE), { onError: (m) => log.warn(m) });
  const provider = new InlineProvider({ manager, settings: getSettings, pause, stats, errors, log, outcomeLog });
  const workspaceIndex = new WorkspaceIndexFeeder(manager, getSettings, log);
  const statusSources: StatusSources = { manager, provider, pause, stats, settings: getSettings, menuCommand: COMMANDS.showMenu };
  const statusBar = new StatusBar(statusSources);
  const testHooks = testHooksEnabled(context.extensionMode);
  const downloadProbe = testHooks ? new DownloadProbe() : undefined;
  if (downloadProbe !== undefined) context.subscriptions.push(downloadProbe);

  context.subscriptions.push(
    log,
    generationFinished,
    manager,
    pause,
    stats,
    quality,
    provider,
    workspaceIndex,
    statusBar,
    vscode.languages.registerInlineCompletionItemProvider({ pattern: '**' }, provider),
    manager.onDidFail((error) => errors.notify(error)),
    manager.onDidChangeState((state) => {
      // A working model clears the "shown once" memory; a new model must not serve the old one's suggestions.
      if (state.kind === 'ready') {
        errors.reset();
        // Graphs of adapters and models no longer used would pile up (one per adapter, model-sized).
        // The engine reports the key of the graph it runs: no second hash of the weights here.
        const inUse = state.info.graphHash;
        if (inUse !== undefined) {
          cleanGraphCache(graphCacheDir, [inUse]).then(
            (r) => {
              if (r.removed.length > 0) log.info(`graph cache: removed ${r.removed.length} unused graph(s), ${Math.round(r.freedBytes / 2 ** 20)} MiB (${r.kept} kept)`);
            },
            (err: unknown) => log.warn(`graph cache cleanup skipped: ${err instanceof Error ? err.message : String(err)}`),
          );
        }
      }
      if (state.kind === 'loading') provider.clearCaches();
    }),
    onSettingsChanged((change) => {
      settings = change.settings;
      manager.handleSettingsChange(change);
      if (change.debounce) provider.resetDebouncer();
      if (change.workspaceIndex) {
        provider.clearCaches();
        void workspaceIndex.reindex();
      }
      statusBar.render();
    }),
    ...registerCommands({
      manager, pause, stats, settings: getSettings, log, folders, status: statusSources,
      accepted: (documentUri, itemText) => provider.accepted(documentUri, itemText),
      downloadProbe,
      quality,
    }),
    adapters,
    fineTune,
    adapters.onDidChange(() => manager.reloadIfInUse('the fine-tuned adapter changed')),
    ...registerFineTuneCommands(fineTune),
  );
  if (testHooks) {
    context.subscriptions.push(
      ...registerTestHooks({
        provider, manager, errors, stats, statusBar, onGenerationFinished: generationFinished.event, download: downloadProbe, folders, workspaceIndex, outcomeLog,
      }),
      ...registerFineTuneTestHooks(fineTune, adapters, manager),
    );
  }
  log.info(`activated; model setting "${settings.modelPath || settings.model}" loads on first use (settings: ${SECTION}.*)`);
}

export function deactivate(): void {
  // Everything is in context.subscriptions; the model manager's dispose ends the worker.
}
