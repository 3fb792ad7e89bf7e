import * as fs from 'fs';
import * as path from 'path';
import { UserError } from '../engine/errors';
import { loadEngine, type LoadedEngine } from '../engine/loadModel';
import { parsePrecision } from '../engine/quantize';
import { adapterOverlay } from '../training/adapterOverlay';
import { threadsFlag } from './args';
import { cliGraphCache, cliModelsRoot, embeddedModelDir } from './paths';
import { cleanGraphCache } from '../engine/graphCacheCleanup';

/** Flags every command that runs a model takes. */
export const MODEL_FLAGS = {
  model: { type: 'string' },
  adapter: { type: 'string' },
  device: { type: 'string' },
  threads: { type: 'string' },
  precision: { type: 'string' },
} as const;

export const MODEL_FLAGS_HELP = `  --model M     embedded (default: the small model shipped in models/), a preset (gpt2, gpt2-medium,
                gpt2-large, gpt2-xl, distilgpt2) or a checkpoint folder
  --adapter DIR a LoRA adapter (adapter_config.json + adapter_model.safetensors, e.g. from finetune or PEFT)
                or a fine-tuned checkpoint of the same model, merged into M when the model loads
  --device D    auto (default) | cpu | cuda | dml | coreml | webgpu
  --threads N   CPU threads (default: all cores; the editor leaves one free)
  --precision P fp32 (default: exact) | int8 | int4 | auto (int8 on the CPU, fp32 on a GPU): weights
                quantized when the graph is built (cached per precision); faster decode, slightly higher loss`;

export async function loadFromFlags(
  command: string,
  values: { model?: string; adapter?: string; device?: string; threads?: string; precision?: string },
): Promise<LoadedEngine> {
  const model = values.model ?? 'embedded';
  const loaded = await loadEngine({
    // The embedded model is the package's own folder, not a preset to download.
    model: model === 'embedded' ? embeddedModel() : model,
    modelsRoot: cliModelsRoot(),
    graphCacheDir: cliGraphCache(),
    device: values.device ?? 'auto',
    threads: threadsFlag(values.threads),
    precision: parsePrecision(values.precision ?? 'fp32', '--precision'),
    overlay: values.adapter !== undefined ? adapterOverlay(values.adapter) : undefined,
  });
  for (const w of loaded.warnings) process.stderr.write(`gpt2-complete: warning: ${w}\n`);
  // As the extension does after each load: graphs of other weights and of older graph versions
  // would pile up in the CLI's cache (each is model-sized). A failure only leaves them there.
  await cleanGraphCache(cliGraphCache(), [loaded.graphHash]).catch(() => undefined);
  return loaded;
}

function embeddedModel(): string {
  const dir = embeddedModelDir();
  if (!fs.existsSync(path.join(dir, 'config.json'))) {
    throw new UserError(`the embedded model is not in this copy (${dir}); run npm run train:embedded, or pass --model with a preset or a checkpoint folder`);
  }
  return dir;
}
