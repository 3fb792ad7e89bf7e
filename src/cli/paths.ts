import * as os from 'os';
import * as path from 'path';

/**
 * Where the CLI keeps downloaded models and compiled graphs: $GPT2_COMPLETE_HOME, else the XDG
 * cache folder. (The extension uses its own global storage instead.)
 */
export function cliHome(): string {
  if (process.env.GPT2_COMPLETE_HOME) return path.resolve(process.env.GPT2_COMPLETE_HOME);
  const xdg = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  return path.join(xdg, 'gpt2-complete');
}

export const cliModelsRoot = (): string => path.join(cliHome(), 'models');
export const cliGraphCache = (): string => path.join(cliHome(), 'graphs');
