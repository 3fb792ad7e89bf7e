/**
 * The extension host's side of the engine process: requests as promises, AbortSignal as 'cancel'
 * messages, process errors as rejections. No `vscode` import, so it is usable from any host.
 *
 * The engine runs in a child process, not a worker thread, for two reasons measured here: a native
 * crash in onnxruntime (its WebGPU provider died with SIGFPE on this graph, scripts/gpu-check.ts)
 * would take a worker's host process down with it, the editor's extension host included; and glibc
 * keeps a freed model's heap in the process (~590 MiB of 978 after unloading gpt2 in a worker:
 * bench/completion.ts), while ending the process gives all of it back.
 */
import type { ChildProcess } from 'child_process';
import { startChild } from '../engine/childProcess';
import { CancelledError, UserError } from '../engine/errors';
import type {
  FromEngine, SerializedError, ToEngine, EngineCompleteRequest, EngineCompleteResult, EngineLoadRequest, EngineLoadedInfo,
  WorkspaceIndexInfo,
} from './engineProtocol';

/** How a completion request ended in the engine process (reported even when the caller stopped waiting). */
export interface GenerationOutcome {
  id: number;
  outcome: 'completed' | 'cancelled' | 'failed';
  /** Tokens of candidate 0 sampled before a cancellation took effect. */
  tokensBeforeCancel?: number;
  result?: EngineCompleteResult;
}

export interface EngineClientEvents {
  /** The engine process died on its own (crash, out of memory); every pending request was rejected. */
  onExit?: (error: Error) => void;
  onGenerationFinished?: (outcome: GenerationOutcome) => void;
}

interface Pending {
  resolve(value: unknown): void;
  reject(error: Error): void;
  onStarted?: () => void;
  /** The caller got its answer already (it was cancelled); the process's reply is only reported. */
  settled: boolean;
  isCompletion: boolean;
}

const UNLOAD_TIMEOUT_MS = 3000;
/** The process's last output, kept for the message when it dies. */
const TAIL_CHARS = 2000;

export function deserializeError(e: SerializedError): Error {
  if (e.name === 'CancelledError') return new CancelledError(e.message);
  if (e.name === 'UserError') return new UserError(e.message);
  const err = new Error(e.message);
  err.name = e.name;
  if (e.stack !== undefined) err.stack = e.stack;
  return err;
}

/** The model process ended on its own; `signal` is set when it was killed (a native crash). */
export class EngineExitError extends Error {
  constructor(readonly code: number | null, readonly signal: NodeJS.Signals | null, lastOutputLine?: string) {
    const how = signal !== null ? `crashed (${signal})` : `exited (code ${code})`;
    super(`the model process ${how}${lastOutputLine ? `: ${lastOutputLine.slice(0, 300)}` : ''}`);
    this.name = 'EngineExitError';
  }
}

/**
 * The model process's environment. ELECTRON_RUN_AS_NODE: in desktop VS Code, process.execPath is
 * Electron, which must run as Node. The glibc thresholds make freed buffers go back to the system
 * instead of staying in malloc's arenas: serving gpt2 fp32 added 840 instead of 978 MiB and kept 30
 * instead of 590 MiB after an unload (bench/RESULTS.md, "Idle unload and memory"). A user's own
 * setting of either wins.
 */
export function engineEnvironment(base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  return { MALLOC_MMAP_THRESHOLD_: '131072', MALLOC_TRIM_THRESHOLD_: '131072', ...base, ELECTRON_RUN_AS_NODE: '1' };
}

export class EngineClient {
  private readonly child: ChildProcess;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private exited: Error | undefined;
  private disposing = false;
  /** The process's last output. */
  private readonly outputTail: () => string;
  private readonly exitedPromise: Promise<void>;

  /**
   * `script` is dist/engineProcess.js (or a .cjs that registers tsx and requires the source).
   * `execArgv` defaults to none: the extension host's own flags (an inspector port) must not pass on.
   */
  constructor(script: string, private readonly events: EngineClientEvents = {}, execArgv: string[] = []) {
    const started = startChild({ script, execArgv, env: engineEnvironment(), serialization: 'advanced', tailChars: TAIL_CHARS });
    this.child = started.process;
    this.outputTail = started.tail;
    this.child.on('message', (message: FromEngine) => this.receive(message));
    this.child.on('error', (err) => this.fail(new Error(`the model process failed: ${err.message}`)));
    this.exitedPromise = new Promise((resolve) => this.child.once('exit', () => resolve()));
    this.child.on('exit', (code, signal) => {
      this.fail(new EngineExitError(code, signal, this.outputTail().trim().split('\n').pop()));
    });
  }

  /** The engine process's id (tests, and the memory benchmark). */
  get pid(): number | undefined {
    return this.child.pid;
  }

  load(request: EngineLoadRequest): Promise<EngineLoadedInfo> {
    return this.send<EngineLoadedInfo>((id) => ({ type: 'load', id, request }), false);
  }

  /** Indexes the folders for the workspace cache model (resolves when done; completions run meanwhile). */
  indexWorkspace(folders: string[], maxTokens: number, chunks = false): Promise<WorkspaceIndexInfo> {
    return this.send<WorkspaceIndexInfo>((id) => ({ type: 'indexWorkspace', id, folders, maxTokens, chunks }), false);
  }

  /** A workspace file's live text (null: deleted), for the index; nothing is awaited. */
  fileChanged(path: string, text: string | null): void {
    this.post({ type: 'fileChanged', id: 0, path, text });
  }

  /**
   * Resolves with the engine's result; rejects with CancelledError as soon as `signal` aborts (the
   * engine stops at its next decode step). `onStarted` runs once the prompt is read and tokens flow.
   */
  complete(request: EngineCompleteRequest, signal?: AbortSignal, onStarted?: () => void): Promise<EngineCompleteResult> {
    if (signal?.aborted === true) return Promise.reject(new CancelledError());
    let id = 0;
    const promise = this.send<EngineCompleteResult>((assigned) => {
      id = assigned;
      return { type: 'complete', id, request };
    }, true, onStarted);
    if (signal !== undefined) {
      const onAbort = (): void => {
        const entry = this.pending.get(id);
        if (entry === undefined || entry.settled) return;
        entry.settled = true;
        entry.reject(new CancelledError());
        this.post({ type: 'cancel', id });
      };
      signal.addEventListener('abort', onAbort, { once: true });
      void promise.then(
        () => signal.removeEventListener('abort', onAbort),
        () => signal.removeEventListener('abort', onAbort),
      );
    }
    return promise;
  }

  /** Releases the model (best effort, bounded) and ends the process. */
  async dispose(): Promise<void> {
    if (this.disposing) return;
    this.disposing = true;
    if (this.exited === undefined) {
      const unload = this.send<void>((id) => ({ type: 'unload', id }), false).catch(() => undefined);
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, UNLOAD_TIMEOUT_MS)));
      await Promise.race([unload, timeout]);
      clearTimeout(timer);
    }
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill();
      await this.exitedPromise;
    }
  }

  private send<T>(make: (id: number) => ToEngine, isCompletion: boolean, onStarted?: () => void): Promise<T> {
    if (this.exited !== undefined) return Promise.reject(this.exited);
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, onStarted, settled: false, isCompletion });
      this.post(make(id));
    });
  }

  private post(message: ToEngine): void {
    if (this.exited === undefined && this.child.connected) this.child.send(message);
  }

  private receive(message: FromEngine): void {
    const entry = this.pending.get(message.id);
    if (entry === undefined) return;
    if (message.type === 'started') {
      if (!entry.settled) entry.onStarted?.();
      return;
    }
    this.pending.delete(message.id);
    if (message.type === 'failed') {
      const error = deserializeError(message.error);
      if (entry.isCompletion) {
        const cancelled = error instanceof CancelledError;
        this.events.onGenerationFinished?.({
          id: message.id,
          outcome: cancelled ? 'cancelled' : 'failed',
          tokensBeforeCancel: cancelled ? message.error.tokensBeforeCancel : undefined,
        });
      }
      if (!entry.settled) entry.reject(error);
      return;
    }
    if (message.type === 'completed') {
      this.events.onGenerationFinished?.({ id: message.id, outcome: 'completed', result: message.result });
      if (!entry.settled) entry.resolve(message.result);
      return;
    }
    entry.resolve(message.type === 'loaded' || message.type === 'indexed' ? message.info : undefined);
  }

  private fail(error: Error): void {
    if (this.exited !== undefined) return;
    this.exited = error;
    // Requests cut short by our own dispose (a reload, an idle unload) are cancellations, not failures.
    const reason = this.disposing ? new CancelledError('the model was unloaded') : error;
    for (const entry of this.pending.values()) if (!entry.settled) entry.reject(reason);
    this.pending.clear();
    if (!this.disposing) this.events.onExit?.(error);
  }
}
