/**
 * The editor-facing completion pipeline's pure stages, in the order a request meets them:
 * gates → debounce → caches (typing-through, results) → prompt → (engine) → post-process → stats.
 * The extension layer adapts VS Code objects into CompletionRequest and composes these.
 */
export type { CompletionRequest, CursorLine, TriggerKind } from './types';
export { createCompletionRequest, cursorNeighbourhood, type CursorNeighbourhood, type RequestInit } from './cursorLines';
export { indentColumns, inferIndentUnit, isBlank, leadingWhitespace } from './indentation';
export { languageSyntax, type LanguageSyntax } from './languages';
export {
  checkGates,
  DEFAULT_LANGUAGE_ENABLEMENT,
  isEndOfLineLike,
  isLanguageEnabled,
  type GateReason,
  type GateResult,
  type GateSettings,
  type LanguageEnablement,
} from './gates';
export { AdaptiveDebouncer, wait, type AdaptiveDebounceOptions, type KeystrokeHints, type Timers } from './debounce';
export { remainingAfterTyping, TypingThroughCache, type ShownSuggestion } from './typingThrough';
export { completionCacheKey, CompletionResultCache, hashString, LruCache } from './resultCache';
export { buildPrompt, pathHeader, promptSource, type BuiltPrompt, type PromptOptions, type PromptSource } from './prompt';
export {
  END_OF_TEXT_MARKER,
  isMultilineContext,
  POSTPROCESS_STEPS,
  postprocessCompletion,
  postprocessContextAt,
  tracePostprocess,
  type MultilineQuestion,
  type PostprocessContext,
  type PostprocessStep,
} from './postprocess';
export { CompletionStats, type CompletionStatsSnapshot } from './stats';
export { AcceptanceTracker } from './acceptance';
