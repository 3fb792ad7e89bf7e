/**
 * Owns the model's life in the extension host: nothing at activation, a load on first need
 * (state "loading"), an unload after `idleUnloadMinutes` without use, and a reload when the model,
 * modelPath, device, threads or precision settings change. The model itself lives in a child process
 * (engineProcess.ts); a reload replaces the whole process.
 *
 * A failed load leaves the manager in "error" until the settings change or the user retries, so a
 * missing or corrupt model costs one notification, not one per keystroke. A model process that dies
 * on its own is started again after a pause ("restarting", crashRestart.ts) until it crashes too
 * often, which ends in "error" with the way out (Reload Model).
 */
import * as vscode from 'vscode';
import { CancelledError } from '../engine/errors';
import { CrashRestartPolicy, EngineCrashLoopError } from './crashRestart';
import { plural } from './deviceText';
import { EngineClient, EngineExitError, type GenerationOutcome } from './engineClient';
import type { EngineLoadedInfo } from './engineProtocol';
import { resolveModelLocation, type ModelFolders, type ModelLocation } from './modelResolution';
import type { Settings, SettingsChange } from './settings';

export type ModelState =
  | { readonly kind: 'unloaded' }
  | { readonly kind: 'loading'; readonly label: string }
  | { readonly kind: 'ready'; readonly label: string; readonly info: EngineLoadedInfo }
  /** The process died on its own; a new one starts after `delayMs`. */
  | { readonly kind: 'restarting'; readonly label: string; readonly error: Error; readonly delayMs: number }
  | { readonly kind: 'error'; readonly error: Error };

export interface LoadedModel {
  readonly client: EngineClient;
  readonly info: EngineLoadedInfo;
  readonly label: string;
  /** Changes with every load: results of an older model must not be cached as this one's. */
  readonly epoch: number;
}

export interface ModelManagerOptions {
  getSettings(): Settings;
  folders: ModelFolders;
  graphCacheDir: string;
  /** dist/engineProcess.js */
  processPath: string;
  log: vscode.LogOutputChannel;
  onGenerationFinished?(outcome: GenerationOutcome): void;
  /** The fine-tuned adapter to merge into this checkpoint, if the workspace has one switched on for it. */
  adapterFor?(checkpointDir: string): string | undefined;
  /** When to restart after a crash (default: crashRestart.ts DEFAULT_CRASH_RESTART). */
  restartPolicy?: CrashRestartPolicy;
}

interface Session {
  readonly epoch: number;
  readonly client: EngineClient;
  readonly location: ModelLocation;
  readonly ready: Promise<LoadedModel>;
}

export class ModelManager implements vscode.Disposable {
  private currentState: ModelState = { kind: 'unloaded' };
  private session: Session | undefined;
  private epoch = 0;
  private idleTimer: NodeJS.Timeout | undefined;
  private restartTimer: NodeJS.Timeout | undefined;
  private readonly restarts: CrashRestartPolicy;
  /** Loads started, for the status tooltip and the tests. */
  loadCount = 0;
  private readonly stateEmitter = new vscode.EventEmitter<ModelState>();
  private readonly failureEmitter = new vscode.EventEmitter<Error>();
  /** Every state change. */
  readonly onDidChangeState = this.stateEmitter.event;
  /** A load failed or the engine process died: once per failure, for the one notification. */
  readonly onDidFail = this.failureEmitter.event;

  constructor(private readonly options: ModelManagerOptions) {
    this.restarts = options.restartPolicy ?? new CrashRestartPolicy();
  }

  /** The engine process's id while one runs (tests kill it to check the restart). */
  get enginePid(): number | undefined {
    return this.session?.client.pid;
  }

  get state(): ModelState {
    return this.currentState;
  }

  /**
   * The loaded model, loading it first when needed; undefined while in error or waiting to restart
   * (no suggestions, no retry storm). Several callers during one load share it.
   */
  async acquire(): Promise<LoadedModel | undefined> {
    if (this.currentState.kind === 'error' || this.currentState.kind === 'restarting') return undefined;
    const session = this.session ?? this.startLoad();
    if (session === undefined) return undefined;
    try {
      const model = await session.ready;
      this.touch();
      return model;
    } catch {
      return undefined;
    }
  }

  /** The model when it is loaded already; never starts a load. */
  get loaded(): LoadedModel | undefined {
    return this.currentState.kind === 'ready' ? this.loadedModel : undefined;
  }

  private loadedModel: LoadedModel | undefined;

  /** Pushes the idle unload back; call on every use. */
  touch(): void {
    if (this.idleTimer !== undefined) clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    const minutes = this.options.getSettings().idleUnloadMinutes;
    if (minutes <= 0 || this.session === undefined) return;
    this.idleTimer = setTimeout(() => {
      this.options.log.info(`unloading the model after ${minutes} idle minute(s)`);
      void this.unload();
    }, minutes * 60_000);
  }

  /** Drops the model (memory back to the editor); the next use loads it again. */
  async unload(): Promise<void> {
    this.epoch++;
    const session = this.session;
    this.session = undefined;
    this.loadedModel = undefined;
    this.clearTimers();
    if (this.currentState.kind !== 'unloaded') this.setState({ kind: 'unloaded' });
    await session?.client.dispose();
  }

  /** A fresh load with the current settings; from "error" too (the user changed something or asked to retry). */
  async reload(): Promise<LoadedModel | undefined> {
    this.restarts.reset();
    await this.unload();
    return this.acquire();
  }

  /** Settings changed: a model that is loaded, loading or failed is reloaded now; an unloaded one stays so. */
  handleSettingsChange(change: SettingsChange): void {
    if (change.model) {
      this.reloadIfInUse('model settings changed');
    } else if (change.idleUnload) {
      this.touch();
    }
  }

  /** What the model is built from changed (settings, the workspace's adapter): a model in use is reloaded now. */
  reloadIfInUse(reason: string): void {
    if (this.currentState.kind === 'unloaded') return;
    this.options.log.info(`${reason}: reloading`);
    void this.reload();
  }

  dispose(): void {
    void this.unload();
    this.stateEmitter.dispose();
    this.failureEmitter.dispose();
  }

  private startLoad(): Session | undefined {
    const epoch = ++this.epoch;
    const settings = this.options.getSettings();
    const { log } = this.options;
    let location: ModelLocation;
    try {
      location = resolveModelLocation(settings, this.options.folders);
    } catch (err) {
      this.fail(err);
      return undefined;
    }
    this.loadCount++;
    const adapterDir = this.options.adapterFor?.(location.checkpointDir);
    // The status bar shows the label: a fine-tuned model must not look like the base.
    const label = adapterDir !== undefined ? `${location.label} (fine-tuned)` : location.label;
    const client = new EngineClient(this.options.processPath, {
      onExit: (error) => {
        if (epoch !== this.epoch) return;
        // This session is over: its pending load, if any, must not report as well.
        this.epoch++;
        const provider = this.loadedModel?.info.device.provider;
        this.session = undefined;
        this.loadedModel = undefined;
        this.clearTimers();
        // A GPU provider is the likeliest cause of a native crash (WebGPU's SIGFPE: README, GPU).
        const onGpu = provider !== undefined ? provider !== 'cpu' : settings.device !== 'cpu';
        const hint = error instanceof EngineExitError && error.signal !== null && onGpu ? `; if it happens again, set gpt2Complete.device to "cpu"` : '';
        this.crashed(new Error(`${error.message}${hint}`), label);
      },
      onGenerationFinished: (outcome) => this.options.onGenerationFinished?.(outcome),
    });
    this.setState({ kind: 'loading', label });
    log.info(`loading model ${label} from ${location.checkpointDir}${adapterDir !== undefined ? ` with the adapter ${adapterDir}` : ''} (device ${settings.device}, threads ${settings.threads ?? 'auto'}, precision ${settings.precision})`);
    const ready = client
      .load({
        checkpointDir: location.checkpointDir,
        modelsRoot: this.options.folders.modelsRoot,
        graphCacheDir: this.options.graphCacheDir,
        device: settings.device,
        threads: settings.threads,
        precision: settings.precision,
        adapterDir,
      })
      .then(
        (info) => {
          if (epoch !== this.epoch) throw new CancelledError('superseded by a newer load');
          const model: LoadedModel = { client, info, label, epoch };
          this.loadedModel = model;
          this.setState({ kind: 'ready', label, info });
          log.info(`model ${label} loaded in ${Math.round(info.loadMs)} ms on ${info.device.provider} (${info.device.reason}; ${plural(info.device.threads, 'thread')}${info.precision ? `, ${info.precision} weights` : ''})`);
          for (const warning of info.warnings ?? []) log.warn(warning);
          return model;
        },
        (err: unknown) => {
          if (epoch === this.epoch) {
            this.session = undefined;
            void client.dispose();
            this.fail(err);
          }
          throw err;
        },
      );
    // Callers that give up waiting must not leave an unhandled rejection behind.
    ready.catch(() => undefined);
    const session: Session = { epoch, client, location, ready };
    this.session = session;
    return session;
  }

  /** The process died on its own: start a new one after a pause, or stop when it keeps happening. */
  private crashed(error: Error, label: string): void {
    const decision = this.restarts.recordCrash();
    if (!decision.restart) {
      this.fail(new EngineCrashLoopError(decision.crashes, this.restarts.options.windowMs, error.message));
      return;
    }
    const { delayMs } = decision;
    this.options.log.warn(`model: ${error.message}; starting it again in ${delayMs / 1000} s (crash ${decision.crashes}; ${this.restarts.options.maxCrashes} within ${this.restarts.options.windowMs / 60_000} minutes stop the restarts)`);
    this.setState({ kind: 'restarting', label, error, delayMs });
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      if (this.currentState.kind === 'restarting') this.startLoad();
    }, delayMs);
  }

  private clearTimers(): void {
    if (this.idleTimer !== undefined) clearTimeout(this.idleTimer);
    if (this.restartTimer !== undefined) clearTimeout(this.restartTimer);
    this.idleTimer = undefined;
    this.restartTimer = undefined;
  }

  private fail(err: unknown): void {
    const error = err instanceof Error ? err : new Error(String(err));
    // Errors that say all there is in their message get one line; others keep their stack for a bug report.
    const oneLine = ['UserError', 'ModelNotDownloadedError', 'EngineCrashLoopError', 'EngineExitError'].includes(error.name) || error.message.startsWith('the model process');
    this.options.log.error(`model: ${oneLine ? error.message : (error.stack ?? error.message)}`);
    this.setState({ kind: 'error', error });
    this.failureEmitter.fire(error);
  }

  private setState(state: ModelState): void {
    this.currentState = state;
    this.stateEmitter.fire(state);
  }
}
