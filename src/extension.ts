import * as vscode from 'vscode';

// Placeholder composition root until the extension issue lands: registers nothing yet.
export function activate(_context: vscode.ExtensionContext): void {}

export function deactivate(): void {}
