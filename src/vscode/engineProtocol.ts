/**
 * Messages between the extension host and the engine process (engineProcess.ts). The process exists
 * because onnxruntime-node creates sessions and runs them synchronously on the calling thread:
 * in the extension host, loading gpt2 froze every extension for ~1.4 s and each decode step for
 * ~80 ms. Only plain data crosses: no vscode types, no tensors.
 */
import type { DeviceInfo } from '../engine/model';
import type { EngineCandidate, EngineCompleteRequest, EngineCompleteResult } from '../completion/backend';

export interface EngineLoadRequest {
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

export interface EngineLoadedInfo {
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

/** The pipeline's engine request and answer (src/completion/backend.ts) cross to the engine process as they are. */
export type { EngineCandidate, EngineCompleteRequest, EngineCompleteResult };

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

export type ToEngine =
  | { type: 'load'; id: number; request: EngineLoadRequest }
  /** Index these folders' files for the cache model (the fine-tuning filters apply), up to maxTokens. */
  | { type: 'indexWorkspace'; id: number; folders: string[]; maxTokens: number; chunks: boolean }
  /** A workspace file's live text (null: deleted); the index keeps it current. */
  | { type: 'fileChanged'; id: number; path: string; text: string | null }
  | { type: 'complete'; id: number; request: EngineCompleteRequest }
  | { type: 'cancel'; id: number }
  | { type: 'unload'; id: number };

export type FromEngine =
  | { type: 'loaded'; id: number; info: EngineLoadedInfo }
  | { type: 'indexed'; id: number; info: WorkspaceIndexInfo }
  | { type: 'completed'; id: number; result: EngineCompleteResult }
  /** The first token of a completion was sampled (the prompt is read): generation is under way. */
  | { type: 'started'; id: number }
  | { type: 'unloaded'; id: number }
  | { type: 'failed'; id: number; error: SerializedError };
