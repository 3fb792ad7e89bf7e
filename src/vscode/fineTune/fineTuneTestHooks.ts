/**
 * Test-only commands for "Fine-tune on Workspace" (registered with the other test hooks): set the
 * scope, the number of steps and skip the dialogs; read what the feature did (phase, progress, the
 * last outcome and messages, the adapter on record and the one the loaded model merged); cancel as
 * the notification's Cancel button does.
 */
import * as vscode from 'vscode';
import type { ModelManager } from '../modelManager';
import type { AdapterStore } from './adapterStore';
import type { FineTuneController, FineTuneTestOptions } from './fineTuneCommand';
import { ReportPanel } from './reportPanel';

export const FINE_TUNE_TEST_COMMANDS = {
  configure: 'gpt2Complete._testFineTuneConfigure',
  state: 'gpt2Complete._testFineTuneState',
  cancel: 'gpt2Complete._testFineTuneCancel',
  /** Presses a button of the last message by its label ("Use It Anyway"), as a click would. */
  press: 'gpt2Complete._testFineTunePress',
} as const;

export function registerFineTuneTestHooks(controller: FineTuneController, adapters: AdapterStore, manager: ModelManager): vscode.Disposable[] {
  const state = (): unknown => {
    const running = controller.running;
    return {
      phase: controller.phase,
      progress: running?.progress,
      evals: running?.evals,
      lastOutcome: controller.lastOutcome,
      shown: controller.shown.slice(),
      questions: controller.questions.slice(),
      lockFile: controller.lockFile,
      adapter: adapters.current,
      interrupted: adapters.interrupted,
      loaded: manager.loaded === undefined ? undefined : { checkpointDir: manager.loaded.info.checkpointDir, adapterDir: manager.loaded.info.adapterDir, epoch: manager.loaded.epoch },
      report:
        ReportPanel.lastShown === undefined
          ? undefined
          : { title: ReportPanel.lastShown.title, points: ReportPanel.lastShown.data.lossCurve.length, verdict: ReportPanel.lastShown.data.result.verdict, quality: ReportPanel.lastShown.data.result.quality },
    };
  };
  return [
    vscode.commands.registerCommand(FINE_TUNE_TEST_COMMANDS.configure, (options: FineTuneTestOptions | undefined) => {
      controller.testOptions = options;
    }),
    vscode.commands.registerCommand(FINE_TUNE_TEST_COMMANDS.state, state),
    vscode.commands.registerCommand(FINE_TUNE_TEST_COMMANDS.cancel, () => controller.cancel()),
    vscode.commands.registerCommand(FINE_TUNE_TEST_COMMANDS.press, (label: string) => controller.pressAction(label)),
  ];
}
