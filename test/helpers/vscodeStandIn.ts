/**
 * A minimal `vscode` module for running extension code outside an extension host: the unit tests
 * and bench/completion.ts. Only what statsStore, inlineProvider and modelManager touch at run time.
 */
import Module from 'node:module';
import * as path from 'node:path';

export class EventEmitter<T> {
  private listeners: ((e: T) => void)[] = [];
  readonly event = (listener: (e: T) => void): { dispose(): void } => {
    this.listeners.push(listener);
    return { dispose: () => (this.listeners = this.listeners.filter((l) => l !== listener)) };
  };
  fire(e: T): void {
    for (const l of this.listeners.slice()) l(e);
  }
  dispose(): void {
    this.listeners = [];
  }
}

class Range {
  constructor(readonly start: unknown, readonly end: unknown) {}
}

class InlineCompletionItem {
  constructor(readonly insertText: string, readonly range?: Range, readonly command?: unknown) {}
}

const noEvent = (): { dispose(): void } => ({ dispose: () => undefined });

const standIn = {
  EventEmitter,
  Range,
  InlineCompletionItem,
  InlineCompletionTriggerKind: { Invoke: 0, Automatic: 1 },
  window: { activeTextEditor: undefined, visibleTextEditors: [] },
  workspace: { onDidChangeTextDocument: noEvent, onDidCloseTextDocument: noEvent },
  commands: { registerCommand: noEvent, executeCommand: async () => undefined },
};

/** Makes `require('vscode')` return the stand-in; the returned function undoes it. */
export function installVscodeStandIn(): () => void {
  const id = path.join(__dirname, '.vscode-stand-in.js');
  const m = new Module(id);
  m.filename = id;
  m.loaded = true;
  m.exports = standIn;
  require.cache[id] = m;
  const resolver = Module as unknown as { _resolveFilename: (request: string, ...rest: unknown[]) => string };
  const original = resolver._resolveFilename;
  resolver._resolveFilename = function (request: string, ...rest: unknown[]) {
    return request === 'vscode' ? id : original.call(this, request, ...rest);
  };
  return () => {
    resolver._resolveFilename = original;
    delete require.cache[id];
  };
}
