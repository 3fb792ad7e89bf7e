/**
 * The words the status bar uses for the device the model runs on. The engine's reason is written
 * for a log ("auto: CUDA provider files not installed (libonnxruntime_providers_cuda.so … in …);
 * using CPU"): on a machine without a GPU that paragraph is noise, so the status bar says what
 * happened in a few words and the reason stays in the log. No `vscode` import.
 */
import * as fs from 'fs';
import type { DeviceInfo } from '../engine/model';

/** "1 thread", "4 threads". */
export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

const PROVIDER_LABELS: Record<string, string> = { cpu: 'CPU', cuda: 'CUDA', dml: 'DirectML', coreml: 'CoreML', webgpu: 'WebGPU' };

export function providerLabel(provider: string): string {
  return PROVIDER_LABELS[provider] ?? provider;
}

/**
 * Whether this machine has a GPU that `device: auto` could have used. Linux: the NVIDIA driver is
 * loaded (CUDA is the only GPU provider auto tries there). Elsewhere there is no cheap check, so a
 * GPU is assumed present and a fallback is reported as "not usable" rather than "not found".
 */
export function gpuPresent(platform: NodeJS.Platform = process.platform, exists: (p: string) => boolean = fs.existsSync): boolean {
  if (platform !== 'linux') return true;
  return exists('/proc/driver/nvidia/version') || exists('/dev/nvidia0');
}

/**
 * One short phrase for the tooltip: "CPU (no GPU found), 4 threads", "CPU (as configured), 1 thread",
 * "CUDA (auto)". A fallback on a machine with a GPU points at the log, where the reason is.
 */
export function describeDevice(device: DeviceInfo, hasGpu: boolean): string {
  const name = providerLabel(device.provider);
  const threads = device.provider === 'cpu' ? `, ${plural(device.threads, 'thread')}` : '';
  const auto = device.reason.startsWith('auto:');
  let why: string;
  if (device.provider === 'cpu' && auto) why = hasGpu ? 'the GPU could not be used: see the log' : 'no GPU found';
  else why = auto ? 'auto' : 'as configured';
  return `${name} (${why})${threads}`;
}
