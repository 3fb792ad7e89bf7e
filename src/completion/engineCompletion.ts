/**
 * The engine side of a pipeline request: chooses the prompt window (buildPrompt, the one place it is
 * chosen) and generates. The extension's engine process and the CLI's in-process backend both call
 * this, so the editor and `gpt2-complete complete --file` see the same prompt and the same tokens.
 */
import { cacheMixer, type CacheWeights } from '../engine/cacheModel/mixture';
import type { CompletionEngine } from '../engine/engine';
import type { EngineCompleteRequest, EngineCompleteResult } from './backend';
import { documentOnlySources, type WorkspaceCache } from './context/workspaceCache';
import { buildPrompt } from './prompt';

/** What the engine side knows of the workspace. */
export interface EngineContext {
  /** The indexed workspace, when there is one. */
  workspace?: WorkspaceCache;
  /** The cache model's mixture weights (default: the fitted ones). */
  cacheWeights?: CacheWeights;
}

export async function completeWithEngine(
  engine: CompletionEngine,
  req: EngineCompleteRequest,
  signal: AbortSignal | undefined,
  onToken?: (candidate: number) => void,
  context: EngineContext = {},
): Promise<EngineCompleteResult> {
  const t0 = performance.now();
  const nPositions = engine.model.config.nPositions;
  // Half the context at most, so the prompt always keeps the other half.
  const maxTokens = Math.max(1, Math.min(req.maxTokens, Math.floor(nPositions / 2)));
  const built = buildPrompt(req.textBeforeCursor, req.textBeforeCursor.length, {
    tokenBudget: nPositions - maxTokens,
    countTokens: (text) => engine.tokenizer.encode(text).length,
    previousWindowStart: req.previousWindowStart,
  });
  const cache = req.cacheModel === true ? cacheFor(engine, req, context) : undefined;
  const promptMs = performance.now() - t0;
  try {
  const result = await engine.complete({
    prompt: built.prompt,
    maxTokens,
    temperature: req.temperature,
    topP: req.topP,
    seed: req.seed,
    n: req.n,
    maxLines: req.maxLines,
    deadlineMs: req.deadlineMs,
    signal,
    mixer: cache?.mixer,
    onToken: onToken === undefined ? undefined : (event) => onToken(event.candidate),
  });
  return {
    candidates: result.candidates.map((c) => ({ text: c.text, tokenCount: c.tokens.length, finishReason: c.finishReason })),
    windowStartOffset: built.windowStartOffset,
    promptTokens: result.promptTokens,
    reusedTokens: result.reusedTokens,
    droppedTokens: result.droppedTokens,
    timings: { promptMs, ...result.timings, totalMs: performance.now() - t0 },
  };
  } finally {
    cache?.release();
  }
}

/**
 * The cache model for one request: the document before and after the cursor as two texts (so the
 * cursor's own position, whose "next token" is the text after it, predicts nothing), weighted up,
 * over the workspace's files with this document's copy hidden.
 */
function cacheFor(engine: CompletionEngine, req: EngineCompleteRequest, context: EngineContext) {
  const before = engine.tokenizer.encode(req.textBeforeCursor.replace(/\r\n/g, '\n'));
  const after = req.textAfterCursor ? engine.tokenizer.encode(req.textAfterCursor.replace(/\r\n/g, '\n')) : [];
  const documentTokens = { before, after };
  const { sources, release } = context.workspace !== undefined
    ? context.workspace.sourcesFor(req.documentPath, documentTokens)
    : { sources: documentOnlySources(documentTokens), release: () => undefined };
  return { mixer: cacheMixer(sources, context.cacheWeights), release };
}
