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

/**
 * Sanity limits on a config's dimensions, far above any GPT-2 (xl: 48 layers, 1600 wide, 1024
 * positions) and far below what would take minutes to describe: a config is checked against them
 * before anything is sized from it (a bad `n_layer: 1e8` once spent a minute and 2.4 GB first).
 */
export const CONFIG_LIMITS = {
  vocab_size: 1 << 24,
  n_positions: 1 << 20,
  n_embd: 1 << 16,
  n_layer: 1024,
  n_head: 1 << 16,
} as const;

/** Reads a Hugging Face GPT-2 `config.json` object; `source` names the file in errors. */
export function configFromHuggingFace(json: unknown, source: string): GPT2Config {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new UserError(`${source}: not a JSON object; expected a GPT-2 config.json`);
  const j = json as Record<string, unknown>;
  const int = (key: keyof typeof CONFIG_LIMITS, value: unknown, name: string = key): number => {
    const max = CONFIG_LIMITS[key];
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > max) {
      throw new UserError(`${source}: "${name}" must be an integer from 1 to ${max} (found ${JSON.stringify(value) ?? 'nothing'})`);
    }
    return value;
  };
  if (j.model_type !== undefined && j.model_type !== 'gpt2') {
    throw new UserError(`${source}: model_type is "${String(j.model_type)}"; only GPT-2-architecture checkpoints are supported`);
  }
  const eps = j.layer_norm_epsilon ?? 1e-5;
  if (typeof eps !== 'number' || !(eps > 0 && eps < 1)) throw new UserError(`${source}: "layer_norm_epsilon" must be a number between 0 and 1 (found ${JSON.stringify(eps)})`);
  // Hugging Face reads n_positions; older files name the context n_ctx only. Say which one was wrong.
  const positionsKey = j.n_positions === undefined && j.n_ctx !== undefined ? 'n_ctx' : 'n_positions';
  const config: GPT2Config = {
    vocabSize: int('vocab_size', j.vocab_size),
    nPositions: int('n_positions', j[positionsKey], positionsKey),
    nEmbd: int('n_embd', j.n_embd),
    nLayer: int('n_layer', j.n_layer),
    nHead: int('n_head', j.n_head),
    layerNormEpsilon: eps,
  };
  if (config.nEmbd % config.nHead !== 0) {
    throw new UserError(`${source}: n_embd (${config.nEmbd}) is not divisible by n_head (${config.nHead})`);
  }
  return config;
}

/** Bytes of the model's weights in fp32: what converting the file and building the graph hold at least. */
export function weightBytes(c: GPT2Config): number {
  return 4 * parameterCount(c);
}

/**
 * Refuses a config whose fp32 weights alone exceed this machine's memory, before anything is
 * allocated for it: one line with both numbers. `totalBytes` is the machine's (os.totalmem()).
 */
export function checkFitsInMemory(c: GPT2Config, totalBytes: number, source: string): void {
  const needed = weightBytes(c);
  if (needed <= totalBytes) return;
  throw new UserError(
    `${source}: a model of this shape (${formatCount(parameterCount(c))} parameters) needs ~${formatGB(needed)} of memory for its weights alone, ` +
      `this machine has ${formatGB(totalBytes)}; check n_layer, n_embd and vocab_size, or use a smaller model`,
  );
}

function formatGB(bytes: number): string {
  const gb = bytes / 1e9;
  return gb >= 100 ? `${Math.round(gb).toLocaleString('en-US')} GB` : `${gb.toPrecision(2)} GB`;
}

function formatCount(n: number): string {
  return n >= 1e12 ? `${(n / 1e12).toPrecision(3)} trillion` : n >= 1e9 ? `${(n / 1e9).toPrecision(3)} billion` : `${(n / 1e6).toPrecision(3)} million`;
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

/** Parameters of a GPT-2 of this shape (tied head counted once), by formula: no per-layer list is built. */
export function parameterCount(c: GPT2Config): number {
  const E = c.nEmbd;
  const perLayer = 2 * E + (3 * E * E + 3 * E) + (E * E + E) + 2 * E + (4 * E * E + 4 * E) + (4 * E * E + E);
  return c.vocabSize * E + c.nPositions * E + c.nLayer * perLayer + 2 * E;
}
