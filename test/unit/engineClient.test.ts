import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { NAMED_CONFIGS } from '../../src/engine/config';
import { CancelledError } from '../../src/engine/errors';
import { writeRandomCheckpoint } from '../../src/engine/randomCheckpoint';
import { EngineClient, EngineExitError, engineEnvironment } from '../../src/vscode/engineClient';
import type { EngineCompleteRequest } from '../../src/vscode/engineProtocol';

/** The engine process from source: a .cjs entry that registers tsx, as bench/completion.ts does. */
function entryFromSource(dir: string): string {
  const entry = path.join(dir, 'engineProcess.cjs');
  fs.writeFileSync(
    entry,
    `require(${JSON.stringify(require.resolve('tsx/cjs/api'))}).register();\n` +
      `require(${JSON.stringify(path.join(__dirname, '..', '..', 'src', 'vscode', 'engineProcess.ts'))});\n`,
  );
  return entry;
}

const request: EngineCompleteRequest = {
  textBeforeCursor: 'function add(a, b) {\n  return',
  previousWindowStart: undefined,
  maxTokens: 8,
  temperature: 0,
  topP: undefined,
  seed: 0,
  n: 1,
  maxLines: 1,
  deadlineMs: undefined,
};

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('EngineClient (engine in a child process)', function () {
  this.timeout(120_000);
  let dir: string;
  let entry: string;
  let model: string;

  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'engine-client-'));
    entry = entryFromSource(dir);
    model = path.join(dir, 'model');
    writeRandomCheckpoint(model, NAMED_CONFIGS.tiny, 3);
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  const load = (client: EngineClient) =>
    client.load({ checkpointDir: model, modelsRoot: dir, graphCacheDir: path.join(dir, 'graphs'), device: 'cpu', threads: 1 });

  it('loads, completes, and dispose ends the process (its memory goes with it)', async () => {
    const client = new EngineClient(entry);
    const info = await load(client);
    assert.strictEqual(info.device.provider, 'cpu');
    const result = await client.complete(request);
    assert.strictEqual(result.candidates.length, 1);
    assert.ok(result.candidates[0].tokenCount >= 1);
    const pid = client.pid!;
    assert.ok(pid !== process.pid && isAlive(pid));
    if (fs.existsSync(`/proc/${pid}/environ`)) {
      // glibc reads these at start: freed buffers go back to the system (engineEnvironment).
      const env = fs.readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
      assert.ok(env.includes('MALLOC_MMAP_THRESHOLD_=131072') && env.includes('MALLOC_TRIM_THRESHOLD_=131072'), 'malloc thresholds reach the engine process');
    }
    await client.dispose();
    assert.ok(!isAlive(pid), 'the engine process is gone after dispose');
  });

  it("engineEnvironment: runs as Node under Electron, and the user's own malloc settings win", () => {
    const env = engineEnvironment({ PATH: '/bin', MALLOC_TRIM_THRESHOLD_: '0', ELECTRON_RUN_AS_NODE: '0' });
    assert.deepStrictEqual(env, { PATH: '/bin', MALLOC_MMAP_THRESHOLD_: '131072', MALLOC_TRIM_THRESHOLD_: '0', ELECTRON_RUN_AS_NODE: '1' });
  });

  it('a native crash of the engine rejects pending requests and leaves this process running', async () => {
    let exitError: Error | undefined;
    const client = new EngineClient(entry, { onExit: (e) => (exitError = e) });
    await load(client);
    const pending = client.complete({ ...request, maxTokens: 64, maxLines: undefined });
    // What onnxruntime's WebGPU provider did on an H100 (scripts/gpu-check.ts): SIGFPE in native code.
    process.kill(client.pid!, 'SIGFPE');
    await assert.rejects(pending, (e: Error) => /model process crashed \(SIGFPE\)/.test(e.message));
    assert.match(exitError?.message ?? '', /crashed \(SIGFPE\)/);
    assert.ok(exitError instanceof EngineExitError && exitError.signal === 'SIGFPE', 'the signal is reported as data');
    await assert.rejects(client.complete(request), /model process crashed/);
    await client.dispose();
  });

  it('cancellation through an AbortSignal rejects at once with CancelledError', async () => {
    const client = new EngineClient(entry);
    await load(client);
    const controller = new AbortController();
    const p = client.complete({ ...request, maxTokens: 64, maxLines: undefined }, controller.signal);
    controller.abort();
    await assert.rejects(p, (e: unknown) => e instanceof CancelledError);
    // The process keeps serving after a cancel.
    assert.ok((await client.complete(request)).candidates.length === 1);
    await client.dispose();
  });
});
