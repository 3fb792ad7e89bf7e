// trainHeadJob: the acceptance head for a model from cuts of a folder's training files, keeping the
// workspace-candidate rule of the head it replaces, or that rule adapted to the folder's cuts.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { trainHeadJob } from '../../../src/cli/headCommand';
import { CHOICE_FEATURES, usableRule, type ChoiceRule } from '../../../src/completion/context/candidateChoice';
import { CancelledError } from '../../../src/engine/errors';
import { loadAcceptanceHead } from '../../../src/training/head/acceptanceHead';
import { useFineTuneFixture } from '../training/fineTuneFixtures';

describe('trainHeadJob', function () {
  this.timeout(120_000);
  const fixture = useFineTuneFixture('gpt2c-head-job-', 1);

  it("writes head.safetensors + head.json, and carries the base head's candidate rule", async () => {
    const first = path.join(fixture.dir, 'first');
    const lines: string[] = [];
    const a = await trainHeadJob({ folder: fixture.corpus, model: fixture.model, out: first, seed: 0, cuts: 60 }, (l) => lines.push(l));
    assert.ok(a.examples >= 20 && a.fromSuggestionLog === 0, JSON.stringify(a));
    assert.match(lines.at(-1)!, /^acceptance head: \d+ shown suggestions .* wrote .*head\.safetensors$/);
    assert.equal((loadAcceptanceHead(first, 32)!.meta as { candidates?: unknown }).candidates, undefined, 'no rule to carry');

    // A head with a rule (as models/embedded ships), then a new head trained with it as the base.
    const rule = { features: ['bias'], weights: [0.5], threshold: 0.2 };
    const meta = JSON.parse(fs.readFileSync(path.join(first, 'head.json'), 'utf8'));
    fs.writeFileSync(path.join(first, 'head.json'), JSON.stringify({ ...meta, candidates: rule }));
    const second = path.join(fixture.dir, 'second');
    await trainHeadJob({ folder: fixture.corpus, model: fixture.model, out: second, seed: 0, cuts: 60, ruleFrom: first }, () => undefined);
    assert.deepEqual((loadAcceptanceHead(second, 32)!.meta as { candidates?: unknown }).candidates, rule);
  });

  it("adapts the base head's choice rule to the folder's cuts, and reports whether it kept it", async () => {
    const base = path.join(fixture.dir, 'base');
    await trainHeadJob({ folder: fixture.corpus, model: fixture.model, out: base, seed: 0, cuts: 40 }, () => undefined);
    const F = CHOICE_FEATURES.length, H = 2;
    const rule = {
      features: [...CHOICE_FEATURES], weight: CHOICE_FEATURES.map((f) => (f === 'from_lookup' ? 1 : 0)), bias: -1, trainedOn: 'the base',
      hidden: { weight: Array.from({ length: H * F }, (_, i) => ((i % 3) - 1) * 0.01), bias: [0, 0], out: [0.1, -0.1] },
    };
    const meta = JSON.parse(fs.readFileSync(path.join(base, 'head.json'), 'utf8'));
    fs.writeFileSync(path.join(base, 'head.json'), JSON.stringify({ ...meta, candidates: rule }));

    const lines: string[] = [];
    const adapted = await trainHeadJob({ folder: fixture.corpus, model: fixture.model, out: path.join(fixture.dir, 'adapted'), seed: 0, cuts: 60, ruleFrom: base }, (l) => lines.push(l));
    assert.ok(adapted.rule !== undefined && adapted.rule.cuts > 0 && adapted.rule.validationCuts > 0, JSON.stringify(adapted.rule));
    assert.ok(Number.isFinite(adapted.rule.baseNll) && Number.isFinite(adapted.rule.adaptedNll));
    assert.match(lines.at(-1)!, /the choice among the workspace's lines (adapted to|kept)/);
    const written = (loadAcceptanceHead(path.join(fixture.dir, 'adapted'), 32)!.meta as { candidates?: ChoiceRule }).candidates!;
    assert.equal(usableRule(written), true);
    if (adapted.rule.adapted) {
      assert.ok(adapted.rule.adaptedNll < adapted.rule.baseNll);
      assert.match(written.trainedOn ?? '', /^adapted from the base on \d+ cuts/);
    } else assert.deepEqual(written, rule);
    // The base model's head against the trained one on the validation files' cuts; the one written is the one kept.
    const h = adapted.head!;
    assert.ok(h !== undefined && Number.isInteger(h.validationCuts) && h.base.right + h.base.wrong <= h.validationCuts, JSON.stringify(h));
    assert.equal(h.kept === 'trained', h.trained.right - h.base.right > h.trained.wrong - h.base.wrong);
    const writtenHead = loadAcceptanceHead(path.join(fixture.dir, 'adapted'), 32)!;
    const baseHead = loadAcceptanceHead(base, 32)!;
    assert.equal(writtenHead.meta.trainedOn === baseHead.meta.trainedOn, h.kept === 'base');
    assert.match(lines.at(-1)!, /against the base model's head's \d+ and \d+: (kept|the base model's head kept instead)/);

    const kept = await trainHeadJob({ folder: fixture.corpus, model: fixture.model, out: path.join(fixture.dir, 'kept'), seed: 0, cuts: 40, ruleFrom: base, adaptRule: false }, () => undefined);
    assert.equal(kept.rule, undefined);
    assert.deepEqual((loadAcceptanceHead(path.join(fixture.dir, 'kept'), 32)!.meta as { candidates?: unknown }).candidates, rule);
  });

  it('stops at a cancelled signal', async () => {
    const controller = new AbortController();
    controller.abort();
    await assert.rejects(
      trainHeadJob({ folder: fixture.corpus, model: fixture.model, out: path.join(fixture.dir, 'never'), seed: 0, cuts: 60, signal: controller.signal }, () => undefined),
      CancelledError,
    );
    assert.equal(fs.existsSync(path.join(fixture.dir, 'never', 'head.safetensors')), false);
  });
});
