import assert from 'node:assert/strict';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { execFileSync } from 'child_process';
import { openCheckpoint, writeCheckpoint, HASH_SIDECAR, canonicalTensorName, firstNonFinite } from '../../src/engine/checkpoint';
import { configToHuggingFace, NAMED_CONFIGS, parameterShapes, type GPT2Config } from '../../src/engine/config';
import { UserError } from '../../src/engine/errors';
import { PRESETS, resolveModel } from '../../src/engine/presets';
import { randomTensor, randomWeights, writeRandomCheckpoint } from '../../src/engine/randomCheckpoint';
import { openSafetensors, writeSafetensors, type TensorToWrite } from '../../src/engine/safetensors';
import { useTmpDir } from '../helpers/tmpdir';

/** Small enough that a whole checkpoint is a few kilobytes. */
const MICRO: GPT2Config = { vocabSize: 64, nPositions: 16, nEmbd: 8, nLayer: 2, nHead: 2, layerNormEpsilon: 1e-5 };

function assertUserError(fn: () => unknown, re: RegExp, mustName?: string): void {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof UserError, `expected a UserError, got ${String((e as Error)?.stack ?? e)}`);
    assert.match(e.message, re);
    assert.ok(!/[\r\n]/.test(e.message), `not one line: ${e.message}`);
    if (mustName) assert.ok(e.message.includes(mustName), `does not name ${mustName}: ${e.message}`);
    return;
  }
  assert.fail(`expected a UserError matching ${re}`);
}

function allTensors(ck: { tensor(n: string): Float32Array }, config: GPT2Config): Map<string, Float32Array> {
  return new Map([...parameterShapes(config).keys()].map((n) => [n, ck.tensor(n)]));
}

/** Writes config.json and a model.safetensors made of `tensors` by hand. */
function handMade(dir: string, config: GPT2Config, tensors: TensorToWrite[]): void {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(configToHuggingFace(config)));
  writeSafetensors(path.join(dir, 'model.safetensors'), tensors);
}

function canonicalTensors(config: GPT2Config, seed: number): TensorToWrite[] {
  const w = randomWeights(config, seed);
  return [...parameterShapes(config)].map(([name, shape]) => ({ name, dtype: 'F32' as const, shape, data: w.tensor(name) }));
}

describe('checkpoint', () => {
  const tmp = useTmpDir();

  it('round-trips a random checkpoint exactly in F32, and within precision in F16 / BF16', () => {
    const w = randomWeights(MICRO, 1, { biasStd: 0.1, lnStd: 0.1 });
    for (const [dtype, tol] of [['F32', 0], ['F16', 2 ** -11], ['BF16', 2 ** -8]] as const) {
      const dir = path.join(tmp(), dtype);
      writeCheckpoint(dir, MICRO, w, { dtype });
      const ck = openCheckpoint(dir);
      try {
        assert.deepEqual(ck.config, MICRO);
        assert.equal(ck.dir, path.resolve(dir));
        assert.deepEqual(ck.files, { config: path.join(ck.dir, 'config.json'), weights: path.join(ck.dir, 'model.safetensors') });
        assert.equal(ck.dtype('wte.weight'), dtype);
        for (const name of parameterShapes(MICRO).keys()) {
          const a = w.tensor(name);
          const b = ck.tensor(name);
          assert.equal(b.length, a.length);
          for (let i = 0; i < a.length; i++) {
            assert.ok(Math.abs(a[i] - b[i]) <= Math.abs(a[i]) * tol + 1e-7 * Number(tol > 0), `${dtype} ${name}[${i}]`);
          }
        }
      } finally {
        ck.close();
      }
    }
  });

  it('reads the same tensors with or without the transformer. prefix, with buffers, with a tied lm_head', () => {
    const w = randomWeights(MICRO, 2);
    const variants = [{}, { prefix: true }, { extraBuffers: true }, { prefix: true, extraBuffers: true, lmHead: true }, { lmHead: true }];
    const reads = variants.map((opts, i) => {
      const dir = path.join(tmp(), `v${i}`);
      writeCheckpoint(dir, MICRO, w, opts);
      const ck = openCheckpoint(dir);
      const t = allTensors(ck, MICRO);
      ck.close();
      return { opts, t, names: [...openSafetensorsNames(path.join(dir, 'model.safetensors'))] };
    });
    for (const r of reads.slice(1)) assert.deepEqual(r.t, reads[0].t, JSON.stringify(r.opts));
    assert.deepEqual(reads[0].t, allTensors(w, MICRO));
    assert.ok(reads[1].names.includes('transformer.h.0.attn.c_attn.weight'));
    assert.ok(reads[2].names.includes('h.1.attn.masked_bias') && reads[2].names.includes('h.1.attn.bias'));
    assert.ok(reads[3].names.includes('lm_head.weight') && reads[3].names.includes('transformer.h.1.attn.bias'));
    assert.equal(canonicalTensorName('transformer.wte.weight'), 'wte.weight');
    assert.equal(canonicalTensorName('h.0.ln_1.bias'), 'h.0.ln_1.bias');
  });

  it('reads from disk on every call: callers own (and may change) what they get', () => {
    const dir = tmp();
    writeRandomCheckpoint(dir, MICRO, 3);
    const ck = openCheckpoint(dir);
    const a = ck.tensor('wpe.weight');
    a.fill(42);
    assert.notEqual(ck.tensor('wpe.weight')[0], 42);
    assert.throws(() => ck.tensor('lm_head.weight'), /not a GPT-2 parameter/);
    ck.close();
  });

  it('refuses an untied lm_head, naming it', () => {
    const tensors = canonicalTensors(MICRO, 4);
    const head = new Float32Array(MICRO.vocabSize * MICRO.nEmbd).fill(0.5);
    handMade(tmp(), MICRO, [...tensors, { name: 'lm_head.weight', dtype: 'F32', shape: [MICRO.vocabSize, MICRO.nEmbd], data: head }]);
    assertUserError(() => openCheckpoint(tmp()), /lm_head.weight differs from wte.weight \(an untied output head\); only .* tied/, 'model.safetensors');
    // A head of another shape is just as untied.
    handMade(tmp(), MICRO, [...tensors, { name: 'lm_head.weight', dtype: 'F32', shape: [2, 2], data: new Float32Array(4) }]);
    assertUserError(() => openCheckpoint(tmp()), /untied output head/);
  });

  it('accepts a tied lm_head saved in another float dtype', () => {
    const tensors = canonicalTensors(MICRO, 5);
    const wte = tensors.find((t) => t.name === 'wte.weight')!;
    handMade(tmp(), MICRO, [...tensors, { ...wte, name: 'lm_head.weight', dtype: 'BF16' }]);
    openCheckpoint(tmp()).close();
  });

  it('names a missing tensor and its expected shape', () => {
    handMade(tmp(), MICRO, canonicalTensors(MICRO, 6).filter((t) => t.name !== 'h.1.mlp.c_fc.bias'));
    assertUserError(() => openCheckpoint(tmp()), /tensor h.1.mlp.c_fc.bias is missing \(expected shape \[32\]\)/, path.join(tmp(), 'model.safetensors'));
  });

  it('names a tensor of the wrong shape, expected and found, and spots a transposed weight', () => {
    const t = canonicalTensors(MICRO, 7);
    const fc = t.find((x) => x.name === 'h.0.mlp.c_fc.weight')!;
    fc.shape = [32, 8];
    handMade(tmp(), MICRO, t);
    assertUserError(() => openCheckpoint(tmp()), /tensor "h.0.mlp.c_fc.weight" has shape \[32, 8\], expected \[8, 32\] \(transposed: GPT-2 stores Conv1D weights as \[in, out\]\)/);
    fc.shape = [16, 16];
    handMade(tmp(), MICRO, t);
    assertUserError(() => openCheckpoint(tmp()), /tensor "h.0.mlp.c_fc.weight" has shape \[16, 16\], expected \[8, 32\]; does config.json belong/);
  });

  it('refuses a config that does not match the weights', () => {
    writeRandomCheckpoint(tmp(), MICRO, 8);
    fs.writeFileSync(path.join(tmp(), 'config.json'), JSON.stringify(configToHuggingFace({ ...MICRO, nLayer: 3 })));
    assertUserError(() => openCheckpoint(tmp()), /tensor h.2.ln_1.weight is missing/);
  });

  it('refuses a parameter stored as integers, and one stored twice', () => {
    const t = canonicalTensors(MICRO, 9);
    handMade(tmp(), MICRO, t);
    // Rewrite ln_f.bias's dtype in place: F32 [8] and I64 [4] hold the same 32 bytes.
    const file = path.join(tmp(), 'model.safetensors');
    const bytes = fs.readFileSync(file);
    const text = bytes.toString('latin1').replace('"ln_f.bias":{"dtype":"F32","shape":[8]', '"ln_f.bias":{"dtype":"I64","shape":[4]');
    fs.writeFileSync(file, Buffer.from(text, 'latin1'));
    assertUserError(() => openCheckpoint(tmp()), /tensor "ln_f.bias": dtype I64 is not a floating-point weight type/);
    handMade(tmp(), MICRO, [...t, { ...t[0], name: 'transformer.wte.weight' }]);
    assertUserError(() => openCheckpoint(tmp()), /tensor wte.weight is stored twice/);
  });

  it('explains a missing or malformed config.json and a missing model.safetensors', () => {
    const dir = tmp();
    const howTo = /a checkpoint folder must contain config.json and model.safetensors from a Hugging Face GPT-2 checkpoint/;
    assertUserError(() => openCheckpoint(path.join(dir, 'absent')), /no such folder/, 'absent');
    assertUserError(() => openCheckpoint(dir), new RegExp(`no config.json; ${howTo.source}`), dir);
    fs.writeFileSync(path.join(dir, 'config.json'), '{"n_embd": 8,');
    assertUserError(() => openCheckpoint(dir), new RegExp(`config.json: not valid JSON \\(.*\\); ${howTo.source}`));
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ model_type: 'llama' }));
    assertUserError(() => openCheckpoint(dir), /model_type is "llama"/, 'config.json');
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(configToHuggingFace(MICRO)));
    assertUserError(() => openCheckpoint(dir), new RegExp(`no model.safetensors; ${howTo.source}$`), dir);
    fs.writeFileSync(path.join(dir, 'pytorch_model.bin'), 'x');
    assertUserError(() => openCheckpoint(dir), /no model.safetensors; .* \(found pytorch_model.bin: only safetensors weights are supported/);
    fs.writeFileSync(path.join(dir, 'model.safetensors'), 'garbage!');
    assertUserError(() => openCheckpoint(dir), /model.safetensors: header length \d+ is over/);
    assertUserError(() => openCheckpoint(path.join(dir, 'config.json')), /not a folder/);
  });

  describe('contentHash', () => {
    it('is the SHA-256 of config.json then model.safetensors, memoized in a sidecar', () => {
      const dir = tmp();
      writeRandomCheckpoint(dir, MICRO, 10);
      const expected = crypto.createHash('sha256')
        .update(fs.readFileSync(path.join(dir, 'config.json')))
        .update(fs.readFileSync(path.join(dir, 'model.safetensors')))
        .digest('hex');
      const ck = openCheckpoint(dir);
      assert.equal(ck.contentHash(), expected);
      assert.equal(ck.contentHash(), expected);
      ck.close();
      const sidecar = path.join(dir, HASH_SIDECAR);
      assert.ok(fs.existsSync(sidecar));
      // The sidecar is trusted while sizes and mtimes match: prove it is what answers.
      const j = JSON.parse(fs.readFileSync(sidecar, 'utf8'));
      fs.writeFileSync(sidecar, JSON.stringify({ ...j, sha256: 'f'.repeat(64) }));
      assert.equal(hashOf(dir), 'f'.repeat(64));
      fs.writeFileSync(sidecar, '{broken');
      assert.equal(hashOf(dir), expected);
    });

    it('changes when one byte of the weights changes', () => {
      const dir = tmp();
      writeRandomCheckpoint(dir, MICRO, 11);
      const ck = openCheckpoint(dir);
      const before = ck.contentHash();
      const file = path.join(dir, 'model.safetensors');
      const bytes = fs.readFileSync(file);
      bytes[bytes.length - 3] ^= 1;
      fs.writeFileSync(file, bytes);
      const later = new Date(Date.now() + 5000);
      fs.utimesSync(file, later, later); // coarse-mtime file systems would otherwise hide the edit
      const after = ck.contentHash();
      assert.notEqual(after, before);
      assert.match(after, /^[0-9a-f]{64}$/);
      ck.close();
      assert.equal(hashOf(dir), after);
    });

    it('sees a model.safetensors replaced by another of the same size with the old mtime', () => {
      const dir = tmp();
      writeRandomCheckpoint(dir, MICRO, 13);
      const other = path.join(tmp(), 'other');
      writeRandomCheckpoint(other, MICRO, 14);
      const file = path.join(dir, 'model.safetensors');
      const when = Math.floor(Date.now() / 1000) - 3600; // whole seconds: set again exactly below
      fs.utimesSync(file, when, when);
      const first = hashOf(dir); // memoized in the sidecar under size + mtime
      const { mtimeMs, size } = fs.statSync(file);
      fs.copyFileSync(path.join(other, 'model.safetensors'), file);
      fs.utimesSync(file, when, when); // as cp -p or a restore leaves it
      assert.equal(fs.statSync(file).size, size);
      assert.equal(fs.statSync(file).mtimeMs, mtimeMs);
      const second = hashOf(dir);
      assert.notEqual(second, first, 'the stale hash (and so the stale graph) was served');
      assert.equal(second, hashOf(other), 'the hash is the new content\'s');
    });

    it('works in a read-only folder', function () {
      const dir = tmp();
      writeRandomCheckpoint(dir, MICRO, 12);
      fs.chmodSync(dir, 0o555);
      const ck = openCheckpoint(dir);
      const h = ck.contentHash();
      assert.match(h, /^[0-9a-f]{64}$/);
      assert.equal(ck.contentHash(), h);
      ck.close();
      fs.chmodSync(dir, 0o755);
      // Never a stray temporary file.
      assert.deepEqual(fs.readdirSync(dir).filter((f) => f.endsWith('.tmp')), []);
    });
  });
});

describe('checkpoint faults refused at load, one line each', () => {
  const tmp = useTmpDir();

  for (const [label, value, dtype] of [['NaN', NaN, 'F32'], ['+Infinity', Infinity, 'F32'], ['-Infinity', -Infinity, 'F16']] as const) {
    it(`a ${label} weight (${dtype}), naming the tensor`, () => {
      const tensors = canonicalTensors(MICRO, 20).map((t) => ({ ...t, dtype }));
      const fc = tensors.find((t) => t.name === 'h.1.mlp.c_fc.weight')!;
      (fc.data as Float32Array)[37] = value;
      handMade(tmp(), MICRO, tensors);
      const ck = openCheckpoint(tmp()); // the header is fine: values are checked as tensors are read
      try {
        assert.equal(ck.tensor('h.0.mlp.c_fc.weight').length, 8 * 32);
        assertUserError(() => ck.tensor('h.1.mlp.c_fc.weight'), new RegExp(`tensor "h.1.mlp.c_fc.weight" holds ${label.replace('+', '')} at element 37; the weights are damaged`), 'model.safetensors');
      } finally {
        ck.close();
      }
    });
  }

  it('firstNonFinite finds the first NaN or infinity, and -1 for finite data', () => {
    const a = new Float32Array(1000).map((_, i) => Math.sin(i) * 1e30);
    assert.equal(firstNonFinite(a), -1);
    a[999] = Infinity;
    assert.equal(firstNonFinite(a), 999);
    a[3] = NaN;
    assert.equal(firstNonFinite(a), 3);
    assert.equal(firstNonFinite(new Float32Array(0)), -1);
    assert.equal(firstNonFinite(Float32Array.of(3.4e38, 3.4e38, -0)), -1, 'large finite values do not overflow the check');
  });

  it('a config.json or model.safetensors that is a FIFO or a link loop; a folder that is a link loop', function () {
    if (process.platform === 'win32') this.skip();
    const dir = tmp();
    writeRandomCheckpoint(dir, MICRO, 21);
    const weights = path.join(dir, 'model.safetensors');
    fs.rmSync(weights);
    execFileSync('mkfifo', [weights]);
    assertUserError(() => openCheckpoint(dir), /model.safetensors: is a FIFO \(named pipe\), not a file/, weights);
    fs.rmSync(weights);
    fs.symlinkSync('model.safetensors', weights);
    assertUserError(() => openCheckpoint(dir), /model.safetensors: is a symbolic link loop/, weights);
    const config = path.join(dir, 'config.json');
    fs.rmSync(config);
    execFileSync('mkfifo', [config]);
    assertUserError(() => openCheckpoint(dir), /config.json: is a FIFO \(named pipe\), not a file/, config);
    const looped = path.join(tmp(), 'looped');
    fs.symlinkSync(looped, looped);
    assertUserError(() => openCheckpoint(looped), /looped: is a symbolic link loop/, looped);
    assertUserError(() => resolveModel(looped, tmp()), /model .*looped is a symbolic link loop/);
  });

  it('a config whose weights could not fit in memory, before the weights file is touched', () => {
    const dir = tmp();
    // Within the sanity limits, and ~2 × 10^14 bytes of weights.
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(configToHuggingFace({ ...MICRO, nEmbd: 65536, nHead: 64, nLayer: 1024 })));
    fs.writeFileSync(path.join(dir, 'model.safetensors'), 'not even a safetensors file');
    const t0 = performance.now();
    assertUserError(() => openCheckpoint(dir), /needs ~[\d,]+ GB of memory for its weights alone, this machine has [\d.]+ GB/, 'config.json');
    assert.ok(performance.now() - t0 < 1000, 'refused from the config alone');
  });
});

function hashOf(dir: string): string {
  const ck = openCheckpoint(dir);
  try {
    return ck.contentHash();
  } finally {
    ck.close();
  }
}

function openSafetensorsNames(file: string): string[] {
  const st = openSafetensors(file);
  const names = [...st.tensors.keys()];
  st.close();
  return names;
}

describe('random checkpoints', () => {
  const tmp = useTmpDir();

  it('are reproducible by seed, the same in memory and on disk', () => {
    const a = randomWeights(MICRO, 5);
    assert.deepEqual(allTensors(a, MICRO), allTensors(randomWeights(MICRO, 5), MICRO));
    assert.notDeepEqual(a.tensor('wte.weight'), randomWeights(MICRO, 6).tensor('wte.weight'));
    writeRandomCheckpoint(tmp(), MICRO, 5);
    const ck = openCheckpoint(tmp());
    assert.deepEqual(allTensors(ck, MICRO), allTensors(a, MICRO));
    ck.close();
    assert.deepEqual(randomTensor(MICRO, 'h.1.attn.c_attn.weight', 5), a.tensor('h.1.attn.c_attn.weight'));
  });

  it('follow GPT-2 initialisation', () => {
    const c = NAMED_CONFIGS.tiny;
    const w = randomWeights(c, 1);
    const std = (x: Float32Array): number => Math.sqrt(x.reduce((s, v) => s + v * v, 0) / x.length);
    assert.ok(Math.abs(std(w.tensor('wte.weight')) - 0.02) < 0.001);
    assert.ok(Math.abs(std(w.tensor('h.0.mlp.c_fc.weight')) - 0.02) < 0.002);
    assert.ok(Math.abs(std(w.tensor('h.1.attn.c_proj.weight')) - 0.02 / Math.sqrt(2 * c.nLayer)) < 0.002);
    assert.ok(w.tensor('h.0.ln_1.weight').every((v) => v === 1));
    assert.ok(w.tensor('ln_f.bias').every((v) => v === 0));
    assert.ok(w.tensor('h.0.attn.c_attn.bias').every((v) => v === 0));
    const noisy = randomWeights(MICRO, 1, { biasStd: 0.1, lnStd: 0.1 });
    assert.ok(noisy.tensor('h.0.attn.c_attn.bias').some((v) => v !== 0));
    assert.ok(noisy.tensor('h.0.ln_2.weight').some((v) => v !== 1));
  });
});

describe('presets', () => {
  const tmp = useTmpDir();

  it('describe the GPT-2 family', () => {
    const byName = new Map(PRESETS.map((p) => [p.name, p]));
    const approx = (name: string, params: number, mb: number): void => {
      const p = byName.get(name)!;
      assert.ok(Math.abs(p.parameters / params - 1) < 0.02, `${name} parameters ${p.parameters}`);
      assert.ok(Math.abs(p.approxBytes / (mb * 1e6) - 1) < 0.05, `${name} bytes ${p.approxBytes}`);
      assert.ok(NAMED_CONFIGS[p.configName]);
    };
    approx('gpt2', 124e6, 548);
    approx('gpt2-medium', 355e6, 1520);
    approx('gpt2-large', 774e6, 3250);
    approx('gpt2-xl', 1558e6, 6430);
    approx('distilgpt2', 82e6, 353);
    assert.equal(byName.get('gpt2')!.repo, 'openai-community/gpt2');
    assert.equal(byName.get('distilgpt2')!.repo, 'distilbert/distilgpt2');
  });

  it('resolve a folder, a downloaded preset, and explain the rest', () => {
    const root = path.join(tmp(), 'models');
    const own = path.join(tmp(), 'mine');
    fs.mkdirSync(own);
    assert.equal(resolveModel(own, root), own);
    assertUserError(() => resolveModel('gpt2', root),
      /^model gpt2 is not downloaded: put config.json and model.safetensors from https:\/\/huggingface.co\/openai-community\/gpt2 into .*models[\\/]gpt2 \(or pass a checkpoint folder\)$/);
    fs.mkdirSync(path.join(root, 'gpt2'), { recursive: true });
    assertUserError(() => resolveModel('gpt2', root), /not downloaded/);
    fs.writeFileSync(path.join(root, 'gpt2', 'config.json'), '{}');
    assert.equal(resolveModel('gpt2', root), path.join(root, 'gpt2'));
    assertUserError(() => resolveModel('gpt3', root), /unknown model "gpt3": not a folder and not one of gpt2, gpt2-medium, gpt2-large, gpt2-xl, distilgpt2/);
    assertUserError(() => resolveModel(path.join(tmp(), 'nope'), root), /model folder .*nope does not exist/);
  });
});
