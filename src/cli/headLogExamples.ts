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
import type { SuggestionOutcome } from '../completion/suggestionOutcomes';
import { judgedText } from '../quality/metrics';
import { replayForHead, type HeadExample } from './headTraining';
import type { PipelineRunner } from './pipelineRunner';

/** Examples are split for validation by file: a logged request is its own "file". */
export const LOG_EXAMPLE_PREFIX = 'suggestion-log/';

export async function collectLogExamples(
  runner: PipelineRunner,
  outcomes: readonly SuggestionOutcome[],
  onProgress?: (done: number, total: number) => void,
  signal?: AbortSignal,
): Promise<HeadExample[]> {
  const requests = outcomes.map((o, i) => ({
    // The document's own file hides its copy from the workspace cache model (it holds what was typed since).
    path: o.file ?? path.join(os.tmpdir(), `${LOG_EXAMPLE_PREFIX}${i}`),
    document: o.prefix, offset: o.prefix.length, languageId: o.languageId,
  }));
  const examples: HeadExample[] = [];
  // The same place may be logged more than once: each must reach the model, not the result cache.
  await replayForHead(runner, requests, { onProgress, signal, fresh: true }, (i, asked) => {
    const o = outcomes[i];
    const { shown } = asked;
    const expected = o.outcome === 'accepted' ? judgedText(o.suggestion) : shown !== '' && judgedText(shown) === judgedText(o.suggestion) ? '' : undefined;
    if (expected === undefined) return;
    examples.push({ file: `${LOG_EXAMPLE_PREFIX}${i}`, kind: /(^|\n)[ \t]*$/.test(o.prefix) ? 'line-start' : 'mid-line', expected, ...asked });
  });
  return examples;
}
