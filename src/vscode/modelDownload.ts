/**
 * Downloading a preset on request: ask first, with its size; a progress notification with bytes,
 * speed and Cancel; and when the hub cannot be reached, a message with the manual alternative
 * (put the files in a folder, set modelPath). Resume, SHA-256 checks and the atomic install are
 * hubDownload's; this is the UI around it.
 */
import * as vscode from 'vscode';
import { isCancelled, UserError } from '../engine/errors';
import { findPreset, presetUrl, type Preset } from '../engine/presets';
import { formatBytes } from '../engine/units';
import { DEFAULT_HUB_URL, downloadModel, getRemoteSizes } from '../models/hubDownload';
import { isPresetDownloaded, presetFolder, type ModelFolders } from './modelResolution';

export interface DownloadDependencies {
  readonly folders: ModelFolders;
  readonly log: vscode.LogOutputChannel;
  /** Opens the modelPath setting (the manual alternative). */
  readonly openModelPathSetting: () => void;
  /** Registered by the test hooks only. */
  readonly probe?: DownloadProbe;
}

/**
 * What the extension-host tests need around a download, where a test cannot reach the workbench's
 * UI: a modal dialog's buttons and a notification's Cancel cannot be clicked from the extension
 * host. Inert until a test arms it (testHooks.ts): it records the questions, progress reports and
 * messages, answers the questions from a queue when one is set, and cancels like the Cancel button.
 */
export class DownloadProbe implements vscode.Disposable {
  /** When set, questions are answered from here (undefined = dismissed) instead of being shown. */
  answers: (string | undefined)[] | undefined;
  readonly questions: string[] = [];
  readonly progress: { receivedBytes: number; totalBytes: number; message: string }[] = [];
  readonly messages: string[] = [];
  /** Downloads under way. */
  running = 0;
  private readonly cancelEmitter = new vscode.EventEmitter<void>();
  readonly onDidCancel = this.cancelEmitter.event;

  /** What the notification's Cancel button does to the downloads under way. */
  cancel(): void {
    this.cancelEmitter.fire();
  }

  reset(): void {
    this.answers = undefined;
    this.questions.length = 0;
    this.progress.length = 0;
    this.messages.length = 0;
  }

  dispose(): void {
    this.cancelEmitter.dispose();
  }
}

/** A question with one action button: the probe's answer when a test armed it, else the real dialog. */
export function ask(
  probe: DownloadProbe | undefined,
  message: string,
  options: vscode.MessageOptions,
  action: string,
): Thenable<string | undefined> {
  probe?.questions.push(options.detail !== undefined ? `${message}\n${options.detail}` : message);
  if (probe?.answers !== undefined) return Promise.resolve(probe.answers.shift());
  return vscode.window.showInformationMessage(message, options, action);
}

/** A brief information message (recorded for the tests when the probe is there). */
export function inform(probe: DownloadProbe | undefined, message: string): void {
  probe?.messages.push(message);
  void vscode.window.showInformationMessage(message);
}

/** The hub to download from; HF_ENDPOINT is the Hugging Face tools' own way to name a mirror. */
export function hubUrl(): string {
  return process.env.HF_ENDPOINT?.trim() || DEFAULT_HUB_URL;
}

/** Downloads `name` after asking; true once the model is on disk (now or already before). */
export async function downloadPreset(name: string, deps: DownloadDependencies): Promise<boolean> {
  const preset = findPreset(name);
  if (preset === undefined) throw new UserError(`"${name}" is not a model that can be downloaded.`);
  if (isPresetDownloaded(deps.folders, preset.name)) return true;
  const baseUrl = hubUrl();
  const dest = presetFolder(deps.folders, preset.name);

  let totalBytes: number;
  try {
    totalBytes = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Window, title: `Checking the size of ${preset.name}` },
      async () => (await getRemoteSizes(preset.repo, { baseUrl })).reduce((sum, f) => sum + (f.size ?? 0), 0),
    );
  } catch (err) {
    reportFailure(err, preset, deps);
    return false;
  }
  const size = formatBytes(totalBytes > 0 ? totalBytes : preset.approxBytes);
  const answer = await ask(
    deps.probe,
    `Download ${preset.name} (${size}) from ${new URL(baseUrl).host}?`,
    { modal: true, detail: `It is saved in ${dest} and runs on this machine; nothing else is sent.` },
    'Download',
  );
  if (answer !== 'Download') return false;

  deps.log.info(`downloading ${preset.repo} (${size}) from ${baseUrl} into ${dest}`);
  try {
    await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: `Downloading ${preset.name}`, cancellable: true },
      async (progress, token) => {
        const controller = new AbortController();
        token.onCancellationRequested(() => controller.abort());
        const probeCancel = deps.probe?.onDidCancel(() => controller.abort());
        if (deps.probe !== undefined) deps.probe.running++;
        const done = new Map<string, number>();
        let reportedPercent = 0;
        try {
          await downloadModel(preset.repo, dest, {
            baseUrl,
            signal: controller.signal,
            onProgress: (p) => {
              done.set(p.file, p.receivedBytes);
              const received = [...done.values()].reduce((a, b) => a + b, 0);
              const percent = totalBytes > 0 ? Math.min(100, (received / totalBytes) * 100) : 0;
              const message = `${formatBytes(received)} of ${totalBytes > 0 ? formatBytes(totalBytes) : '?'} · ${formatBytes(p.bytesPerSecond)}/s`;
              deps.probe?.progress.push({ receivedBytes: received, totalBytes, message });
              progress.report({ message, increment: Math.max(0, percent - reportedPercent) });
              reportedPercent = Math.max(reportedPercent, percent);
            },
          });
        } finally {
          probeCancel?.dispose();
          if (deps.probe !== undefined) deps.probe.running--;
        }
      },
    );
  } catch (err) {
    if (isCancelled(err)) {
      inform(deps.probe, `Download of ${preset.name} cancelled; it resumes where it stopped next time.`);
      return false;
    }
    reportFailure(err, preset, deps);
    return false;
  }
  deps.log.info(`${preset.name} downloaded into ${dest}`);
  inform(deps.probe, `GPT-2 Complete: ${preset.name} downloaded (${size}).`);
  return true;
}

function reportFailure(err: unknown, preset: Preset, deps: DownloadDependencies): void {
  const error = err instanceof Error ? err : new Error(String(err));
  // Offline is the usual cause, and its message says so: one line; the stack only at trace level.
  deps.log.error(`download of ${preset.name} failed: ${error.message.split('\n')[0]}`);
  if (error.stack !== undefined) deps.log.trace(`download of ${preset.name}: ${error.stack}`);
  deps.probe?.messages.push(`failed: ${error.message}`);
  // hubDownload's UserErrors already name the manual alternative; other errors get it here.
  const message = error instanceof UserError
    ? error.message
    : `Downloading ${preset.name} failed (${error.message}); download config.json and model.safetensors from ${presetUrl(preset)} into a folder and set gpt2Complete.modelPath to it.`;
  void vscode.window.showErrorMessage(`GPT-2 Complete: ${message}`, 'Set Model Path', 'Show Logs').then((picked) => {
    if (picked === 'Set Model Path') deps.openModelPathSetting();
    else if (picked === 'Show Logs') deps.log.show();
  });
}
