/**
 * The engine's composition root: a model setting (a preset name or a checkpoint folder) becomes
 * a ready CompletionEngine. The CLI and the extension both load through here.
 */
import { createHash } from 'crypto';
import { openCheckpoint, type Checkpoint } from './checkpoint';
import { CompletionEngine } from './engine';
import { OrtModel } from './ortModel';
import { resolveModel } from './presets';
import { getTokenizer } from './tokenizer';
import { fitVocabularyToTokenizer } from './tokenizerVocabulary';
import type { WeightSource } from './weights';

/**
 * Weights laid over the base checkpoint's before the graph is built: a LoRA adapter merged in, or a
 * fine-tuned checkpoint of the same shape. The engine only knows this seam; what an adapter is (file
 * layout, merge arithmetic) lives in src/training, and front ends wire the two together. Because
 * the result is baked into the graph's initializers, an adapter costs nothing per token.
 */
export interface WeightsOverlay {
  /** Identifies the overlay's content (e.g. SHA-256 of its files); part of the graph cache key. */
  readonly id: string;
  /** Short description for messages, e.g. the adapter folder. */
  readonly label: string;
  /** The weights to build from, given the base's; tensors may still be read lazily. */
  apply(base: WeightSource): WeightSource;
  /** Releases what `apply` opened; called once the graph is built. */
  close?(): void;
}

export interface LoadOptions {
  /** A preset name (gpt2, gpt2-medium, ...) or a checkpoint folder. */
  model: string;
  /** Where presets are looked for: `<modelsRoot>/<preset>`. */
  modelsRoot: string;
  /** Where compiled graphs are cached. */
  graphCacheDir: string;
  device?: string;
  /** Intra-op threads, 1 to 4 × this machine's cores (default: all cores but one, the editor's rule). */
  threads?: number;
  /** Weight precision: fp32 | int8 | int4 | auto (by device; quantize.ts autoPrecision). Default fp32. */
  precision?: string;
  /** An adapter (or fine-tuned weights) merged into the base when the graph is built. */
  overlay?: WeightsOverlay;
}

export interface LoadedEngine {
  engine: CompletionEngine;
  checkpointDir: string;
  /** The graph cache's key for these weights (the checkpoint's content hash, with the adapter's). */
  graphHash: string;
  loadMs: number;
  /** Things that went wrong without stopping the load (the graph cache could not be written), one line each. */
  warnings: string[];
}

/** The graph cache key: the checkpoint's hash, combined with the overlay's id when there is one. */
export function weightsHash(checkpointHash: string, overlay?: WeightsOverlay): string {
  if (!overlay) return checkpointHash;
  return createHash('sha256').update(`${checkpointHash}\n${overlay.id}`).digest('hex');
}

export async function loadEngine(opts: LoadOptions): Promise<LoadedEngine> {
  const t0 = performance.now();
  try {
    const checkpointDir = resolveModel(opts.model, opts.modelsRoot);
    const checkpoint: Checkpoint = openCheckpoint(checkpointDir);
    try {
      const weights = opts.overlay ? opts.overlay.apply(checkpoint) : checkpoint;
      const graphHash = weightsHash(checkpoint.contentHash(), opts.overlay);
      const model = await OrtModel.load({
        weights: fitVocabularyToTokenizer(weights, checkpoint.files.config),
        checkpointHash: graphHash,
        cacheDir: opts.graphCacheDir,
        device: opts.device,
        threads: opts.threads,
        precision: opts.precision,
      });
      const engine = new CompletionEngine(model, getTokenizer());
      const warnings = model.graphSource.cacheWarning ? [model.graphSource.cacheWarning] : [];
      return { engine, checkpointDir, graphHash, loadMs: performance.now() - t0, warnings };
    } finally {
      checkpoint.close();
    }
  } finally {
    opts.overlay?.close?.();
  }
}
