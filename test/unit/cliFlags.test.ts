/** Flag checks shared by the CLI's commands: negative numbers reach their range check, threads have bounds and a shell's default. */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'os';
import * as path from 'node:path';
import { intFlag, numberFlag, parseCommandArgs, threadsFlag } from '../../src/cli/args';
import { completeCommand } from '../../src/cli/completeCommand';
import { UserError } from '../../src/engine/errors';

const oneLine = (re: RegExp) => (e: unknown): boolean => {
  assert.ok(e instanceof UserError, `expected a UserError, got ${(e as Error)?.stack ?? String(e)}`);
  assert.match(e.message, re);
  assert.ok(!/[\r\n]/.test(e.message), e.message);
  return true;
};

describe('CLI flags', () => {
  const options = { 'max-tokens': { type: 'string' }, temperature: { type: 'string' }, raw: { type: 'boolean' } } as const;

  it('a negative number is a value, not a flag, so its range check speaks', () => {
    const { values } = parseCommandArgs('complete', ['--max-tokens', '-5', '--temperature', '-0.5', '--raw'], options);
    assert.deepEqual({ ...values }, { 'max-tokens': '-5', temperature: '-0.5', raw: true });
    assert.throws(() => intFlag('max-tokens', values['max-tokens'], 1), oneLine(/^--max-tokens must be an integer ≥ 1 \(got "-5"\)$/));
    assert.throws(() => numberFlag('temperature', values.temperature, 0, 10, 0), oneLine(/^--temperature must be a number in \[0, 10\] \(got "-0.5"\)$/));
    assert.equal(parseCommandArgs('complete', ['--max-tokens', '-.5'], options).values['max-tokens'], '-.5');
  });

  it('what follows a boolean flag, or a flag-shaped word, is still parsed as before', () => {
    assert.throws(() => parseCommandArgs('complete', ['--raw', '-5'], options), oneLine(/^complete: .* \(see gpt2-complete complete --help\)$/));
    assert.throws(() => parseCommandArgs('complete', ['--max-tokens', '-x'], options), oneLine(/^complete: /));
  });

  it('complete --max-tokens -5 says what the flag takes', async () => {
    await assert.rejects(completeCommand(['--prompt', 'x', '--max-tokens', '-5']), oneLine(/--max-tokens must be an integer ≥ 1 \(got "-5"\)/));
  });

  it('complete --file refuses the flags it would ignore, and says why a file cannot be read', async () => {
    // Refused before the file is read or any model loaded: the editor's pipeline has its own settings.
    for (const flag of [['--temperature', '0.8'], ['--max-tokens', '8'], ['--stop', ';'], ['--raw']]) {
      await assert.rejects(completeCommand(['--file', 'media/sample.py', '--line', '1', '--column', '1', ...flag]),
        oneLine(new RegExp(`^complete: ${flag[0]} applies to --prompt and stdin; --file shows what the editor would`)));
    }
    await assert.rejects(completeCommand(['--file', '/nonexistent/a.py', '--line', '1', '--column', '1']), oneLine(/^complete: \/nonexistent\/a\.py does not exist; give the file to complete in$/));
    await assert.rejects(completeCommand(['--file', os.tmpdir(), '--line', '1', '--column', '1']), oneLine(/^complete: .* is a folder; give the file to complete in$/));
    // A FIFO is refused by name, not read: reading one would wait for a writer forever.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gpt2c-fifo-'));
    const fifo = path.join(dir, 'a.py');
    execFileSync('mkfifo', [fifo]);
    try {
      await assert.rejects(completeCommand(['--file', fifo, '--line', '1', '--column', '1']), oneLine(/^complete: .*a\.py is a FIFO \(named pipe\), not a file; give the file to complete in$/));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('--threads: 1 to 4 per core, every core by default (a shell job has the machine)', async () => {
    const cores = os.availableParallelism();
    assert.equal(threadsFlag(undefined), cores);
    assert.equal(threadsFlag(String(4 * cores)), 4 * cores);
    for (const bad of ['100000', '1e9', String(4 * cores + 1), '0', '-2', '1.5', 'many']) {
      assert.throws(() => threadsFlag(bad), oneLine(new RegExp(`^--threads must be an integer from 1 to ${4 * cores} \\(4 × this machine's ${cores} cores\\) \\(got "${bad.replace('.', '\\.')}"\\)$`)));
    }
    // Refused before any model is looked at or loaded.
    await assert.rejects(completeCommand(['--model', '/nonexistent', '--prompt', 'x', '--threads', '100000']), oneLine(/^--threads must be an integer from 1 to/));
  });
});
