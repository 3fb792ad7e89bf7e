/**
 * Shows each distinct error once, as a notification with the action that fixes it; the rest only
 * goes to the log. Typing must never turn into a stream of pop-ups, and an error must never stop
 * the editor: callers report and carry on without suggestions.
 */
import * as vscode from 'vscode';
import { isCancelled, UserError } from '../engine/errors';
import { ModelNotDownloadedError } from './modelResolution';

export interface ErrorActions {
  openSettings(): void;
  showLogs(): void;
  download(presetName: string): void;
  selectModel(): void;
  reloadModel(): void;
}

export interface ShownError {
  readonly message: string;
  readonly actions: readonly string[];
}

export class ErrorNotifier {
  private readonly alreadyShown = new Set<string>();
  /** Every notification shown, oldest first (status tooltip and tests). */
  readonly shown: ShownError[] = [];

  constructor(private readonly actions: ErrorActions) {}

  /** The message a user sees for `error`: a UserError's own line, else a pointer to the log. */
  static describe(error: Error): string {
    if (error instanceof UserError) return error.message;
    return `${error.message.split('\n')[0]} (details in "GPT-2 Complete: Show Logs")`;
  }

  notify(error: Error): void {
    if (isCancelled(error)) return;
    const message = ErrorNotifier.describe(error);
    if (this.alreadyShown.has(message)) return;
    this.alreadyShown.add(message);
    const choices = this.choicesFor(error);
    this.shown.push({ message, actions: choices.map(([label]) => label) });
    void vscode.window.showErrorMessage(`GPT-2 Complete: ${message}`, ...choices.map(([label]) => label)).then((picked) => {
      choices.find(([label]) => label === picked)?.[1]();
    });
  }

  /** Forget what was shown (after a successful load), so a new failure of the same kind is shown again. */
  reset(): void {
    this.alreadyShown.clear();
  }

  private choicesFor(error: Error): [string, () => void][] {
    const { actions } = this;
    if (error instanceof ModelNotDownloadedError) {
      return [['Download', () => actions.download(error.presetName)], ['Select Model', () => actions.selectModel()]];
    }
    if (error instanceof UserError) {
      return [['Select Model', () => actions.selectModel()], ['Open Settings', () => actions.openSettings()], ['Show Logs', () => actions.showLogs()]];
    }
    // A crash or an unexpected failure: loading afresh is the first thing to try.
    return [['Reload Model', () => actions.reloadModel()], ['Show Logs', () => actions.showLogs()]];
  }
}
