// Inline completions end to end in a real extension host, with the real engine on small random
// checkpoints: ghost text while typing, commit, typing-through, cancellation, pause, per-language
// switch, reload on a settings change, and a missing or corrupt model. Random weights produce
// gibberish, so the tests assert on behaviour and on the extension's own record of what the engine
// generated (test hooks), never on the text itself.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as vscode from 'vscode';
import { runUntilEdit, sleep, typeText, UntitledEditors, waitFor } from './editorDriver';
import {
  hookState, inlineSuiteSettings, resetHooks, setSetting, waitForModel, waitForState, type CompletionTrace, type HookState, type RestoreSettings,
} from './extensionState';
import { corruptModel, EXTENSION_ID, randomModel } from './testModels';

/** Longer than the debounce (set below) plus a tiny model's generation: a request would have run by then. */
const QUIET_MS = 600;

/** The trace of the request at the editor's cursor, once the provider has answered it. */
async function traceAtCursor(editor: vscode.TextEditor, timeoutMs: number): Promise<CompletionTrace | undefined> {
  const uri = editor.document.uri.toString();
  const offset = editor.document.offsetAt(editor.selection.active);
  try {
    return await waitFor(
      async () => {
        const t = (await hookState()).lastCompletion;
        return t !== undefined && t.documentUri === uri && t.offset === offset ? t : undefined;
      },
      { timeoutMs, intervalMs: 25, what: 'a completion at the cursor' },
    );
  } catch {
    return undefined;
  }
}

/**
 * Types `chars` one by one until the engine answers with a suggestion that `wanted` accepts (a
 * random model often answers with nothing that survives post-processing).
 */
async function typeUntilSuggestion(
  editor: vscode.TextEditor,
  chars: string,
  wanted: (item: string) => boolean = () => true,
): Promise<CompletionTrace> {
  let first = true;
  for (const ch of chars) {
    await typeText(editor, ch);
    // The first request may wait for the model to load.
    const trace = await traceAtCursor(editor, first ? 30_000 : 5_000);
    first = false;
    if (trace !== undefined && trace.items.length > 0 && wanted(trace.items[0])) return trace;
  }
  throw new Error(`no usable suggestion after typing ${JSON.stringify(chars)}`);
}

/** Accepts the ghost text on screen (what Tab does), retrying until it has arrived. */
function commitShown(editor: vscode.TextEditor): Promise<string> {
  return runUntilEdit(editor, 'editor.action.inlineSuggest.commit', 'the ghost text to be committed');
}

suite('inline completions from the real engine', function () {
  this.timeout(180_000);
  let tiny: string;
  let restoreSettings: RestoreSettings | undefined;
  const editors = new UntitledEditors();
  const open = (language: string, content: string): Promise<vscode.TextEditor> => editors.open(language, content);

  async function typeQuietly(editor: vscode.TextEditor, text: string): Promise<HookState> {
    for (const ch of text) await typeText(editor, ch);
    await sleep(QUIET_MS);
    return hookState();
  }

  suiteSetup(async () => {
    const ext = vscode.extensions.getExtension(EXTENSION_ID);
    assert.ok(ext, `extension ${EXTENSION_ID} not found`);
    await ext.activate();
    tiny = await randomModel('tiny');
    restoreSettings = await inlineSuiteSettings({ modelPath: tiny, temperature: 0, maxTokens: 16, debounceMs: 30 });
  });

  suiteTeardown(async () => {
    await restoreSettings?.(['languages', 'device', 'idleUnloadMinutes']);
    await vscode.commands.executeCommand('gpt2Complete.resume');
  });

  setup(resetHooks);

  teardown(async () => {
    await editors.closeAll();
  });

  for (const [language, content, typed] of [
    ['typescript', 'export function scale(values: number[], factor: number) {\n  return values.map((v) => v * factor);\n}\n\nconst total = ', 'scale'],
    ['python', 'def mean(values):\n    return sum(values) / len(values)\n\n\nresult = ', 'mean'],
  ] as const) {
    test(`typing in ${language} shows ghost text from the engine, and committing inserts it`, async () => {
      const editor = await open(language, content);
      const statsBefore = (await hookState()).stats;
      const trace = await typeUntilSuggestion(editor, `${typed}abcdefgh`);
      assert.equal(trace.source, 'model');
      assert.equal(trace.trigger, 'automatic');
      assert.equal(trace.languageId, language);
      assert.equal(trace.checkpointDir, tiny);
      // The item is the engine's text after post-processing (which only cuts and trims).
      assert.ok(trace.raw[0].includes(trace.items[0].trim()), `item ${JSON.stringify(trace.items[0])} from raw ${JSON.stringify(trace.raw[0])}`);
      const beforeCommit = editor.document.getText();
      const inserted = await commitShown(editor);
      assert.equal(inserted, trace.items[0]);
      assert.equal(editor.document.getText(), beforeCommit + trace.items[0]);
      const after = await waitForState((s) => s.stats.accepted === statsBefore.accepted + 1, { what: 'the acceptance to be counted' });
      assert.equal(after.stats.acceptedChars, statsBefore.acceptedChars + trace.items[0].length);
      assert.ok(after.stats.shown > statsBefore.shown);
      assert.match(after.status.text, /tok\/s/);
      // The local accept/reject log has it, with the text before the cursor it was shown after.
      const logFile = after.storage.suggestionLog;
      assert.ok(logFile !== undefined, 'a workspace has a suggestion log');
      const entry = await waitFor(() => readSuggestionLog(logFile).find((o) => o.outcome === 'accepted' && o.suggestion === trace.items[0]), {
        what: 'the accepted suggestion in the suggestion log',
      });
      assert.equal(entry.languageId, language);
      assert.ok(beforeCommit.endsWith(entry.prefix.slice(-20)), `prefix ${JSON.stringify(entry.prefix.slice(-20))}`);
    });
  }

  test('typing the start of a suggestion serves the rest without a model call', async () => {
    const editor = await open('typescript', 'let label = ');
    // Letters, digits and spaces only: typing them cannot trigger auto-closing pairs.
    const trace = await typeUntilSuggestion(editor, 'abcdefghijkl', (item) => /^[ A-Za-z0-9]{3}/.test(item));
    const suggestion = trace.items[0];
    const calls = (await hookState()).counters.engineCalls;
    const state = await typeQuietly(editor, suggestion.slice(0, 2));
    assert.equal(state.counters.engineCalls, calls, 'the model was asked again while typing through');
    assert.ok(state.counters.typingThroughHits >= 1, 'the provider did not serve the rest from the typing-through cache');
    assert.equal(state.lastCompletion?.source, 'typing-through');
    assert.equal(await commitShown(editor), suggestion.slice(2));
  });

  test('a keystroke cancels the running generation at its next decode step', async () => {
    const slow = await randomModel('slow');
    const maxTokens = 400;
    await setSetting('maxTokens', maxTokens);
    // Sampled, not greedy: a random model's greedy output loops at once and the loop stop
    // (stopRules.ts) would end the generation before the next keystroke could catch it.
    await setSetting('temperature', 1);
    await setSetting('modelPath', slow);
    try {
      await waitForModel(slow);
      const editor = await open('typescript', 'const message = ');
      let cancelled: HookState['outcomes'][number] | undefined;
      for (let attempt = 0; attempt < 5 && cancelled === undefined; attempt++) {
        await resetHooks();
        await typeText(editor, 'a');
        await waitForState((s) => s.generationStarts > 0, { timeoutMs: 20_000, intervalMs: 10, what: 'a generation to start' });
        await typeText(editor, 'b');
        const s = await waitForState((st) => st.outcomes.length > 0, { timeoutMs: 20_000, what: 'the first generation to end' });
        cancelled = s.outcomes.find((o) => o.outcome === 'cancelled');
      }
      assert.ok(cancelled, 'no generation was cancelled by the next keystroke in 5 tries');
      assert.ok(cancelled.tokensBeforeCancel !== undefined && cancelled.tokensBeforeCancel < maxTokens, `stopped after ${cancelled.tokensBeforeCancel} tokens`);
      // The newer keystroke's own request is answered.
      const trace = await traceAtCursor(editor, 20_000);
      assert.ok(trace, 'the request after the cancelled one was not answered');
      assert.equal(trace.source, 'model');
      const s = await hookState();
      assert.ok(s.counters.engineCancelled >= 1);
    } finally {
      await setSetting('maxTokens', 16);
      await setSetting('temperature', 0);
      await setSetting('modelPath', tiny);
    }
  });

  test('pause stops automatic suggestions; the manual trigger still asks', async () => {
    await vscode.commands.executeCommand('gpt2Complete.pause');
    try {
      const editor = await open('typescript', 'const paused = ');
      const state = await typeQuietly(editor, 'abc');
      assert.equal(state.counters.engineCalls, 0);
      assert.equal(state.lastCompletion, undefined);
      assert.equal(state.status.state, 'paused');
      await vscode.commands.executeCommand('gpt2Complete.trigger');
      const asked = await waitForState((s) => s.lastCompletion?.trigger === 'manual', { timeoutMs: 30_000, what: 'the manual request' });
      assert.ok(asked.counters.engineCalls >= 1);
    } finally {
      await vscode.commands.executeCommand('gpt2Complete.resume');
    }
    assert.notEqual((await hookState()).status.state, 'paused');
  });

  test('a disabled language gets no suggestions, not even on request', async () => {
    await setSetting('languages', { '*': true, python: false });
    try {
      const editor = await open('python', 'total = ');
      let state = await typeQuietly(editor, 'abc');
      assert.equal(state.counters.engineCalls, 0);
      await vscode.commands.executeCommand('gpt2Complete.trigger');
      await sleep(QUIET_MS);
      state = await hookState();
      assert.equal(state.counters.engineCalls, 0);
      assert.equal(state.lastCompletion, undefined);
      // The same text in an enabled language is answered.
      const ts = await open('typescript', 'total = ');
      await typeUntilSuggestion(ts, 'abcdefgh', () => true).catch(() => undefined);
      assert.ok((await hookState()).counters.engineCalls >= 1);
    } finally {
      await setSetting('languages', undefined);
    }
  });

  test('changing the model or device settings reloads the model without a restart', async () => {
    const editor = await open('typescript', 'const reloaded = ');
    await typeUntilSuggestion(editor, 'abcdefgh', () => true).catch(() => undefined);
    const first = await waitForModel(tiny);
    const other = await randomModel('tiny', 1);
    await setSetting('modelPath', other);
    try {
      const second = await waitForModel(other);
      assert.ok(second.model.loadCount > first.model.loadCount);
      await resetHooks();
      const trace = await typeUntilSuggestion(editor, 'ijklmnop', () => true).catch(() => undefined);
      if (trace !== undefined) assert.equal(trace.checkpointDir, other);

      await setSetting('device', 'cpu');
      const third = await waitForState(
        (s) => s.model.state === 'ready' && s.model.loadCount > second.model.loadCount,
        { timeoutMs: 60_000, what: 'the reload after the device change' },
      );
      assert.equal(third.model.device?.provider, 'cpu');
      assert.notEqual(third.model.device?.reason, second.model.device?.reason);
    } finally {
      await setSetting('device', undefined);
      await setSetting('modelPath', tiny);
    }
    await waitForModel(tiny);
  });

  test('the model unloads after the idle time and loads again on the next keystroke', async () => {
    const editor = await open('typescript', 'const idle = ');
    await typeUntilSuggestion(editor, 'abcdefgh');
    const loaded = await waitForModel(tiny);
    await setSetting('idleUnloadMinutes', 0.01); // 0.6 s
    try {
      await waitForState((s) => s.model.state === 'unloaded', { timeoutMs: 10_000, what: 'the idle unload' });
      const trace = await typeUntilSuggestion(editor, 'ijklmnop');
      assert.equal(trace.source, 'model');
      const s = await hookState();
      assert.ok(s.model.loadCount > loaded.model.loadCount);
    } finally {
      await setSetting('idleUnloadMinutes', undefined);
    }
  });

  test('a missing or corrupt model shows its error once and the editor keeps working', async () => {
    const missing = '/nonexistent/gpt2c-model';
    const corrupt = corruptModel(tiny);
    try {
      await setSetting('modelPath', missing);
      const editor = await open('typescript', 'const broken = ');
      let state = await typeQuietly(editor, 'abc');
      state = await typeQuietly(editor, 'def');
      assert.equal(editor.document.getText(), 'const broken = abcdef');
      assert.equal(state.model.state, 'error');
      assert.equal(state.status.state, 'error');
      assert.equal(state.counters.engineCalls, 0);
      const aboutMissing = state.notifications.filter((n) => n.message.includes(missing));
      assert.equal(aboutMissing.length, 1, JSON.stringify(state.notifications));
      assert.ok(aboutMissing[0].actions.includes('Open Settings'));

      await setSetting('modelPath', corrupt);
      await waitForState((s) => s.model.state === 'error' && s.model.error !== undefined && !s.model.error.includes(missing), {
        timeoutMs: 30_000,
        what: 'the corrupt model to fail',
      });
      await typeQuietly(editor, 'ghi');
      state = await typeQuietly(editor, 'jkl');
      assert.equal(editor.document.getText(), 'const broken = abcdefghijkl');
      const aboutCorrupt = state.notifications.filter((n) => n.message.includes(corrupt));
      assert.equal(aboutCorrupt.length, 1, JSON.stringify(state.notifications));
    } finally {
      await setSetting('modelPath', tiny);
      fs.rmSync(corrupt, { recursive: true, force: true });
    }
    // Back to a good model: suggestions again.
    await waitForModel(tiny);
    const editor = await open('typescript', 'const fixed = ');
    const trace = await typeUntilSuggestion(editor, 'abcdefgh');
    assert.equal(trace.source, 'model');
  });
});

/** The extension's suggestion log (one JSON object per line); missing means empty. */
function readSuggestionLog(file: string): { outcome: string; suggestion: string; prefix: string; languageId: string }[] {
  if (!fs.existsSync(file)) return [];
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as { outcome: string; suggestion: string; prefix: string; languageId: string });
}
