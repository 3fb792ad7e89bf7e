/**
 * Which checkpoint folder the settings point at: `modelPath` when set, else the embedded model
 * shipped in the extension, else a preset downloaded into global storage. Failures are UserErrors
 * that say what to do; a preset that is simply not downloaded yet gets its own type so the
 * notification can offer the download.
 */
import * as fs from 'fs';
import * as path from 'path';
import { CONFIG_FILE, WEIGHTS_FILE } from '../engine/checkpoint';
import { UserError } from '../engine/errors';
import { findPreset } from '../engine/presets';
import type { Settings } from './settings';

export class ModelNotDownloadedError extends UserError {
  constructor(readonly presetName: string, folder: string) {
    super(`The model ${presetName} is not downloaded yet (looked in ${folder}): run "GPT-2 Complete: Download Model", or pick another model.`);
    this.name = 'ModelNotDownloadedError';
  }
}

export interface ModelLocation {
  checkpointDir: string;
  /** Short name for the status bar: the preset, "embedded", or the folder's name. */
  label: string;
}

export interface ModelFolders {
  /** `<extensionPath>/models/embedded`. */
  embeddedDir: string;
  /** `<globalStorage>/models`; a preset lives in `<modelsRoot>/<name>`. */
  modelsRoot: string;
}

function hasFile(dir: string, file: string): boolean {
  try {
    return fs.statSync(path.join(dir, file)).isFile();
  } catch {
    return false;
  }
}

export function presetFolder(folders: ModelFolders, name: string): string {
  return path.join(folders.modelsRoot, name);
}

export function isPresetDownloaded(folders: ModelFolders, name: string): boolean {
  const dir = presetFolder(folders, name);
  return hasFile(dir, CONFIG_FILE) && hasFile(dir, WEIGHTS_FILE);
}

export function isEmbeddedModelPresent(folders: ModelFolders): boolean {
  return hasFile(folders.embeddedDir, CONFIG_FILE);
}

export function resolveModelLocation(settings: Pick<Settings, 'model' | 'modelPath'>, folders: ModelFolders): ModelLocation {
  if (settings.modelPath !== '') {
    const dir = path.resolve(settings.modelPath);
    let stat: fs.Stats | undefined;
    try {
      stat = fs.statSync(dir);
    } catch {
      stat = undefined;
    }
    if (stat === undefined) {
      throw new UserError(`gpt2Complete.modelPath "${settings.modelPath}" does not exist: set it to a folder with ${CONFIG_FILE} and ${WEIGHTS_FILE}, or clear it to use gpt2Complete.model.`);
    }
    if (!stat.isDirectory()) {
      throw new UserError(`gpt2Complete.modelPath "${settings.modelPath}" is a file: set it to the folder that holds ${CONFIG_FILE} and ${WEIGHTS_FILE}.`);
    }
    return { checkpointDir: dir, label: path.basename(dir) };
  }
  if (settings.model === 'embedded') {
    if (!isEmbeddedModelPresent(folders)) {
      throw new UserError(
        'The embedded model is not built into this copy of GPT-2 Complete: pick a model ("GPT-2 Complete: Select Model") or set gpt2Complete.modelPath to a checkpoint folder.',
      );
    }
    return { checkpointDir: folders.embeddedDir, label: 'embedded' };
  }
  const preset = findPreset(settings.model);
  if (preset === undefined) throw new UserError(`gpt2Complete.model "${settings.model}" is not a known model.`);
  if (!isPresetDownloaded(folders, preset.name)) throw new ModelNotDownloadedError(preset.name, presetFolder(folders, preset.name));
  return { checkpointDir: presetFolder(folders, preset.name), label: preset.name };
}
