import * as fs from 'fs';
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

/**
 * The embedded model shipped in the package's models/ folder. Found by walking up from this file,
 * which is dist/cli.js when bundled and src/cli/paths.ts under tsx.
 */
export function embeddedModelDir(): string {
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, 'package.json')) && fs.existsSync(path.join(dir, 'models'))) return path.join(dir, 'models', 'embedded');
    if (path.dirname(dir) === dir) return path.resolve(__dirname, '..', 'models', 'embedded');
  }
}
