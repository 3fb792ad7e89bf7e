/**
 * `gpt2-complete bench` in-process (the function src/cli.ts registers) and the benchmarkEngine it
 * runs: what is measured follows the model's context, every figure is a real positive timing, and
 * bad flags are one-line errors.
 */
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { benchCommand } from '../../src/cli/benchCommand';
import { NAMED_CONFIGS, type GPT2Config } from '../../src/engine/config';
import { UserError } from '../../src/engine/errors';
import { writeRandomCheckpoint } from '../../src/engine/randomCheckpoint';
import { captureStdout } from '../helpers/captureStdout';

/** Runs the command and returns what it printed on stdout. */
async function run(argv: string[]): Promise<string> {
  return captureStdout(() => benchCommand([...argv, '--device', 'cpu', '--threads', '1']));
}

interface BenchJson {
  model: string;
  device: string;
  threads: number;
  precision: string;
  load_ms: number;
  prefill_ms: Record<string, number>;
  decode_tokens_per_s: Record<string, { plain: number; drafted: number }>;
  edit_ms: number;
  rss_mib: number;
}

describe('bench command', function () {
  this.timeout(120_000);
  let dir: string;
  const shortContext: GPT2Config = { ...NAMED_CONFIGS.tiny, nPositions: 300 };

  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-cmd-'));
    writeRandomCheckpoint(path.join(dir, 'short'), shortContext, 1);
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('--json: measures what fits a 300-token context, with real timings', async () => {
    const r = JSON.parse(await run(['--model', path.join(dir, 'short'), '--reps', '1', '--precision', 'int8', '--json'])) as BenchJson;
    assert.equal(r.device, 'cpu');
    assert.equal(r.threads, 1);
    assert.equal(r.precision, 'int8');
    assert.deepEqual(Object.keys(r.prefill_ms), ['256'], 'prefills longer than the context are left out');
    assert.deepEqual(Object.keys(r.decode_tokens_per_s), ['64'], 'decode at context 1000 does not fit');
    const timings = [r.load_ms, r.prefill_ms['256'], r.decode_tokens_per_s['64'].plain, r.decode_tokens_per_s['64'].drafted, r.edit_ms, r.rss_mib];
    assert.ok(timings.every((x) => Number.isFinite(x) && x > 0), JSON.stringify(r));
  });

  it('uses every core unless --threads says otherwise (a shell job, not the editor)', async () => {
    const out = await captureStdout(() => benchCommand(['--model', path.join(dir, 'short'), '--reps', '1', '--device', 'cpu', '--json']));
    assert.equal((JSON.parse(out) as BenchJson).threads, os.availableParallelism());
  });

  it('prints a table by default', async () => {
    const out = await run(['--model', path.join(dir, 'short'), '--reps', '1']);
    assert.match(out, /^cold prefill, 256 tokens +\d+(\.\d+)? ms$/m);
    assert.match(out, /^decode at context 64 +\d+(\.\d+)? tokens\/s \(\d+(\.\d+)? with prompt-lookup drafts\)$/m);
    assert.match(out, /^one-token edit at the end of 298 tokens \(the rest cached\), to its first new token +\d+(\.\d+)? ms$/m);
  });

  it('bad flags are one-line errors', async () => {
    await assert.rejects(run(['--model', path.join(dir, 'short'), '--reps', '0']), (e: Error) => e instanceof UserError && /--reps must be an integer ≥ 1/.test(e.message));
    await assert.rejects(run(['--model', path.join(dir, 'missing')]), (e: Error) => e instanceof UserError && !e.message.includes('\n'));
  });
});
