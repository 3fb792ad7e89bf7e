// After a suggestion is accepted, the next line's suggestion is computed for the document as Enter
// will leave it. Here VS Code itself presses Enter: the indentation it types is the one the
// prefetch was computed for (the rules of nextLine.ts against the editor's own language
// configurations), and in a streak of accepts the request after Enter is answered from the
// prefetch. Random weights write gibberish, so the tests assert on the documents and the
// extension's record of where answers came from, never on the text.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { acceptInlineSuggestion, typeText, UntitledEditors, waitFor } from './editorDriver';
import {
  hookState, inlineSuiteSettings, resetHooks, setSetting, waitForModel, waitForState, waitForTraceAt, type HookState, type RestoreSettings,
} from './extensionState';
import { EXTENSION_ID, randomModel } from './testModels';

/** The command an inline item runs when it is accepted (src/vscode/inlineProvider.ts). */
const ACCEPTED_COMMAND = 'gpt2Complete._accepted';

suite('the next line after an accept', function () {
  this.timeout(180_000);
  let tiny: string;
  let restoreSettings: RestoreSettings | undefined;
  const editors = new UntitledEditors();
  const open = (language: string, content: string): Promise<vscode.TextEditor> => editors.open(language, content);

  /** The prefetch started by the accept command for `uri`, once it has finished. */
  function prefetchFor(uri: string, timeoutMs = 10_000): Promise<NonNullable<HookState['lastPrefetch']>> {
    return waitFor(
      async () => {
        const p = (await hookState()).lastPrefetch;
        return p?.documentUri === uri && p.items !== undefined ? p : undefined;
      },
      { timeoutMs, what: `the next-line prefetch for ${uri}` },
    );
  }

  /**
   * Opens `content` with the cursor at its end, runs what an accepted item's command runs there, and
   * presses Enter: the editor must hold exactly the document the prefetch was computed for.
   */
  async function enterMatchesPrefetch(language: string, content: string, autoIndent: string): Promise<void> {
    const editor = await open(language, content);
    const uri = editor.document.uri.toString();
    await vscode.commands.executeCommand(ACCEPTED_COMMAND, uri, 'x');
    const predicted = await prefetchFor(uri);
    await typeText(editor, '\n');
    const where = `autoIndent ${autoIndent}, ${language}: Enter after ${JSON.stringify(content.split('\n').pop())}`;
    assert.equal(JSON.stringify(editor.document.getText()), JSON.stringify(predicted.text), where);
    assert.equal(editor.document.offsetAt(editor.selection.active), predicted.offset, where);
    await editors.closeAll();
    await resetHooks();
  }

  suiteSetup(async () => {
    await vscode.extensions.getExtension(EXTENSION_ID)?.activate();
    tiny = await randomModel('tiny');
    restoreSettings = await inlineSuiteSettings({ modelPath: tiny, temperature: 0, maxTokens: 16, debounceMs: 30 });
    // A prefetch needs a loaded model (it never loads one): one request loads it.
    const editor = await open('typescript', 'let total = ');
    await typeText(editor, 'a');
    await waitForModel(tiny);
  });

  suiteTeardown(async () => {
    await restoreSettings?.();
  });

  setup(resetHooks);

  teardown(async () => {
    await editors.closeAll();
  });

  test("Enter types the indentation the prefetch was computed for (VS Code's own rules)", async () => {
    const cases: [string, string][] = [
      ['typescript', 'function f(a: number) {\n    if (a > 0) {'],
      ['typescript', 'function f(a: number) {\n    call(a,'],
      ['typescript', 'function f(a: number) {\n    const s = "(";'],
      ['typescript', 'function f(a: number) {\n    const g = () =>'],
      ['typescript', 'function f(a: number) {\n    if (a > 0)'],
      ['python', 'class Box:\n    def area(self):'],
      ['python', "def f():\n    d = {'a': 1}"],
      ['python', 'def f():\n    return value'],
      ['python', 'def f():\n    items = ['],
      ['python', 'def f():\n    key = "x":'],
    ];
    for (const [language, content] of cases) await enterMatchesPrefetch(language, content, 'full');
  });

  test('and as much of those rules as editor.autoIndent applies', async () => {
    const cases: [string, string][] = [
      ['typescript', 'function f(a: number) {\n    call(a,'],
      ['typescript', 'function f(a: number) {\n    if (a > 0) {'],
      ['typescript', 'function f(a: string) {\n    switch (a) {\n        case "x":'],
      ['python', 'class Box:\n    def area(self):'],
    ];
    try {
      for (const mode of ['advanced', 'brackets', 'keep', 'none']) {
        await setSetting('autoIndent', mode, 'editor');
        for (const [language, content] of cases) await enterMatchesPrefetch(language, content, mode);
      }
    } finally {
      await setSetting('autoIndent', undefined, 'editor');
    }
  });

  // GPT2C_TEST_MEASURE=1: how often VS Code's Enter types the indentation predicted, at the ends of
  // real lines (this repository's completion sources, and Python's standard library where installed).
  const measure = process.env.GPT2C_TEST_MEASURE === '1' ? test : test.skip;
  measure('measure: the share of real line ends where Enter types the predicted indentation', async () => {
    const repo = path.resolve(__dirname, '..', '..', '..');
    const sources: [string, string][] = [
      ...['pipeline.ts', 'engineCompletion.ts', 'candidateReading.ts', 'debounce.ts'].map((f): [string, string] => ['typescript', path.join(repo, 'src', 'completion', f)]),
      ...['argparse.py', 'json/decoder.py', 'textwrap.py', 'dataclasses.py'].map((f): [string, string] => ['python', path.join('/usr/lib/python3.11', f)]),
    ].filter(([, f]) => fs.existsSync(f));
    const lines: string[] = [];
    for (const [language, file] of sources) {
      const editor = await open(language, fs.readFileSync(file, 'utf8'));
      const doc = editor.document;
      const uri = doc.uri.toString();
      let agreed = 0, compared = 0;
      for (let line = 0; line < doc.lineCount - 1 && compared < 60; line += 7) {
        if (doc.lineAt(line).isEmptyOrWhitespace) continue;
        const end = doc.lineAt(line).range.end;
        editor.selection = new vscode.Selection(end, end);
        const before = doc.getText();
        await vscode.commands.executeCommand(ACCEPTED_COMMAND, uri, 'x');
        let predicted: NonNullable<HookState['lastPrefetch']> | undefined;
        try {
          predicted = await prefetchFor(uri, 2_000);
        } catch {
          continue; // no prefetch here (a doc comment, a gate)
        }
        if (!predicted.text.startsWith(before.slice(0, doc.offsetAt(end)))) continue;
        await typeText(editor, '\n');
        compared++;
        if (doc.getText() === predicted.text) agreed++;
        await vscode.commands.executeCommand('undo');
        await waitFor(() => doc.getText() === before, { what: 'the undo' });
        await vscode.commands.executeCommand('gpt2Complete._testReset');
      }
      lines.push(`${path.basename(file)} (${language}): ${agreed} of ${compared}`);
    }
    console.log(`Enter typed the predicted indentation: ${lines.join('; ')}`);
  });

  test('in a streak of accepted lines, the suggestion after Enter comes from the prefetch', async () => {
    const editor = await open('typescript', 'export function scale(values: number[], factor: number) {\n  return values.map((v) => v * factor);\n}\n\nconst total = ');
    const uri = editor.document.uri.toString();
    // A random model's next line is often nothing worth showing (then the prefetch holds nothing to
    // serve): accept and press Enter until a prefetch had something, at most a few lines.
    for (let line = 0; line < 6; line++) {
      await acceptInlineSuggestion(editor);
      const prefetched = await prefetchFor(uri);
      await typeText(editor, '\n');
      const offset = editor.document.offsetAt(editor.selection.active);
      if (prefetched.items!.length === 0) continue;
      assert.equal(offset, prefetched.offset, 'Enter left the document the prefetch was computed for');
      const trace = await waitForTraceAt(uri, offset, 10_000);
      assert.equal(trace.source, 'prefetch');
      assert.deepEqual(trace.items, prefetched.items);
      await waitForState((s) => s.counters.prefetchHits >= 1, { what: 'the prefetch hit to be counted' });
      return;
    }
    assert.fail('no line of the streak had a prefetched suggestion to show');
  });
});
