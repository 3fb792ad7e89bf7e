import { UserError } from '../engine/errors';
import { loadEngine, type LoadedEngine } from '../engine/loadModel';
import { adapterOverlay } from '../training/adapterOverlay';
import { intFlag } from './args';
import { cliGraphCache, cliModelsRoot } from './paths';

/** Flags every command that runs a model takes. */
export const MODEL_FLAGS = {
  model: { type: 'string' },
  adapter: { type: 'string' },
  device: { type: 'string' },
  threads: { type: 'string' },
} as const;

export const MODEL_FLAGS_HELP = `  --model M     a preset (gpt2, gpt2-medium, gpt2-large, gpt2-xl, distilgpt2) or a checkpoint folder
  --adapter DIR a LoRA adapter (adapter_config.json + adapter_model.safetensors, e.g. from finetune or PEFT)
                or a fine-tuned checkpoint of the same model, merged into M when the model loads
  --device D    auto (default) | cpu | cuda | dml | coreml | webgpu
  --threads N   CPU threads (default: all cores but one)`;

export async function loadFromFlags(
  command: string,
  values: { model?: string; adapter?: string; device?: string; threads?: string },
): Promise<LoadedEngine> {
  if (!values.model) throw new UserError(`${command}: --model is required (a preset name such as gpt2, or a checkpoint folder)`);
  return loadEngine({
    model: values.model,
    modelsRoot: cliModelsRoot(),
    graphCacheDir: cliGraphCache(),
    device: values.device ?? 'auto',
    threads: intFlag('threads', values.threads, 1),
    overlay: values.adapter !== undefined ? adapterOverlay(values.adapter) : undefined,
  });
}
