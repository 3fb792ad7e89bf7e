/**
 * Workspace candidates on the engine side with a real (tiny, random) ONNX model: a line that exists
 * only in another workspace file is suggested when the head's choice rule trusts the lookup; the
 * rule is not applied when candidates are off, the request has no cache model or the head no rule; with
 * candidates on, the prompt head does not skip a request a workspace line can answer; the model decodes
 * with drafts from the workspace.
 */
import assert from 'node:assert/strict';
import type { EngineCompleteRequest } from '../../src/completion/backend';
import { CHOICE_FEATURES, type ChoiceRule } from '../../src/completion/context/candidateChoice';
import { WorkspaceCache } from '../../src/completion/context/workspaceCache';
import { completeWithEngine, type RequestStates, type ConfidenceHead, type EngineContext } from '../../src/completion/engineCompletion';
import { postprocessContextAt } from '../../src/completion/postprocess';
import { NAMED_CONFIGS } from '../../src/engine/config';
import { CompletionEngine } from '../../src/engine/engine';
import { OrtModel } from '../../src/engine/ortModel';
import { getTokenizer } from '../../src/engine/tokenizer';
import { testWeights } from '../helpers/randomWeights';

describe('workspace candidates on OrtModel', function () {
  this.timeout(120_000);
  const config = NAMED_CONFIGS.tiny;
  const tokenizer = getTokenizer();
  let model: OrtModel;
  before(async () => { model = await OrtModel.load({ weights: testWeights(config, 11), device: 'cpu', threads: 1 }); });
  after(async () => model?.dispose());

  // Trusts a lookup by its share of the matching lines; the model's suggestion gets a low P.
  const rule: ChoiceRule = { features: [...CHOICE_FEATURES], weight: CHOICE_FEATURES.map((f) => (f === 'lookup_share' ? 6 : 0)), bias: -3 };
  const head = (skipBelow = 0, promptP = 0.5): ConfidenceHead => ({
    nEmbd: config.nEmbd, skipBelow, meta: { candidates: rule }, suggestion: () => 0.2, prompt: () => promptP,
  });
  const text = 'from shop import orders\n\ntotal = compute_';
  const request = (extra: Partial<EngineCompleteRequest> = {}): EngineCompleteRequest => ({
    textBeforeCursor: text, previousWindowStart: undefined, maxTokens: 8, temperature: 0, topP: undefined, seed: 0, n: 1,
    maxLines: 1, deadlineMs: undefined, cacheModel: true, textAfterCursor: '', documentPath: '/w/app.py',
    postprocess: postprocessContextAt(text, text.length, 'python', '    '), ...extra,
  });
  const workspace = (): WorkspaceCache => {
    const w = new WorkspaceCache(tokenizer);
    w.setFile('/w/shop.py', 'def compute_widget_total(order):\n    pass\n\ntotal = compute_widget_total(order)\n');
    // The document's own copy on disk holds another ending: it is left out of the lookup.
    w.setFile('/w/app.py', 'total = compute_stale(x)\n');
    return w;
  };

  it('decodes with drafts from the workspace: what followed the line there is checked several tokens a run', async () => {
    const engine = new CompletionEngine(model, tokenizer);
    const r = await completeWithEngine(engine, request(), undefined, undefined, { workspace: workspace() });
    assert.equal(r.candidates[0].text, 'widget_total(order)');
    const t = r.timings;
    assert.ok((t.acceptedDraftTokens ?? 0) > 0, `no workspace draft accepted: ${JSON.stringify(t)}`);
    assert.ok((t.decodeSteps ?? Infinity) < t.decodeTokens, `${t.decodeSteps} runs for ${t.decodeTokens} tokens`);
  });

  it('suggests the rest of a line found only in another workspace file, with the rule\'s P as confidence', async () => {
    const engine = new CompletionEngine(model, tokenizer);
    const r = await completeWithEngine(engine, request(), undefined, undefined, { workspace: workspace(), head: head() });
    assert.equal(r.candidates.length, 1);
    assert.equal(r.candidates[0].text, 'widget_total(order)');
    assert.ok(Math.abs(r.candidates[0].confidence! - 1 / (1 + Math.exp(-(6 - 3)))) < 1e-9);
  });

  it("a head without a usable rule (an adapter's, trained before the rule changed) takes its base's rule", async () => {
    const engine = new CompletionEngine(model, tokenizer);
    const old = { ...head(), meta: { candidates: { ...rule, features: rule.features.slice(0, 18), weight: rule.weight.slice(0, 18) } } };
    const r = await completeWithEngine(engine, request(), undefined, undefined, { workspace: workspace(), head: old, baseRule: rule });
    assert.equal(r.candidates[0].text, 'widget_total(order)');
    assert.ok(Math.abs(r.candidates[0].confidence! - 1 / (1 + Math.exp(-(6 - 3)))) < 1e-9, "the base rule's P, not the head's 0.2");
    // The model wrote the workspace's line itself (the cache model steers it): that line is the model's candidate, not read again.
    let states: RequestStates | undefined;
    await completeWithEngine(engine, request(), undefined, undefined, { workspace: workspace(), head: old, baseRule: rule, onStates: (x) => (states = x) });
    assert.equal(states!.candidates[0]?.text, 'widget_total(order)');
    assert.ok(!states!.offered.some((o) => o.text === 'widget_total(order)'), JSON.stringify(states!.offered.map((o) => o.text)));
    // Yet the lookup offered it too, and the choice counts that agreement: the states say so (the rule is fitted on them).
    assert.ok(states!.workspace.some((o) => o.source === 'lookup' && o.text === 'widget_total(order)'), JSON.stringify(states!.workspace));
    const own = await completeWithEngine(engine, request(), undefined, undefined, { workspace: workspace(), head: old });
    assert.equal(own.candidates[0].confidence, 0.2, "without a base rule: the head's own P, no choice");
    const none = await completeWithEngine(engine, request(), undefined, undefined, { workspace: workspace(), baseRule: rule });
    assert.equal(none.candidates[0]?.confidence, undefined, 'no head, no choice: the rule gates with the head');
  });

  it('the model\'s own suggestion, with the head\'s P, when candidates are off, the cache model is off, or the head has no rule', async () => {
    const engine = new CompletionEngine(model, tokenizer);
    const cases: [EngineCompleteRequest, EngineContext][] = [
      [request(), { workspace: workspace(), head: head(), candidates: false }],
      [request({ cacheModel: false }), { workspace: workspace(), head: head() }],
      [request(), { workspace: workspace(), head: { ...head(), meta: {} } }],
    ];
    for (const [req, context] of cases) {
      const r = await completeWithEngine(engine, req, undefined, undefined, context);
      assert.equal(r.candidates[0]?.confidence, 0.2, 'the head\'s own P: no rule applied');
      assert.equal(r.candidates[0]?.origin, undefined, 'the model\'s own text');
    }
    // Without the cache model the random model does not write the workspace's line by itself.
    const own = await completeWithEngine(engine, request({ cacheModel: false }), undefined, undefined, { workspace: workspace(), head: head() });
    assert.notEqual(own.candidates[0]?.text, 'widget_total(order)');
  });

  it("a skip before decoding skips the model's suggestion, not the workspace's lines", async () => {
    const engine = new CompletionEngine(model, tokenizer);
    const offered = await completeWithEngine(engine, request({ minConfidence: 0.15 }), undefined, undefined, { workspace: workspace(), head: head(0.5, 0.1) });
    assert.equal(offered.skippedBeforeDecoding, true);
    assert.equal(offered.timings.decodeTokens, 0, 'the model decoded nothing');
    assert.equal(offered.candidates.length, 1);
    assert.equal(offered.candidates[0].text, 'widget_total(order)');
    assert.equal(offered.candidates[0].origin, 'lookup');
    assert.ok(offered.candidates[0].confidence! > 0, 'the rule\'s P, for the gate');
    const kept = await completeWithEngine(engine, request({ minConfidence: 0.15 }), undefined, undefined, { workspace: workspace(), head: head(0.5, 0.9) });
    assert.equal(kept.skippedBeforeDecoding, undefined, 'a prompt head above the skip level: decoded');
    assert.ok(kept.timings.decodeTokens > 0);
    const empty = new WorkspaceCache(tokenizer);
    const none = await completeWithEngine(engine, request({ minConfidence: 0.15 }), undefined, undefined, { workspace: empty, head: head(0.5, 0.1) });
    assert.equal(none.skippedBeforeDecoding, true);
    assert.deepEqual(none.candidates, [], 'nothing to show');
  });
});
