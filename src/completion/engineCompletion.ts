/**
 * The engine side of a pipeline request: chooses the prompt window (buildPrompt, the one place it is
 * chosen) and generates. The extension's engine process and the CLI's in-process backend both call
 * this, so the editor and `gpt2-complete complete --file` see the same prompt and the same tokens.
 */
import type { CompletionEngine } from '../engine/engine';
import type { EngineCompleteRequest, EngineCompleteResult } from './backend';
import { buildPrompt } from './prompt';

export async function completeWithEngine(
  engine: CompletionEngine,
  req: EngineCompleteRequest,
  signal: AbortSignal | undefined,
  onToken?: (candidate: number) => void,
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
  const promptMs = performance.now() - t0;
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
}
