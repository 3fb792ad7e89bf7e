/**
 * The completion pipeline's view of a model: a small interface so that the pipeline runs the same
 * way over the extension's engine process (src/vscode/engineClient.ts), the CLI's in-process
 * engine (src/cli/pipelineRunner.ts) and a fake in tests. Only plain data crosses it.
 */
import type { FinishReason } from '../engine/stopRules';
import type { PostprocessContext } from './postprocess/types';

/** A completion at the end of `textBeforeCursor`: the engine side builds the prompt (it has the tokenizer) and generates. */
export interface EngineCompleteRequest {
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
  /** Mix the workspace cache model into the model's distribution (engine/cacheModel). */
  cacheModel?: boolean;
  /** The document's text after the cursor (bounded), which the cache model counts too. */
  textAfterCursor?: string;
  /** The document's file (absolute path), when it has one: its stale copy in the index is hidden. */
  documentPath?: string;
  /** Put snippets of similar code from other workspace files before the file window. */
  context?: boolean;
  /** The document's language (the snippets are written as its comments). */
  languageId?: string;
  /**
   * The pipeline's post-processing context: with an acceptance head loaded, the engine side
   * post-processes each candidate the same way and scores the text the editor would show, so the
   * confidence comes back in the same answer (one round trip per request).
   */
  postprocess?: PostprocessContext;
  /** The pipeline's threshold (0 or absent: no gating); above 0 the head may skip decoding. */
  minConfidence?: number;
}

export interface EngineCandidate {
  text: string;
  tokenCount: number;
  finishReason: FinishReason;
  /** P(accepted) of this candidate after post-processing, when a head is loaded and it survived. */
  confidence?: number;
  /**
   * Where a workspace candidate came from (engineCompletion.ts, chooseAmong): the workspace's line
   * lookup or the in-file copy; absent for the model's own text.
   */
  origin?: 'lookup' | 'copy';
}

export interface EngineCompleteResult {
  candidates: EngineCandidate[];
  windowStartOffset: number;
  promptTokens: number;
  reusedTokens: number;
  droppedTokens: number;
  /** The prompt head judged the model's own suggestion not worth decoding: no candidates but the workspace's lines, if one was chosen. */
  skippedBeforeDecoding?: boolean;
  /** The prompt head's P(exact suggestion) for this request, when it ran. */
  promptConfidence?: number;
  timings: {
    /** Building the prompt (tokenizing the window). */
    promptMs: number;
    prefillMs: number;
    decodeMs: number;
    decodeTokens: number;
    /** Model runs that decoded them (fewer than the tokens where speculative drafts were accepted). */
    decodeSteps?: number;
    /** Speculative decoding's draft tokens checked, and those the model agreed with. */
    draftTokens?: number;
    acceptedDraftTokens?: number;
    /** Scoring the post-processed candidates with the acceptance head (0 without one). */
    scoreMs?: number;
    /** From the engine receiving the request to its answer, waiting for an earlier request included. */
    totalMs: number;
  };
}

/** One loaded model. */
export interface BackendModel {
  /** Changes with every load: results of an older model must not be served as this one's. */
  readonly epoch: number;
  /** The checkpoint folder, for traces. */
  readonly checkpointDir?: string;
  /** Rejects with a CancelledError when `signal` aborts; `onStarted` runs when the first token is sampled. */
  complete(request: EngineCompleteRequest, signal: AbortSignal, onStarted?: () => void): Promise<EngineCompleteResult>;
}

export interface CompletionBackend {
  /** The model now loaded, without loading one (cache keys). */
  readonly current: BackendModel | undefined;
  /** The model, loading it when needed; undefined when none can be had (the backend reports why). */
  acquire(): Promise<BackendModel | undefined>;
  /** A suggestion was served: the model is in use (idle unload counts from here). */
  touch?(): void;
}
