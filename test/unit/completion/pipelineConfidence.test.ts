// Gating by the acceptance head in the pipeline: an automatic suggestion below minConfidence is not
// shown ('low-confidence'), nor one the prompt head skipped; without a head (no confidence), with
// the setting at 0, or on an explicit request, it is shown. The engine gets the post-processing
// context and the threshold in the same request.
import { strict as assert } from 'node:assert';
import type { BackendModel, CompletionBackend, EngineCompleteRequest, EngineCompleteResult } from '../../../src/completion/backend';
import { CompletionPipeline, type PipelineSettings } from '../../../src/completion/pipeline';

const SETTINGS: PipelineSettings = { enable: true, languages: { '*': true }, maxTokens: 16, temperature: 0, debounceMs: 0 };

function backendAnswering(answer: (r: EngineCompleteRequest) => Partial<EngineCompleteResult> & { confidence?: number }): CompletionBackend & { requests: EngineCompleteRequest[] } {
  const requests: EngineCompleteRequest[] = [];
  const model: BackendModel = {
    epoch: 1,
    async complete(request): Promise<EngineCompleteResult> {
      requests.push(request);
      const a = answer(request);
      const texts = a.candidates?.map((c) => c.text) ?? ['value + 1'];
      return {
        candidates: texts.map((text) => ({ text, tokenCount: 3, finishReason: 'stop' as const, ...(a.confidence === undefined ? {} : { confidence: a.confidence }) })),
        windowStartOffset: 0, promptTokens: 5, reusedTokens: 0, droppedTokens: 0,
        ...(a.skippedBeforeDecoding ? { skippedBeforeDecoding: true } : {}),
        timings: { promptMs: 0, prefillMs: 1, decodeMs: 1, decodeTokens: 1, totalMs: 2 },
      };
    },
  };
  return { requests, current: model, acquire: async () => model };
}

const run = (backend: CompletionBackend, settings: Partial<PipelineSettings>, trigger: 'automatic' | 'manual' = 'automatic', text = 'x = ') =>
  new CompletionPipeline({ backend, settings: () => ({ ...SETTINGS, ...settings }), debounce: false })
    .complete({ documentUri: 'file:///a.py', documentVersion: 1, languageId: 'python', text, offset: text.length, trigger });

describe('pipeline: acceptance-head gating', () => {
  it('hides an automatic suggestion below minConfidence, shows one at or above it', async () => {
    const low = await run(backendAnswering(() => ({ confidence: 0.2 })), { minConfidence: 0.3 });
    assert.deepEqual(low.items, []);
    assert.equal(low.suppressed, 'low-confidence');
    assert.equal(low.trace?.raw[0], 'value + 1', 'the trace still says what was generated');
    const high = await run(backendAnswering(() => ({ confidence: 0.3 })), { minConfidence: 0.3 });
    assert.deepEqual(high.items, ['value + 1']);
  });

  it('a request the prompt head skipped is low-confidence, not a post-processing drop, unless a workspace line took its place', async () => {
    const r = await run(backendAnswering(() => ({ candidates: [], skippedBeforeDecoding: true })), { minConfidence: 0.3 });
    assert.equal(r.suppressed, 'low-confidence');
    const line = { text: 'value + 2', tokenCount: 3, finishReason: 'stop' as const };
    const sure = await run(backendAnswering(() => ({ candidates: [line], skippedBeforeDecoding: true, confidence: 0.6 })), { minConfidence: 0.3 });
    assert.deepEqual(sure.items, ['value + 2']);
    const unsure = await run(backendAnswering(() => ({ candidates: [line], skippedBeforeDecoding: true, confidence: 0.1 })), { minConfidence: 0.3 });
    assert.equal(unsure.suppressed, 'low-confidence');
  });

  it('no head (no confidence), the setting at 0, or an explicit request: shown', async () => {
    assert.deepEqual((await run(backendAnswering(() => ({})), { minConfidence: 0.9 })).items, ['value + 1']);
    assert.deepEqual((await run(backendAnswering(() => ({ confidence: 0.01 })), { minConfidence: 0 })).items, ['value + 1']);
    assert.deepEqual((await run(backendAnswering(() => ({ confidence: 0.01 })), {})).items, ['value + 1']);
    const manual = await run(backendAnswering(() => ({ confidence: 0.01 })), { minConfidence: 0.5 }, 'manual');
    assert.ok(manual.items.length > 0);
  });

  it('sends the post-processing context and the threshold (0 on explicit requests) with the request', async () => {
    const b = backendAnswering(() => ({ confidence: 0.9 }));
    await run(b, { minConfidence: 0.4 }, 'automatic', 'def f():\n    return ');
    await run(b, { minConfidence: 0.4 }, 'manual', 'def f():\n    return ');
    assert.equal(b.requests[0].minConfidence, 0.4);
    assert.equal(b.requests[0].postprocess?.prefixOnLine, '    return ');
    assert.equal(b.requests[0].postprocess?.languageId, 'python');
    assert.equal(b.requests[1].minConfidence, 0);
  });
});
