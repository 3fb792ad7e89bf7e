import * as fs from 'fs';
import * as path from 'path';
import { canonicalTensorName, openCheckpoint } from '../engine/checkpoint';
import { parameterShapes, type GPT2Config } from '../engine/config';
import { UserError } from '../engine/errors';
import { resolveModel } from '../engine/presets';
import { openSafetensors, writeSafetensors, type TensorToWrite } from '../engine/safetensors';
import { getTokenizer } from '../engine/tokenizer';
import type { WeightSource } from '../engine/weights';
import { loadAdapter, mergedWeights } from '../training/lora';
import { batchLoss } from '../training/batchLoss';
import { DEFAULT_LAMBDA } from '../training/trainer';
import type { TokenExample } from '../training/objective';
import { intFlag, numberFlag, parseCommandArgs, threadsFlag } from './args';
import { MODEL_FLAGS, MODEL_FLAGS_HELP } from './modelFlags';
import { cliModelsRoot } from './paths';

export const LOSS_HELP = `gpt2-complete loss --model M [--adapter DIR] --examples F.jsonl [--lambda L] [--grad-out G.safetensors] [--json]
  The combined objective of one batch: L1 = mean NLL of the context's own tokens, L2 = mean NLL of the
  continuation tokens, L3 = L2 + λ·L1 (token-level means over the whole file).
  Each line of F is {"context": str, "continuation": str}, {"prompt": str, "completion": str} (as
  \`dataset\` writes) or {"context_ids": [int], "continuation_ids": [int]}; the whole file is one batch.
${MODEL_FLAGS_HELP}
  --lambda L         weight of L1 (default ${DEFAULT_LAMBDA}, the trainer's)
  --grad-out G       also write dL3/dθ for every parameter of the checkpoint to G (safetensors, F32) under
                     the checkpoint's own tensor names; the tied wte.weight holds both its embedding and
                     output-head gradients (a stored lm_head.weight copy gets none of its own)
  --json             print {"l1": num, "l2": num, "l3": num}`;

export async function lossCommand(argv: string[]): Promise<void> {
  const { values } = parseCommandArgs('loss', argv, {
    ...MODEL_FLAGS,
    adapter: { type: 'string' },
    examples: { type: 'string' },
    lambda: { type: 'string' },
    'grad-out': { type: 'string' },
    json: { type: 'boolean' },
  });
  if (!values.model) throw new UserError('loss: --model is required (a preset name such as gpt2, or a checkpoint folder)');
  if (!values.examples) throw new UserError('loss: --examples F.jsonl is required');
  const lambda = numberFlag('lambda', values.lambda, 0, 1e6, DEFAULT_LAMBDA);
  const threads = threadsFlag(values.threads);
  const records = readExamples(values.examples);
  const gradOut = values['grad-out'];
  if (gradOut !== undefined && !fs.existsSync(path.dirname(path.resolve(gradOut)))) throw new UserError(`loss: --grad-out ${gradOut}: its folder does not exist`);

  const checkpoint = openCheckpoint(resolveModel(values.model, cliModelsRoot()));
  try {
    const config = checkpoint.config;
    const examples = records.map((r) => toTokens(r, config, values.examples!));
    const weights: WeightSource = values.adapter ? mergedWeights(checkpoint, loadAdapter(values.adapter, config)) : checkpoint;
    const result = await batchLoss(weights, examples, { lambda, gradients: gradOut !== undefined, device: values.device ?? 'auto', threads });
    if (result.truncated > 0) {
      process.stderr.write(`note: ${result.truncated} example(s) longer than the model's ${config.nPositions} positions had their context cut from the left\n`);
    }
    if (gradOut !== undefined) writeGradients(gradOut, checkpoint.files.weights, config, result.grads!);
    const { l1, l2, l3, l1Targets, l2Targets } = result.losses;
    if (values.json) {
      process.stdout.write(JSON.stringify({ l1, l2, l3 }) + '\n');
    } else {
      process.stdout.write(`L1 ${l1.toFixed(4)} (${l1Targets} context targets), L2 ${l2.toFixed(4)} (${l2Targets} continuation targets), L3 = L2 + ${lambda}·L1 = ${l3.toFixed(4)}\n`);
    }
  } finally {
    checkpoint.close();
  }
}

/** One line of the examples file: text (either key pair) or token ids. */
type ExampleRecord =
  | { line: number; context: string; continuation: string }
  | { line: number; contextIds: number[]; continuationIds: number[] };

export function parseExampleLine(text: string, line: number, file: string): ExampleRecord {
  let j: unknown;
  try {
    j = JSON.parse(text);
  } catch (e) {
    throw new UserError(`${file}:${line}: not valid JSON (${(e as Error).message.replace(/\s+/g, ' ')})`);
  }
  const o = (typeof j === 'object' && j !== null && !Array.isArray(j) ? j : {}) as Record<string, unknown>;
  const ids = (key: string): number[] => {
    const v = o[key];
    if (!Array.isArray(v) || !v.every((x) => Number.isInteger(x) && x >= 0)) throw new UserError(`${file}:${line}: "${key}" must be a list of token ids (non-negative integers)`);
    return v as number[];
  };
  if ('context_ids' in o || 'continuation_ids' in o) return { line, contextIds: ids('context_ids'), continuationIds: ids('continuation_ids') };
  for (const [x, y] of [['context', 'continuation'], ['prompt', 'completion']]) {
    if (typeof o[x] === 'string' && typeof o[y] === 'string') return { line, context: o[x] as string, continuation: o[y] as string };
  }
  throw new UserError(`${file}:${line}: expected {"context": str, "continuation": str}, {"prompt": str, "completion": str} or {"context_ids": [int], "continuation_ids": [int]}`);
}

function readExamples(file: string): ExampleRecord[] {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new UserError(`loss: cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  const records: ExampleRecord[] = [];
  text.split('\n').forEach((l, i) => {
    if (l.trim() !== '') records.push(parseExampleLine(l, i + 1, file));
  });
  if (records.length === 0) throw new UserError(`loss: ${file} holds no examples`);
  return records;
}

function toTokens(r: ExampleRecord, config: GPT2Config, file: string): TokenExample {
  const e = 'contextIds' in r ? r : { contextIds: getTokenizer().encode(r.context), continuationIds: getTokenizer().encode(r.continuation) };
  if (e.contextIds.length === 0) throw new UserError(`${file}:${r.line}: the context is empty; an example needs at least one context token`);
  for (const id of [...e.contextIds, ...e.continuationIds]) {
    if (id >= config.vocabSize) throw new UserError(`${file}:${r.line}: token ${id} is outside the model's vocabulary (0..${config.vocabSize - 1})`);
  }
  return e;
}

/** The gradients under the names and in the order the checkpoint file stores its parameters. */
function writeGradients(out: string, weightsFile: string, config: GPT2Config, grads: Map<string, Float32Array>): void {
  const shapes = parameterShapes(config);
  const file = openSafetensors(weightsFile);
  let stored: string[];
  try {
    stored = [...file.tensors.keys()].filter((n) => shapes.has(canonicalTensorName(n)));
  } finally {
    file.close();
  }
  const tensors: TensorToWrite[] = stored.map((name) => {
    const canonical = canonicalTensorName(name);
    return { name, dtype: 'F32', shape: shapes.get(canonical)!, data: grads.get(canonical)! };
  });
  try {
    writeSafetensors(out, tensors, { format: 'pt', content: 'dL3/dtheta' });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code) throw new UserError(`loss: cannot write ${out}: ${code}`);
    throw e;
  }
}
