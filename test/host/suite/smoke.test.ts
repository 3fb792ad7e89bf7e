// Wiring checks of the extension host itself: the extension loads, the fixture workspace is open,
// and an inline completion provider's text reaches the document through trigger + commit.
import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import { acceptInlineSuggestion, closeWithoutSaving, openUntitled, openWorkspaceFile, typeText } from './editorDriver';

const EXTENSION_ID = 'gpt2-complete.gpt2-complete';

suite('extension host smoke', () => {
  test('the extension is installed and activates', async () => {
    const ext = vscode.extensions.getExtension(EXTENSION_ID);
    assert.ok(ext, `extension ${EXTENSION_ID} not found in this host`);
    await ext.activate();
    assert.equal(ext.isActive, true);
  });

  test('the fixture workspace is open', async () => {
    const editor = await openWorkspaceFile('src/greet.ts');
    try {
      assert.equal(editor.document.languageId, 'typescript');
      assert.match(editor.document.getText(), /export function greet/);
    } finally {
      await closeWithoutSaving(editor);
    }
  });

  test('an inline completion is inserted by trigger + commit', async () => {
    const marker = 'gpt2cDemo';
    const completion = 'Completion(42); // from the test provider';
    // Answers only after the marker, so it stays out of the way of every other test and provider.
    const provider = vscode.languages.registerInlineCompletionItemProvider(
      { language: 'typescript', scheme: 'untitled' },
      {
        provideInlineCompletionItems(document, position) {
          const prefix = document.lineAt(position.line).text.slice(0, position.character);
          if (!prefix.endsWith(marker)) return [];
          return [new vscode.InlineCompletionItem(completion, new vscode.Range(position, position))];
        },
      },
    );
    const editor = await openUntitled('typescript', 'const answer = ');
    try {
      await typeText(editor, marker);
      const accepted = await acceptInlineSuggestion(editor);
      assert.equal(accepted.inserted, completion);
      assert.equal(editor.document.getText(), `const answer = ${marker}${completion}`);
    } finally {
      provider.dispose();
      await closeWithoutSaving(editor);
    }
  });
});
