// Partial accepts in a real extension host: VS Code's "accept next word" inserts part of the ghost
// text and runs no item command (VS Code 1.139 reports partial accepts only through the proposed
// API inlineCompletionsAdditions, which a published extension cannot use), so the extension counts
// them from the document edit. The word's characters count once, and Tab on the rest counts one
// acceptance with only the rest's characters.
import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import { closeWithoutSaving, openUntitled, runUntilEdit, typeText, waitFor } from './editorDriver';
import { hookState, inlineSuiteSettings, resetHooks, waitForState, type CompletionTrace, type RestoreSettings } from './extensionState';
import { EXTENSION_ID, randomModel } from './testModels';

suite('partial accepts', function () {
  this.timeout(180_000);
  let editor: vscode.TextEditor | undefined;
  let restoreSettings: RestoreSettings | undefined;

  suiteSetup(async () => {
    const ext = vscode.extensions.getExtension(EXTENSION_ID);
    assert.ok(ext, `extension ${EXTENSION_ID} not found`);
    await ext.activate();
    restoreSettings = await inlineSuiteSettings({ modelPath: await randomModel('tiny'), temperature: 0, maxTokens: 16, debounceMs: 30 });
  });

  suiteTeardown(async () => {
    if (editor !== undefined) await closeWithoutSaving(editor);
    await restoreSettings?.();
  });

  test('accept next word counts its characters; Tab then counts one acceptance and only the rest', async () => {
    await resetHooks();
    editor = await openUntitled('typescript', 'let label = ');
    // A suggestion of at least two words, so that the next word is a strict part of it.
    let trace: CompletionTrace | undefined;
    // Each try ends in a space, so the suggestion starts with a word (token healing re-spells the space).
    for (const ch of 'abcdefghijklmnopqrst') {
      await typeText(editor, `${ch} `);
      const offset = editor.document.offsetAt(editor.selection.active);
      const t = await waitFor(
        async () => {
          const last = (await hookState()).lastCompletion;
          return last !== undefined && last.offset === offset ? last : undefined;
        },
        { timeoutMs: 30_000, intervalMs: 25, what: 'a completion at the cursor' },
      ).catch(() => undefined);
      // Starting with a letter: on a leading space, VS Code's "accept next word" takes only the space.
      if (t !== undefined && t.items.length > 0 && /^[A-Za-z]{2,}[ .,;(]+[A-Za-z]/.test(t.items[0])) {
        trace = t;
        break;
      }
    }
    assert.ok(trace, 'no suggestion of two words or more');
    const suggestion = trace.items[0];
    const before = (await hookState()).stats;

    const word = await runUntilEdit(editor, 'editor.action.inlineSuggest.acceptNextWord');
    assert.ok(word.length >= 2 && word.length < suggestion.length && suggestion.startsWith(word), `accepted ${JSON.stringify(word)} of ${JSON.stringify(suggestion)}`);
    const partial = await waitForState((s) => s.stats.partialAccepts === before.partialAccepts + 1, { what: 'the partial accept to be counted' });
    assert.equal(partial.stats.acceptedChars, before.acceptedChars + word.length);
    assert.equal(partial.stats.accepted, before.accepted, 'a partial accept counted as a whole acceptance');

    const rest = await runUntilEdit(editor, 'editor.action.inlineSuggest.commit');
    assert.equal(word + rest, suggestion);
    const full = await waitForState((s) => s.stats.accepted === before.accepted + 1, { what: 'the acceptance to be counted' });
    assert.equal(full.stats.acceptedChars, before.acceptedChars + suggestion.length, 'characters counted twice or missed');
    assert.equal(full.stats.partialAccepts, before.partialAccepts + 1);
  });
});
