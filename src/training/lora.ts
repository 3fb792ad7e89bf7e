/**
 * LoRA adapters for GPT-2, in the layout Hugging Face PEFT reads and writes, so an adapter trained
 * here loads in transformers + PEFT and one trained there loads here.
 *
 * GPT-2's projections are Conv1D with weights W [in, out] (y = x·W + b). PEFT adapts them with
 * fan_in_fan_out = true: lora_A.weight [r, in], lora_B.weight [out, r], and
 *   W' = W + scaling · (B·A)ᵀ = W + scaling · Aᵀ·Bᵀ,   scaling = alpha / r  (alpha / √r with rsLoRA).
 * Inference merges the delta into W when the graph is built (mergedWeights), so an adapter costs
 * nothing per token.
 */
import * as fs from 'fs';
import * as path from 'path';
import { writeJsonAtomic } from '../engine/atomicFile';
import type { GPT2Config } from '../engine/config';
import { UserError } from '../engine/errors';
import { Rng } from '../engine/random';
import { openSafetensors, writeSafetensors, type TensorToWrite } from '../engine/safetensors';
import type { WeightSource } from '../engine/weights';
import { hashToUint32 } from './data/seededHash';

export const ADAPTER_WEIGHTS_FILE = 'adapter_model.safetensors';
export const ADAPTER_CONFIG_FILE = 'adapter_config.json';

/** The Conv1D layers of a GPT-2 block that LoRA can adapt, named by their path inside the block. */
export const LORA_TARGETS = ['attn.c_attn', 'attn.c_proj', 'mlp.c_fc', 'mlp.c_proj'] as const;
export type LoraTarget = (typeof LORA_TARGETS)[number];

export interface LoraConfig {
  rank: number;
  alpha: number;
  /** Dropout on the adapter's input during training (PEFT's lora_dropout); no effect on merged weights. */
  dropout: number;
  targets: LoraTarget[];
  /** rsLoRA scaling alpha / √r instead of alpha / r (PEFT's use_rslora). */
  useRslora?: boolean;
  /** Only these blocks are adapted (PEFT's layers_to_transform); undefined: all. */
  layers?: number[];
}

/**
 * PEFT's own defaults for GPT-2 are r 8, alpha 8, dropout 0 on c_attn only; QLoRA's finding that
 * adapting every projection matters more than the rank is why all four are the default targets here.
 * alpha = 2r (scaling 2); a caller changing the rank should keep that ratio. Provisional until the
 * defaults are chosen by measurement (issue 3).
 */
export const DEFAULT_LORA_CONFIG: LoraConfig = {
  rank: 8,
  alpha: 16,
  dropout: 0.05,
  targets: [...LORA_TARGETS],
};

export interface LoraModule {
  layer: number;
  target: LoraTarget;
  /** Canonical name of the base Conv1D weight, [in, out]. */
  base: string;
  /** PEFT names of the adapter tensors. */
  a: string;
  b: string;
  in: number;
  out: number;
}

/** A loaded or trained adapter: its config and its tensors under PEFT names. */
export interface LoraAdapter {
  config: LoraConfig;
  values: Map<string, Float32Array>;
  /** base_model_name_or_path, as written by whoever trained it. */
  baseModel?: string;
}

export function loraScaling(c: LoraConfig): number {
  return c.useRslora ? c.alpha / Math.sqrt(c.rank) : c.alpha / c.rank;
}

/** PEFT's module path for a block's layer in GPT2LMHeadModel. */
export function peftModulePath(layer: number, target: LoraTarget): string {
  return `base_model.model.transformer.h.${layer}.${target}`;
}

function targetShape(model: GPT2Config, target: LoraTarget): { in: number; out: number } {
  const E = model.nEmbd;
  switch (target) {
    case 'attn.c_attn':
      return { in: E, out: 3 * E };
    case 'attn.c_proj':
      return { in: E, out: E };
    case 'mlp.c_fc':
      return { in: E, out: 4 * E };
    case 'mlp.c_proj':
      return { in: 4 * E, out: E };
  }
}

/** Throws a UserError for a config no graph could honour; returns it otherwise. */
export function validateLoraConfig(c: LoraConfig, model?: GPT2Config): LoraConfig {
  if (!(Number.isInteger(c.rank) && c.rank > 0)) throw new UserError(`LoRA rank must be a positive integer (got ${c.rank})`);
  if (!(Number.isFinite(c.alpha) && c.alpha > 0)) throw new UserError(`LoRA alpha must be a positive number (got ${c.alpha})`);
  if (!(c.dropout >= 0 && c.dropout < 1)) throw new UserError(`LoRA dropout must be in [0, 1) (got ${c.dropout})`);
  if (c.targets.length === 0) throw new UserError(`LoRA needs at least one target among ${LORA_TARGETS.join(', ')}`);
  for (const t of c.targets) {
    if (!(LORA_TARGETS as readonly string[]).includes(t)) throw new UserError(`LoRA target "${t}" is not one of ${LORA_TARGETS.join(', ')}`);
  }
  if (new Set(c.targets).size !== c.targets.length) throw new UserError(`LoRA targets repeat: ${c.targets.join(', ')}`);
  if (model && c.layers) {
    for (const l of c.layers) {
      if (!(Number.isInteger(l) && l >= 0 && l < model.nLayer)) throw new UserError(`LoRA layer ${l} does not exist in a ${model.nLayer}-layer model`);
    }
  }
  return c;
}

/** Every adapted layer, in block order then LORA_TARGETS order (the order tensors are saved in). */
export function loraModules(model: GPT2Config, c: LoraConfig): LoraModule[] {
  const layers = c.layers ? [...new Set(c.layers)].sort((a, b) => a - b) : Array.from({ length: model.nLayer }, (_, i) => i);
  const out: LoraModule[] = [];
  for (const layer of layers) {
    for (const target of LORA_TARGETS) {
      if (!c.targets.includes(target)) continue;
      const p = peftModulePath(layer, target);
      out.push({ layer, target, base: `h.${layer}.${target}.weight`, a: `${p}.lora_A.weight`, b: `${p}.lora_B.weight`, ...targetShape(model, target) });
    }
  }
  return out;
}

/** The trainable tensors of a LoRA run, as a TrainingSession lists its params. */
export function loraParams(model: GPT2Config, c: LoraConfig): { name: string; shape: number[] }[] {
  return loraModules(model, c).flatMap((m) => [
    { name: m.a, shape: [c.rank, m.in] },
    { name: m.b, shape: [m.out, c.rank] },
  ]);
}

/**
 * PEFT's initialisation: A ~ kaiming_uniform(a = √5), i.e. U(−1/√in, 1/√in), and B = 0, so the
 * adapted model starts exactly as the base. Each tensor draws from its own (seed, name) stream.
 */
export function initLoraValues(model: GPT2Config, c: LoraConfig, seed: number): Map<string, Float32Array> {
  const values = new Map<string, Float32Array>();
  for (const m of loraModules(model, c)) {
    const a = new Float32Array(c.rank * m.in);
    const rng = new Rng(hashToUint32(seed, m.a));
    const bound = 1 / Math.sqrt(m.in);
    for (let i = 0; i < a.length; i++) a[i] = (2 * rng.next() - 1) * bound;
    values.set(m.a, a);
    values.set(m.b, new Float32Array(m.out * c.rank));
  }
  return values;
}

/** W [in, out] += scaling · Aᵀ·Bᵀ, with A [r, in] and B [out, r]; W is changed in place. */
export function addLoraDelta(w: Float32Array, a: Float32Array, b: Float32Array, inDim: number, outDim: number, rank: number, scaling: number): void {
  if (w.length !== inDim * outDim || a.length !== rank * inDim || b.length !== outDim * rank) {
    throw new Error(`addLoraDelta: sizes ${w.length}, ${a.length}, ${b.length} do not fit in ${inDim}, out ${outDim}, r ${rank}`);
  }
  // Bᵀ as [r, out] so the inner loop runs along W's contiguous rows.
  const bt = new Float32Array(rank * outDim);
  for (let o = 0; o < outDim; o++) for (let k = 0; k < rank; k++) bt[k * outDim + o] = b[o * rank + k];
  const row = new Float64Array(outDim);
  for (let i = 0; i < inDim; i++) {
    row.fill(0);
    for (let k = 0; k < rank; k++) {
      const aki = a[k * inDim + i];
      if (aki === 0) continue;
      const off = k * outDim;
      for (let o = 0; o < outDim; o++) row[o] += aki * bt[off + o];
    }
    const off = i * outDim;
    for (let o = 0; o < outDim; o++) w[off + o] += scaling * row[o];
  }
}

/**
 * The base weights with the adapter merged in as each tensor is read: the inference graph built
 * from this has the adapter baked into its initializers. The base's arrays are never changed.
 */
export function mergedWeights(base: WeightSource, adapter: LoraAdapter): WeightSource {
  const { config } = adapter;
  const scaling = loraScaling(config);
  const byBase = new Map(loraModules(base.config, config).map((m) => [m.base, m]));
  for (const m of byBase.values()) {
    const a = adapter.values.get(m.a);
    const b = adapter.values.get(m.b);
    if (!a || !b) throw new Error(`mergedWeights: adapter lacks ${a ? m.b : m.a}`);
    if (a.length !== config.rank * m.in || b.length !== m.out * config.rank) {
      throw new Error(`mergedWeights: adapter tensors for ${m.base} do not fit a model of width ${base.config.nEmbd}`);
    }
  }
  return {
    config: base.config,
    tensor(name: string): Float32Array {
      const w = base.tensor(name);
      const m = byBase.get(name);
      if (!m) return w;
      const merged = Float32Array.from(w);
      addLoraDelta(merged, adapter.values.get(m.a)!, adapter.values.get(m.b)!, m.in, m.out, config.rank, scaling);
      return merged;
    },
  };
}

function peftConfigJson(c: LoraConfig, baseModel: string | null): Record<string, unknown> {
  return {
    peft_type: 'LORA',
    task_type: 'CAUSAL_LM',
    base_model_name_or_path: baseModel,
    r: c.rank,
    lora_alpha: c.alpha,
    lora_dropout: c.dropout,
    target_modules: [...c.targets],
    fan_in_fan_out: true,
    bias: 'none',
    use_rslora: c.useRslora ?? false,
    use_dora: false,
    modules_to_save: null,
    init_lora_weights: true,
    layers_to_transform: c.layers ? [...c.layers] : null,
    layers_pattern: c.layers ? 'h' : null,
    rank_pattern: {},
    alpha_pattern: {},
    inference_mode: true,
  };
}

/**
 * Writes `adapter_model.safetensors` and `adapter_config.json` into `dir`. Each file goes to a temp
 * name and is renamed into place, the weights first and the config last; loadAdapter checks every
 * tensor's shape against the config, so even a crash between the renames cannot load as a wrong adapter.
 */
export function saveAdapter(dir: string, config: LoraConfig, values: Map<string, Float32Array>, opts: { baseModel?: string; model?: GPT2Config } = {}): void {
  validateLoraConfig(config);
  const tensors: TensorToWrite[] = [];
  const names = opts.model ? loraParams(opts.model, config).map((p) => p.name) : [...values.keys()].sort(comparePeftNames);
  for (const name of names) {
    const data = values.get(name);
    if (!data) throw new Error(`saveAdapter: no values for ${name}`);
    const parsed = parsePeftName(name);
    if (!parsed) throw new Error(`saveAdapter: ${name} is not a LoRA tensor name`);
    const r = config.rank;
    const shape = parsed.matrix === 'A' ? [r, data.length / r] : [data.length / r, r];
    if (!Number.isInteger(shape[0]) || !Number.isInteger(shape[1])) throw new Error(`saveAdapter: ${name} has ${data.length} values, not a multiple of rank ${r}`);
    tensors.push({ name, dtype: 'F32', shape, data });
  }
  fs.mkdirSync(dir, { recursive: true });
  writeSafetensors(path.join(dir, ADAPTER_WEIGHTS_FILE), tensors, { format: 'pt' });
  writeJsonAtomic(path.join(dir, ADAPTER_CONFIG_FILE), peftConfigJson(config, opts.baseModel ?? null), { indent: 2 });
}

interface ParsedName {
  layer: number;
  target: LoraTarget;
  matrix: 'A' | 'B';
}

/**
 * Names PEFT writes for GPT-2 (`base_model.model.transformer.h.0.attn.c_attn.lora_A.weight`),
 * also without `transformer.` (a GPT2Model base) and with the adapter name `.default` left in.
 */
const PEFT_NAME = /^(?:base_model\.model\.)?(?:transformer\.)?h\.(\d+)\.(attn\.c_attn|attn\.c_proj|mlp\.c_fc|mlp\.c_proj)\.lora_([AB])(?:\.default)?\.weight$/;

function parsePeftName(name: string): ParsedName | null {
  const m = PEFT_NAME.exec(name);
  return m ? { layer: Number(m[1]), target: m[2] as LoraTarget, matrix: m[3] as 'A' | 'B' } : null;
}

function comparePeftNames(x: string, y: string): number {
  const a = parsePeftName(x);
  const b = parsePeftName(y);
  if (!a || !b) return x < y ? -1 : x > y ? 1 : 0;
  return a.layer - b.layer || LORA_TARGETS.indexOf(a.target) - LORA_TARGETS.indexOf(b.target) || (a.matrix < b.matrix ? -1 : a.matrix > b.matrix ? 1 : 0);
}

/**
 * Which of our targets a PEFT target_modules value selects, by PEFT's matching rules: a list entry
 * matches a module whose name is it or ends with `.entry`; a string is a full-match regex. A choice
 * that differs between blocks (e.g. "h.0.attn.c_attn") is refused: adapters here span every layer.
 */
function targetsFromPeft(value: unknown, file: string, layers: number[]): LoraTarget[] {
  const key = (layer: number, t: LoraTarget) => `transformer.h.${layer}.${t}`;
  let matches: (name: string) => boolean;
  if (typeof value === 'string') {
    let re: RegExp;
    try {
      re = new RegExp(`^(?:${value})$`);
    } catch {
      throw new UserError(`${file}: target_modules "${value}" is not a regular expression this loader understands`);
    }
    matches = (name) => re.test(name);
  } else {
    if (!Array.isArray(value) || value.length === 0 || !value.every((v) => typeof v === 'string')) {
      throw new UserError(`${file}: target_modules must be a non-empty list of module names (e.g. ["c_attn"]) or a pattern`);
    }
    const entries = value as string[];
    for (const entry of entries) {
      if (!layers.some((l) => LORA_TARGETS.some((t) => key(l, t) === entry || key(l, t).endsWith(`.${entry}`)))) {
        throw new UserError(`${file}: target_modules entry "${entry}" is not a GPT-2 layer LoRA is supported on here (${LORA_TARGETS.join(', ')}, or c_attn, c_proj, c_fc)`);
      }
    }
    matches = (name) => entries.some((e) => name === e || name.endsWith(`.${e}`));
  }
  const perLayer = layers.map((l) => LORA_TARGETS.filter((t) => matches(key(l, t))).join(','));
  if (perLayer.some((s) => s !== perLayer[0])) {
    throw new UserError(`${file}: target_modules ${JSON.stringify(value)} adapts different layers in different blocks; use layers_to_transform for that`);
  }
  return LORA_TARGETS.filter((t) => matches(key(layers[0] ?? 0, t)));
}

function readJson(file: string, what: string): Record<string, unknown> {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new UserError(`${file}: ${code === 'ENOENT' ? 'missing' : `cannot read (${code ?? (e as Error).message})`}; ${what}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new UserError(`${file}: not valid JSON (${(e as Error).message.replace(/\s+/g, ' ')})`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new UserError(`${file}: not a JSON object`);
  return json as Record<string, unknown>;
}

const HOWTO = 'an adapter folder holds adapter_config.json and adapter_model.safetensors (a PEFT LoRA adapter for GPT-2)';

/**
 * Reads adapter_config.json into a LoraConfig, refusing what merging could not reproduce.
 * fan_in_fan_out is not checked: PEFT forces it to true for GPT-2's Conv1D whatever the file says,
 * and the tensor shapes are the same either way.
 */
function parseAdapterConfig(j: Record<string, unknown>, file: string, model: GPT2Config): { config: LoraConfig; baseModel?: string } {
  const unsupported = (what: string) => new UserError(`${file}: ${what} is not supported; only plain LoRA adapters can be loaded`);
  if (j.peft_type !== 'LORA') throw unsupported(`peft_type ${JSON.stringify(j.peft_type ?? null)}`);
  if (j.task_type !== undefined && j.task_type !== null && j.task_type !== 'CAUSAL_LM') throw unsupported(`task_type ${JSON.stringify(j.task_type)}`);
  if (j.bias !== undefined && j.bias !== 'none') throw unsupported(`bias "${String(j.bias)}" (trained biases)`);
  if (j.use_dora === true) throw unsupported('use_dora (DoRA)');
  const ms = j.modules_to_save;
  if (ms !== undefined && ms !== null && !(Array.isArray(ms) && ms.length === 0)) throw unsupported('modules_to_save');
  for (const k of ['rank_pattern', 'alpha_pattern']) {
    const v = j[k];
    if (v !== undefined && v !== null && !(typeof v === 'object' && Object.keys(v).length === 0)) throw unsupported(`${k} (per-layer ranks)`);
  }
  const r = j.r;
  if (typeof r !== 'number' || !Number.isInteger(r) || r <= 0) throw new UserError(`${file}: "r" must be a positive integer (found ${JSON.stringify(r)})`);
  const alpha = j.lora_alpha ?? 8;
  if (typeof alpha !== 'number' || !(alpha > 0)) throw new UserError(`${file}: "lora_alpha" must be a positive number (found ${JSON.stringify(alpha)})`);
  const dropout = j.lora_dropout ?? 0;
  if (typeof dropout !== 'number' || !(dropout >= 0 && dropout < 1)) throw new UserError(`${file}: "lora_dropout" must be in [0, 1) (found ${JSON.stringify(dropout)})`);
  let layers: number[] | undefined;
  const ltt = j.layers_to_transform;
  if (typeof ltt === 'number') layers = [ltt];
  else if (Array.isArray(ltt)) layers = ltt as number[];
  else if (ltt !== undefined && ltt !== null) throw new UserError(`${file}: "layers_to_transform" must be a layer index or a list of them`);
  if (layers && !layers.every((l) => Number.isInteger(l) && l >= 0 && l < model.nLayer)) {
    throw new UserError(`${file}: layers_to_transform ${JSON.stringify(ltt)} names layers a ${model.nLayer}-layer model does not have; is this adapter for another model?`);
  }
  const allLayers = layers ?? Array.from({ length: model.nLayer }, (_, i) => i);
  const targets = targetsFromPeft(j.target_modules, file, allLayers);
  if (targets.length === 0) throw new UserError(`${file}: target_modules ${JSON.stringify(j.target_modules)} selects no GPT-2 layer`);
  const config: LoraConfig = { rank: r, alpha, dropout, targets, useRslora: j.use_rslora === true, layers };
  const baseModel = typeof j.base_model_name_or_path === 'string' ? j.base_model_name_or_path : undefined;
  return { config, baseModel };
}

/**
 * Loads an adapter folder for a base model of shape `model`. Strict: a missing or malformed file,
 * an option merging cannot honour, a tensor missing, extra, or of the wrong shape for this base is a
 * UserError that says which.
 */
export function loadAdapter(dir: string, model: GPT2Config): LoraAdapter {
  const abs = path.resolve(dir);
  if (!fs.existsSync(abs) || !fs.statSync(abs).isDirectory()) throw new UserError(`${abs}: no such folder; ${HOWTO}`);
  const configFile = path.join(abs, ADAPTER_CONFIG_FILE);
  const { config, baseModel } = parseAdapterConfig(readJson(configFile, HOWTO), configFile, model);
  const weightsFile = path.join(abs, ADAPTER_WEIGHTS_FILE);
  if (!fs.existsSync(weightsFile)) {
    const bin = fs.existsSync(path.join(abs, 'adapter_model.bin')) ? ' (found adapter_model.bin: save with safe_serialization=True)' : '';
    throw new UserError(`${weightsFile}: missing; ${HOWTO}${bin}`);
  }
  const expected = new Map<string, { module: LoraModule; shape: number[] }>();
  for (const m of loraModules(model, config)) {
    expected.set(`${m.layer}.${m.target}.A`, { module: m, shape: [config.rank, m.in] });
    expected.set(`${m.layer}.${m.target}.B`, { module: m, shape: [m.out, config.rank] });
  }
  const file = openSafetensors(weightsFile);
  try {
    const values = new Map<string, Float32Array>();
    for (const [stored, info] of file.tensors) {
      const parsed = parsePeftName(stored);
      if (!parsed) throw new UserError(`${weightsFile}: tensor "${stored}" is not a LoRA A/B matrix of a GPT-2 Conv1D layer (unsupported adapter content)`);
      const want = expected.get(`${parsed.layer}.${parsed.target}.${parsed.matrix}`);
      if (!want) throw new UserError(`${weightsFile}: tensor "${stored}" is for a layer adapter_config.json does not target (or a model with more layers than this one's ${model.nLayer})`);
      const name = parsed.matrix === 'A' ? want.module.a : want.module.b;
      if (values.has(name)) throw new UserError(`${weightsFile}: tensor ${name} is stored twice`);
      if (info.shape.length !== 2 || info.shape[0] !== want.shape[0] || info.shape[1] !== want.shape[1]) {
        throw new UserError(
          `${weightsFile}: tensor "${stored}" has shape [${info.shape.join(', ')}], expected [${want.shape.join(', ')}] for r = ${config.rank} on a model of width ${model.nEmbd}; is this adapter for another model?`,
        );
      }
      values.set(name, file.readFloat32(stored));
    }
    for (const m of loraModules(model, config)) {
      for (const name of [m.a, m.b]) if (!values.has(name)) throw new UserError(`${weightsFile}: tensor ${name} is missing (adapter_config.json targets ${m.target} in layer ${m.layer})`);
    }
    return { config, values, baseModel };
  } finally {
    file.close();
  }
}
