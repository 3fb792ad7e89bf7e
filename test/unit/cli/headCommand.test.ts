// trainHeadJob: the acceptance head for a model from cuts of a folder's training files, keeping the
// workspace-candidate rule of the head it replaces (the rule reads no model state).
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { trainHeadJob } from '../../../src/cli/headCommand';
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
