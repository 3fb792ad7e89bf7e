// The editor-free completion pipeline over a scripted fake backend: gates, post-processing with the
// text after the cursor, the caches, cancellation by a newer request, alternatives on a manual
// request, acceptance counting and the reasons given when nothing is shown.
import { strict as assert } from 'node:assert';
import type { BackendModel, CompletionBackend, EngineCompleteRequest, EngineCompleteResult } from '../../../src/completion/backend';
import { CancelledError } from '../../../src/engine/errors';
import { CompletionPipeline, type PipelineRequest, type PipelineSettings } from '../../../src/completion/pipeline';
import type { SuggestionOutcome } from '../../../src/completion/suggestionOutcomes';

const SETTINGS: PipelineSettings = { enable: true, languages: { '*': true }, maxTokens: 16, temperature: 0, debounceMs: 0 };

/** Answers each request with `answer(request)` as its candidates; logs the requests. */
class ScriptedBackend implements CompletionBackend {
  readonly requests: EngineCompleteRequest[] = [];
  current: BackendModel | undefined;
  acquired = 0;

  constructor(answer: (r: EngineCompleteRequest) => string[], options: { delayMs?: number; epoch?: number } = {}) {
    const requests = this.requests;
    this.current = {
      epoch: options.epoch ?? 1,
      async complete(request, signal): Promise<EngineCompleteResult> {
        requests.push(request);
        if (options.delayMs) {
          await new Promise<void>((resolve, reject) => {
            const timer = setTimeout(resolve, options.delayMs);
            signal.addEventListener('abort', () => {
              clearTimeout(timer);
              reject(new CancelledError());
            });
          });
        }
        const texts = answer(request);
        return {
          candidates: texts.map((text) => ({ text, tokenCount: text.length, finishReason: 'stop' as const })),
          windowStartOffset: 0,
          promptTokens: request.textBeforeCursor.length,
          reusedTokens: 0,
          droppedTokens: 0,
          timings: { promptMs: 0, prefillMs: 1, decodeMs: 1, decodeTokens: 1, totalMs: 2 },
        };
      },
    };
  }

  async acquire(): Promise<BackendModel | undefined> {
    this.acquired++;
    return this.current;
  }
}

function request(text: string, offset = text.length, extra: Partial<PipelineRequest> = {}): PipelineRequest {
  return { documentUri: 'file:///a.py', documentVersion: 1, languageId: 'python', text, offset, trigger: 'automatic', ...extra };
}

function pipelineOver(backend: CompletionBackend, settings: Partial<PipelineSettings> = {}, extra: { paused?: boolean } = {}) {
  const stats = { shown: 0, accepted: 0, partial: 0 };
  const pipeline = new CompletionPipeline({
    backend,
    settings: () => ({ ...SETTINGS, ...settings }),
    paused: () => extra.paused ?? false,
    debounce: false,
    stats: {
      recordShown: () => stats.shown++,
      recordAccepted: (n) => (stats.accepted += n),
      recordPartialAccept: (n) => (stats.partial += n),
    },
  });
  return { pipeline, stats };
}

describe('CompletionPipeline', () => {
  it('asks the model with the text before the cursor and shows the post-processed first line', async () => {
    const backend = new ScriptedBackend(() => ['self.path\n        x = 1']);
    const { pipeline, stats } = pipelineOver(backend);
    const r = await pipeline.complete(request('class A:\n    def f(self):\n        return '));
    assert.deepEqual(r.items, ['self.path']);
    assert.equal(r.suppressed, null);
    assert.equal(r.source, 'model');
    assert.equal(backend.requests[0].textBeforeCursor, 'class A:\n    def f(self):\n        return ');
    assert.equal(backend.requests[0].n, 1);
    assert.equal(backend.requests[0].temperature, 0);
    assert.equal(backend.requests[0].maxLines, 1);
    assert.equal(stats.shown, 1);
  });

  it('reads the text after the cursor: a closer already there is not suggested again', async () => {
    const backend = new ScriptedBackend(() => ['x, y)']);
    const { pipeline } = pipelineOver(backend);
    const r = await pipeline.complete(request('f()', 2));
    assert.deepEqual(r.items, ['x, y']);
  });

  it('gives the gate as the reason when it asks nothing of the model', async () => {
    const backend = new ScriptedBackend(() => ['never']);
    const { pipeline } = pipelineOver(backend);
    const midLine = await pipeline.complete(request('return os.path.exists(p)', 'return '.length));
    assert.equal(midLine.suppressed, 'mid-line');
    assert.equal((await pipelineOver(backend, {}, { paused: true }).pipeline.complete(request('x = '))).suppressed, 'paused');
    assert.equal((await pipelineOver(backend, { enable: false }).pipeline.complete(request('x = '))).suppressed, 'disabled');
    assert.equal((await pipelineOver(backend, { languages: { python: false } }).pipeline.complete(request('x = '))).suppressed, 'language-disabled');
    assert.equal(backend.requests.length, 0);
  });

  it('names the post-processing step that dropped the only candidate', async () => {
    const backend = new ScriptedBackend(() => ['   ']);
    const { pipeline, stats } = pipelineOver(backend);
    const r = await pipeline.complete(request('x = '));
    assert.deepEqual(r.items, []);
    assert.match(r.suppressed ?? '', /^postprocess:/);
    assert.equal(stats.shown, 0);
  });

  it('serves a repeated request from its cache and typing through the suggestion without the model', async () => {
    const backend = new ScriptedBackend(() => ['value + 1']);
    const { pipeline } = pipelineOver(backend);
    await pipeline.complete(request('x = \n\n\nfoo()', 4));
    // Same prefix and next line, other text further down: not typing through, but the same question.
    const again = await pipeline.complete(request('x = \n\n\nbar()', 4));
    assert.equal(again.source, 'cache');
    const typed = await pipeline.complete(request('x = val\n\n\nbar()', 7));
    assert.equal(typed.source, 'typing-through');
    assert.deepEqual(typed.items, ['ue + 1']);
    assert.equal(backend.requests.length, 1);
    assert.equal(pipeline.counters.cacheHits, 1);
    assert.equal(pipeline.counters.typingThroughHits, 1);
  });

  it('does not serve a cached answer of an older model load', async () => {
    const backend = new ScriptedBackend(() => ['a'], { epoch: 1 });
    const { pipeline } = pipelineOver(backend);
    await pipeline.complete(request('x = '));
    backend.current = { ...backend.current!, epoch: 2 };
    pipeline.clearCaches();
    const r = await pipeline.complete(request('x = '));
    assert.equal(r.source, 'model');
    assert.equal(backend.requests.length, 2);
  });

  it('a newer request in the same document cancels the running one', async () => {
    const backend = new ScriptedBackend(() => ['done'], { delayMs: 200 });
    const { pipeline } = pipelineOver(backend);
    const first = pipeline.complete(request('x = '));
    await new Promise((resolve) => setTimeout(resolve, 20));
    const second = pipeline.complete(request('x = 1 + '));
    assert.equal((await first).suppressed, 'cancelled');
    assert.deepEqual((await second).items, ['done']);
    assert.equal(pipeline.counters.engineCancelled, 1);
  });

  it('a caller signal cancels, and a document changed meanwhile shows nothing', async () => {
    const backend = new ScriptedBackend(() => ['done'], { delayMs: 100 });
    const { pipeline } = pipelineOver(backend);
    const controller = new AbortController();
    const run = pipeline.complete(request('x = '), controller.signal);
    controller.abort();
    assert.equal((await run).suppressed, 'cancelled');
    const changed = await pipeline.complete(request('y = ', undefined, { isCurrent: () => false }));
    assert.equal(changed.suppressed, 'document-changed');
  });

  it('a manual request samples alternatives, leading with the suggestion already shown', async () => {
    let call = 0;
    const backend = new ScriptedBackend((r) => (r.n === 1 ? ['first'] : [`alt${++call}`, 'first', `alt${++call}`]));
    const { pipeline } = pipelineOver(backend);
    await pipeline.complete(request('x = '));
    const manual = await pipeline.complete(request('x = ', undefined, { trigger: 'manual' }));
    assert.deepEqual(manual.items, ['first', 'alt1', 'alt2']);
    assert.equal(backend.requests[1].n, 3);
    assert.ok(backend.requests[1].temperature >= 0.8);
  });

  it('asks for several lines at an empty block opener', async () => {
    const backend = new ScriptedBackend(() => ['return 1\n    return 2\nx = 3']);
    const { pipeline } = pipelineOver(backend);
    const r = await pipeline.complete(request('def f():\n    '));
    assert.ok((backend.requests[0].maxLines ?? 0) > 1);
    assert.deepEqual(r.items, ['return 1\n    return 2']);
  });

  it('counts a full accept and a partial accept of a shown suggestion', async () => {
    const backend = new ScriptedBackend(() => ['value + 1']);
    const { pipeline, stats } = pipelineOver(backend);
    await pipeline.complete(request('x = '));
    pipeline.documentEdited('file:///a.py', { offset: 4, replacedLength: 0, text: 'value' });
    assert.equal(stats.partial, 5);
    pipeline.accepted('file:///a.py', 'value + 1');
    assert.equal(stats.accepted, 4);
  });

  it('tells its listeners about generation and traces', async () => {
    const busy: boolean[] = [];
    const traces: string[] = [];
    const backend = new ScriptedBackend(() => ['a']);
    const pipeline = new CompletionPipeline({
      backend, settings: () => SETTINGS, debounce: false, onBusy: (b) => busy.push(b), onTrace: (t) => traces.push(t.source),
    });
    await pipeline.complete(request('x = '));
    assert.deepEqual(busy, [true, false]);
    assert.deepEqual(traces, ['model']);
    assert.equal(pipeline.lastTrace?.items[0], 'a');
  });
});

describe('CompletionPipeline debounce', () => {
  const debounced = (backend: CompletionBackend) =>
    new CompletionPipeline({ backend, settings: () => ({ ...SETTINGS, debounceMs: 200 }) });

  it('counts the pause from the keystroke the editor reports, not from when it asked', async () => {
    const pipeline = debounced(new ScriptedBackend(() => ['x']));
    const r = await pipeline.complete(request('a = ', 4, { editedAt: Date.now() - 150 }));
    assert.equal(r.items[0], 'x');
    // The base delay (200 ms: the rhythm is not known yet) less the 150 ms since the keystroke.
    assert.ok(r.trace!.debounceMs! >= 40 && r.trace!.debounceMs! <= 50, `waited ${r.trace!.debounceMs} ms`);
    // Node's timers may fire a millisecond before performance.now() says the delay is over.
    assert.ok(r.trace!.totalMs + 2 >= r.trace!.debounceMs!, `the total (${r.trace!.totalMs} ms) includes the wait`);
  });

  it('waits the whole delay without a keystroke time, or with one too old to be this request', async () => {
    const pipeline = debounced(new ScriptedBackend(() => ['x']));
    const unknown = await pipeline.complete(request('a = ', 4));
    assert.equal(unknown.trace!.debounceMs, 200);
    const stale = await pipeline.complete(request('b = ', 4, { editedAt: Date.now() - 5000 }));
    assert.equal(stale.trace!.debounceMs, 200);
  });
});

describe('CompletionPipeline suggestion outcomes', () => {
  it('tells what became of each shown suggestion: accepted, typed over, rejected', async () => {
    const outcomes: SuggestionOutcome[] = [];
    const pipeline = new CompletionPipeline({ backend: new ScriptedBackend(() => ['total']), settings: () => SETTINGS, debounce: false, onOutcome: (o) => outcomes.push(o) });
    await pipeline.complete(request('x = '));
    pipeline.documentEdited('file:///a.py', { offset: 4, replacedLength: 0, text: 'total' });
    pipeline.accepted('file:///a.py', 'total');
    await pipeline.complete(request('x = total\ny = '));
    pipeline.documentEdited('file:///a.py', { offset: 14, replacedLength: 0, text: '2' });
    await pipeline.complete(request('x = total\ny = 2\nz = '));
    pipeline.dispose();
    assert.deepEqual(outcomes.map((o) => [o.prefix, o.suggestion, o.outcome]), [
      ['x = ', 'total', 'accepted'],
      ['x = total\ny = ', 'total', 'typed-over'],
      ['x = total\ny = 2\nz = ', 'total', 'rejected'],
    ]);
  });
});

describe('CompletionPipeline cancelRunning', () => {
  it('stops a running request at once (pausing automatic suggestions)', async () => {
    const pipeline = new CompletionPipeline({ backend: new ScriptedBackend(() => ['x'], { delayMs: 5000 }), settings: () => SETTINGS, debounce: false });
    const running = pipeline.complete(request('a = '));
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(pipeline.generating, true);
    pipeline.cancelRunning();
    const r = await running;
    assert.equal(r.suppressed, 'cancelled');
    assert.equal(pipeline.generating, false);
  });
});

describe('CompletionPipeline next-line prefetch', () => {
  describe('after an accept, the next line before Enter asks for it', () => {
    // The document as the accept left it: the cursor at the end of the accepted line.
    const accepted = 'def area(self):\n    return self.w * self.h\n\nx = 1\n';
    const cursor = accepted.indexOf('self.h') + 'self.h'.length;
    const entered = accepted.slice(0, cursor) + '\n    ' + accepted.slice(cursor);

    it('computes it into the cache, and the request after Enter is answered from it without the model', async () => {
      const backend = new ScriptedBackend(() => ['print(self)']);
      const { pipeline, stats } = pipelineOver(backend);
      pipeline.prefetchAfterAccept(request(accepted, cursor, { editorIndentUnit: '    ' }));
      assert.equal(backend.requests.length, 1);
      assert.equal(backend.requests[0].textBeforeCursor, accepted.slice(0, cursor) + '\n    ');
      assert.equal(stats.shown, 0, 'nothing is shown until the editor asks');
      const r = await pipeline.complete(request(entered, cursor + 5, { editorIndentUnit: '    ' }));
      assert.equal(r.source, 'prefetch');
      assert.deepEqual(r.items, ['print(self)']);
      assert.equal(backend.requests.length, 1, 'one model call in all');
      assert.deepEqual([pipeline.counters.prefetches, pipeline.counters.prefetchHits, pipeline.counters.cacheHits], [1, 1, 0]);
      assert.equal(stats.shown, 1);
    });

    it('a prefetch that found nothing worth showing answers the request after Enter with nothing, not a second model call', async () => {
      const backend = new ScriptedBackend(() => ['   ']);
      const { pipeline } = pipelineOver(backend);
      pipeline.prefetchAfterAccept(request(accepted, cursor, { editorIndentUnit: '    ' }));
      const r = await pipeline.complete(request(entered, cursor + 5, { editorIndentUnit: '    ' }));
      assert.deepEqual(r.items, []);
      assert.equal(r.source, 'prefetch');
      assert.match(r.suppressed ?? '', /^postprocess:/);
      assert.equal(backend.requests.length, 1);
    });

    it('a request that comes while it runs waits for it instead of asking again', async () => {
      const backend = new ScriptedBackend(() => ['print(self)'], { delayMs: 30 });
      const { pipeline } = pipelineOver(backend);
      pipeline.prefetchAfterAccept(request(accepted, cursor, { editorIndentUnit: '    ' }));
      const r = await pipeline.complete(request(entered, cursor + 5, { editorIndentUnit: '    ' }));
      assert.equal(r.source, 'prefetch');
      assert.equal(backend.requests.length, 1);
    });

    it('another indentation than the guess is asked as usual; a newer accept stops the older prefetch', async () => {
      const backend = new ScriptedBackend((q) => [q.textBeforeCursor.endsWith('\n  ') ? 'two' : 'four'], { delayMs: 20 });
      const { pipeline } = pipelineOver(backend);
      pipeline.prefetchAfterAccept(request(accepted, cursor, { editorIndentUnit: '    ' }));
      const r = await pipeline.complete(request(accepted.slice(0, cursor) + '\n  ' + accepted.slice(cursor), cursor + 3, { editorIndentUnit: '    ' }));
      assert.equal(r.source, 'model');
      assert.deepEqual(r.items, ['two']);

      const other = new ScriptedBackend(() => ['x'], { delayMs: 50 });
      const second = pipelineOver(other).pipeline;
      second.prefetchAfterAccept(request(accepted, cursor, { editorIndentUnit: '    ' }));
      second.prefetchAfterAccept(request('y = 2\n', 5, { editorIndentUnit: '    ' }));
      await new Promise((resolve) => setTimeout(resolve, 80));
      assert.deepEqual([second.counters.prefetches, second.counters.engineCancelled], [1, 1]);
    });

    it('nothing is computed mid-line, without a loaded model, when paused, or when turned off', async () => {
      const backend = new ScriptedBackend(() => ['x']);
      pipelineOver(backend).pipeline.prefetchAfterAccept(request(accepted, cursor - 2));
      pipelineOver(backend, {}, { paused: true }).pipeline.prefetchAfterAccept(request(accepted, cursor));
      new CompletionPipeline({ backend, settings: () => SETTINGS, debounce: false, prefetch: false }).prefetchAfterAccept(request(accepted, cursor));
      const unloaded = new ScriptedBackend(() => ['x']);
      unloaded.current = undefined;
      pipelineOver(unloaded).pipeline.prefetchAfterAccept(request(accepted, cursor));
      assert.equal(backend.requests.length + unloaded.requests.length, 0);
      assert.equal(unloaded.acquired, 0, 'a prefetch never loads a model');
    });
  });
});
