/**
 * `--adapter DIR` as a WeightsOverlay for the engine's loadEngine: a PEFT LoRA adapter
 * (adapter_config.json + adapter_model.safetensors) merged into the base, or a whole fine-tuned
 * checkpoint (config.json + model.safetensors, what `finetune --method full` writes) used in its
 * place after checking it has the base's shape. Either may come from transformers + PEFT.
 */
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { CONFIG_FILE, WEIGHTS_FILE, openCheckpoint, type Checkpoint } from '../engine/checkpoint';
import type { GPT2Config } from '../engine/config';
import { UserError } from '../engine/errors';
import type { WeightsOverlay } from '../engine/loadModel';
import { ADAPTER_CONFIG_FILE, ADAPTER_WEIGHTS_FILE, loadAdapter, mergedWeights } from './lora';

/** SHA-256 of an adapter's two files: identifies it for the graph cache. */
function hashFiles(files: string[]): string {
  const h = createHash('sha256');
  for (const f of files) h.update(fs.readFileSync(f));
  return h.digest('hex');
}

function sameShape(a: GPT2Config, b: GPT2Config): boolean {
  return a.vocabSize === b.vocabSize && a.nPositions === b.nPositions && a.nEmbd === b.nEmbd
    && a.nLayer === b.nLayer && a.nHead === b.nHead && a.layerNormEpsilon === b.layerNormEpsilon;
}

/** A PEFT LoRA adapter folder, merged into whatever base it is laid over. */
export function loraOverlay(dir: string): WeightsOverlay {
  const abs = path.resolve(dir);
  // loadAdapter reports a missing or malformed file with the fix; hashing must not fail first.
  const files = [ADAPTER_CONFIG_FILE, ADAPTER_WEIGHTS_FILE].map((f) => path.join(abs, f)).filter((f) => fs.existsSync(f));
  return {
    id: `lora:${hashFiles(files)}`,
    label: abs,
    apply: (base) => mergedWeights(base, loadAdapter(abs, base.config)),
  };
}

/** A whole fine-tuned checkpoint standing in for a base of the same shape. */
export function checkpointOverlay(dir: string): WeightsOverlay {
  const abs = path.resolve(dir);
  const checkpoint: Checkpoint = openCheckpoint(abs);
  return {
    id: `full:${checkpoint.contentHash()}`,
    label: abs,
    apply: (base) => {
      if (!sameShape(base.config, checkpoint.config)) {
        throw new UserError(`${abs}: a checkpoint of another shape than the base model (${describe(checkpoint.config)} vs ${describe(base.config)}); pass it as --model instead`);
      }
      return checkpoint;
    },
    close: () => checkpoint.close(),
  };
}

/** `--adapter DIR`: whichever of the two the folder holds, the adapter first. */
export function adapterOverlay(dir: string): WeightsOverlay {
  const abs = path.resolve(dir);
  const has = (f: string) => fs.existsSync(path.join(abs, f));
  if (has(ADAPTER_CONFIG_FILE)) return loraOverlay(abs);
  if (has(CONFIG_FILE) && has(WEIGHTS_FILE)) return checkpointOverlay(abs);
  if (!fs.existsSync(abs)) throw new UserError(`${abs}: no such folder; --adapter takes a folder written by finetune (or by PEFT)`);
  throw new UserError(
    `${abs}: not an adapter; expected ${ADAPTER_CONFIG_FILE} + ${ADAPTER_WEIGHTS_FILE} (a PEFT LoRA adapter) or ${CONFIG_FILE} + ${WEIGHTS_FILE} (a fine-tuned checkpoint)`,
  );
}

function describe(c: GPT2Config): string {
  return `${c.nLayer} layers × ${c.nEmbd}, vocabulary ${c.vocabSize}, ${c.nPositions} positions`;
}
