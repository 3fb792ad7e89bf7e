import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { GPT2Config } from '../../../src/engine/config';
import { UserError } from '../../../src/engine/errors';
import { Rng } from '../../../src/engine/random';
import { randomWeights } from '../../../src/engine/randomCheckpoint';
import { writeSafetensors } from '../../../src/engine/safetensors';
import {
  ADAPTER_CONFIG_FILE, ADAPTER_WEIGHTS_FILE, DEFAULT_LORA_CONFIG, initLoraValues, loadAdapter, loraModules, loraParams,
  loraScaling, mergedWeights, saveAdapter, type LoraConfig,
} from '../../../src/training/lora';

const MODEL: GPT2Config = { vocabSize: 64, nPositions: 16, nEmbd: 8, nLayer: 2, nHead: 2, layerNormEpsilon: 1e-5 };

function tempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'gpt2c-lora-'));
}

/** Non-zero A and B (a fresh adapter has B = 0, which would hide a wrong delta). */
function trainedValues(model: GPT2Config, config: LoraConfig, seed: number): Map<string, Float32Array> {
  const rng = new Rng(seed);
  const values = new Map<string, Float32Array>();
  for (const p of loraParams(model, config)) values.set(p.name, Float32Array.from({ length: p.shape[0] * p.shape[1] }, () => rng.normal()));
  return values;
}

/** The PEFT adapter_config.json of a GPT-2 LoRA as peft 0.13 writes it (extra keys included). */
function peftConfig(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    alpha_pattern: {},
    auto_mapping: null,
    base_model_name_or_path: 'openai-community/gpt2',
    bias: 'none',
    fan_in_fan_out: true,
    inference_mode: true,
    init_lora_weights: true,
    layer_replication: null,
    layers_pattern: null,
    layers_to_transform: null,
    loftq_config: {},
    lora_alpha: 32,
    lora_dropout: 0.1,
    megatron_config: null,
    megatron_core: 'megatron.core',
    modules_to_save: null,
    peft_type: 'LORA',
    r: 4,
    rank_pattern: {},
    revision: null,
    target_modules: ['c_attn', 'c_proj'],
    task_type: 'CAUSAL_LM',
    use_dora: false,
    use_rslora: false,
    ...overrides,
  };
}

function writePeftAdapter(dir: string, config: Record<string, unknown>, tensors: { name: string; shape: number[] }[], seed = 1): void {
  const rng = new Rng(seed);
  fs.writeFileSync(path.join(dir, ADAPTER_CONFIG_FILE), JSON.stringify(config));
  writeSafetensors(
    path.join(dir, ADAPTER_WEIGHTS_FILE),
    tensors.map((t) => ({ name: t.name, dtype: 'F32' as const, shape: t.shape, data: Float32Array.from({ length: t.shape[0] * t.shape[1] }, () => rng.normal()) })),
    { format: 'pt' },
  );
}

/** PEFT's tensors for GPT-2 with target_modules ["c_attn", "c_proj"] (c_proj matches attn and mlp), r = 4. */
function peftTensors(model: GPT2Config, r: number): { name: string; shape: number[] }[] {
  const E = model.nEmbd;
  const out: { name: string; shape: number[] }[] = [];
  for (let i = 0; i < model.nLayer; i++) {
    const p = `base_model.model.transformer.h.${i}`;
    out.push({ name: `${p}.attn.c_attn.lora_A.weight`, shape: [r, E] }, { name: `${p}.attn.c_attn.lora_B.weight`, shape: [3 * E, r] });
    out.push({ name: `${p}.attn.c_proj.lora_A.weight`, shape: [r, E] }, { name: `${p}.attn.c_proj.lora_B.weight`, shape: [E, r] });
    out.push({ name: `${p}.mlp.c_proj.lora_A.weight`, shape: [r, 4 * E] }, { name: `${p}.mlp.c_proj.lora_B.weight`, shape: [E, r] });
  }
  return out;
}

describe('LoRA', () => {
  let dir: string;
  beforeEach(() => (dir = tempDir()));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('names and shapes adapter tensors as PEFT does for Conv1D (fan_in_fan_out)', () => {
    const params = loraParams(MODEL, { ...DEFAULT_LORA_CONFIG, rank: 4 });
    assert.equal(params.length, 2 * 4 * MODEL.nLayer);
    assert.deepEqual(params.slice(0, 4), [
      { name: 'base_model.model.transformer.h.0.attn.c_attn.lora_A.weight', shape: [4, 8] },
      { name: 'base_model.model.transformer.h.0.attn.c_attn.lora_B.weight', shape: [24, 4] },
      { name: 'base_model.model.transformer.h.0.attn.c_proj.lora_A.weight', shape: [4, 8] },
      { name: 'base_model.model.transformer.h.0.attn.c_proj.lora_B.weight', shape: [8, 4] },
    ]);
    const fc = loraModules(MODEL, { ...DEFAULT_LORA_CONFIG, targets: ['mlp.c_proj'] });
    assert.deepEqual(fc.map((m) => [m.base, m.in, m.out]), [['h.0.mlp.c_proj.weight', 32, 8], ['h.1.mlp.c_proj.weight', 32, 8]]);
    assert.equal(loraScaling({ ...DEFAULT_LORA_CONFIG, rank: 4, alpha: 8 }), 2);
    assert.equal(loraScaling({ ...DEFAULT_LORA_CONFIG, rank: 4, alpha: 8, useRslora: true }), 4);
  });

  it('initialises A uniformly within 1/√in, B to zero, reproducibly per seed', () => {
    const c = DEFAULT_LORA_CONFIG;
    const v = initLoraValues(MODEL, c, 7);
    for (const m of loraModules(MODEL, c)) {
      const a = v.get(m.a)!;
      assert.ok(a.every((x) => Math.abs(x) <= 1 / Math.sqrt(m.in)));
      assert.ok(a.some((x) => x !== 0));
      assert.ok(v.get(m.b)!.every((x) => x === 0));
    }
    const again = initLoraValues(MODEL, c, 7);
    const other = initLoraValues(MODEL, c, 8);
    const first = loraModules(MODEL, c)[0].a;
    assert.deepEqual(again.get(first), v.get(first));
    assert.notDeepEqual(other.get(first), v.get(first));
  });

  it('saves and loads back exactly, with a PEFT adapter_config.json', () => {
    const config: LoraConfig = { rank: 4, alpha: 8, dropout: 0.1, targets: ['attn.c_attn', 'mlp.c_fc'] };
    const values = trainedValues(MODEL, config, 3);
    saveAdapter(dir, config, values, { baseModel: 'gpt2', model: MODEL });
    const json = JSON.parse(fs.readFileSync(path.join(dir, ADAPTER_CONFIG_FILE), 'utf8'));
    assert.equal(json.peft_type, 'LORA');
    assert.equal(json.task_type, 'CAUSAL_LM');
    assert.equal(json.r, 4);
    assert.equal(json.lora_alpha, 8);
    assert.equal(json.lora_dropout, 0.1);
    assert.deepEqual(json.target_modules, ['attn.c_attn', 'mlp.c_fc']);
    assert.equal(json.fan_in_fan_out, true);
    assert.equal(json.bias, 'none');
    assert.equal(json.base_model_name_or_path, 'gpt2');
    assert.equal(json.inference_mode, true);
    assert.deepEqual(fs.readdirSync(dir).sort(), [ADAPTER_CONFIG_FILE, ADAPTER_WEIGHTS_FILE]);

    const loaded = loadAdapter(dir, MODEL);
    assert.deepEqual(loaded.config, { ...config, useRslora: false, layers: undefined });
    assert.equal(loaded.baseModel, 'gpt2');
    assert.deepEqual([...loaded.values.keys()].sort(), [...values.keys()].sort());
    for (const [k, v] of values) assert.deepEqual(loaded.values.get(k), v);
  });

  it('merges W + scaling·AᵀBᵀ into the Conv1D weights when read, leaving the base untouched', () => {
    const config: LoraConfig = { rank: 3, alpha: 5, dropout: 0, targets: ['attn.c_attn', 'mlp.c_proj'] };
    const base = randomWeights(MODEL, 1);
    const before = Float32Array.from(base.tensor('h.1.attn.c_attn.weight'));
    const adapter = { config, values: trainedValues(MODEL, config, 4) };
    const merged = mergedWeights(base, adapter);
    const s = 5 / 3;
    for (const m of loraModules(MODEL, config)) {
      const a = adapter.values.get(m.a)!;
      const b = adapter.values.get(m.b)!;
      const w = base.tensor(m.base);
      const got = merged.tensor(m.base);
      for (let i = 0; i < m.in; i++) {
        for (let o = 0; o < m.out; o++) {
          let d = 0;
          for (let k = 0; k < config.rank; k++) d += a[k * m.in + i] * b[o * config.rank + k];
          const want = w[i * m.out + o] + s * d;
          assert.ok(Math.abs(got[i * m.out + o] - want) < 1e-5 * (1 + Math.abs(want)), `${m.base}[${i},${o}]`);
        }
      }
    }
    assert.deepEqual(base.tensor('h.1.attn.c_attn.weight'), before);
    assert.equal(merged.tensor('wte.weight'), base.tensor('wte.weight'), 'untargeted tensors pass through');
    assert.equal(merged.tensor('h.0.attn.c_attn.bias'), base.tensor('h.0.attn.c_attn.bias'));
  });

  it('a fresh adapter (B = 0) merges to the base weights exactly', () => {
    const base = randomWeights(MODEL, 2);
    const merged = mergedWeights(base, { config: DEFAULT_LORA_CONFIG, values: initLoraValues(MODEL, DEFAULT_LORA_CONFIG, 0) });
    assert.deepEqual(merged.tensor('h.0.mlp.c_fc.weight'), base.tensor('h.0.mlp.c_fc.weight'));
  });

  it('loads an adapter written with PEFT names and config (suffix target_modules, extra keys)', () => {
    writePeftAdapter(dir, peftConfig(), peftTensors(MODEL, 4));
    const a = loadAdapter(dir, MODEL);
    assert.deepEqual(a.config.targets, ['attn.c_attn', 'attn.c_proj', 'mlp.c_proj']);
    assert.equal(a.config.rank, 4);
    assert.equal(loraScaling(a.config), 8);
    assert.equal(a.baseModel, 'openai-community/gpt2');
    assert.equal(a.values.size, 12);
    assert.deepEqual(a.values.get('base_model.model.transformer.h.1.mlp.c_proj.lora_A.weight')!.length, 4 * 32);
    // And it merges.
    assert.notDeepEqual(mergedWeights(randomWeights(MODEL, 1), a).tensor('h.1.mlp.c_proj.weight'), randomWeights(MODEL, 1).tensor('h.1.mlp.c_proj.weight'));
  });

  it('loads PEFT names without "transformer." or with the ".default" adapter name, and a regex target', () => {
    const tensors = peftTensors(MODEL, 4)
      .filter((t) => t.name.includes('c_attn'))
      .map((t, i) => ({ ...t, name: i % 2 ? t.name.replace('transformer.', '') : t.name.replace('.weight', '.default.weight') }));
    writePeftAdapter(dir, peftConfig({ target_modules: '.*\\.attn\\.c_attn' }), tensors);
    const a = loadAdapter(dir, MODEL);
    assert.deepEqual(a.config.targets, ['attn.c_attn']);
    assert.ok(a.values.has('base_model.model.transformer.h.1.attn.c_attn.lora_B.weight'));
  });

  it('honours layers_to_transform', () => {
    const tensors = peftTensors(MODEL, 4).filter((t) => t.name.includes('.h.1.') && t.name.includes('c_attn'));
    writePeftAdapter(dir, peftConfig({ target_modules: ['c_attn'], layers_to_transform: [1], layers_pattern: 'h' }), tensors);
    const a = loadAdapter(dir, MODEL);
    assert.deepEqual(a.config.layers, [1]);
    const base = randomWeights(MODEL, 1);
    const merged = mergedWeights(base, a);
    assert.deepEqual(merged.tensor('h.0.attn.c_attn.weight'), base.tensor('h.0.attn.c_attn.weight'));
    assert.notDeepEqual(merged.tensor('h.1.attn.c_attn.weight'), base.tensor('h.1.attn.c_attn.weight'));
  });

  describe('refuses clearly', () => {
    const refuses = (pattern: RegExp) => assert.throws(() => loadAdapter(dir, MODEL), (e: unknown) => e instanceof UserError && pattern.test(e.message));

    it('a missing folder or file', () => {
      fs.rmSync(dir, { recursive: true });
      refuses(/no such folder/);
      fs.mkdirSync(dir);
      refuses(/adapter_config\.json: missing/);
      fs.writeFileSync(path.join(dir, ADAPTER_CONFIG_FILE), JSON.stringify(peftConfig()));
      refuses(/adapter_model\.safetensors: missing/);
      fs.writeFileSync(path.join(dir, 'adapter_model.bin'), 'x');
      refuses(/safe_serialization/);
    });

    it('malformed JSON or fields', () => {
      writePeftAdapter(dir, peftConfig(), peftTensors(MODEL, 4));
      fs.writeFileSync(path.join(dir, ADAPTER_CONFIG_FILE), '{"peft_type": "LORA",');
      refuses(/not valid JSON/);
      fs.writeFileSync(path.join(dir, ADAPTER_CONFIG_FILE), JSON.stringify(peftConfig({ r: 0 })));
      refuses(/"r" must be a positive integer/);
      fs.writeFileSync(path.join(dir, ADAPTER_CONFIG_FILE), JSON.stringify(peftConfig({ target_modules: ['q_proj'] })));
      refuses(/target_modules entry "q_proj"/);
      fs.writeFileSync(path.join(dir, ADAPTER_WEIGHTS_FILE), 'not safetensors');
      fs.writeFileSync(path.join(dir, ADAPTER_CONFIG_FILE), JSON.stringify(peftConfig()));
      refuses(/safetensors/);
    });

    it('unsupported options', () => {
      writePeftAdapter(dir, peftConfig({ bias: 'all' }), peftTensors(MODEL, 4));
      refuses(/bias "all".*not supported/);
      writePeftAdapter(dir, peftConfig({ use_dora: true }), peftTensors(MODEL, 4));
      refuses(/DoRA/);
      writePeftAdapter(dir, peftConfig({ peft_type: 'IA3' }), peftTensors(MODEL, 4));
      refuses(/peft_type "IA3"/);
      writePeftAdapter(dir, peftConfig({ modules_to_save: ['lm_head'] }), peftTensors(MODEL, 4));
      refuses(/modules_to_save/);
      writePeftAdapter(dir, peftConfig({ rank_pattern: { c_attn: 8 } }), peftTensors(MODEL, 4));
      refuses(/rank_pattern/);
    });

    it('tensors of the wrong shape for this base model, missing, or unknown', () => {
      writePeftAdapter(dir, peftConfig(), peftTensors({ ...MODEL, nEmbd: 16 }, 4));
      refuses(/has shape \[4, 16\], expected \[4, 8\].*another model/);
      writePeftAdapter(dir, peftConfig({ r: 2 }), peftTensors(MODEL, 4));
      refuses(/expected \[2, 8\] for r = 2/);
      writePeftAdapter(dir, peftConfig(), peftTensors(MODEL, 4).slice(1));
      refuses(/lora_A\.weight is missing/);
      writePeftAdapter(dir, peftConfig(), [...peftTensors(MODEL, 4), { name: 'base_model.model.transformer.wte.lora_embedding_A', shape: [4, 64] }]);
      refuses(/lora_embedding_A" is not a LoRA A\/B matrix/);
      writePeftAdapter(dir, peftConfig(), [...peftTensors(MODEL, 4), { name: 'base_model.model.transformer.h.5.attn.c_attn.lora_A.weight', shape: [4, 8] }]);
      refuses(/more layers/);
    });
  });
});
