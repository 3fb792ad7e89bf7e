import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { OUTCOME_PREFIX_CHARS, OutcomeLog, readOutcomeLog } from '../../../src/completion/outcomeLog';
import type { SuggestionOutcome } from '../../../src/completion/suggestionOutcomes';

const outcome = (i: number, extra: Partial<SuggestionOutcome> = {}): SuggestionOutcome => ({
  shownAt: 1_700_000_000_000 + i,
  languageId: 'typescript',
  prefix: `const value${i} = `,
  suggestion: `compute(${i});`,
  outcome: i % 3 === 0 ? 'accepted' : i % 3 === 1 ? 'typed-over' : 'rejected',
  takenChars: i % 3 === 0 ? 11 : 0,
  ...extra,
});

describe('OutcomeLog', () => {
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'outcome-log-'))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('appends outcomes as lines that read back the same, creating its folder', async () => {
    const log = new OutcomeLog(path.join(dir, 'ws', 'suggestion-log.jsonl'));
    const written = [0, 1, 2].map((i) => outcome(i, i === 1 ? { file: '/work/src/values.ts' } : {}));
    for (const o of written) void log.append(o);
    await log.flushed();
    assert.deepEqual(readOutcomeLog(log.file), { outcomes: written, malformed: 0 });
  });

  it('keeps only the tail of the text before the cursor', async () => {
    const log = new OutcomeLog(path.join(dir, 'log.jsonl'));
    await log.append(outcome(0, { prefix: 'x'.repeat(10_000) + 'tail' }));
    const [read] = readOutcomeLog(log.file).outcomes;
    assert.equal(read.prefix.length, OUTCOME_PREFIX_CHARS);
    assert.ok(read.prefix.endsWith('tail'));
  });

  it('does not write an entry whose text looks like a secret', async () => {
    const log = new OutcomeLog(path.join(dir, 'log.jsonl'));
    // Built at run time so this file does not itself read as holding a key.
    await log.append(outcome(0, { prefix: 'const key = "', suggestion: ['AKIA', 'Z7Q3LMN4PXR2TB5W'].join('') + '";' }));
    await log.append(outcome(1));
    assert.equal(log.skippedSecrets, 1);
    assert.deepEqual(readOutcomeLog(log.file).outcomes.map((o) => o.suggestion), ['compute(1);']);
  });

  it('drops the oldest half when it outgrows its cap', async () => {
    const log = new OutcomeLog(path.join(dir, 'log.jsonl'), { maxBytes: 2000 });
    for (let i = 0; i < 40; i++) void log.append(outcome(i));
    await log.flushed();
    const read = readOutcomeLog(log.file).outcomes;
    assert.ok(fs.statSync(log.file).size <= 2000, `${fs.statSync(log.file).size} bytes`);
    assert.ok(read.length >= 5 && read.length < 40, `${read.length} entries`);
    assert.equal(read[read.length - 1].shownAt, outcome(39).shownAt, 'the newest is kept');
  });

  it('reads a missing log as empty and counts lines it cannot read', () => {
    assert.deepEqual(readOutcomeLog(path.join(dir, 'none.jsonl')), { outcomes: [], malformed: 0 });
    const file = path.join(dir, 'log.jsonl');
    const good = JSON.stringify({ v: 1, ...outcome(3) });
    fs.writeFileSync(file, [good, '{"v":1,"outcome":"maybe"}', 'not json', JSON.stringify({ v: 2, ...outcome(4) }), good.slice(0, 20)].join('\n'));
    assert.deepEqual(readOutcomeLog(file), { outcomes: [outcome(3)], malformed: 4 });
  });

  it('a write that fails says so once and drops the entry, and later entries still try', async () => {
    const errors: string[] = [];
    const blocker = path.join(dir, 'file');
    fs.writeFileSync(blocker, '');
    const log = new OutcomeLog(path.join(blocker, 'log.jsonl'), { onError: (m) => errors.push(m) });
    await log.append(outcome(0));
    await log.append(outcome(1));
    assert.equal(errors.length, 1);
    assert.match(errors[0], /could not write the suggestion log .*log\.jsonl/);
  });
});
