// The workspace cache model in a real extension host: a name defined only in another workspace file
// is suggested (the embedded model alone cannot know it), and indexing a 10 MB workspace runs in the
// engine process while the extension host stays responsive.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { closeWithoutSaving, typeText, waitFor } from './editorDriver';
import { hookState, probeEventLoop, resetHooks, setSetting, waitForTraceAt, type CompletionTrace } from './extensionState';
import { writeLargeWorkspace } from './largeWorkspace';
import { EXTENSION_ID } from './testModels';

function rssMiB(pid: number | undefined): number {
  if (pid === undefined) return NaN;
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

suite('workspace cache model', function () {
  this.timeout(240_000);
  let workspace: string;
  const editors: vscode.TextEditor[] = [];
  const created: string[] = [];

  suiteSetup(async () => {
    await vscode.extensions.getExtension(EXTENSION_ID)?.activate();
    workspace = vscode.workspace.workspaceFolders![0].uri.fsPath;
    await setSetting('modelPath', undefined);
    await setSetting('model', 'embedded');
    await setSetting('debounceMs', 30);
    // What the cache model suggests, not whether the acceptance head would show it.
    await setSetting('minConfidence', 0);
    await setSetting('quickSuggestions', { other: 'off', comments: 'off', strings: 'off' }, 'editor');
  });

  suiteTeardown(async () => {
    for (const key of ['model', 'debounceMs', 'context.maxIndexMB', 'minConfidence']) await setSetting(key, undefined);
    await setSetting('quickSuggestions', undefined, 'editor');
    for (const p of created) fs.rmSync(p, { recursive: true, force: true });
  });

  teardown(async () => {
    while (editors.length > 0) await closeWithoutSaving(editors.pop()!);
  });

  test('a name defined only in another workspace file is suggested', async () => {
    const dir = path.join(workspace, 'geometry');
    fs.mkdirSync(dir, { recursive: true });
    created.push(dir);
    const lib = path.join(dir, 'shapes.py');
    fs.writeFileSync(
      lib,
      'def zorblax_hypotenuse_length(a, b):\n    return (a * a + b * b) ** 0.5\n\n\n' +
        'def zorblax_triangle_area(base, height):\n    return base * height / 2\n\n\n' +
        'print(zorblax_hypotenuse_length(3, 4))\nprint(zorblax_triangle_area(3, 4))\n',
    );
    // Opening it sends it to the index (the folder was indexed when the model loaded, before it existed).
    editors.push(await vscode.window.showTextDocument(await vscode.workspace.openTextDocument(lib), { preview: false }));
    const user = path.join(dir, 'report.py');
    fs.writeFileSync(user, 'from shapes import *\n\n\nside = zorblax_hy\n');
    const doc = await vscode.workspace.openTextDocument(user);
    const editor = await vscode.window.showTextDocument(doc);
    editors.push(editor);
    const end = doc.positionAt(doc.getText().indexOf('zorblax_hy') + 'zorblax_hy'.length);
    editor.selection = new vscode.Selection(end, end);
    const suggestionAfter = async (ch: string): Promise<CompletionTrace> => {
      await resetHooks();
      await typeText(editor, ch);
      return waitForTraceAt(doc.uri.toString(), doc.offsetAt(editor.selection.active), 60_000);
    };
    // The first request loads the model, and the engine process then indexes the workspace.
    await suggestionAfter('p');
    await waitFor(async () => (await hookState()).workspaceIndex, { timeoutMs: 60_000, what: 'the workspace index' });
    // The other file was sent on opening; this document's own text is the live one.
    const trace = await suggestionAfter('o');
    console.log(`      suggestion after "zorblax_hypo": ${JSON.stringify(trace.items[0])}`);
    assert.ok((trace.items[0] ?? '').startsWith('tenuse_length('), `got ${JSON.stringify(trace.items)}`);
  });

  test('indexing a 10 MB workspace runs in the engine process; the editor stays responsive', async () => {
    const dir = path.join(workspace, 'large');
    fs.mkdirSync(dir, { recursive: true });
    created.push(dir);
    const bytes = writeLargeWorkspace(dir, 10 * 1024 * 1024);
    const before = await hookState();
    const pid = before.model.enginePid;
    const rssBefore = rssMiB(pid);
    await probeEventLoop('start');
    // Changing the cap indexes the workspace again, with the large folder in it now.
    await setSetting('context.maxIndexMB', 40);
    const indexed = await waitFor(
      async () => {
        const s = await hookState();
        return s.workspaceIndex !== undefined && s.workspaceIndex.files > (before.workspaceIndex?.files ?? 0) + 400 ? s.workspaceIndex : undefined;
      },
      { timeoutMs: 180_000, intervalMs: 200, what: 'the large workspace to be indexed' },
    );
    const loop = await probeEventLoop('stop');
    const rssAfter = rssMiB(pid);
    console.log(
      `      indexed ${(bytes / 2 ** 20).toFixed(1)} MB: ${indexed.files} files, ${indexed.tokens} tokens in ${(indexed.ms / 1000).toFixed(1)} s; ` +
        `engine RSS ${rssBefore.toFixed(0)} → ${rssAfter.toFixed(0)} MiB; host worst event-loop gap ${loop.worstGapMs.toFixed(1)} ms ` +
        // The host's own longest GC pause and the loop's delay p99 tell a blocked loop from a preempted thread.
        `(longest GC pause ${loop.worstGcMs.toFixed(1)} ms, delay p99 ${loop.delayP99Ms.toFixed(1)} ms, over ${(loop.durationMs / 1000).toFixed(1)} s)`,
    );
    assert.ok(loop.worstGapMs < 100, `the extension host was blocked for ${loop.worstGapMs.toFixed(0)} ms while indexing`);
    assert.ok(indexed.tokens > 2_000_000, `only ${indexed.tokens} tokens indexed`);
  });
});
