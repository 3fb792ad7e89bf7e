// Drives a real editor from inside the extension host the way a user would: type, ask for an
// inline suggestion, accept it. Inline suggestions arrive asynchronously (debounce, provider work),
// so everything that waits polls with a deadline instead of sleeping a fixed time.
import * as vscode from 'vscode';

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export interface WaitOptions {
  timeoutMs?: number;
  intervalMs?: number;
  /** Named in the timeout error. */
  what?: string;
}

/** Polls `probe` until it returns something other than undefined/false, or throws at the deadline. */
export async function waitFor<T>(
  probe: () => T | undefined | false | Promise<T | undefined | false>,
  { timeoutMs = 5_000, intervalMs = 50, what = 'condition' }: WaitOptions = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(intervalMs);
  }
}

/** A new untitled document in `language`, shown and focused, cursor at its end. */
export async function openUntitled(language: string, content = ''): Promise<vscode.TextEditor> {
  const doc = await vscode.workspace.openTextDocument({ language, content });
  const editor = await vscode.window.showTextDocument(doc);
  moveCursorToEnd(editor);
  return editor;
}

/** A file of the (temporary copy of the) fixture workspace, shown and focused, cursor at its end. */
export async function openWorkspaceFile(relativePath: string): Promise<vscode.TextEditor> {
  const folder = vscode.workspace.workspaceFolders?.[0];
  if (!folder) throw new Error('no workspace folder is open');
  const doc = await vscode.workspace.openTextDocument(vscode.Uri.joinPath(folder.uri, relativePath));
  const editor = await vscode.window.showTextDocument(doc);
  moveCursorToEnd(editor);
  return editor;
}

export function moveCursorToEnd(editor: vscode.TextEditor): void {
  const end = editor.document.lineAt(editor.document.lineCount - 1).range.end;
  editor.selection = new vscode.Selection(end, end);
}

/** Focuses `editor` again (commands act on the active editor). */
export async function focus(editor: vscode.TextEditor): Promise<void> {
  await vscode.window.showTextDocument(editor.document, { viewColumn: editor.viewColumn, preserveFocus: false });
}

/**
 * Types `text` at the cursor through the `type` command, as keystrokes do, so providers see the
 * same change events and auto-triggers as for a user.
 */
export async function typeText(editor: vscode.TextEditor, text: string): Promise<void> {
  await focus(editor);
  const before = editor.document.version;
  await vscode.commands.executeCommand('type', { text });
  await waitFor(() => editor.document.version > before, { what: `typing ${JSON.stringify(text)}` });
}

export interface AcceptedSuggestion {
  before: string;
  after: string;
  /** The text the commit inserted (what differs between before and after). */
  inserted: string;
}

/**
 * Runs `attempt` until the document changes (a command on ghost text that is not on screen yet is a
 * no-op, so retrying is safe); returns the text before and after.
 */
async function repeatUntilEdit(
  editor: vscode.TextEditor,
  attempt: () => Promise<void>,
  timeoutMs: number,
  what: string,
): Promise<{ before: string; after: string }> {
  await focus(editor);
  const doc = editor.document;
  const before = doc.getText();
  const version = doc.version;
  // An open suggest widget (IntelliSense) would gate the inline suggestion on its selected item.
  await vscode.commands.executeCommand('hideSuggestWidget');
  await waitFor(
    async () => {
      await attempt();
      return doc.version !== version;
    },
    { timeoutMs, intervalMs: 0, what },
  );
  return { before, after: doc.getText() };
}

/** Triggers an inline suggestion at the cursor and commits it (what Tab does), retrying until the document changes. */
export async function acceptInlineSuggestion(
  editor: vscode.TextEditor,
  { timeoutMs = 10_000, intervalMs = 100 }: WaitOptions = {},
): Promise<AcceptedSuggestion> {
  const { before, after } = await repeatUntilEdit(editor, async () => {
    await vscode.commands.executeCommand('editor.action.inlineSuggest.trigger');
    await sleep(intervalMs);
    await vscode.commands.executeCommand('editor.action.inlineSuggest.commit');
  }, timeoutMs, 'an inline suggestion to be committed');
  return { before, after, inserted: insertedText(before, after) };
}

/** Runs `command` until the document changes (the ghost text may not be on screen yet); returns what it inserted. */
export async function runUntilEdit(editor: vscode.TextEditor, command: string, what = `${command} to edit the document`): Promise<string> {
  const { before, after } = await repeatUntilEdit(editor, async () => {
    await vscode.commands.executeCommand(command);
    await sleep(50);
  }, 5_000, what);
  return insertedText(before, after);
}

/** What was inserted between two texts, found by trimming their common prefix and suffix. */
export function insertedText(before: string, after: string): string {
  let start = 0;
  while (start < before.length && start < after.length && before[start] === after[start]) start++;
  let endB = before.length;
  let endA = after.length;
  while (endB > start && endA > start && before[endB - 1] === after[endA - 1]) {
    endB--;
    endA--;
  }
  return after.slice(start, endA);
}

/** The untitled editors a suite opens, each closed without saving by `closeAll` (its teardown). */
export class UntitledEditors {
  private readonly editors: vscode.TextEditor[] = [];

  async open(language: string, content: string): Promise<vscode.TextEditor> {
    const editor = await openUntitled(language, content);
    this.editors.push(editor);
    return editor;
  }

  async closeAll(): Promise<void> {
    while (this.editors.length > 0) await closeWithoutSaving(this.editors.pop()!);
  }
}

/** Closes the editor's document without saving and without a "save changes?" prompt. */
export async function closeWithoutSaving(editor: vscode.TextEditor): Promise<void> {
  await vscode.window.showTextDocument(editor.document, { preserveFocus: false });
  await vscode.commands.executeCommand('workbench.action.revertAndCloseActiveEditor');
}
