// The fine-tune command's dialogs as a new user meets them: after "Show Data Report" the choice
// comes back as a modal (a notification would hide itself and leave Start in the notification
// centre), and "too little data" names the editor's settings for the file globs, which the run
// really uses. The test hooks answer the modal questions (a test cannot click them) and record them.
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { setSetting } from './extensionState';
import { writeCorpus } from './fineTuneCorpus';
import { screenshot } from './screenshots';
import { EXTENSION_ID, randomModel } from './testModels';

interface DialogState {
  phase: string;
  lastOutcome?: { kind: string; message: string };
  shown: string[];
  questions: { message: string; modal: boolean; buttons: string[] }[];
}

async function fineTuneState(): Promise<DialogState> {
  const s = await vscode.commands.executeCommand<DialogState | undefined>('gpt2Complete._testFineTuneState');
  if (s === undefined) throw new Error('gpt2Complete._testFineTuneState is not registered');
  return s;
}

async function configure(options: Record<string, unknown> | undefined): Promise<void> {
  await vscode.commands.executeCommand('gpt2Complete._testFineTuneConfigure', options);
}

suite('Fine-tune dialogs', function () {
  this.timeout(180_000);
  let workspace: string;

  suiteSetup(async () => {
    await vscode.extensions.getExtension(EXTENSION_ID)?.activate();
    workspace = vscode.workspace.workspaceFolders![0].uri.fsPath;
    writeCorpus(workspace);
    await setSetting('modelPath', await randomModel('tiny'));
  });

  suiteTeardown(async () => {
    await configure(undefined);
    for (const key of ['modelPath', 'fineTune.include', 'fineTune.exclude']) await setSetting(key, undefined);
  });

  test('after Show Data Report the choice to fine-tune is asked again as a modal', async () => {
    const before = (await fineTuneState()).questions.length;
    await configure({ folder: workspace, answers: ['Show Data Report', null] });
    await vscode.commands.executeCommand('gpt2Complete.fineTune');
    const s = await fineTuneState();
    const asked = s.questions.slice(before);
    assert.equal(asked.length, 2, JSON.stringify(asked));
    for (const q of asked) {
      assert.equal(q.modal, true, `not modal: ${q.message}`);
      assert.ok(q.buttons.includes('Fine-tune') || q.buttons.includes('Resume'), `no way to start in ${JSON.stringify(q.buttons)}`);
    }
    assert.match(asked[1].message, /data report is open/);
    const report = vscode.workspace.textDocuments.find((d) => d.uri.scheme === 'gpt2-complete-report');
    assert.ok(report, 'the data report was not opened');
    assert.match(report.getText(), /\.ts/);
    await screenshot('fine-tune-data-report');
    assert.equal(s.lastOutcome?.kind, 'cancelled');
    assert.equal(s.phase, 'idle');
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
  });

  for (const [key, globs] of [['include', ['no-such-folder/**']], ['exclude', ['**/*.ts', '**/*.js', '**/*.py', '**/*.md', '**/*.json']]] as const) {
    test(`gpt2Complete.fineTune.${key} reaches the run, and too little data names the setting`, async () => {
      await setSetting(`fineTune.${key}`, globs);
      try {
        await configure({ folder: workspace, confirm: false });
        await vscode.commands.executeCommand('gpt2Complete.fineTune');
        const s = await fineTuneState();
        assert.equal(s.lastOutcome?.kind, 'failed');
        const message = s.lastOutcome?.message ?? '';
        // The workspace has enough data without the glob: only the setting can have made it too little.
        assert.match(message, /too little data/);
        assert.match(message, /excluded by the include\/exclude globs|found 0 usable files/);
        assert.match(message, /gpt2Complete\.fineTune\.include/);
        assert.doesNotMatch(message, /widen the include globs/);
      } finally {
        await setSetting(`fineTune.${key}`, undefined);
      }
    });
  }

  test('the workspace has enough data without the globs (the control for the two tests above)', async () => {
    const before = (await fineTuneState()).questions.length;
    await configure({ folder: path.join(workspace), answers: [null] });
    await vscode.commands.executeCommand('gpt2Complete.fineTune');
    const s = await fineTuneState();
    assert.equal(s.questions.length, before + 1, `no confirmation: ${s.lastOutcome?.message}`);
  });
});
