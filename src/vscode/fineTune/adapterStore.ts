/**
 * The workspace's fine-tuned adapter: where it lives (`<storageUri>/adapters/<timestamp>`), which
 * model it was trained on, and whether it is switched on, kept in workspaceState so that it belongs
 * to this workspace only. Also remembers an interrupted run (cancelled or failed after a
 * checkpoint) so that the next run on the same folder and model resumes in the same folder.
 *
 * An adapter is applied only to the model it was trained on: after a switch to another model the
 * base model is used, and switching back brings the adapter back.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import { CONFIG_FILE, WEIGHTS_FILE } from '../../engine/checkpoint';
import { ADAPTER_CONFIG_FILE } from '../../training/lora';

export interface AdapterRecord {
  /** The adapter folder (adapter_config.json + adapter_model.safetensors), or a fine-tuned checkpoint (config.json + model.safetensors). */
  readonly dir: string;
  /** The checkpoint folder the adapter was trained on. */
  readonly baseCheckpointDir: string;
  readonly baseLabel: string;
  /** The folder whose files it learned from. */
  readonly folder: string;
  /** ISO time training finished. */
  readonly trainedAt: string;
  readonly enabled: boolean;
}

/** A run that stopped before its end and left a checkpoint to resume from. */
export interface InterruptedRun {
  readonly out: string;
  readonly folder: string;
  readonly baseCheckpointDir: string;
  readonly steps: number | undefined;
}

const ADAPTER_KEY = 'gpt2Complete.fineTune.adapter';
const INTERRUPTED_KEY = 'gpt2Complete.fineTune.interrupted';
export const ADAPTERS_FOLDER = 'adapters';

function samePath(a: string, b: string): boolean {
  const norm = (p: string): string => (process.platform === 'win32' ? path.resolve(p).toLowerCase() : path.resolve(p));
  return norm(a) === norm(b);
}

/** `20260514-093012`: sorts by time, safe in every file system. */
function timestampName(date: Date): string {
  const p = (n: number, w = 2): string => String(n).padStart(w, '0');
  return `${date.getFullYear()}${p(date.getMonth() + 1)}${p(date.getDate())}-${p(date.getHours())}${p(date.getMinutes())}${p(date.getSeconds())}`;
}

export class AdapterStore implements vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<AdapterRecord | undefined>();
  /** The adapter was installed, switched on or off, or deleted: the model must be reloaded. */
  readonly onDidChange = this.changed.event;
  /**
   * The records themselves, read from the memento once: it is only where they are kept across
   * restarts. VS Code refreshes an extension's memento from storage-change events, and a late event
   * from an earlier write (install() writes twice in a row) can hand back the value from before the
   * later one (the race that undid pauses; see PauseState).
   */
  private adapter: AdapterRecord | undefined;
  private interruptedRun: InterruptedRun | undefined;

  constructor(private readonly state: vscode.Memento, private readonly storageDir: string | undefined) {
    this.adapter = state.get<AdapterRecord>(ADAPTER_KEY);
    this.interruptedRun = state.get<InterruptedRun>(INTERRUPTED_KEY);
  }

  /** `<storageUri>`; undefined without a folder open (no workspace storage to keep an adapter in). */
  get storage(): string | undefined {
    return this.storageDir;
  }

  get current(): AdapterRecord | undefined {
    return this.adapter;
  }

  get interrupted(): InterruptedRun | undefined {
    return this.interruptedRun;
  }

  private async setAdapter(record: AdapterRecord | undefined): Promise<void> {
    this.adapter = record;
    await this.state.update(ADAPTER_KEY, record);
  }

  private async setInterrupted(run: InterruptedRun | undefined): Promise<void> {
    this.interruptedRun = run;
    await this.state.update(INTERRUPTED_KEY, run);
  }

  /** The adapter folder to merge into `checkpointDir`, when one is on, trained on it, and still on disk. */
  adapterFor(checkpointDir: string): string | undefined {
    const record = this.current;
    if (record === undefined || !record.enabled || !samePath(record.baseCheckpointDir, checkpointDir)) return undefined;
    // A LoRA adapter, or the whole checkpoint a full fine-tune of a small model writes.
    const lora = fs.existsSync(path.join(record.dir, ADAPTER_CONFIG_FILE));
    const full = fs.existsSync(path.join(record.dir, CONFIG_FILE)) && fs.existsSync(path.join(record.dir, WEIGHTS_FILE));
    return lora || full ? record.dir : undefined;
  }

  /** A new, empty run folder under `<storageUri>/adapters/`. */
  newRunFolder(now = new Date()): string {
    if (this.storageDir === undefined) throw new Error('no workspace storage');
    const root = path.join(this.storageDir, ADAPTERS_FOLDER);
    let dir = path.join(root, timestampName(now));
    for (let i = 2; fs.existsSync(dir); i++) dir = path.join(root, `${timestampName(now)}-${i}`);
    fs.mkdirSync(dir, { recursive: true });
    return dir;
  }

  /** The interrupted run to resume for this folder and model, if its checkpoint folder still exists. */
  resumable(folder: string, baseCheckpointDir: string): InterruptedRun | undefined {
    const run = this.interrupted;
    if (run === undefined || !samePath(run.folder, folder) || !samePath(run.baseCheckpointDir, baseCheckpointDir)) return undefined;
    return fs.existsSync(run.out) ? run : undefined;
  }

  /** Records the run now in progress; the checkpoint of an older unfinished run (another folder or model) goes. */
  async rememberInterrupted(run: InterruptedRun): Promise<void> {
    const previous = this.interrupted;
    await this.setInterrupted(run);
    if (previous !== undefined && !samePath(previous.out, run.out) && !samePath(previous.out, this.current?.dir ?? '')) {
      await fs.promises.rm(previous.out, { recursive: true, force: true });
    }
  }

  /** Forgets an interrupted run and deletes its folder (the user chose to start over). */
  async discardInterrupted(): Promise<void> {
    const run = this.interrupted;
    await this.setInterrupted(undefined);
    if (run !== undefined && !samePath(run.out, this.current?.dir ?? '')) await fs.promises.rm(run.out, { recursive: true, force: true });
  }

  /**
   * Records a freshly trained adapter as this workspace's, switched on only when `enabled` (it
   * improved held-out quality). The previous adapter folder goes: one adapter per workspace keeps
   * the storage small and the commands unambiguous.
   */
  async install(record: Omit<AdapterRecord, 'enabled'>, enabled = true): Promise<void> {
    const previous = this.current;
    await this.setAdapter({ ...record, enabled });
    const interrupted = this.interrupted;
    if (interrupted !== undefined && samePath(interrupted.out, record.dir)) await this.setInterrupted(undefined);
    if (previous !== undefined && !samePath(previous.dir, record.dir)) await fs.promises.rm(previous.dir, { recursive: true, force: true });
    this.changed.fire(this.current);
  }

  async setEnabled(enabled: boolean): Promise<boolean> {
    const record = this.current;
    if (record === undefined || record.enabled === enabled) return false;
    await this.setAdapter({ ...record, enabled });
    this.changed.fire(this.current);
    return true;
  }

  /** Turns the adapter off and deletes its folder. */
  async remove(): Promise<AdapterRecord | undefined> {
    const record = this.current;
    if (record === undefined) return undefined;
    await this.setAdapter(undefined);
    this.changed.fire(undefined);
    await fs.promises.rm(record.dir, { recursive: true, force: true });
    return record;
  }

  dispose(): void {
    this.changed.dispose();
  }
}
