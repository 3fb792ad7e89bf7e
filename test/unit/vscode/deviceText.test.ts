// The status bar's device words: short, pluralized, and no CUDA paragraph on a machine without a GPU.
import { strict as assert } from 'node:assert';
import { describeDevice, gpuPresent, plural } from '../../../src/vscode/deviceText';

describe('device text', () => {
  const cudaMissing = {
    provider: 'cpu',
    reason: 'auto: CUDA provider files not installed (libonnxruntime_providers_cuda.so, libonnxruntime_providers_shared.so not next to libonnxruntime.so.1 in /x/bin); using CPU',
    threads: 1,
  };

  it('says "no GPU found" on auto without a GPU, and leaves the file names to the log', () => {
    const text = describeDevice(cudaMissing, false);
    assert.equal(text, 'CPU (no GPU found), 1 thread');
    assert.doesNotMatch(text, /CUDA|\.so/);
  });

  it('points at the log when a GPU is there but could not be used', () => {
    assert.equal(describeDevice({ ...cudaMissing, threads: 4 }, true), 'CPU (the GPU could not be used: see the log), 4 threads');
  });

  it('names a configured CPU and a GPU provider', () => {
    assert.equal(describeDevice({ provider: 'cpu', reason: 'cpu: as configured', threads: 2 }, false), 'CPU (as configured), 2 threads');
    assert.equal(describeDevice({ provider: 'cuda', reason: 'auto: CUDA available', threads: 8 }, true), 'CUDA (auto)');
  });

  it('pluralizes', () => {
    assert.equal(plural(1, 'thread'), '1 thread');
    assert.equal(plural(0, 'thread'), '0 threads');
    assert.equal(plural(3, 'thread'), '3 threads');
  });

  it('finds an NVIDIA GPU on Linux through its driver, and assumes one elsewhere', () => {
    assert.equal(gpuPresent('linux', () => false), false);
    assert.equal(gpuPresent('linux', (p) => p === '/proc/driver/nvidia/version'), true);
    assert.equal(gpuPresent('win32', () => false), true);
  });
});
