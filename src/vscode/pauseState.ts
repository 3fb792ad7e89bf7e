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

  constructor(private readonly memento: vscode.Memento) {
    void vscode.commands.executeCommand('setContext', KEY, this.paused);
  }

  get paused(): boolean {
    return this.memento.get<boolean>(KEY) === true;
  }

  async set(paused: boolean): Promise<void> {
    if (paused === this.paused) return;
    await this.memento.update(KEY, paused);
    await vscode.commands.executeCommand('setContext', KEY, paused);
    this.changed.fire(paused);
  }

  toggle(): Promise<void> {
    return this.set(!this.paused);
  }

  dispose(): void {
    this.changed.dispose();
  }
}
