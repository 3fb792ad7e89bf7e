/**
 * Chooses the onnxruntime execution provider from the `device` setting and says why, in one line.
 * `auto` tries the GPU provider this platform's onnxruntime-node can have (CUDA on Linux x64, DirectML on
 * Windows, CoreML on macOS) and falls back to CPU with the reason; an explicit provider that cannot
 * start is a UserError saying what to install or set. WebGPU is only used when asked for: on a machine
 * without a real GPU driver it either fails or runs in software, slower than the CPU provider.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import type { DeviceInfo } from './model';
import { UserError } from './errors';
import { GraphBuilder } from './onnx/ir';
import { serializeModel } from './onnx/protoWriter';

export const DEVICE_OPTIONS = ['auto', 'cpu', 'cuda', 'dml', 'coreml', 'webgpu'] as const;
export type DeviceOption = (typeof DEVICE_OPTIONS)[number];
type Provider = Exclude<DeviceOption, 'auto'>;

const PROVIDER_NAMES: Record<Provider, string> = {
  cpu: 'CPU', cuda: 'CUDA', dml: 'DirectML', coreml: 'CoreML', webgpu: 'WebGPU',
};

/** What this process's onnxruntime-node offers; injectable so tests can play other platforms. */
export interface ProviderEnvironment {
  platform: NodeJS.Platform;
  arch: string;
  /** onnxruntime-node's listSupportedBackends(). */
  backends(): readonly { name: string; bundled: boolean }[];
  /** The folder holding libonnxruntime and its provider libraries. */
  bindingDir: string;
  fileExists(p: string): boolean;
  /** Starts a session on `provider`; rejects with the runtime's error when it cannot. */
  probe(provider: Provider): Promise<void>;
}

export interface ExecutionChoice {
  /** For InferenceSession.SessionOptions.executionProviders. */
  executionProviders: ort.InferenceSession.ExecutionProviderConfig[];
  device: DeviceInfo;
}

/** All cores but one, which stays free for the editor. */
export function defaultThreads(): number {
  return Math.max(1, os.availableParallelism() - 1);
}

export function parseDevice(device: string | undefined): DeviceOption {
  const d = (device ?? 'auto').trim().toLowerCase();
  if ((DEVICE_OPTIONS as readonly string[]).includes(d)) return d as DeviceOption;
  throw new UserError(`device "${device}" is not one of ${DEVICE_OPTIONS.join(', ')}`);
}

/**
 * The most threads accepted: 4 per core. More only oversubscribes the cores, and onnxruntime
 * allocates per thread up front (100000 threads hung while taking 2 GB; 1e9 died in std::bad_alloc).
 */
export function maxThreads(cores = os.availableParallelism()): number {
  return 4 * cores;
}

export function parseThreads(threads: number | undefined): number {
  if (threads === undefined) return defaultThreads();
  const cores = os.availableParallelism();
  if (!Number.isInteger(threads) || threads < 1 || threads > maxThreads(cores)) {
    throw new UserError(`threads must be an integer from 1 to ${maxThreads(cores)} (4 × this machine's ${cores} cores); found ${threads}`);
  }
  return threads;
}

export async function chooseExecutionProvider(
  opts: { device?: string; threads?: number },
  env: ProviderEnvironment = nodeEnvironment(),
): Promise<ExecutionChoice> {
  const device = parseDevice(opts.device);
  const threads = parseThreads(opts.threads);
  const choice = (provider: Provider, reason: string): ExecutionChoice => ({
    executionProviders: [provider],
    device: { provider, reason, threads },
  });
  if (device === 'cpu') return choice('cpu', 'cpu: as configured');
  if (device !== 'auto') {
    const why = await unavailable(device, env);
    if (why) throw new UserError(`device "${device}": ${why.message}; ${why.fix}, or set device to "auto" or "cpu"`);
    return choice(device, `${device}: as configured`);
  }
  const gpu = autoCandidate(env);
  if (!gpu) return choice('cpu', `auto: no GPU provider in onnxruntime-node for ${env.platform}-${env.arch}; using CPU`);
  const why = await unavailable(gpu, env);
  if (why) return choice('cpu', `auto: ${why.message}; using CPU`);
  return choice(gpu, `auto: ${PROVIDER_NAMES[gpu]} available`);
}

/** The GPU provider `auto` tries on this platform, if onnxruntime-node has one here. */
function autoCandidate(env: ProviderEnvironment): Provider | undefined {
  const want: Provider | undefined =
    env.platform === 'linux' ? 'cuda' : env.platform === 'win32' ? 'dml' : env.platform === 'darwin' ? 'coreml' : undefined;
  return want && env.backends().some((b) => b.name === want) ? want : undefined;
}

interface Unavailable {
  message: string;
  fix: string;
}

/** The CUDA provider libraries onnxruntime-node loads from beside its own runtime library. */
function cudaLibraries(platform: NodeJS.Platform): { files: string[]; runtime: string } {
  return platform === 'win32'
    ? { files: ['onnxruntime_providers_cuda.dll', 'onnxruntime_providers_shared.dll'], runtime: 'onnxruntime.dll' }
    : { files: ['libonnxruntime_providers_cuda.so', 'libonnxruntime_providers_shared.so'], runtime: 'libonnxruntime.so.1' };
}

/** Why `provider` cannot start here (undefined when it can): checked files first, then a probe session. */
async function unavailable(provider: Provider, env: ProviderEnvironment): Promise<Unavailable | undefined> {
  const name = PROVIDER_NAMES[provider];
  const backend = env.backends().find((b) => b.name === provider);
  if (!backend) {
    const have = env.backends().map((b) => b.name).join(', ');
    return {
      message: `onnxruntime-node has no ${name} provider for ${env.platform}-${env.arch} (it has: ${have})`,
      fix: `use a platform where ${name} exists`,
    };
  }
  if (provider === 'cuda' && !backend.bundled) {
    const libs = cudaLibraries(env.platform);
    const missing = libs.files.filter((f) => !env.fileExists(path.join(env.bindingDir, f)));
    if (missing.length > 0) {
      return {
        message: `CUDA provider files not installed (${missing.join(', ')} not next to ${libs.runtime} in ${env.bindingDir})`,
        fix: 'reinstall onnxruntime-node with ONNXRUNTIME_NODE_INSTALL=cuda12 (needs the CUDA 12 and cuDNN 9 runtimes)',
      };
    }
  }
  try {
    await env.probe(provider);
    return undefined;
  } catch (e) {
    const detail = firstLine(e);
    const fix: Record<Provider, string> = {
      cpu: 'reinstall onnxruntime-node',
      cuda: 'check the NVIDIA driver and that the CUDA and cuDNN runtime libraries are on the library path',
      dml: 'update the GPU driver (DirectML needs DirectX 12)',
      coreml: 'update macOS',
      webgpu: env.platform === 'linux' ? 'install a Vulkan driver (libvulkan.so.1) for the GPU' : 'update the GPU driver',
    };
    return { message: `the ${name} provider failed to start (${detail})`, fix: fix[provider] };
  }
}

function firstLine(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  const line = msg.split('\n').map((l) => l.trim()).find((l) => l.length > 0) ?? 'unknown error';
  return line.length > 200 ? line.slice(0, 200) + '…' : line;
}

let probeModel: Uint8Array | undefined;
const probes = new Map<Provider, Promise<void>>();

/** The real environment: this process's onnxruntime-node. Probe results are kept for the process. */
export function nodeEnvironment(): ProviderEnvironment {
  const pkg = require.resolve('onnxruntime-node/package.json');
  return {
    platform: process.platform,
    arch: process.arch,
    backends: () => ort.listSupportedBackends(),
    bindingDir: path.join(path.dirname(pkg), 'bin', 'napi-v6', process.platform, process.arch),
    fileExists: (p) => fs.existsSync(p),
    probe: (provider) => {
      let p = probes.get(provider);
      if (!p) {
        p = (async () => {
          const session = await ort.InferenceSession.create(tinyModel(), { executionProviders: [provider] });
          await session.release();
        })();
        probes.set(provider, p);
      }
      return p;
    },
  };
}

/** y = x + x: the smallest model that makes a provider initialise. */
function tinyModel(): Uint8Array {
  if (!probeModel) {
    const g = new GraphBuilder('probe');
    const x = g.input('x', 'float32', [1]);
    g.output(g.add(x, x), 'y');
    probeModel = serializeModel(g.build());
  }
  return probeModel;
}
