// The extension host's event loop while the model loads and generates: onnxruntime-node creates
// sessions and runs them synchronously, so the extension keeps the model in a worker thread; this
// measures the worst gap the host sees (a 5 ms timer's longest wait). It runs on the `slow` shape
// by default and asserts a bound; GPT2C_TEST_MEASURE=1 uses gpt2's own shape (124M parameters, a
// 500 MB checkpoint) and only prints the numbers: on a 2-core machine the host then shares the other
// core with the workbench, and its worst gaps vary from run to run (40-140 ms seen).
//
// Typing itself makes the host busy (every extension sees each change, and the first TypeScript file
// activates the TypeScript extension), so the editor is warmed up first, and the bound is asserted on
// loading and on a generation without keystrokes; typing with and without the model is reported.
import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import { closeWithoutSaving, focus, openUntitled, sleep, typeText, waitFor } from './editorDriver';
import { hookState, probeEventLoop, resetHooks, setSetting, waitForModel, type EventLoopReport } from './extensionState';
import { EXTENSION_ID, randomModel } from './testModels';

/**
 * The target is 50 ms; on a 2-core test machine the idle workbench alone shows gaps near that,
 * so the test fails at twice the target. A model on the host's own thread blocks it far longer (slow
 * shape: 350 ms per load; gpt2 shape: 1.4 s per load, 1.25 s per 550-token prefill), so this still
 * catches that regression.
 */
const WORST_GAP_MS = 100;

function describe(what: string, r: EventLoopReport): string {
  return `${what}: worst gap ${r.worstGapMs.toFixed(1)} ms (delay p99 ${r.delayP99Ms.toFixed(1)} ms, max ${r.delayMaxMs.toFixed(1)} ms; longest GC ${r.worstGcMs.toFixed(1)} ms) over ${Math.round(r.durationMs)} ms`;
}

async function measure<T>(work: () => Promise<T>): Promise<[T, EventLoopReport]> {
  await probeEventLoop('start');
  const value = await work();
  return [value, await probeEventLoop('stop')];
}

suite('extension host responsiveness', function () {
  this.timeout(600_000);

  suiteTeardown(async () => {
    for (const key of ['modelPath', 'maxTokens', 'debounceMs', 'languages']) await setSetting(key, undefined);
    await setSetting('quickSuggestions', undefined, 'editor');
  });

  test('loading and generating never block the extension host', async () => {
    await vscode.extensions.getExtension(EXTENSION_ID)?.activate();
    const shape: 'small' | 'slow' = process.env.GPT2C_TEST_MEASURE === '1' ? 'small' : 'slow';
    // A seed no other test uses: its graph is not cached yet, so the first load builds it.
    const dir = await randomModel(shape, 7);
    await setSetting('quickSuggestions', { other: 'off', comments: 'off', strings: 'off' }, 'editor');
    await setSetting('maxTokens', 32);
    await setSetting('debounceMs', 30);
    await vscode.commands.executeCommand('gpt2Complete._testUnload');
    await setSetting('modelPath', dir);

    const asserted: [string, EventLoopReport][] = [];
    const reported: [string, EventLoopReport][] = [];
    const editor = await openUntitled('typescript', 'function area(width: number, height: number) {\n  return width * height;\n}\n\nconst room = ');
    try {
      // Warm-up without the model: activates the TypeScript extension and settles the workbench.
      await setSetting('languages', { '*': false });
      for (const ch of 'ar') await typeText(editor, ch);
      await sleep(1000);
      reported.push(['idle', (await measure(() => sleep(2000)))[1]]);
      reported.push(['typing 4 characters, suggestions off', (await measure(async () => {
        for (const ch of 'ea_w') await typeText(editor, ch);
      }))[1]]);
      await setSetting('languages', undefined);

      for (const what of ['load (graph built)', 'load (graph from cache)']) {
        const [loaded, report] = await measure(async () => {
          await vscode.commands.executeCommand('gpt2Complete.reloadModel');
          return waitForModel(dir, 300_000);
        });
        asserted.push([`${what} in ${Math.round(loaded.model.loadMs ?? 0)} ms`, report]);
      }

      const uri = editor.document.uri.toString();
      const answered = (trigger: 'automatic' | 'manual') => {
        const offset = editor.document.offsetAt(editor.selection.active);
        return waitFor(
          async () => {
            const t = (await hookState()).lastCompletion;
            return t !== undefined && t.documentUri === uri && t.offset === offset && t.source === 'model' && t.trigger === trigger ? t : undefined;
          },
          { timeoutMs: 300_000, intervalMs: 50, what: `the ${trigger} generation to finish` },
        );
      };
      await resetHooks();
      await focus(editor);
      const [manual, manualReport] = await measure(async () => {
        await vscode.commands.executeCommand('gpt2Complete.trigger');
        return answered('manual');
      });
      const t = manual.result?.timings;
      asserted.push([`generation of 3 alternatives (prompt ${manual.result?.promptTokens} tokens, prefill ${Math.round(t?.prefillMs ?? 0)} ms, ${t?.decodeTokens} tokens in ${Math.round(t?.decodeMs ?? 0)} ms)`, manualReport]);

      await resetHooks();
      const [automatic, typingReport] = await measure(async () => {
        for (const ch of 'idth') await typeText(editor, ch);
        return answered('automatic');
      });
      const calls = (await hookState()).counters.engineCalls;
      reported.push([`typing 4 characters with suggestions (${calls} engine calls, last ${Math.round(automatic.latencyMs)} ms)`, typingReport]);
    } finally {
      await closeWithoutSaving(editor);
    }

    console.log(
      `event loop of the extension host, ${shape} shape:\n` +
        [...asserted, ...reported].map(([w, r]) => `  ${describe(w, r)}`).join('\n'),
    );
    if (shape === 'small') return;
    for (const [what, r] of asserted) assert.ok(r.worstGapMs <= WORST_GAP_MS, describe(what, r));
  });
});
