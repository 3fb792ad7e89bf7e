import { UserError } from './errors';

/** The shape of a GPT-2 model: what a Hugging Face `config.json` says, under names this code uses. */
export interface GPT2Config {
  vocabSize: number;
  nPositions: number;
  nEmbd: number;
  nLayer: number;
  nHead: number;
  layerNormEpsilon: number;
}

/** Named shapes for random checkpoints (tests, benchmarks) and the presets' real shapes. */
export const NAMED_CONFIGS: Record<string, GPT2Config> = {
  // The smallest shape that still exercises every part of the graph with the real vocabulary.
  tiny: { vocabSize: 50257, nPositions: 128, nEmbd: 32, nLayer: 2, nHead: 2, layerNormEpsilon: 1e-5 },
  small: { vocabSize: 50257, nPositions: 1024, nEmbd: 768, nLayer: 12, nHead: 12, layerNormEpsilon: 1e-5 },
  medium: { vocabSize: 50257, nPositions: 1024, nEmbd: 1024, nLayer: 24, nHead: 16, layerNormEpsilon: 1e-5 },
  large: { vocabSize: 50257, nPositions: 1024, nEmbd: 1280, nLayer: 36, nHead: 20, layerNormEpsilon: 1e-5 },
  xl: { vocabSize: 50257, nPositions: 1024, nEmbd: 1600, nLayer: 48, nHead: 25, layerNormEpsilon: 1e-5 },
  distil: { vocabSize: 50257, nPositions: 1024, nEmbd: 768, nLayer: 6, nHead: 12, layerNormEpsilon: 1e-5 },
};

export function headDim(c: GPT2Config): number {
  return c.nEmbd / c.nHead;
}

/** Reads a Hugging Face GPT-2 `config.json` object; `source` names the file in errors. */
export function configFromHuggingFace(json: unknown, source: string): GPT2Config {
  if (typeof json !== 'object' || json === null) throw new UserError(`${source}: not a JSON object; expected a GPT-2 config.json`);
  const j = json as Record<string, unknown>;
  const int = (key: string, fallback?: number): number => {
    const v = j[key] ?? fallback;
    if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) {
      throw new UserError(`${source}: "${key}" must be a positive integer (found ${JSON.stringify(j[key])})`);
    }
    return v;
  };
  if (j.model_type !== undefined && j.model_type !== 'gpt2') {
    throw new UserError(`${source}: model_type is "${String(j.model_type)}"; only GPT-2-architecture checkpoints are supported`);
  }
  const eps = j.layer_norm_epsilon ?? 1e-5;
  if (typeof eps !== 'number' || !(eps > 0)) throw new UserError(`${source}: "layer_norm_epsilon" must be a positive number`);
  const config: GPT2Config = {
    vocabSize: int('vocab_size'),
    nPositions: int('n_positions', j.n_ctx as number | undefined),
    nEmbd: int('n_embd'),
    nLayer: int('n_layer'),
    nHead: int('n_head'),
    layerNormEpsilon: eps,
  };
  if (config.nEmbd % config.nHead !== 0) {
    throw new UserError(`${source}: n_embd (${config.nEmbd}) is not divisible by n_head (${config.nHead})`);
  }
  return config;
}

export function configToHuggingFace(c: GPT2Config): Record<string, unknown> {
  return {
    architectures: ['GPT2LMHeadModel'],
    model_type: 'gpt2',
    vocab_size: c.vocabSize,
    n_positions: c.nPositions,
    n_ctx: c.nPositions,
    n_embd: c.nEmbd,
    n_layer: c.nLayer,
    n_head: c.nHead,
    n_inner: null,
    activation_function: 'gelu_new',
    layer_norm_epsilon: c.layerNormEpsilon,
    bos_token_id: 50256,
    eos_token_id: 50256,
    tie_word_embeddings: true,
  };
}

/**
 * Every parameter of a GPT-2 model under its canonical name (Hugging Face's, without `transformer.`)
 * with its shape. Conv1D weights are [in, out], as stored. The output head is tied to `wte.weight`.
 */
export function parameterShapes(c: GPT2Config): Map<string, number[]> {
  const E = c.nEmbd;
  const m = new Map<string, number[]>();
  m.set('wte.weight', [c.vocabSize, E]);
  m.set('wpe.weight', [c.nPositions, E]);
  for (let i = 0; i < c.nLayer; i++) {
    const p = `h.${i}.`;
    m.set(p + 'ln_1.weight', [E]);
    m.set(p + 'ln_1.bias', [E]);
    m.set(p + 'attn.c_attn.weight', [E, 3 * E]);
    m.set(p + 'attn.c_attn.bias', [3 * E]);
    m.set(p + 'attn.c_proj.weight', [E, E]);
    m.set(p + 'attn.c_proj.bias', [E]);
    m.set(p + 'ln_2.weight', [E]);
    m.set(p + 'ln_2.bias', [E]);
    m.set(p + 'mlp.c_fc.weight', [E, 4 * E]);
    m.set(p + 'mlp.c_fc.bias', [4 * E]);
    m.set(p + 'mlp.c_proj.weight', [4 * E, E]);
    m.set(p + 'mlp.c_proj.bias', [E]);
  }
  m.set('ln_f.weight', [E]);
  m.set('ln_f.bias', [E]);
  return m;
}

export function parameterCount(c: GPT2Config): number {
  let n = 0;
  for (const shape of parameterShapes(c).values()) n += shape.reduce((a, b) => a * b, 1);
  return n;
}
