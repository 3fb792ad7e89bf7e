/**
 * The engine's composition root: a model setting (a preset name or a checkpoint folder) becomes
 * a ready CompletionEngine. The CLI and the extension both load through here.
 */
import { openCheckpoint, type Checkpoint } from './checkpoint';
import { CompletionEngine } from './engine';
import { OrtModel } from './ortModel';
import { resolveModel } from './presets';
import { getTokenizer } from './tokenizer';

export interface LoadOptions {
  /** A preset name (gpt2, gpt2-medium, ...) or a checkpoint folder. */
  model: string;
  /** Where presets are looked for: `<modelsRoot>/<preset>`. */
  modelsRoot: string;
  /** Where compiled graphs are cached. */
  graphCacheDir: string;
  device?: string;
  threads?: number;
}

export interface LoadedEngine {
  engine: CompletionEngine;
  checkpointDir: string;
  loadMs: number;
}

export async function loadEngine(opts: LoadOptions): Promise<LoadedEngine> {
  const t0 = performance.now();
  const checkpointDir = resolveModel(opts.model, opts.modelsRoot);
  const checkpoint: Checkpoint = openCheckpoint(checkpointDir);
  try {
    const model = await OrtModel.load({
      weights: checkpoint,
      checkpointHash: checkpoint.contentHash(),
      cacheDir: opts.graphCacheDir,
      device: opts.device,
      threads: opts.threads,
    });
    const engine = new CompletionEngine(model, getTokenizer());
    return { engine, checkpointDir, loadMs: performance.now() - t0 };
  } finally {
    checkpoint.close();
  }
}
