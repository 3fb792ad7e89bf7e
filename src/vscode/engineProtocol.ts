/**
 * Messages between the extension host and the engine worker (engineWorker.ts). The worker exists
 * because onnxruntime-node creates sessions and runs them synchronously on the calling thread:
 * in the extension host, loading gpt2 froze every extension for ~1.4 s and each decode step for
 * ~80 ms. Only plain data crosses: no vscode types, no tensors.
 */
import type { DeviceInfo } from '../engine/model';
import type { EngineCandidate, EngineCompleteRequest, EngineCompleteResult } from '../completion/backend';

export interface WorkerLoadRequest {
  checkpointDir: string;
  /** Presets are looked up here (unused when checkpointDir is a folder, which it always is). */
  modelsRoot: string;
  graphCacheDir: string;
  device: string;
  threads: number | undefined;
  /** fp32 | int8 | int4 | auto (the gpt2Complete.precision setting). */
  precision?: string;
  /** A fine-tuned adapter folder merged into the model as it loads (the workspace's, when switched on). */
  adapterDir?: string;
}

export interface WorkerLoadedInfo {
  checkpointDir: string;
  loadMs: number;
  device: DeviceInfo;
  /** The weight precision the graph runs at (auto resolved). */
  precision?: string;
  /** The model's context size: prompt + generated tokens must fit. */
  nPositions: number;
  /** The adapter merged in, if any. */
  adapterDir?: string;
  /** The graph cache's key for the weights loaded (their compiled graphs are in use). */
  graphHash?: string;
  /** What went wrong without stopping the load (e.g. the compiled graph could not be cached). */
  warnings?: string[];
}

/** The pipeline's engine request and answer (src/completion/backend.ts), as they cross to the worker. */
export type WorkerCompleteRequest = EngineCompleteRequest;
export type WorkerCandidate = EngineCandidate;
export type WorkerCompleteResult = EngineCompleteResult;

export interface SerializedError {
  name: string;
  message: string;
  stack?: string;
  /** For cancellations: tokens sampled (candidate 0) before the generation stopped. */
  tokensBeforeCancel?: number;
}

/** The workspace cache model's index: what was indexed. */
export interface WorkspaceIndexInfo {
  files: number;
  tokens: number;
  skipped: number;
  /** Files left out because the size cap was reached. */
  overCap: number;
  ms: number;
}

export type ToWorker =
  | { type: 'load'; id: number; request: WorkerLoadRequest }
  /** Index these folders' files for the cache model (the fine-tuning filters apply), up to maxTokens. */
  | { type: 'indexWorkspace'; id: number; folders: string[]; maxTokens: number }
  /** A workspace file's live text (null: deleted); the index keeps it current. */
  | { type: 'fileChanged'; id: number; path: string; text: string | null }
  | { type: 'complete'; id: number; request: WorkerCompleteRequest }
  | { type: 'cancel'; id: number }
  | { type: 'unload'; id: number };

export type FromWorker =
  | { type: 'loaded'; id: number; info: WorkerLoadedInfo }
  | { type: 'indexed'; id: number; info: WorkspaceIndexInfo }
  | { type: 'completed'; id: number; result: WorkerCompleteResult }
  /** The first token of a completion was sampled (the prompt is read): generation is under way. */
  | { type: 'started'; id: number }
  | { type: 'unloaded'; id: number }
  | { type: 'failed'; id: number; error: SerializedError };
