import assert from 'node:assert/strict';
import * as os from 'node:os';
import * as path from 'node:path';
import { UserError } from '../../src/engine/errors';
import {
  chooseExecutionProvider, defaultThreads, nodeEnvironment, parseDevice, type ProviderEnvironment,
} from '../../src/engine/executionProvider';
import { OrtModel } from '../../src/engine/ortModel';
import { SMALL_CONFIG, testWeights } from '../helpers/randomWeights';

/** An environment for another platform: which backends exist, which files are there, which probes pass. */
function fakeEnv(o: {
  platform: NodeJS.Platform;
  backends: { name: string; bundled: boolean }[];
  files?: string[];
  working?: string[];
}): ProviderEnvironment & { probed: string[] } {
  const probed: string[] = [];
  return {
    platform: o.platform,
    arch: 'x64',
    backends: () => o.backends,
    bindingDir: '/ort/bin',
    fileExists: (p) => (o.files ?? []).includes(path.basename(p)),
    probe: async (provider) => {
      probed.push(provider);
      if (!(o.working ?? []).includes(provider)) throw new Error(`${provider} init failed\nsecond line`);
    },
    probed,
  };
}

const linuxBackends = [{ name: 'cpu', bundled: true }, { name: 'webgpu', bundled: true }, { name: 'cuda', bundled: false }];
const cudaFiles = ['libonnxruntime_providers_cuda.so', 'libonnxruntime_providers_shared.so'];

describe('executionProvider', () => {
  describe('on this machine', () => {
    const env = nodeEnvironment();
    const cudaInstalled = cudaFiles.every((f) => env.fileExists(path.join(env.bindingDir, f)));

    it('cpu works, with the threads asked for', async () => {
      const c = await chooseExecutionProvider({ device: 'cpu', threads: 3 });
      assert.deepEqual(c.device, { provider: 'cpu', reason: 'cpu: as configured', threads: 3 });
      assert.deepEqual(c.executionProviders, ['cpu']);
      await env.probe('cpu');
    });

    it('auto falls back to CPU and says why (CUDA)', async function () {
      if (process.platform !== 'linux' || cudaInstalled) this.skip();
      const c = await chooseExecutionProvider({ device: 'auto' });
      assert.equal(c.device.provider, 'cpu');
      assert.match(c.device.reason, /^auto: .*CUDA.*; using CPU$/);
      assert.ok(!c.device.reason.includes('\n'));
      assert.equal(c.device.threads, defaultThreads());
    });

    it('an explicit cuda is a one-line UserError saying what to install', async function () {
      if (process.platform !== 'linux' || cudaInstalled) this.skip();
      await assert.rejects(chooseExecutionProvider({ device: 'cuda' }), (e: unknown) => {
        assert.ok(e instanceof UserError);
        assert.match(e.message, /^device "cuda": CUDA provider files not installed/);
        assert.match(e.message, /ONNXRUNTIME_NODE_INSTALL=cuda12/);
        assert.match(e.message, /set device to "auto" or "cpu"$/);
        assert.ok(!e.message.includes('\n'));
        return true;
      });
      await assert.rejects(OrtModel.load({ weights: testWeights(SMALL_CONFIG, 1), device: 'cuda' }), UserError);
    });

    it('auto loads a model and reports the device', async () => {
      const model = await OrtModel.load({ weights: testWeights(SMALL_CONFIG, 1), device: 'auto', threads: 1 });
      try {
        assert.equal(model.device.threads, 1);
        assert.ok(model.device.reason.startsWith('auto: '));
        const { logits } = await model.forward([[1, 2, 3]], null);
        assert.equal(logits.length, SMALL_CONFIG.vocabSize);
      } finally {
        await model.dispose();
      }
    });
  });

  describe('choices per platform', () => {
    it('Linux: auto takes CUDA when its files are installed and it starts', async () => {
      const env = fakeEnv({ platform: 'linux', backends: linuxBackends, files: cudaFiles, working: ['cuda'] });
      const c = await chooseExecutionProvider({ device: 'auto', threads: 2 }, env);
      assert.deepEqual(c.device, { provider: 'cuda', reason: 'auto: CUDA available', threads: 2 });
      assert.deepEqual(c.executionProviders, ['cuda']);
    });

    it('Linux: auto does not probe CUDA when its files are missing, and never tries WebGPU', async () => {
      const env = fakeEnv({ platform: 'linux', backends: linuxBackends, working: ['webgpu'] });
      const c = await chooseExecutionProvider({ device: 'auto' }, env);
      assert.equal(c.device.provider, 'cpu');
      assert.match(c.device.reason, /CUDA provider files not installed \(libonnxruntime_providers_cuda\.so, libonnxruntime_providers_shared\.so/);
      assert.deepEqual(env.probed, []);
    });

    it('Linux: CUDA files present but the provider fails to start: auto falls back with the first error line', async () => {
      const env = fakeEnv({ platform: 'linux', backends: linuxBackends, files: cudaFiles });
      const c = await chooseExecutionProvider({ device: 'auto' }, env);
      assert.equal(c.device.reason, 'auto: the CUDA provider failed to start (cuda init failed); using CPU');
      await assert.rejects(chooseExecutionProvider({ device: 'cuda' }, env), /CUDA and cuDNN runtime libraries/);
    });

    it('Windows: auto takes DirectML, or falls back naming it', async () => {
      const backends = [{ name: 'cpu', bundled: true }, { name: 'dml', bundled: true }, { name: 'webgpu', bundled: true }];
      const ok = await chooseExecutionProvider({ device: 'auto' }, fakeEnv({ platform: 'win32', backends, working: ['dml'] }));
      assert.equal(ok.device.provider, 'dml');
      const broken = await chooseExecutionProvider({ device: 'auto' }, fakeEnv({ platform: 'win32', backends }));
      assert.equal(broken.device.provider, 'cpu');
      assert.match(broken.device.reason, /DirectML provider failed to start/);
    });

    it('macOS: auto takes CoreML', async () => {
      const backends = [{ name: 'cpu', bundled: true }, { name: 'coreml', bundled: true }];
      const c = await chooseExecutionProvider({ device: 'auto' }, fakeEnv({ platform: 'darwin', backends, working: ['coreml'] }));
      assert.equal(c.device.provider, 'coreml');
    });

    it('an explicit provider this build lacks is a UserError listing what it has', async () => {
      const env = fakeEnv({ platform: 'linux', backends: linuxBackends });
      await assert.rejects(chooseExecutionProvider({ device: 'dml' }, env), (e: unknown) =>
        e instanceof UserError && /no DirectML provider for linux-x64 \(it has: cpu, webgpu, cuda\)/.test(e.message));
      await assert.rejects(chooseExecutionProvider({ device: 'webgpu' }, env), (e: unknown) =>
        e instanceof UserError && /WebGPU provider failed to start.*Vulkan/.test(e.message));
    });

    it('settings are checked', async () => {
      assert.equal(parseDevice(undefined), 'auto');
      assert.equal(parseDevice(' CUDA '), 'cuda');
      assert.throws(() => parseDevice('tpu'), UserError);
      await assert.rejects(chooseExecutionProvider({ device: 'cpu', threads: 0 }), UserError);
      assert.equal(defaultThreads(), Math.max(1, os.availableParallelism() - 1));
    });
  });
});
