/**
 * "Fine-tune on Workspace": pick the folder, a dry run in the child process for the data report
 * and the time/memory estimate, confirm, train in the child with a cancellable progress
 * notification, then the report webview and the adapter, switched on for this workspace only when
 * it improved held-out quality (the child's verdict); otherwise it is kept, off, with "Use It
 * Anyway". Also the commands that turn the adapter off and on and delete it.
 *
 * The extension host only relays messages: mining, training and evaluation all run in the child
 * (fineTuneProcess.js), so the editor keeps its suggestions and stays responsive throughout.
 * Every failure ends as one message; nothing here is awaited on a notification, so the command's
 * promise settles when the work does.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import { UserError } from '../../engine/errors';
import type { ChildMessage, FineTuneJob } from '../../training/fineTuneProtocol';
import { describeHead } from '../../training/head/headMetrics';
import { SUGGESTION_LOG_FILE } from '../../completion/outcomeLog';
import { latestCheckpoint } from '../../training/checkpointStore';
import { FINE_TUNE_COMMAND } from '../commands';
import { resolveModelLocation, type ModelFolders, type ModelLocation } from '../modelResolution';
import type { Settings } from '../settings';
import { ADAPTERS_FOLDER, type AdapterStore, type InterruptedRun } from './adapterStore';
import { DataReportDocuments } from './dataReportDocument';
import { runJob, type RunningJob, type RunOutcome, type RunRecord } from './fineTuneRun';
import { confirmText, editorWording, progressLine, resultLine } from './fineTuneText';
import { ReportPanel } from './reportPanel';
import { acquireWorkspaceLock, LockHeldError, type HeldLock } from './workspaceLock';

export const FINE_TUNE_COMMANDS = {
  fineTune: FINE_TUNE_COMMAND,
  enableAdapter: 'gpt2Complete.enableAdapter',
  disableAdapter: 'gpt2Complete.disableAdapter',
  deleteAdapter: 'gpt2Complete.deleteAdapter',
} as const;

export interface FineTuneDependencies {
  readonly extensionUri: vscode.Uri;
  /** dist/fineTuneProcess.js */
  readonly processPath: string;
  /** The extension's compiled-graph cache: the child's evaluation graphs land where the editor's loads find them. */
  readonly graphCacheDir: string;
  readonly adapters: AdapterStore;
  readonly settings: () => Settings;
  readonly folders: ModelFolders;
  readonly log: vscode.LogOutputChannel;
  /** Opens the log (the action on error messages). */
  readonly showLogs: () => void;
}

/** What the host tests set instead of answering dialogs (test hooks only). */
export interface FineTuneTestOptions {
  /** The scope, instead of the pick. */
  folder?: string;
  /** Overrides of the job's knobs (steps, evalCases, checkpointEvery, ...): a short run in a test. */
  job?: Partial<Omit<FineTuneJob, 'folder' | 'model' | 'out' | 'dryRun'>>;
  /** false: every confirmation is answered yes (resume when there is something to resume). */
  confirm?: boolean;
  /** Answers to the confirmation's questions, in order (null = dismissed), instead of showing them. */
  answers?: (string | null)[];
}

/** A confirmation question as it was asked (tests). */
export interface AskedQuestion {
  message: string;
  modal: boolean;
  buttons: string[];
}

export type FineTunePhase = 'idle' | 'preparing' | 'confirming' | 'training' | 'finishing';

/** How the last run of this window ended, for the tests and the log. */
export interface FineTuneOutcomeSummary {
  /** 'not-improved': trained, but held-out quality did not improve, so the adapter is kept off. */
  kind: RunOutcome['kind'] | 'refused' | 'not-improved';
  message: string;
  /** The buttons the message offered. */
  actions?: string[];
}

type Choice = 'train' | 'resume' | 'startOver';

export class FineTuneController implements vscode.Disposable {
  testOptions: FineTuneTestOptions | undefined;
  phase: FineTunePhase = 'idle';
  /** The job running in the child, if any (cancel goes to it). */
  private job: RunningJob | undefined;
  private lock: HeldLock | undefined;
  lastOutcome: FineTuneOutcomeSummary | undefined;
  /** The buttons of the last message and what they do (tests press them through the test hooks). */
  private lastActions: [string, () => void][] = [];
  /** Every message this feature showed, oldest first (tests). */
  readonly shown: string[] = [];
  /** Every confirmation question asked, oldest first (tests). */
  readonly questions: AskedQuestion[] = [];
  private readonly reports = new DataReportDocuments();

  constructor(private readonly deps: FineTuneDependencies) {}

  get running(): RunRecord | undefined {
    return this.job?.record;
  }

  get lockFile(): string | undefined {
    const storage = this.deps.adapters.storage;
    return storage === undefined ? undefined : this.lock?.file ?? path.join(storage, 'fine-tune.lock');
  }

  /** The command. Resolves when the run (or the refusal) is over. */
  async fineTune(): Promise<void> {
    if (this.phase !== 'idle') {
      this.refuse('A fine-tuning run is already in progress in this window: wait for it or cancel it from its notification.');
      return;
    }
    this.phase = 'preparing';
    try {
      await this.fineTuneUnguarded();
    } catch (err) {
      const error = err instanceof Error ? err : new Error(String(err));
      this.deps.log.error(`fine-tune: ${error.stack ?? error.message}`);
      this.report('failed', error instanceof UserError ? error.message : `Fine-tuning failed: ${error.message}`, 'error');
    } finally {
      this.job = undefined;
      this.lock?.release();
      this.lock = undefined;
      this.phase = 'idle';
    }
  }

  /** Cancels the running job (the notification's Cancel does the same); false when none runs. */
  cancel(): boolean {
    if (this.job === undefined) return false;
    this.deps.log.info('fine-tune: cancel requested; the child stops at the next step boundary');
    this.job.cancel();
    return true;
  }

  /** Runs a button of the last message as a click on it would; false when it offered none by that label. */
  pressAction(label: string): boolean {
    const action = this.lastActions.find(([l]) => l === label);
    action?.[1]();
    return action !== undefined;
  }

  async setAdapterEnabled(enabled: boolean): Promise<void> {
    const record = this.deps.adapters.current;
    if (record === undefined) {
      this.inform('This workspace has no fine-tuned adapter: run "GPT-2 Complete: Fine-tune on Workspace" to train one.');
      return;
    }
    if (!(await this.deps.adapters.setEnabled(enabled))) {
      this.inform(`The fine-tuned adapter is already ${enabled ? 'on' : 'off'} in this workspace.`);
      return;
    }
    this.inform(
      enabled
        ? `Suggestions in this workspace use the adapter fine-tuned on ${record.folder} again.`
        : 'Suggestions in this workspace use the base model again; "Turn On Fine-tuned Adapter" switches the adapter back on.',
    );
  }

  async deleteAdapter(): Promise<void> {
    const { adapters } = this.deps;
    const record = adapters.current;
    const interrupted = adapters.interrupted;
    if (record === undefined && interrupted === undefined) {
      this.inform('This workspace has no fine-tuned adapter to delete.');
      return;
    }
    if (this.phase !== 'idle') {
      this.refuse('A fine-tuning run is in progress in this window: cancel it before deleting the adapter.');
      return;
    }
    const what =
      record !== undefined
        ? `the adapter fine-tuned on ${record.folder} (${new Date(record.trainedAt).toLocaleString()})`
        : `the checkpoint of the unfinished run on ${interrupted?.folder ?? ''}`;
    if (this.testOptions?.confirm !== false) {
      const picked = await vscode.window.showWarningMessage(
        `Delete ${what}?`,
        { modal: true, detail: 'Its files are removed from this workspace\'s storage; suggestions use the base model. This cannot be undone.' },
        'Delete',
      );
      if (picked !== 'Delete') return;
    }
    await adapters.remove();
    await adapters.discardInterrupted();
    this.inform(
      record !== undefined
        ? 'The fine-tuned adapter of this workspace was deleted; suggestions use the base model.'
        : 'The checkpoint of the unfinished fine-tuning run was deleted.',
    );
  }

  dispose(): void {
    this.job?.cancel();
    this.lock?.release();
    this.reports.dispose();
    ReportPanel.dispose();
  }

  private async fineTuneUnguarded(): Promise<void> {
    const { adapters, log } = this.deps;
    const storage = adapters.storage;
    if (storage === undefined) {
      this.refuse('Open a folder first: a fine-tuned adapter belongs to a workspace and is kept in its storage.');
      return;
    }
    const folder = await this.pickScope();
    if (folder === undefined) return;
    const location = resolveModelLocation(this.deps.settings(), this.deps.folders);
    // Before the dry run: it takes the same CPU as training, and both windows would show a dialog.
    try {
      this.lock = acquireWorkspaceLock(storage, folder);
    } catch (err) {
      if (!(err instanceof LockHeldError)) throw err;
      this.refuse(err.message);
      return;
    }

    const resume = this.resumeCandidate(folder, location);
    const base = this.baseJob(folder, location);
    log.info(`fine-tune: reading ${folder} for ${location.label} (${location.checkpointDir})`);
    const preview = await this.withProgress(`Reading ${path.basename(folder)} for fine-tuning`, { ...base, out: resume?.run.out ?? path.join(storage, ADAPTERS_FOLDER, 'preview'), dryRun: true });
    if (preview.kind !== 'dryRun') return this.finish(preview, undefined);
    const record = preview.record;
    if (record.report === undefined) throw new Error('the fine-tuning process sent no data report');

    this.phase = 'confirming';
    const choice = await this.confirm(location, folder, record, resume?.step);
    if (choice === undefined) {
      this.report('cancelled', 'Fine-tuning was not started.', 'quiet');
      return;
    }
    if (choice === 'startOver') await adapters.discardInterrupted();
    const out = choice === 'resume' && resume !== undefined ? resume.run.out : adapters.newRunFolder();
    const job: FineTuneJob = { ...base, out };
    await adapters.rememberInterrupted({ out, folder, baseCheckpointDir: location.checkpointDir, steps: job.steps });

    this.phase = 'training';
    const started = Date.now();
    log.info(`fine-tune: training into ${out}${choice === 'resume' ? ` (resuming from step ${resume?.step ?? 0})` : ''}`);
    const outcome = await this.withProgress(`Fine-tuning ${location.label} on ${path.basename(folder)}`, job);
    this.phase = 'finishing';
    await this.finish(outcome, { job, location, started, resumed: choice === 'resume' });
  }

  private baseJob(folder: string, location: ModelLocation): Omit<FineTuneJob, 'out'> {
    const settings = this.deps.settings();
    return {
      folder,
      model: location.checkpointDir,
      // No method: the recipe for the model's size (every weight of the embedded model, LoRA for GPT-2 and up).
      device: settings.device,
      threads: settings.threads,
      include: settings.fineTuneInclude.length > 0 ? [...settings.fineTuneInclude] : undefined,
      exclude: settings.fineTuneExclude.length > 0 ? [...settings.fineTuneExclude] : undefined,
      secrets: settings.fineTuneSecrets,
      graphCacheDir: this.deps.graphCacheDir,
      // The adapter gets its own acceptance head (the base model's reads other states), taught also
      // by what was accepted and rejected in this workspace.
      head: true,
      suggestionLog: this.suggestionLog(settings.suggestionLog),
      ...this.testOptions?.job,
    };
  }

  /** The workspace's accept/reject log, when it is kept and has entries. */
  private suggestionLog(kept: boolean): string | undefined {
    const storage = this.deps.adapters.storage;
    if (!kept || storage === undefined) return undefined;
    const file = path.join(storage, SUGGESTION_LOG_FILE);
    return fs.existsSync(file) ? file : undefined;
  }

  private resumeCandidate(folder: string, location: ModelLocation): { run: InterruptedRun; step: number } | undefined {
    const run = this.deps.adapters.resumable(folder, location.checkpointDir);
    if (run === undefined) return undefined;
    try {
      const latest = latestCheckpoint(run.out);
      return latest === null ? undefined : { run, step: latest.step };
    } catch {
      return undefined; // A damaged checkpoint is not offered; "Start Over" replaces it.
    }
  }

  private async pickScope(): Promise<string | undefined> {
    if (this.testOptions?.folder !== undefined) return this.testOptions.folder;
    const roots = vscode.workspace.workspaceFolders ?? [];
    type Item = vscode.QuickPickItem & { folder?: string };
    const items: Item[] = roots.map((f) => ({
      label: `$(root-folder) ${f.name}`,
      description: roots.length > 1 ? 'this workspace folder' : 'the whole workspace',
      detail: f.uri.fsPath,
      folder: f.uri.fsPath,
    }));
    items.push({ label: '$(folder) A subfolder…', description: 'choose a folder to learn from' });
    const picked = await vscode.window.showQuickPick(items, {
      title: 'GPT-2 Complete: fine-tune on which files?',
      placeHolder: 'Files ignored by git, vendored, generated, binary or secret are skipped',
    });
    if (picked === undefined) return undefined;
    if (picked.folder !== undefined) return picked.folder;
    const chosen = await vscode.window.showOpenDialog({
      canSelectFolders: true,
      canSelectFiles: false,
      canSelectMany: false,
      defaultUri: roots[0]?.uri,
      openLabel: 'Fine-tune on This Folder',
    });
    return chosen?.[0]?.fsPath;
  }

  /**
   * The modal with the numbers. "Show Data Report" opens the full report and asks again, modal
   * again: a notification would hide itself after a while and leave Start only in the
   * notification centre.
   */
  private async confirm(location: ModelLocation, folder: string, record: RunRecord, resumeStep: number | undefined): Promise<Choice | undefined> {
    if (this.testOptions?.confirm === false) return resumeStep !== undefined ? 'resume' : 'train';
    const report = record.report;
    if (report === undefined) return undefined;
    const text = confirmText({ modelLabel: location.label, folderName: folder, report: report.report, estimate: record.estimate, resumeFromStep: resumeStep });
    const buttons = new Map<string, Choice>(resumeStep !== undefined ? [['Resume', 'resume'], ['Start Over', 'startOver']] : [['Fine-tune', 'train']]);
    const showReport = 'Show Data Report';
    const tight = record.estimate !== undefined && record.estimate.memoryBytes > record.estimate.availableBytes;
    let message = text.message;
    for (;;) {
      const picked = await this.askModal(tight, message, text.detail, [...buttons.keys(), showReport]);
      if (picked !== showReport) return picked === undefined ? undefined : buttons.get(picked);
      await this.reports.show(`Fine-tuning data ${path.basename(folder)}`, [report.text, '', record.estimate?.text ?? ''].join('\n'));
      message = `${text.message} The full data report is open in an editor.`;
    }
  }

  private askModal(warning: boolean, message: string, detail: string, buttons: string[]): Thenable<string | undefined> {
    this.questions.push({ message, modal: true, buttons });
    const answers = this.testOptions?.answers;
    if (answers !== undefined) return Promise.resolve(answers.shift() ?? undefined);
    const ask = warning ? vscode.window.showWarningMessage : vscode.window.showInformationMessage;
    return ask(message, { modal: true, detail }, ...buttons);
  }

  /** Runs `job` in the child under a cancellable progress notification. */
  private withProgress(title: string, job: FineTuneJob): Promise<RunOutcome> {
    return Promise.resolve(
      vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: `GPT-2 Complete: ${title}`, cancellable: true },
        async (progress, token) => {
          let reported = 0;
          const onMessage = (message: ChildMessage): void => {
            const update = this.progressUpdate(message, job, reported);
            if (update === undefined) return;
            reported += update.increment ?? 0;
            progress.report(update);
          };
          const running = runJob(job, { script: this.deps.processPath, onOutput: (text) => this.childOutput(text) }, onMessage);
          this.job = running;
          const onCancel = token.onCancellationRequested(() => {
            this.cancel();
            // The notification closes on Cancel; the status bar says the run is still winding down.
            vscode.window.setStatusBarMessage('$(loading~spin) GPT-2 Complete: stopping fine-tuning after the current step…', running.outcome);
          });
          try {
            return await running.outcome;
          } finally {
            onCancel.dispose();
            this.job = undefined;
          }
        },
      ),
    );
  }

  /** The notification's line for a child message (and the log's), with the bar's increment in percent. */
  private progressUpdate(message: ChildMessage, job: FineTuneJob, reported: number): { message: string; increment?: number } | undefined {
    const { log } = this.deps;
    switch (message.type) {
      case 'report':
        log.info(`fine-tune data report:\n${message.text}`);
        return { message: 'checking the data and measuring a training step…' };
      case 'estimate':
        log.info(`fine-tune estimate: ${message.text}`);
        return job.dryRun === true ? { message: 'estimate ready' } : { message: 'measuring the base model on held-out files…' };
      case 'eval':
        log.info(`fine-tune: ${message.phase} — L2 ${message.result.l2.toFixed(4)}, L1 ${message.result.l1.toFixed(4)}, exact match ${(message.result.exact_match * 100).toFixed(1)}%`);
        return { message: message.phase === 'before' ? 'measuring suggestions on held-out files…' : 'measuring the new suggestions on held-out files…' };
      case 'quality':
        log.info(`fine-tune: suggestions ${message.phase}: ${message.result.exact} of ${message.result.cuts} exactly right (${message.result.shown} shown; best baseline ${message.bestBaseline.exact})`);
        return { message: message.phase === 'before' ? 'training…' : 'writing the report…' };
      case 'head':
        if (message.result !== undefined) {
          log.info(`fine-tune: ${describeHead(message.result)}`);
          return { message: 'measuring the new suggestions on held-out files…' };
        }
        return { message: `teaching the acceptance head what is worth showing (${message.done}/${message.total})…` };
      case 'progress': {
        const line = progressLine(message);
        const every = Math.max(1, Math.round(message.totalSteps / 20));
        if (message.step % every === 0 || message.step === message.totalSteps) log.info(`fine-tune: ${line}`);
        const target = (100 * message.step) / Math.max(1, message.totalSteps);
        const last = message.step >= message.totalSteps ? ' · measuring the adapter on held-out files…' : '';
        return { message: line + last, increment: Math.max(0, target - reported) };
      }
      case 'error':
        if (message.detail !== undefined) log.error(`fine-tune process: ${message.detail}`);
        return undefined;
      default:
        return undefined;
    }
  }

  private async finish(
    outcome: RunOutcome,
    training: { job: FineTuneJob; location: ModelLocation; started: number; resumed: boolean } | undefined,
  ): Promise<void> {
    const { adapters } = this.deps;
    switch (outcome.kind) {
      case 'dryRun':
        return;
      case 'failed':
        this.deps.log.error(`fine-tune: ${outcome.error.stack ?? outcome.error.message}`);
        if (training !== undefined) await this.forgetRunWithoutCheckpoint(training.job.out);
        const worded = editorWording(outcome.message);
        // A resume fails when the files or settings changed since the checkpoint: offer the way out.
        const actions: [string, () => void][] = training?.resumed === true ? [['Start Over', () => void this.startOver()]] : [];
        if (worded.namesGlobs) actions.push(['Open Settings', () => void vscode.commands.executeCommand('workbench.action.openSettings', 'gpt2Complete.fineTune')]);
        this.report('failed', worded.message, 'error', actions);
        return;
      case 'cancelled': {
        if (training === undefined) {
          this.report('cancelled', 'Fine-tuning was cancelled before training started.', 'quiet');
          return;
        }
        const kept = await this.forgetRunWithoutCheckpoint(training.job.out);
        const step = outcome.record.progress?.step;
        const at = step !== undefined ? ` at step ${step} of ${outcome.record.progress?.totalSteps ?? '?'}` : '';
        this.report(
          'cancelled',
          kept
            ? `Fine-tuning was cancelled${at}. Its last checkpoint is kept: run "Fine-tune on Workspace" on the same folder to resume.`
            : `Fine-tuning was cancelled${at}, before its first checkpoint; nothing was kept.`,
          'info',
        );
        return;
      }
      case 'done': {
        if (training === undefined) return;
        const { job, location } = training;
        const { verdict } = outcome.result;
        await adapters.install(
          {
            dir: job.out,
            baseCheckpointDir: location.checkpointDir,
            baseLabel: location.label,
            folder: job.folder,
            trainedAt: new Date().toISOString(),
          },
          verdict.improved,
        );
        // Checkpoints only serve a resume; the finished adapter is all the workspace needs.
        await fs.promises.rm(path.join(job.out, 'checkpoints'), { recursive: true, force: true });
        const useAnyway = (): void => void this.setAdapterEnabled(true);
        ReportPanel.show(
          this.deps.extensionUri,
          {
            modelLabel: location.label,
            folder: job.folder,
            adapterDir: job.out,
            finishedAt: new Date(),
            durationSeconds: (Date.now() - training.started) / 1000,
            result: outcome.result,
            lossCurve: outcome.record.lossCurve,
            report: outcome.record.report?.report,
          },
          { useAnyway },
        );
        const line = resultLine(outcome.result);
        if (verdict.improved) {
          this.report('done', `Fine-tuning finished: ${line}. Suggestions in this workspace now use the adapter.`, 'info', [
            ['Turn Off', () => void this.setAdapterEnabled(false)],
          ]);
        } else {
          this.report(
            'not-improved',
            `Fine-tuning finished, but the adapter did not improve suggestions on the held-out files (${verdict.reason}), so it is not switched on. It is kept: "Use It Anyway" switches it on.`,
            'warning',
            [['Use It Anyway', useAnyway]],
          );
        }
        return;
      }
    }
  }

  private async startOver(): Promise<void> {
    await this.deps.adapters.discardInterrupted();
    await this.fineTune();
  }

  /** After a failed or cancelled run: forgets it when it left no checkpoint (nothing to resume). Returns whether one is kept. */
  private async forgetRunWithoutCheckpoint(out: string): Promise<boolean> {
    let kept = false;
    try {
      kept = latestCheckpoint(out) !== null;
    } catch {
      kept = false;
    }
    if (!kept) await this.deps.adapters.discardInterrupted();
    return kept;
  }

  private childOutput(text: string): void {
    for (const line of text.split('\n')) if (line.trim() !== '') this.deps.log.info(`fine-tune process: ${line}`);
  }

  private refuse(message: string): void {
    this.report('refused', message, 'warning');
  }

  private inform(message: string): void {
    this.shown.push(message);
    void vscode.window.showInformationMessage(`GPT-2 Complete: ${message}`);
  }

  /**
   * The one message a run ends with ('quiet': only recorded and logged, for what the user just did
   * themselves). Never awaited: a notification left open must not hold the command.
   */
  private report(
    kind: FineTuneOutcomeSummary['kind'],
    message: string,
    severity: 'error' | 'warning' | 'info' | 'quiet',
    actions: [string, () => void][] = [],
  ): void {
    this.lastOutcome = { kind, message, ...(actions.length > 0 && { actions: actions.map(([label]) => label) }) };
    this.lastActions = actions;
    this.deps.log.info(`fine-tune ${kind}: ${message}`);
    if (severity === 'quiet') return;
    this.shown.push(message);
    const all: [string, () => void][] = severity === 'error' ? [...actions, ['Show Logs', this.deps.showLogs]] : actions;
    const show =
      severity === 'error' ? vscode.window.showErrorMessage : severity === 'warning' ? vscode.window.showWarningMessage : vscode.window.showInformationMessage;
    void show(`GPT-2 Complete: ${message}`, ...all.map(([label]) => label)).then((picked) => all.find(([label]) => label === picked)?.[1]());
  }
}

export function registerFineTuneCommands(controller: FineTuneController): vscode.Disposable[] {
  return [
    vscode.commands.registerCommand(FINE_TUNE_COMMANDS.fineTune, () => controller.fineTune()),
    vscode.commands.registerCommand(FINE_TUNE_COMMANDS.enableAdapter, () => controller.setAdapterEnabled(true)),
    vscode.commands.registerCommand(FINE_TUNE_COMMANDS.disableAdapter, () => controller.setAdapterEnabled(false)),
    vscode.commands.registerCommand(FINE_TUNE_COMMANDS.deleteAdapter, () => controller.deleteAdapter()),
  ];
}
