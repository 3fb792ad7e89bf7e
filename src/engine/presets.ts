/**
 * The GPT-2 family the extension offers by name, and how a model setting ("gpt2", or a folder)
 * becomes a checkpoint folder. The embedded model is resolved elsewhere.
 */
import * as fs from 'fs';
import * as path from 'path';
import { NAMED_CONFIGS, parameterCount, type GPT2Config } from './config';
import { CONFIG_FILE, WEIGHTS_FILE } from './checkpoint';
import { UserError } from './errors';
import { describeKind, pathKind } from './pathKind';

export interface Preset {
  name: string;
  /** Key of NAMED_CONFIGS with this model's shape. */
  configName: string;
  /** Number of parameters (tied head counted once). */
  parameters: number;
  /** Approximate bytes of model.safetensors as published: fp32, plus the attention-mask buffers those files carry. */
  approxBytes: number;
  /** Hugging Face repository id. */
  repo: string;
  /**
   * SHA-256 (hex) of files as published in `repo` (main), checked on download instead of trusting
   * the hash the same server sends. Only values confirmed in independent public records are pinned;
   * presets without them are listed in README.md (Models).
   */
  sha256?: Readonly<Record<string, string>>;
}

function preset(name: string, configName: string, repo: string, sha256?: Record<string, string>): Preset {
  const c: GPT2Config = NAMED_CONFIGS[configName];
  return {
    name,
    configName,
    parameters: parameterCount(c),
    approxBytes: 4 * (parameterCount(c) + c.nLayer * c.nPositions * c.nPositions),
    repo,
    sha256,
  };
}

export const PRESETS: readonly Preset[] = [
  // 548,105,171 bytes and 665 bytes, as published at revision 607a30d783dfa663caf39e06633721c8d4cfcd7e.
  preset('gpt2', 'small', 'openai-community/gpt2', {
    'model.safetensors': '248dfc3911869ec493c76e65bf2fcf7f615828b0254c12b473182f0f81d3a707',
    'config.json': '0daed7749b4f02b8f76240d5444551d7b08712dab4d0adb8239c56ba823bb7b4',
  }), // 124M, ~548 MB
  preset('gpt2-medium', 'medium', 'openai-community/gpt2-medium'), // 355M, ~1.5 GB
  preset('gpt2-large', 'large', 'openai-community/gpt2-large'), // 774M, ~3.2 GB
  preset('gpt2-xl', 'xl', 'openai-community/gpt2-xl'), // 1.5B, ~6.4 GB
  // 352,824,413 and 762 bytes, as published at revision 2290a62682d06624634c1f46a6ad5be0f47f38aa.
  preset('distilgpt2', 'distil', 'distilbert/distilgpt2', {
    'model.safetensors': 'e1ff18884359fe8beb795a5f414feb85a6ce3d929ad019c0d958c039d2b94a1b',
    'config.json': '4ec5947c1d59fee6212cdf3b0ec1a53eac02092554c5ff0a733488cbd2c64f3a',
  }), // 82M, ~353 MB
];

export function findPreset(name: string): Preset | undefined {
  return PRESETS.find((p) => p.name === name);
}

/** The pinned SHA-256 of a preset's files, by its repository (undefined: none pinned). */
export function pinnedSha256(repo: string): Readonly<Record<string, string>> | undefined {
  return PRESETS.find((p) => p.repo === repo)?.sha256;
}

/** Where the files of a preset come from. */
export function presetUrl(p: Preset): string {
  return `https://huggingface.co/${p.repo}`;
}

/**
 * The checkpoint folder for a model setting: an existing folder as is; a preset name as
 * `<modelsRoot>/<name>` once its config.json is there. Anything else is a UserError saying what to do.
 */
export function resolveModel(spec: string, modelsRoot: string): string {
  const asPath = path.resolve(spec);
  const kind = pathKind(asPath);
  if (kind === 'folder') return asPath;
  if (kind !== 'missing' && !findPreset(spec)) {
    throw new UserError(`model ${spec} ${kind === 'file' ? 'is a file' : describeKind(kind)}; pass a checkpoint folder (with ${CONFIG_FILE} and ${WEIGHTS_FILE}) or a preset name`);
  }
  const p = findPreset(spec);
  if (p) {
    const folder = path.join(modelsRoot, p.name);
    if (fs.existsSync(path.join(folder, CONFIG_FILE))) return folder;
    throw new UserError(
      `model ${p.name} is not downloaded: put ${CONFIG_FILE} and ${WEIGHTS_FILE} from ${presetUrl(p)} into ${folder} (or pass a checkpoint folder)`,
    );
  }
  const names = PRESETS.map((x) => x.name).join(', ');
  if (/[\\/]/.test(spec) || spec.startsWith('.') || spec.startsWith('~')) {
    throw new UserError(`model folder ${spec} does not exist; pass a checkpoint folder or one of: ${names}`);
  }
  throw new UserError(`unknown model "${spec}": not a folder and not one of ${names}`);
}
