/**
 * Whether automatic suggestions are paused. Pausing is "manual-only" mode: typing triggers
 * nothing, Alt+\ still asks (see completion/gates.ts). Remembered across restarts, and mirrored in
 * the `gpt2Complete.paused` context key for menus and keybindings.
 */
import * as vscode from 'vscode';

const KEY = 'gpt2Complete.paused';

export class PauseState implements vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<boolean>();
  readonly onDidChange = this.changed.event;
  /**
   * The state itself, read from storage once: the memento is only where it is kept across restarts.
   * Reading it back is not safe: VS Code refreshes an extension's global state from storage-change
   * events, and a late event from an earlier write (the stats are written on every suggestion)
   * can put back the value from before a pause (seen in the host suite under load).
   */
  private value: boolean;

  constructor(private readonly memento: vscode.Memento) {
    this.value = memento.get<boolean>(KEY) === true;
    void vscode.commands.executeCommand('setContext', KEY, this.value);
  }

  get paused(): boolean {
    return this.value;
  }

  async set(paused: boolean): Promise<void> {
    if (paused === this.value) return;
    this.value = paused;
    this.changed.fire(paused);
    await vscode.commands.executeCommand('setContext', KEY, paused);
    await this.memento.update(KEY, paused);
  }

  toggle(): Promise<void> {
    return this.set(!this.paused);
  }

  dispose(): void {
    this.changed.dispose();
  }
}
