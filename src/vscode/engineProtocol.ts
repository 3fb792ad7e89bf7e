/**
 * Messages between the extension host and the engine worker (engineWorker.ts). The worker exists
 * because onnxruntime-node creates sessions and runs them synchronously on the calling thread:
 * in the extension host, loading gpt2 froze every extension for ~1.4 s and each decode step for
 * ~80 ms. Only plain data crosses: no vscode types, no tensors.
 */
import type { DeviceInfo } from '../engine/model';
import type { FinishReason } from '../engine/stopRules';

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
}

/** A completion at the end of `textBeforeCursor`: the worker builds the prompt (it has the tokenizer) and generates. */
export interface WorkerCompleteRequest {
  textBeforeCursor: string;
  /** Where the previous prompt of this document started; keeps the window (and so the KV cache) stable. */
  previousWindowStart: number | undefined;
  maxTokens: number;
  temperature: number;
  topP: number | undefined;
  seed: number;
  n: number;
  maxLines: number | undefined;
  deadlineMs: number | undefined;
}

export interface WorkerCandidate {
  text: string;
  tokenCount: number;
  finishReason: FinishReason;
}

export interface WorkerCompleteResult {
  candidates: WorkerCandidate[];
  windowStartOffset: number;
  promptTokens: number;
  reusedTokens: number;
  droppedTokens: number;
  timings: {
    /** Building the prompt (tokenizing the window). */
    promptMs: number;
    prefillMs: number;
    decodeMs: number;
    decodeTokens: number;
    /** From the worker receiving the request to its answer, waiting for an earlier request included. */
    totalMs: number;
  };
}

export interface SerializedError {
  name: string;
  message: string;
  stack?: string;
  /** For cancellations: tokens sampled (candidate 0) before the generation stopped. */
  tokensBeforeCancel?: number;
}

export type ToWorker =
  | { type: 'load'; id: number; request: WorkerLoadRequest }
  | { type: 'complete'; id: number; request: WorkerCompleteRequest }
  | { type: 'cancel'; id: number }
  | { type: 'unload'; id: number };

export type FromWorker =
  | { type: 'loaded'; id: number; info: WorkerLoadedInfo }
  | { type: 'completed'; id: number; result: WorkerCompleteResult }
  /** The first token of a completion was sampled (the prompt is read): generation is under way. */
  | { type: 'started'; id: number }
  | { type: 'unloaded'; id: number }
  | { type: 'failed'; id: number; error: SerializedError };
