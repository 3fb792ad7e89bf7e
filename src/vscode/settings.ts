/**
 * The `gpt2Complete.*` settings as one typed, validated record. Values from hand-edited
 * settings.json can be anything, so every field falls back to its default (or is clamped)
 * instead of failing later in the pipeline.
 */
import * as os from 'os';
import * as path from 'path';
import * as vscode from 'vscode';
import { DEFAULT_LANGUAGE_ENABLEMENT, type LanguageEnablement } from '../completion';
import { DEFAULT_MIN_CONFIDENCE } from '../completion/minConfidence';
import { PRECISION_SETTINGS, type PrecisionSetting } from '../engine/quantize';

export const SECTION = 'gpt2Complete';

export const MODEL_CHOICES = ['embedded', 'gpt2', 'gpt2-medium', 'gpt2-large', 'gpt2-xl', 'distilgpt2'] as const;
export const DEVICE_CHOICES = ['auto', 'cpu', 'cuda', 'dml', 'coreml', 'webgpu'] as const;

export interface Settings {
  readonly enable: boolean;
  readonly languages: LanguageEnablement;
  /** 'embedded' or a preset name; ignored when `modelPath` is set. */
  readonly model: string;
  /** A checkpoint folder, already expanded (`~`, `${workspaceFolder}`); '' when unset. */
  readonly modelPath: string;
  readonly device: string;
  /** undefined = automatic (all cores but one). */
  readonly threads: number | undefined;
  /** Weight precision; auto = int8 on the CPU, fp32 on a GPU (engine/quantize.ts autoPrecision). */
  readonly precision: PrecisionSetting;
  readonly maxTokens: number;
  readonly temperature: number;
  readonly debounceMs: number;
  /** Hide automatic suggestions whose P(accepted) from the acceptance head is below this (0: show all). */
  readonly minConfidence: number;
  /** 0 = never unload. */
  readonly idleUnloadMinutes: number;
  /** Fine-tuning's file globs (relative to the folder it reads); an empty include keeps every file. */
  readonly fineTuneInclude: readonly string[];
  readonly fineTuneExclude: readonly string[];
  /** A file with a secret in its text: left out of fine-tuning (default) or used without the secret's lines. */
  readonly fineTuneSecrets: 'skip-file' | 'drop-lines';
  /** Mix the workspace cache model (an n-gram model of the workspace's code) into the model's distribution. */
  readonly cacheModel: boolean;
  /** Snippets of similar code from other workspace files before the file window in the prompt. */
  readonly context: boolean;
  /** The workspace index's cap, in MB of source text. */
  readonly indexMaxMB: number;
  /** Keep the local accept/reject log of shown suggestions (labels for the acceptance head). */
  readonly suggestionLog: boolean;
}

/** Settings whose change means a different model session (a reload). */
export const MODEL_KEYS = ['model', 'modelPath', 'device', 'threads', 'precision'] as const;

export const DEFAULTS: Settings = {
  enable: true,
  languages: { ...DEFAULT_LANGUAGE_ENABLEMENT, markdown: true },
  model: 'embedded',
  modelPath: '',
  device: 'auto',
  threads: undefined,
  precision: 'auto',
  maxTokens: 64,
  temperature: 0,
  // Copilot's 200 ms display floor; the adaptive debouncer moves within [100, 800] ms from here.
  debounceMs: 200,
  minConfidence: DEFAULT_MIN_CONFIDENCE,
  idleUnloadMinutes: 15,
  fineTuneInclude: [],
  fineTuneExclude: [],
  fineTuneSecrets: 'skip-file',
  cacheModel: true,
  // Off: measured no better with the embedded model (bench/QUALITY.md, "Workspace context").
  context: false,
  indexMaxMB: 12,
  suggestionLog: true,
};

function numberIn(value: unknown, min: number, max: number, fallback: number): number {
  return typeof value === 'number' && Number.isFinite(value) ? Math.min(max, Math.max(min, value)) : fallback;
}

function oneOf<T extends string>(value: unknown, choices: readonly T[], fallback: T): T {
  return typeof value === 'string' && (choices as readonly string[]).includes(value) ? (value as T) : fallback;
}

/** The non-empty strings of a glob list; anything else in a hand-edited settings.json is dropped. */
export function globList(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((g): g is string => typeof g === 'string' && g.trim() !== '').map((g) => g.trim()) : [];
}

function languageMap(value: unknown): LanguageEnablement {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return DEFAULTS.languages;
  const map: Record<string, boolean> = {};
  for (const [language, on] of Object.entries(value as Record<string, unknown>)) {
    if (typeof on === 'boolean') map[language] = on;
  }
  return map;
}

/** `~` and `${workspaceFolder}` as in other path settings; a relative path is taken from the first workspace folder. */
export function expandModelPath(raw: string, homeDir: string, workspaceFolder: string | undefined): string {
  let p = raw.trim();
  if (p === '') return '';
  if (workspaceFolder !== undefined) p = p.replace(/\$\{workspaceFolder\}/g, () => workspaceFolder);
  if (p === '~' || p.startsWith('~/') || p.startsWith('~\\')) p = path.join(homeDir, p.slice(1));
  if (!path.isAbsolute(p) && workspaceFolder !== undefined) p = path.join(workspaceFolder, p);
  return p;
}

export function readSettings(): Settings {
  const c = vscode.workspace.getConfiguration(SECTION);
  // The engine refuses more than four threads a core (they only contend); clamp rather than fail.
  const threads = numberIn(c.get('threads'), 0, Math.max(1, os.cpus().length) * 4, 0);
  const workspaceFolder = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
  const rawPath = c.get('modelPath');
  return {
    enable: c.get('enable') !== false,
    languages: languageMap(c.get('languages')),
    model: oneOf(c.get('model'), MODEL_CHOICES, 'embedded'),
    modelPath: typeof rawPath === 'string' ? expandModelPath(rawPath, os.homedir(), workspaceFolder) : '',
    device: oneOf(c.get('device'), DEVICE_CHOICES, 'auto'),
    threads: threads >= 1 ? Math.floor(threads) : undefined,
    precision: oneOf(c.get('precision'), PRECISION_SETTINGS, DEFAULTS.precision),
    maxTokens: Math.round(numberIn(c.get('maxTokens'), 1, 512, DEFAULTS.maxTokens)),
    temperature: numberIn(c.get('temperature'), 0, 2, DEFAULTS.temperature),
    debounceMs: Math.round(numberIn(c.get('debounceMs'), 0, 5000, DEFAULTS.debounceMs)),
    minConfidence: numberIn(c.get('minConfidence'), 0, 1, DEFAULTS.minConfidence),
    idleUnloadMinutes: numberIn(c.get('idleUnloadMinutes'), 0, 24 * 60, DEFAULTS.idleUnloadMinutes),
    fineTuneInclude: globList(c.get('fineTune.include')),
    fineTuneExclude: globList(c.get('fineTune.exclude')),
    fineTuneSecrets: oneOf(c.get('fineTune.secrets'), ['skip-file', 'drop-lines'] as const, DEFAULTS.fineTuneSecrets),
    cacheModel: c.get('cacheModel.enabled') !== false,
    context: c.get('context.enabled') === true,
    indexMaxMB: numberIn(c.get('context.maxIndexMB'), 1, 200, DEFAULTS.indexMaxMB),
    suggestionLog: c.get('fineTune.suggestionLog') !== false,
  };
}

/** Which groups of settings a change touched. */
export interface SettingsChange {
  readonly settings: Settings;
  /** model, modelPath, device, threads or precision: the loaded session no longer matches. */
  readonly model: boolean;
  readonly idleUnload: boolean;
  readonly debounce: boolean;
  /** The workspace index's settings: index again (or drop it). */
  readonly workspaceIndex: boolean;
}

/** Calls `listener` with fresh settings whenever any `gpt2Complete.*` setting changes. */
export function onSettingsChanged(listener: (change: SettingsChange) => void): vscode.Disposable {
  return vscode.workspace.onDidChangeConfiguration((event) => {
    if (!event.affectsConfiguration(SECTION)) return;
    const touched = (key: string): boolean => event.affectsConfiguration(`${SECTION}.${key}`);
    listener({
      settings: readSettings(),
      model: MODEL_KEYS.some(touched),
      idleUnload: touched('idleUnloadMinutes'),
      debounce: touched('debounceMs'),
      workspaceIndex: touched('cacheModel.enabled') || touched('context.enabled') || touched('context.maxIndexMB'),
    });
  });
}
