// Random GPT-2 checkpoints for the extension-host tests, written by the project's own CLI
// (`gpt2-complete init --random`) so the real engine runs on them. Random weights produce gibberish,
// so tests assert on behaviour, never on content. Checkpoints are kept in the OS temp folder between
// runs, keyed by shape and seed; GPT2C_TEST_MODEL names a ready tiny checkpoint instead.
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';

export const EXTENSION_ID = 'gpt2-complete.gpt2-complete';

/** Shapes used by the suite: `tiny` is fast; `slow` takes ~10 ms a token so a keystroke can catch it running; `small` is gpt2's shape. */
export const SHAPES = {
  tiny: 'tiny',
  slow: '{"model_type":"gpt2","vocab_size":50257,"n_positions":1024,"n_embd":256,"n_layer":4,"n_head":4}',
  small: 'small',
} as const;

export type ShapeName = keyof typeof SHAPES;

function extensionPath(): string {
  const ext = vscode.extensions.getExtension(EXTENSION_ID);
  if (!ext) throw new Error(`extension ${EXTENSION_ID} is not installed in this host`);
  return ext.extensionPath;
}

/** A checkpoint folder of `shape` with weights from `seed`, created on first use. */
export async function randomModel(shape: ShapeName, seed = 0): Promise<string> {
  if (shape === 'tiny' && seed === 0 && process.env.GPT2C_TEST_MODEL) return process.env.GPT2C_TEST_MODEL;
  const dir = path.join(os.tmpdir(), 'gpt2c-host-models', `${shape}-seed${seed}`);
  if (fs.existsSync(path.join(dir, 'config.json')) && fs.existsSync(path.join(dir, 'model.safetensors'))) return dir;
  const partial = `${dir}.partial-${process.pid}`;
  fs.rmSync(partial, { recursive: true, force: true });
  const cli = path.join(extensionPath(), 'dist', 'cli.js');
  await new Promise<void>((resolve, reject) => {
    // The extension host's own Node; under Electron it must be told to act as plain Node.
    execFile(
      process.execPath,
      [cli, 'init', '--random', '--config', SHAPES[shape], '--seed', String(seed), '--out', partial],
      { env: { ...process.env, ELECTRON_RUN_AS_NODE: '1' }, timeout: 120_000 },
      (err, _stdout, stderr) => (err ? reject(new Error(`gpt2-complete init failed: ${err.message}\n${stderr}`)) : resolve()),
    );
  });
  fs.rmSync(dir, { recursive: true, force: true });
  fs.renameSync(partial, dir);
  return dir;
}

/** A folder that looks like a checkpoint but whose weights file is garbage. */
export function corruptModel(from: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gpt2c-corrupt-'));
  fs.copyFileSync(path.join(from, 'config.json'), path.join(dir, 'config.json'));
  fs.writeFileSync(path.join(dir, 'model.safetensors'), Buffer.from('this is not a safetensors file'));
  return dir;
}
