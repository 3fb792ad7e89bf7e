// What a new user meets around the suggestions, in a real extension host with the real engine on a
// small random checkpoint: the model process comes back by itself after a crash (and stops trying,
// with a way out, when it keeps crashing), and the status bar says its state and device in words.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { closeWithoutSaving, openUntitled, runUntilEdit, sleep, typeText, waitFor } from './editorDriver';
import { hookState, inlineSuiteSettings, resetHooks, setSetting, waitForState, type CompletionTrace, type RestoreSettings } from './extensionState';
import { screenshot } from './screenshots';
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

/** The extension's log file ("GPT-2 Complete" output channel), found under the user data folder. */
function extensionLogFile(modelsRoot: string): string | undefined {
  // <user data>/User/globalStorage/<extension id>/models
  const userData = path.resolve(modelsRoot, '..', '..', '..', '..');
  const found: string[] = [];
  const walk = (dir: string, depth: number): void => {
    if (depth > 8) return;
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p, depth + 1);
      else if (e.name === 'GPT-2 Complete.log') found.push(p);
    }
  };
  walk(path.join(userData, 'logs'), 0);
  return found.sort((a, b) => fs.statSync(b).mtimeMs - fs.statSync(a).mtimeMs)[0];
}

/** A hub that answers only the size questions (HEAD) for any repository: nothing can be downloaded. */
async function sizeOnlyHub(sizes: { config: number; weights: number }): Promise<{ url: string; gets: () => number; stop: () => Promise<void> }> {
  let gets = 0;
  const server = http.createServer((req, res) => {
    if (req.method !== 'HEAD') {
      gets++;
      res.writeHead(404).end();
      return;
    }
    const size = req.url?.endsWith('/config.json') ? sizes.config : req.url?.endsWith('/model.safetensors') ? sizes.weights : undefined;
    if (size === undefined) res.writeHead(404).end();
    else res.writeHead(200, { 'content-length': size, etag: '"0123456789abcdef0123456789abcdef01234567"' }).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    gets: () => gets,
    stop: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

suite('editor experience', function () {
  this.timeout(180_000);
  let tiny: string;
  let restoreSettings: RestoreSettings | undefined;
  const editors: vscode.TextEditor[] = [];

  suiteSetup(async () => {
    await vscode.extensions.getExtension(EXTENSION_ID)?.activate();
    tiny = await randomModel('tiny');
    restoreSettings = await inlineSuiteSettings({ modelPath: tiny, device: 'auto', maxTokens: 8, debounceMs: 30 });
  });

  suiteTeardown(async () => {
    await restoreSettings?.();
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
    await screenshot('status-bar-engine-keeps-crashing');
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
    const paused = await waitForState((s) => s.status.state === 'paused', { what: 'the paused state' }).catch(async (e) => {
      const s = await hookState();
      // Say what the status bar showed instead, for whoever reads a failure.
      throw new Error(`${(e as Error).message}: the status was ${s.status.state} (generating ${s.generating}, model ${s.model.state}, counters ${JSON.stringify(s.counters)})`);
    });
    assert.match(paused.status.text, /· paused\b/);
    await vscode.commands.executeCommand('gpt2Complete.resume');
    const resumed = await waitForState((s) => s.status.state !== 'paused', { what: 'the resumed state' });
    assert.doesNotMatch(resumed.status.text, /paused/);
  });

  test('selecting the model in use again is a no-op with a brief message, not a reload', async () => {
    await setSetting('modelPath', undefined);
    try {
      await vscode.commands.executeCommand('gpt2Complete.reloadModel');
      const loaded = await waitForState((s) => s.model.state === 'ready', { timeoutMs: 60_000, what: 'the embedded model' });
      await vscode.commands.executeCommand('gpt2Complete._testDownload', 'reset');
      await vscode.commands.executeCommand('gpt2Complete.selectModel', 'embedded');
      const after = await hookState();
      assert.equal(after.model.loadCount, loaded.model.loadCount, 'the model was reloaded');
      assert.equal(after.model.state, 'ready');
      assert.ok(after.download?.messages.some((m) => /embedded is already the model/.test(m)), JSON.stringify(after.download?.messages));
    } finally {
      await setSetting('modelPath', tiny);
    }
  });

  test('picking a preset that is not on disk asks first, with its size; declining changes nothing', async () => {
    const hub = await sizeOnlyHub({ config: 700, weights: 2_345_678 });
    const previous = process.env.HF_ENDPOINT;
    process.env.HF_ENDPOINT = hub.url;
    try {
      await vscode.commands.executeCommand('gpt2Complete._testDownload', 'reset');
      await vscode.commands.executeCommand('gpt2Complete._testDownload', { answers: [null] });
      await vscode.commands.executeCommand('gpt2Complete.selectModel', 'gpt2-medium');
      const s = await hookState();
      assert.equal(s.download?.questions.length, 1, JSON.stringify(s.download));
      assert.match(s.download!.questions[0], /^Download gpt2-medium \(2\.3 MB\) from 127\.0\.0\.1:\d+\?/);
      assert.equal(hub.gets(), 0, 'bytes were fetched before the user agreed');
      assert.equal(vscode.workspace.getConfiguration('gpt2Complete').get('model'), 'embedded', 'the model setting changed');
    } finally {
      await vscode.commands.executeCommand('gpt2Complete._testDownload', 'reset');
      if (previous === undefined) delete process.env.HF_ENDPOINT;
      else process.env.HF_ENDPOINT = previous;
      await hub.stop();
    }
  });

  test('an offline download failure is one line in the log, without a stack trace', async () => {
    const previous = process.env.HF_ENDPOINT;
    // A port nothing listens on: what an offline machine looks like to the downloader.
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    process.env.HF_ENDPOINT = `http://127.0.0.1:${port}`;
    try {
      await vscode.commands.executeCommand('gpt2Complete._testDownload', 'reset');
      await vscode.commands.executeCommand('gpt2Complete.selectModel', 'gpt2-large');
      const s = await hookState();
      assert.ok(s.download?.messages.some((m) => m.startsWith('failed:')), JSON.stringify(s.download?.messages));
      const lines = await waitFor(
        () => {
          const file = extensionLogFile(s.storage.modelsRoot);
          if (file === undefined) return undefined;
          const all = fs.readFileSync(file, 'utf8').split('\n');
          const at = all.findIndex((l) => l.includes('download of gpt2-large failed:'));
          return at >= 0 ? all.slice(at, at + 2) : undefined;
        },
        { timeoutMs: 10_000, intervalMs: 200, what: 'the failure in the extension log' },
      );
      assert.match(lines[0], /\[error\] download of gpt2-large failed: /);
      assert.doesNotMatch(lines[1] ?? '', /^\s+at /, `a stack trace follows: ${lines.join('\n')}`);
    } finally {
      await vscode.commands.executeCommand('_workbench.action.closeNotifications').then(undefined, () => undefined);
      await vscode.commands.executeCommand('gpt2Complete._testDownload', 'reset');
      if (previous === undefined) delete process.env.HF_ENDPOINT;
      else process.env.HF_ENDPOINT = previous;
    }
  });

  test('the settings are contributed under titles that read GPT-2 Complete', () => {
    const ext = vscode.extensions.getExtension(EXTENSION_ID)!;
    const configuration = ext.packageJSON.contributes.configuration as { title: string; properties: Record<string, unknown> }[];
    assert.ok(Array.isArray(configuration) && configuration.length >= 3);
    for (const c of configuration) assert.match(c.title, /^GPT-2 Complete: /);
    const keys = configuration.flatMap((c) => Object.keys(c.properties));
    for (const key of ['gpt2Complete.model', 'gpt2Complete.enable', 'gpt2Complete.fineTune.include', 'gpt2Complete.fineTune.exclude']) {
      assert.ok(keys.includes(key), `${key} is not contributed`);
      assert.notEqual(vscode.workspace.getConfiguration().inspect(key), undefined, `VS Code does not know ${key}`);
    }
  });

  test('Show Suggestion Quality lists today with the acceptance rate and the characters accepted', async () => {
    const editor = await openUntitled('typescript', 'const rate = ');
    editors.push(editor);
    const trace = await typeUntilSuggestion(editor, 'abcdefghij');
    const before = await hookState();
    // For a reviewer: the ghost text in the editor and the status bar's line (bottom right).
    await vscode.commands.executeCommand('editor.action.inlineSuggest.trigger');
    await sleep(300);
    await screenshot('ghost-text-and-status-bar');
    const inserted = await runUntilEdit(editor, 'editor.action.inlineSuggest.commit', 'the ghost text to be committed');
    assert.equal(inserted, trace.items[0]);
    await waitForState((s) => s.stats.accepted === before.stats.accepted + 1, { what: 'the acceptance to be counted' });
    await vscode.commands.executeCommand('gpt2Complete.showQuality');
    const doc = await waitFor(() => vscode.workspace.textDocuments.find((d) => d.uri.scheme === 'gpt2-complete-quality'), { what: 'the quality view' });
    await screenshot('suggestion-quality');
    const now = new Date();
    const today = `${now.getFullYear()}-${String(now.getMonth() + 1).padStart(2, '0')}-${String(now.getDate()).padStart(2, '0')}`;
    const row = doc.getText().split('\n').find((l) => l.startsWith(today));
    assert.ok(row, `no row for ${today} in:\n${doc.getText()}`);
    const [, shown, accepted, rate, , chars] = row.split(/\s+/);
    assert.ok(Number(shown) >= 1 && Number(accepted) >= 1, row);
    assert.equal(rate, `${((100 * Number(accepted)) / Number(shown)).toFixed(1)}%`);
    assert.ok(Number(chars) >= inserted.length, row);
    await vscode.commands.executeCommand('workbench.action.closeActiveEditor');
  });
});

