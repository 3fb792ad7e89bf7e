import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { UserError } from '../../../src/engine/errors';
import { Rng } from '../../../src/engine/random';
import {
  AdamW, GradientAccumulator, clipFactor, clipGradNorm, decaysByDefault, globalGradNorm, learningRate,
} from '../../../src/training/optimizer';

const close = (a: number, b: number, tol = 1e-6) => assert.ok(Math.abs(a - b) <= tol * (1 + Math.abs(b)), `${a} vs ${b}`);

function randomArray(n: number, rng: Rng, scale = 1): Float32Array {
  return Float32Array.from({ length: n }, () => scale * rng.normal());
}

describe('AdamW', () => {
  it('takes the step PyTorch takes, with decoupled decay on matrices only', () => {
    const params = [
      { name: 'h.0.mlp.c_fc.weight', shape: [1, 2] },
      { name: 'h.0.mlp.c_fc.bias', shape: [2] },
    ];
    const opt = new AdamW(params, { weightDecay: 0.1 });
    const values = new Map([
      ['h.0.mlp.c_fc.weight', Float32Array.of(1, -2)],
      ['h.0.mlp.c_fc.bias', Float32Array.of(0.5, 0.25)],
    ]);
    const g1 = new Map([
      ['h.0.mlp.c_fc.weight', Float32Array.of(0.5, -0.1)],
      ['h.0.mlp.c_fc.bias', Float32Array.of(0.2, 0)],
    ]);
    opt.step(values, g1, 0.01);
    // Step 1: m̂ = g, v̂ = g², so the update is lr·g/(|g| + ε); decay multiplies the weight by 1 − lr·wd.
    close(values.get('h.0.mlp.c_fc.weight')![0], 1 * (1 - 0.001) - 0.01 * (0.5 / (0.5 + 1e-8)));
    close(values.get('h.0.mlp.c_fc.weight')![1], -2 * (1 - 0.001) + 0.01 * (0.1 / (0.1 + 1e-8)));
    close(values.get('h.0.mlp.c_fc.bias')![0], 0.5 - 0.01);
    assert.equal(values.get('h.0.mlp.c_fc.bias')![1], 0.25, 'a zero gradient and no decay leave a bias as it is');

    const g2 = new Map([
      ['h.0.mlp.c_fc.weight', Float32Array.of(-0.3, 0.4)],
      ['h.0.mlp.c_fc.bias', Float32Array.of(0.1, 0.05)],
    ]);
    const w0 = values.get('h.0.mlp.c_fc.weight')![0];
    opt.step(values, g2, 0.02);
    // Step 2 by hand for w[0]: m = 0.9·0.05 + 0.1·(−0.3) = 0.015; v = 0.999·0.00025 + 0.001·0.09 = 0.00033975.
    const m = 0.9 * (0.1 * 0.5) + 0.1 * -0.3;
    const v = 0.999 * (0.001 * 0.25) + 0.001 * 0.09;
    const mHat = m / (1 - 0.9 ** 2);
    const vHat = v / (1 - 0.999 ** 2);
    close(values.get('h.0.mlp.c_fc.weight')![0], w0 * (1 - 0.02 * 0.1) - (0.02 * mHat) / (Math.sqrt(vHat) + 1e-8), 1e-6);
    assert.equal(opt.stepCount, 2);
  });

  it('decays matrices but not biases, layer norms or embeddings', () => {
    assert.equal(decaysByDefault('h.3.attn.c_attn.weight', [768, 2304]), true);
    assert.equal(decaysByDefault('base_model.model.transformer.h.0.attn.c_attn.lora_A.weight', [8, 768]), true);
    assert.equal(decaysByDefault('h.3.attn.c_attn.bias', [2304]), false);
    assert.equal(decaysByDefault('ln_f.weight', [768]), false);
    assert.equal(decaysByDefault('wte.weight', [50257, 768]), false);
    assert.equal(decaysByDefault('wpe.weight', [1024, 768]), false);
  });

  it('saves and loads its state so that a resumed optimizer continues identically', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gpt2c-adamw-'));
    try {
      const params = [
        { name: 'a', shape: [3, 4] },
        { name: 'b', shape: [4] },
      ];
      const rng = new Rng(1);
      const values = new Map([['a', randomArray(12, rng)], ['b', randomArray(4, rng)]]);
      const grads = Array.from({ length: 5 }, () => new Map([['a', randomArray(12, rng)], ['b', randomArray(4, rng)]]));
      const first = new AdamW(params);
      for (let i = 0; i < 3; i++) first.step(values, grads[i], 1e-2);
      const file = path.join(dir, 'optimizer.safetensors');
      first.saveState(file);
      const copy = new Map([...values].map(([k, v]) => [k, Float32Array.from(v)]));
      for (let i = 3; i < 5; i++) first.step(values, grads[i], 1e-2);

      const second = new AdamW(params);
      second.loadState(file);
      assert.equal(second.stepCount, 3);
      for (let i = 3; i < 5; i++) second.step(copy, grads[i], 1e-2);
      assert.deepEqual(copy, values);

      const other = new AdamW([{ name: 'a', shape: [4, 3] }, { name: 'b', shape: [4] }]);
      assert.throws(() => other.loadState(file), (e: unknown) => e instanceof UserError && /exp_avg\.a is F32 \[3, 4\], expected F32 \[4, 3\]/.test(e.message));
      assert.equal(other.stepCount, 0, 'a refused file leaves the optimizer as it was');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('gradient clipping', () => {
  it('scales to the max global norm, and leaves smaller gradients alone', () => {
    const g = [Float32Array.of(3), Float32Array.of(0, 4)];
    assert.equal(globalGradNorm(g), 5);
    assert.equal(clipGradNorm(g, 1), 5);
    close(g[0][0], 0.6);
    close(g[1][1], 0.8);
    close(globalGradNorm(g), 1);
    const small = [Float32Array.of(0.3, 0.4)];
    close(clipGradNorm(small, 1), 0.5);
    assert.deepEqual(small[0], Float32Array.of(0.3, 0.4));
    assert.equal(clipFactor(10, 0), 1, 'maxNorm 0 disables clipping');
  });

  it('clipping through the step factor equals clipping the gradients first', () => {
    const rng = new Rng(2);
    const params = [{ name: 'w', shape: [5, 5] }];
    const v1 = new Map([['w', randomArray(25, rng)]]);
    const v2 = new Map([['w', Float32Array.from(v1.get('w')!)]]);
    const g = randomArray(25, rng, 10);
    const a = new AdamW(params);
    const b = new AdamW(params);
    a.step(v1, new Map([['w', g]]), 1e-3, clipFactor(globalGradNorm([g]), 1));
    const gc = Float32Array.from(g);
    clipGradNorm([gc], 1);
    b.step(v2, new Map([['w', gc]]), 1e-3);
    v1.get('w')!.forEach((x, i) => close(x, v2.get('w')![i], 1e-6));
  });
});

describe('gradient accumulation', () => {
  it('k micro-batches weighted 1/k give the step of one batch with the mean gradient', () => {
    const rng = new Rng(3);
    const params = [{ name: 'w', shape: [4, 6] }, { name: 'b', shape: [6] }];
    const micro = Array.from({ length: 4 }, () => new Map([['w', randomArray(24, rng)], ['b', randomArray(6, rng)]]));
    const acc = new GradientAccumulator(params);
    acc.add(new Map([['w', randomArray(24, rng)], ['b', randomArray(6, rng)]]), 1);
    acc.reset();
    for (const m of micro) acc.add(m, 1 / micro.length);
    assert.equal(acc.count, 4);
    const mean = new Map(params.map((p) => [p.name, Float32Array.from({ length: p.shape.reduce((x, y) => x * y, 1) }, (_, i) => micro.reduce((s, m) => s + m.get(p.name)![i], 0) / micro.length)]));
    for (const p of params) acc.grads.get(p.name)!.forEach((g, i) => close(g, mean.get(p.name)![i], 1e-6));

    const start = new Map([['w', randomArray(24, rng)], ['b', randomArray(6, rng)]]);
    const v1 = new Map([...start].map(([k, v]) => [k, Float32Array.from(v)]));
    const v2 = new Map([...start].map(([k, v]) => [k, Float32Array.from(v)]));
    new AdamW(params).step(v1, acc.grads, 1e-2);
    new AdamW(params).step(v2, mean, 1e-2);
    for (const p of params) v1.get(p.name)!.forEach((x, i) => close(x, v2.get(p.name)![i], 1e-5));
  });
});

describe('learning-rate schedule', () => {
  const o = { peakLr: 1e-3, warmupSteps: 10, totalSteps: 110, minLrRatio: 0.1 };
  it('warms up linearly, then decays by a cosine to the floor', () => {
    close(learningRate(0, o), 1e-4);
    close(learningRate(4, o), 5e-4);
    close(learningRate(9, o), 1e-3);
    close(learningRate(10, o), 1e-3);
    close(learningRate(60, o), 1e-4 + 0.5 * 9e-4);
    close(learningRate(35, o), 1e-4 + 9e-4 * 0.5 * (1 + Math.cos(Math.PI / 4)));
    close(learningRate(110, o), 1e-4);
    close(learningRate(500, o), 1e-4);
    for (let s = 10; s < 110; s++) assert.ok(learningRate(s + 1, o) <= learningRate(s, o));
  });
  it('handles a run no longer than its warm-up', () => {
    close(learningRate(4, { peakLr: 1, warmupSteps: 5, totalSteps: 5 }), 1);
    close(learningRate(5, { peakLr: 1, warmupSteps: 5, totalSteps: 5 }), 1);
  });
});
