// What a new user meets around the suggestions, in a real extension host with the real engine on a
// small random checkpoint: the model process comes back by itself after a crash (and stops trying,
// with a way out, when it keeps crashing), and the status bar says its state and device in words.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as vscode from 'vscode';
import { closeWithoutSaving, openUntitled, typeText, waitFor } from './editorDriver';
import { hookState, resetHooks, setSetting, waitForState, type CompletionTrace } from './extensionState';
import { EXTENSION_ID, randomModel } from './testModels';

/** Types `chars` one by one until the engine answers with a non-empty suggestion at the cursor. */
async function typeUntilSuggestion(editor: vscode.TextEditor, chars: string, firstWaitMs = 30_000): Promise<CompletionTrace> {
  let waitMs = firstWaitMs;
  for (const ch of chars) {
    await typeText(editor, ch);
    const uri = editor.document.uri.toString();
    const offset = editor.document.offsetAt(editor.selection.active);
    const trace = await waitFor(
      async () => {
        const t = (await hookState()).lastCompletion;
        return t !== undefined && t.documentUri === uri && t.offset === offset ? t : undefined;
      },
      { timeoutMs: waitMs, intervalMs: 25, what: 'a completion at the cursor' },
    ).catch(() => undefined);
    waitMs = 5_000;
    if (trace !== undefined && trace.source === 'model' && trace.items.length > 0) return trace;
  }
  throw new Error(`no suggestion after typing ${JSON.stringify(chars)}`);
}

suite('editor experience', function () {
  this.timeout(180_000);
  let tiny: string;
  const editors: vscode.TextEditor[] = [];

  suiteSetup(async () => {
    await vscode.extensions.getExtension(EXTENSION_ID)?.activate();
    tiny = await randomModel('tiny');
    await setSetting('quickSuggestions', { other: 'off', comments: 'off', strings: 'off' }, 'editor');
    await setSetting('suggestOnTriggerCharacters', false, 'editor');
    await setSetting('modelPath', tiny);
    await setSetting('device', 'auto');
    await setSetting('maxTokens', 8);
    await setSetting('debounceMs', 30);
  });

  suiteTeardown(async () => {
    for (const key of ['modelPath', 'device', 'maxTokens', 'debounceMs']) await setSetting(key, undefined);
    await setSetting('quickSuggestions', undefined, 'editor');
    await setSetting('suggestOnTriggerCharacters', undefined, 'editor');
    await vscode.commands.executeCommand('gpt2Complete.resume');
  });

  setup(resetHooks);

  teardown(async () => {
    while (editors.length > 0) await closeWithoutSaving(editors.pop()!);
  });

  test('after the engine process is killed, suggestions come again without a reload; the third crash in a row stops with Reload Model', async () => {
    const editor = await openUntitled('typescript', 'const total = ');
    editors.push(editor);
    await typeUntilSuggestion(editor, 'abcdefghij');
    const before = await hookState();
    const firstPid = before.model.enginePid;
    assert.ok(firstPid !== undefined, 'no engine process id in the test state');
    process.kill(firstPid, 'SIGKILL');

    const restarting = await waitForState((s) => s.model.state === 'restarting', { timeoutMs: 5_000, what: 'the restarting state' });
    assert.match(restarting.status.text, /restarting/);
    const back = await waitForState((s) => s.model.state === 'ready' && s.model.enginePid !== undefined && s.model.enginePid !== firstPid, {
      timeoutMs: 30_000,
      what: 'the engine to come back by itself',
    });
    assert.equal(back.model.loadCount, before.model.loadCount + 1);
    const trace = await typeUntilSuggestion(editor, 'klmnopqrst', 10_000);
    assert.equal(trace.checkpointDir, tiny);
    assert.equal(back.notifications.length, before.notifications.length, 'a crash that recovers by itself must not pop up a notification');

    // Second crash: back after a longer pause. Third within minutes: no more restarts, and the way out.
    process.kill(back.model.enginePid!, 'SIGKILL');
    const again = await waitForState((s) => s.model.state === 'ready' && s.model.enginePid !== back.model.enginePid, {
      timeoutMs: 30_000,
      what: 'the engine to come back after the second crash',
    });
    process.kill(again.model.enginePid!, 'SIGKILL');
    const stopped = await waitForState((s) => s.model.state === 'error', { timeoutMs: 10_000, what: 'the crash loop to stop' });
    assert.match(stopped.model.error ?? '', /keeps crashing/);
    assert.match(stopped.status.text, /engine keeps crashing — Reload Model/);
    const shown = stopped.notifications[stopped.notifications.length - 1];
    assert.match(shown.message, /keeps crashing/);
    assert.deepEqual(shown.actions, ['Reload Model', 'Show Logs']);
    await new Promise((r) => setTimeout(r, 1_500));
    assert.equal((await hookState()).model.state, 'error', 'an automatic restart ran after the crash loop stopped');

    await vscode.commands.executeCommand('gpt2Complete.reloadModel');
    await waitForState((s) => s.model.state === 'ready', { timeoutMs: 30_000, what: 'Reload Model to load the model' });
  });

  test('the status bar says paused in words, and the device without a CUDA paragraph', async () => {
    const editor = await openUntitled('typescript', 'let label = ');
    editors.push(editor);
    await typeUntilSuggestion(editor, 'abcdefghij');
    const ready = await hookState();
    const hasGpu = fs.existsSync('/proc/driver/nvidia/version') || fs.existsSync('/dev/nvidia0');
    const threads = ready.model.device?.threads ?? 0;
    if (!hasGpu && ready.model.device?.provider === 'cpu') {
      assert.match(ready.status.tooltip, new RegExp(`Device: CPU \\(no GPU found\\), ${threads} thread${threads === 1 ? '' : 's'}\\b`));
      assert.doesNotMatch(ready.status.tooltip, /CUDA|providers_cuda|\.so\b/);
    }
    assert.doesNotMatch(ready.status.tooltip, /\b1 threads\b/);
    await vscode.commands.executeCommand('gpt2Complete.pause');
    const paused = await waitForState((s) => s.status.state === 'paused', { what: 'the paused state' });
    assert.match(paused.status.text, /· paused\b/);
    await vscode.commands.executeCommand('gpt2Complete.resume');
    const resumed = await waitForState((s) => s.status.state !== 'paused', { what: 'the resumed state' });
    assert.doesNotMatch(resumed.status.text, /paused/);
  });
});
