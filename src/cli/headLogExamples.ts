/**
 * The editor's accept/reject log (src/completion/outcomeLog.ts) as acceptance-head examples. Each
 * logged request is asked again of the model the head is for (an adapter changes what it
 * suggests), and labelled by what the user did there:
 *   - accepted: the accepted text is the truth, so the suggestion now is right only if it equals it;
 *   - typed over or dismissed: that suggestion was wrong, which labels the request only when the
 *     model suggests the same again (anything else there has no label and is left out).
 */
import * as os from 'os';
import * as path from 'path';
import type { RequestStates } from '../completion/engineCompletion';
import type { SuggestionOutcome } from '../completion/suggestionOutcomes';
import { CancelledError } from '../engine/errors';
import { judgedText } from '../quality/metrics';
import type { HeadExample } from './headTraining';
import type { PipelineRunner } from './pipelineRunner';

/** Examples are split for validation by file: a logged request is its own "file". */
export const LOG_EXAMPLE_PREFIX = 'suggestion-log/';

export async function collectLogExamples(
  runner: PipelineRunner,
  outcomes: readonly SuggestionOutcome[],
  onProgress?: (done: number, total: number) => void,
  signal?: AbortSignal,
): Promise<HeadExample[]> {
  const examples: HeadExample[] = [];
  let states: RequestStates | undefined;
  const previous = runner.context.onStates;
  const offered = runner.context.candidates;
  runner.context.onStates = (s) => (states = s);
  // The head learns the model's own suggestions: no workspace candidates in their place.
  runner.context.candidates = false;
  try {
    for (const [i, o] of outcomes.entries()) {
      if (signal?.aborted) throw new CancelledError();
      states = undefined;
      // The same place may be logged more than once: each must reach the model, not the result cache.
      runner.clearCaches();
      // The document's own file hides its copy from the workspace cache model (it holds what was typed since).
      const file = o.file ?? path.join(os.tmpdir(), `${LOG_EXAMPLE_PREFIX}${i}`);
      const result = await runner.run(file, o.prefix, o.prefix.length, o.languageId);
      onProgress?.(i + 1, outcomes.length);
      if (states === undefined) continue;
      const shown = result.suppressed === null ? result.items[0] ?? '' : '';
      const expected = o.outcome === 'accepted' ? judgedText(o.suggestion) : shown !== '' && judgedText(shown) === judgedText(o.suggestion) ? '' : undefined;
      if (expected === undefined) continue;
      const candidate = (states as RequestStates).candidates[0];
      examples.push({
        file: `${LOG_EXAMPLE_PREFIX}${i}`,
        kind: /(^|\n)[ \t]*$/.test(o.prefix) ? 'line-start' : 'mid-line',
        expected,
        shown,
        promptState: (states as RequestStates).prompt,
        decodeMs: runner.lastResult?.timings.decodeMs,
        state: shown !== '' && candidate !== null && candidate !== undefined && candidate.text === shown ? candidate.x : undefined,
      });
    }
  } finally {
    runner.context.onStates = previous;
    runner.context.candidates = offered;
  }
  return examples;
}
