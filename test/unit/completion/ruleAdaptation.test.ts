/**
 * Adapting the shipped candidate-choice rule to a workspace: labels come from the line that was
 * really there, the head's P is the one given, and the adapted rule is kept only when it predicts
 * the held-back files' candidates better than the base rule.
 */
import { strict as assert } from 'node:assert';
import { CHOICE_FEATURES, mergeCandidates, scoreCandidates, type ChoiceContext, type ChoiceRule } from '../../../src/completion/context/candidateChoice';
import { adaptChoiceRule, choiceData, compareHeads, shownAt, type ChoiceExample } from '../../../src/completion/context/ruleAdaptation';

const F = CHOICE_FEATURES.length;
const at = (name: string) => CHOICE_FEATURES.indexOf(name as (typeof CHOICE_FEATURES)[number]);

/** A rule that trusts the model's suggestion over the workspace's lookup. */
function modelFirstRule(): ChoiceRule {
  const weight = new Array<number>(F).fill(0);
  weight[at('from_model')] = 2;
  weight[at('from_lookup')] = -2;
  const H = 2;
  return {
    features: [...CHOICE_FEATURES], weight, bias: -0.5, trainedOn: 'a test',
    hidden: { weight: Array.from({ length: H * F }, (_, i) => ((i * 7) % 5 - 2) * 0.01), bias: [0, 0], out: [0.1, -0.1] },
  };
}

/** A cut where the model says `model` and the lookup `lookup`, and the line that was there is `expected`. */
function cut(file: string, i: number, expected: 'model' | 'lookup'): ChoiceExample {
  const model = `foo(${i})`, lookup = `bar(${i})`;
  const ctx: ChoiceContext = {
    lineStart: false, modelText: model, modelLogprobs: { mean: -1, min: -2 },
    lookup: { line: `x = ${lookup}`, count: 3, total: 5, distinct: 2, context: 'typed' },
  };
  return {
    file, expected: expected === 'model' ? model : lookup, ctx,
    offers: { model: { text: model, evidence: { mean: -1, min: -2, first: -0.5 } }, lookup: { text: lookup, evidence: { mean: -1.5, min: -3, first: -1 } } },
    heads: { model: Float32Array.of(0.2), lookup: Float32Array.of(0.8) },
  };
}

const isValidation = (e: ChoiceExample) => e.file === 'held.ts';

describe('adapting the choice rule to a workspace', () => {
  it('labels each distinct candidate by the line that was there, with the given head\'s P as its evidence', () => {
    const data = choiceData([cut('a.ts', 1, 'lookup')], (x) => x[0]);
    assert.deepEqual(data.map((d) => d.label), [0, 1], 'the model first, then the lookup');
    const headLogit = (p: number) => Math.log(p / (1 - p)) / 4;
    assert.ok(Math.abs(data[0].h[at('head_logit')] - headLogit(0.2)) < 1e-6);
    assert.ok(Math.abs(data[1].h[at('head_logit')] - headLogit(0.8)) < 1e-6);
    assert.equal(data[0].h[at('from_model')], 1);
    assert.equal(data[1].h[at('from_lookup')], 1);
  });

  it('learns that this workspace\'s lookup is right where the base rule trusts the model, and says so on held-back files', () => {
    const examples = [
      ...Array.from({ length: 80 }, (_, i) => cut(`f${i % 8}.ts`, i, i % 10 === 0 ? 'model' : 'lookup')),
      ...Array.from({ length: 30 }, (_, i) => cut('held.ts', 100 + i, i % 10 === 0 ? 'model' : 'lookup')),
    ];
    const base = modelFirstRule();
    const result = adaptChoiceRule(base, examples, { headP: (x) => x[0], isValidation });
    assert.equal(result.adapted, true);
    assert.equal(result.cuts, 110);
    assert.equal(result.validation.cuts, 30);
    assert.ok(result.validation.adaptedNll < result.validation.baseNll, JSON.stringify(result.validation));
    assert.equal(result.validation.baseRight, 3, 'the base rule is right where the model was');
    assert.equal(result.validation.adaptedRight, 27);
    assert.ok(result.validation.adaptedRight - result.validation.baseRight > result.validation.adaptedWrong - result.validation.baseWrong, 'more right lines gained than wrong ones');
    const probe = cut('new.ts', 999, 'lookup');
    const candidates = mergeCandidates({ model: { ...probe.offers.model!, evidence: { ...probe.offers.model!.evidence!, head: 0.2 } }, lookup: { ...probe.offers.lookup!, evidence: { ...probe.offers.lookup!.evidence!, head: 0.8 } } });
    const [before, after] = [base, result.rule].map((r) => scoreCandidates(r, candidates, probe.ctx));
    assert.ok(before[0] > before[1], 'the base rule prefers the model');
    assert.ok(after[1] > after[0], `the adapted rule prefers the lookup: ${after}`);
    assert.deepEqual(result.rule.features, [...CHOICE_FEATURES]);
    assert.match(result.rule.trainedOn ?? '', /adapted from a test/);
  });

  it('keeps the base rule when the held-back files disagree with what the rest taught', () => {
    const examples = [
      ...Array.from({ length: 80 }, (_, i) => cut(`f${i % 8}.ts`, i, 'lookup')),
      ...Array.from({ length: 30 }, (_, i) => cut('held.ts', 100 + i, 'model')),
    ];
    const base = modelFirstRule();
    const result = adaptChoiceRule(base, examples, { headP: (x) => x[0], isValidation });
    assert.equal(result.adapted, false);
    assert.equal(result.rule, base);
    assert.ok(result.validation.adaptedNll >= result.validation.baseNll);
    assert.ok(result.validation.adaptedRight < result.validation.baseRight);
  });

  it('counts a cut right only when its most probable candidate is the right one and reaches the gate', () => {
    // A linear rule over one input: the logit is the input.
    const rule = { weight: [1], bias: 0, hiddenWeight: [], hiddenBias: [], outWeight: [] };
    const row = (z: number, label: 0 | 1) => ({ h: Float32Array.of(z), label });
    const cuts = [
      [row(2, 1), row(0, 0)], // right, P 0.88
      [row(2, 0), row(1, 1)], // the wrong one is more probable
      [row(-1, 1)], // right but P 0.27
      [row(0.5, 1), row(0.5, 0)], // a tie goes to the first
      [],
    ];
    assert.equal(shownAt(rule, cuts, 0.1).right, 3);
    assert.equal(shownAt(rule, cuts, 0.5).right, 2);
    assert.equal(shownAt(rule, cuts, 0.9).right, 0);
  });

  it('counts the wrong lines shown beside the right ones', () => {
    const rule = { weight: [1], bias: 0, hiddenWeight: [], hiddenBias: [], outWeight: [] };
    const row = (z: number, label: 0 | 1) => ({ h: Float32Array.of(z), label });
    const cuts = [[row(2, 1), row(0, 0)], [row(2, 0), row(1, 1)], [row(-1, 1)], [row(-3, 0)], []];
    assert.deepEqual(shownAt(rule, cuts, 0.1), { right: 2, wrong: 1 });
    assert.deepEqual(shownAt(rule, cuts, 0.01), { right: 2, wrong: 2 });
    assert.deepEqual(shownAt(rule, cuts, 0.95), { right: 0, wrong: 0 });
  });

  it('keeps a workspace-trained head only when it adds more right lines than wrong ones at the gate', () => {
    // A rule that shows whichever candidate the head is surest of: the head decides what is shown.
    const weight = new Array<number>(F).fill(0);
    weight[at('head_logit')] = 8;
    const rule: ChoiceRule = { features: [...CHOICE_FEATURES], weight, bias: 0 };
    const held = Array.from({ length: 10 }, (_, i) => cut('held.ts', i, 'lookup'));
    const surestOfLookup = (x: Float32Array) => x[0]; // the lookup's input is 0.8, the model's 0.2
    const surestOfModel = (x: Float32Array) => 1 - x[0];
    const worse = compareHeads(rule, held, surestOfLookup, surestOfModel, 0.1);
    assert.deepEqual([worse.cuts, worse.base, worse.trained, worse.trainedHelps], [10, { right: 10, wrong: 0 }, { right: 0, wrong: 10 }, false]);
    const better = compareHeads(rule, held, surestOfModel, surestOfLookup, 0.1);
    assert.equal(better.trainedHelps, true);
    // The same head on both sides changes nothing: the base, fitted on more data, stays.
    assert.equal(compareHeads(rule, held, surestOfLookup, surestOfLookup, 0.1).trainedHelps, false);
  });

  it('refuses a base rule without the hidden layer it adapts', () => {
    const { hidden: _, ...linear } = modelFirstRule();
    assert.throws(() => adaptChoiceRule(linear, [cut('a.ts', 1, 'model')], { headP: () => 0.5, isValidation }), /no hidden layer/);
  });
});
