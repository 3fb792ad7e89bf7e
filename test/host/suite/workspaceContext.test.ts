// The workspace cache model in a real extension host: a name defined only in another workspace file
// is suggested (the embedded model alone cannot know it), and indexing a 10 MB workspace runs in the
// engine process while the extension host stays responsive.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { closeWithoutSaving, typeText, waitFor } from './editorDriver';
import { hookState, probeEventLoop, resetHooks, setSetting, waitForTraceAt, type CompletionTrace } from './extensionState';
import { EXTENSION_ID } from './testModels';

/** A seeded stream of identifiers, so the generated workspace is the same on every run. */
function* words(seed: number): Generator<string> {
  let x = seed >>> 0;
  const syllables = ['ka', 'lo', 'mi', 'ran', 'te', 'vo', 'zu', 'pel', 'dor', 'qui', 'sna', 'fex'];
  for (;;) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    yield syllables[x % 12] + syllables[(x >>> 8) % 12] + syllables[(x >>> 16) % 12];
  }
}

/**
 * About `bytes` of plausible Python in files of ~20 KB under `dir`: statements of many shapes, as
 * people write them (a file of a few repeated line shapes is taken for generated code and skipped).
 */
function writeLargeWorkspace(dir: string, bytes: number): number {
  const w = words(7);
  const next = (): string => w.next().value as string;
  let pick = 11;
  const choose = (n: number): number => (pick = (Math.imul(pick, 1103515245) + 12345) >>> 0) % n;
  const statements: (() => string)[] = [
    () => `${next()} = ${next()}.${next()}(${next()}, ${choose(9)})`,
    () => `if ${next()} is None:`,
    () => `    return ${next()}`,
    () => `for ${next()} in ${next()}.${next()}():`,
    () => `    ${next()}.append(${next()}[${choose(5)}])`,
    () => `${next()} += len(${next()})`,
    () => `try:`,
    () => `    ${next()} = int(${next()}.get("${next()}", ${choose(99)}))`,
    () => `except (ValueError, KeyError) as ${next()}:`,
    () => `    raise ${next()}Error(f"{${next()}} is not {${next()}}") from None`,
    () => `# ${next()} the ${next()} before ${next()} is ${next()}`,
    () => `${next()}: dict[str, list[int]] = {}`,
    () => `with open(${next()}, "rb") as ${next()}:`,
    () => `assert ${next()} > ${choose(7)}, "${next()} ${next()}"`,
    () => `while not ${next()}.${next()}:`,
    () => `${next()}, ${next()} = ${next()}(${next()}=${next()}, ${next()}=True)`,
    () => `yield from ${next()}(${next()}[${choose(3)}:])`,
    () => `print(${next()}, sep="${next()}")`,
  ];
  let total = 0;
  for (let f = 0; total < bytes; f++) {
    const lines: string[] = [`import ${next()}`, `from ${next()} import ${next()}, ${next()}`, ''];
    while (lines.join('\n').length < 20_000) {
      lines.push(`def ${next()}_${f}(${next()}, ${next()}=None):`, `    """Return the ${next()} of ${next()}."""`);
      for (let i = 0; i < 8; i++) lines.push(`    ${statements[choose(statements.length)]()}`);
      lines.push(`    return ${next()}`, '', '');
    }
    const text = lines.join('\n');
    fs.writeFileSync(path.join(dir, `module_${f}.py`), text);
    total += text.length;
  }
  return total;
}

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
        `engine RSS ${rssBefore.toFixed(0)} → ${rssAfter.toFixed(0)} MiB; host worst event-loop gap ${loop.worstGapMs.toFixed(1)} ms`,
    );
    assert.ok(loop.worstGapMs < 100, `the extension host was blocked for ${loop.worstGapMs.toFixed(0)} ms while indexing`);
    assert.ok(indexed.tokens > 2_000_000, `only ${indexed.tokens} tokens indexed`);
  });
});
