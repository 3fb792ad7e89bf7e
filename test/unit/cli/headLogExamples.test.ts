// The editor's accept/reject log as acceptance-head examples: each logged request asked again of a
// (tiny, random) model through the editor's pipeline, and labelled by what the user did there.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { collectLogExamples, LOG_EXAMPLE_PREFIX } from '../../../src/cli/headLogExamples';
import { isExact } from '../../../src/cli/headTraining';
import { openPipelineRunner, type PipelineRunner } from '../../../src/cli/pipelineRunner';
import type { SuggestionOutcome } from '../../../src/completion/suggestionOutcomes';
import { CancelledError } from '../../../src/engine/errors';
import { writeRandomCheckpoint } from '../../../src/engine/randomCheckpoint';
import { CONFIG } from '../training/fineTuneFixtures';

describe('collectLogExamples', function () {
  this.timeout(120_000);
  let dir: string;
  let runner: PipelineRunner;
  let prefix = '';
  let suggestion = '';

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'head-log-'));
    writeRandomCheckpoint(path.join(dir, 'model'), CONFIG, 5);
    runner = await openPipelineRunner('finetune', { model: path.join(dir, 'model'), 'no-head': true, 'min-confidence': '0', threads: '1' });
    // A request where the random model shows something: that is what the log "saw".
    for (const p of ['const total = ', 'let index = ', 'function value(', 'return ']) {
      const r = await runner.run(path.join(dir, 'a.ts'), p, p.length, 'typescript');
      if (r.suppressed === null && (r.items[0] ?? '').trim() !== '') [prefix, suggestion] = [p, r.items[0]];
      if (suggestion !== '') break;
    }
    assert.notEqual(suggestion, '', 'the tiny model showed nothing at any of the prefixes');
  });

  after(async () => {
    await runner.dispose();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const logged = (outcome: SuggestionOutcome['outcome'], text: string): SuggestionOutcome => ({
    shownAt: 0, languageId: 'typescript', file: path.join(dir, 'a.ts'), prefix, suggestion: text, outcome, takenChars: outcome === 'accepted' ? text.length : 0,
  });

  it('labels what the model suggests again by what the user did, and leaves out what it cannot label', async () => {
    const other = 'somethingTheModelWouldNeverSay()';
    const progress: number[] = [];
    const examples = await collectLogExamples(
      runner,
      [logged('accepted', suggestion), logged('rejected', suggestion), logged('typed-over', other), logged('accepted', other)],
      (done) => progress.push(done),
    );
    assert.deepEqual(progress, [1, 2, 3, 4]);
    // The typed-over entry's suggestion is not what the model says now: no label, left out.
    assert.deepEqual(examples.map((e) => e.file), [0, 1, 3].map((i) => `${LOG_EXAMPLE_PREFIX}${i}`));
    assert.deepEqual(examples.map((e) => isExact(e)), [true, false, false]);
    for (const e of examples) {
      assert.equal(e.shown, suggestion);
      assert.ok(e.state !== undefined && e.state.length > CONFIG.nEmbd, 'the suggestion head input: h and the decoding scalars');
      assert.ok(e.promptState !== undefined && e.promptState.length === CONFIG.nEmbd);
    }
    // The runner is left as it was found.
    assert.equal(runner.context.onStates, undefined);
  });

  it('stops at a cancelled signal', async () => {
    const controller = new AbortController();
    controller.abort();
    await assert.rejects(collectLogExamples(runner, [logged('accepted', suggestion)], undefined, controller.signal), CancelledError);
  });
});
