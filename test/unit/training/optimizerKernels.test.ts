import { strict as assert } from 'node:assert';
import { Rng } from '../../../src/engine/random';
import { AdamW, globalGradNorm } from '../../../src/training/optimizer';
import {
  CHUNK, OPTIMIZER_MODULE, adamwStep, adamwStepReference, forceJsOptimizerKernels, loadOptimizerKernels,
  optimizerKernelBackend, optimizerKernelsWithState, sumOfSquares, sumOfSquaresReference, type AdamWCoefficients, type WasmApi,
} from '../../../src/training/wasm/optimizerKernels';
import { sleb, uleb } from '../../../src/training/wasm/wasmEncoder';

function randomArray(n: number, rng: Rng, scale = 1): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = scale * rng.normal();
  return a;
}

function rms(a: Float32Array): number {
  let s = 0;
  for (const x of a) s += x * x;
  return Math.sqrt(s / Math.max(1, a.length));
}

/**
 * Relative 1e-5, with a floor at 1e-5 of the array's typical size: the kernel rounds every
 * operation to f32 where the reference keeps doubles, and where w·keep and the update nearly
 * cancel, that rounding is large relative to the small result but not to its operands.
 */
function assertClose(actual: Float32Array, expected: Float32Array, what: string): void {
  assert.equal(actual.length, expected.length);
  const floor = rms(expected);
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i], b = expected[i];
    if (!(Math.abs(a - b) <= 1e-5 * (Math.abs(b) + floor))) assert.fail(`${what}[${i}] of ${expected.length}: ${a} vs ${b}`);
  }
}

/** The coefficients AdamW.step derives for update number t. */
function coefficients(t: number, lr: number, decay: boolean, gradScale: number): AdamWCoefficients {
  const beta1 = 0.9, beta2 = 0.999;
  return {
    beta1, beta2, c1: 1 - beta1, c2: 1 - beta2,
    keep: decay ? 1 - lr * 0.1 : 1,
    stepSize: lr / (1 - beta1 ** t),
    invSqrtBc2: 1 / Math.sqrt(1 - beta2 ** t),
    eps: 1e-8,
    gradScale,
  };
}

/** The global, typed: the project's lib settings leave out the DOM typings that declare it. */
const wasmApi = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

const LENGTHS = [0, 1, 3, 4, 5, 7, 8, 9, CHUNK - 1, CHUNK, CHUNK + 1, 65535, 65536, 65537, 200001];

describe('optimizer kernels (WebAssembly SIMD)', () => {
  afterEach(() => forceJsOptimizerKernels(false));

  it('the module validates and is used on this runtime', () => {
    assert.ok(wasmApi.validate(OPTIMIZER_MODULE));
    assert.equal(optimizerKernelBackend(), 'wasm-simd');
  });

  it('adamw matches the JS reference over consecutive steps, with and without decay and gradient scale', () => {
    const rng = new Rng(11);
    for (const n of LENGTHS) {
      for (const [decay, gradScale] of [[false, 1], [true, 1], [true, 0.37]] as const) {
        const w = randomArray(n, rng);
        const m = new Float32Array(n);
        const v = new Float32Array(n);
        const [wr, mr, vr] = [w.slice(), m.slice(), v.slice()];
        for (let t = 1; t <= 3; t++) {
          const g = randomArray(n, rng, 0.01);
          const c = coefficients(t, 1e-3, decay, gradScale);
          adamwStep(w, g, m, v, c);
          adamwStepReference(wr, g, mr, vr, c);
          const what = `n=${n} decay=${decay} scale=${gradScale} t=${t}`;
          assertClose(w, wr, `w ${what}`);
          assertClose(m, mr, `m ${what}`);
          assertClose(v, vr, `v ${what}`);
        }
      }
    }
  });

  it('adamw agrees on zeros, NaN and a huge gradient', () => {
    const w = Float32Array.of(1, -2, 3, 4, 5);
    const g = Float32Array.of(0, NaN, 1e30, -1e-30, 0);
    const m = new Float32Array(5);
    const v = new Float32Array(5);
    const [wr, mr, vr] = [w.slice(), m.slice(), v.slice()];
    const c = coefficients(1, 1e-2, true, 1);
    adamwStep(w, g, m, v, c);
    adamwStepReference(wr, g, mr, vr, c);
    assert.equal(w[0], wr[0], 'a zero gradient only decays');
    assert.ok(Number.isNaN(w[1]) && Number.isNaN(wr[1]));
    // In this step g² overflows f32 in the kernel (v = ∞, no step) but not in the reference's doubles
    // (a step of lr): both stay finite.
    assert.ok(Number.isFinite(w[2]) && Number.isFinite(wr[2]));
    assertClose(w.subarray(3), wr.subarray(3), 'w');
  });

  it('sumsq matches a double-precision sum', () => {
    const rng = new Rng(12);
    for (const n of LENGTHS) {
      const g = randomArray(n, rng, 3);
      if (n > 0) g[0] = 1e4; // a large value among small ones
      let exact = 0;
      for (let i = 0; i < n; i++) exact += g[i] * g[i];
      const got = sumOfSquares(g);
      assert.ok(Math.abs(got - exact) <= 1e-12 * exact, `n=${n}: ${got} vs ${exact}`);
      assert.ok(Math.abs(sumOfSquaresReference(g) - exact) <= 1e-12 * exact);
    }
  });

  it('AdamW.step and globalGradNorm give the JS results through the kernels, with the values adopted into their memory', () => {
    const rng = new Rng(13);
    const params = [
      { name: 'h.0.attn.c_attn.weight', shape: [64, 193] },
      { name: 'h.0.attn.c_attn.bias', shape: [193] },
      { name: 'ln_f.weight', shape: [1] },
    ];
    const start = new Map(params.map((p) => [p.name, randomArray(p.shape.reduce((a, b) => a * b, 1), rng)]));
    const grads = Array.from({ length: 4 }, () => new Map(params.map((p) => [p.name, randomArray(p.shape.reduce((a, b) => a * b, 1), rng, 0.1)])));
    const run = (js: boolean) => {
      forceJsOptimizerKernels(js);
      const values = new Map([...start].map(([k, v]) => [k, v.slice()]));
      const opt = new AdamW(params, { weightDecay: 0.1 });
      const before = [...values.values()];
      opt.adopt(values);
      // With the kernels the values move into their memory (same numbers); with JS forced, nowhere.
      params.forEach((p, i) => {
        assert.deepEqual(values.get(p.name), start.get(p.name));
        assert.equal(values.get(p.name) === before[i], js, `${p.name} ${js ? 'stays' : 'moves'}`);
      });
      const norms: number[] = [];
      for (const g of grads) {
        norms.push(globalGradNorm(g.values()));
        opt.step(values, g, 1e-2, 0.5);
      }
      return { values, norms };
    };
    const wasm = run(false);
    const js = run(true);
    for (const p of params) assertClose(wasm.values.get(p.name)!, js.values.get(p.name)!, p.name);
    wasm.norms.forEach((x, i) => assert.ok(Math.abs(x - js.norms[i]) <= 1e-12 * js.norms[i]));
  });

  it('falls back to the JS loops when forced, or when the runtime lacks WebAssembly SIMD', () => {
    forceJsOptimizerKernels(true);
    assert.equal(optimizerKernelBackend(), 'js');
    const rng = new Rng(14);
    const n = 1001;
    const w = randomArray(n, rng), g = randomArray(n, rng), m = randomArray(n, rng), v = randomArray(n, rng).map(Math.abs);
    const [wr, mr, vr] = [w.slice(), m.slice(), v.slice()];
    const c = coefficients(5, 1e-3, true, 0.8);
    adamwStep(w, g, m, v, c);
    adamwStepReference(wr, g, mr, vr, c);
    assert.deepEqual([w, m, v], [wr, mr, vr], 'the fallback is the reference, bit for bit');
    assert.equal(sumOfSquares(g), sumOfSquaresReference(g));
    forceJsOptimizerKernels(false);
    assert.equal(optimizerKernelBackend(), 'wasm-simd');

    assert.equal(loadOptimizerKernels(null), null, 'no WebAssembly at all');
    const noSimd: WasmApi = { validate: () => false, Module: wasmApi.Module, Instance: wasmApi.Instance, Memory: wasmApi.Memory };
    assert.equal(loadOptimizerKernels(noSimd), null, 'a runtime that rejects the SIMD module');
  });

  it('keeps m and v in the kernels\' own memory and updates them there, as the reference does', () => {
    const lengths = [CHUNK + 5, CHUNK + 5, 3, 3];
    const state = optimizerKernelsWithState(lengths)!;
    assert.ok(state, 'the kernels load here');
    state.arrays.forEach((a, i) => {
      assert.equal(a.buffer, state.kernels.buffer, 'a view of the kernels\' memory');
      assert.equal(a.length, lengths[i]);
      assert.equal(a.byteOffset % 16, 0, 'aligned for v128 loads');
      assert.ok(a.every((x) => x === 0), 'zeroed');
      if (i > 0) assert.ok(a.byteOffset >= state.arrays[i - 1].byteOffset + 4 * lengths[i - 1], 'no overlap');
    });
    const rng = new Rng(15);
    for (const [mi, n] of [[0, CHUNK + 5], [2, 3]]) {
      const m = state.arrays[mi], v = state.arrays[mi + 1];
      m.set(randomArray(n, rng));
      v.set(randomArray(n, rng).map(Math.abs));
      const w = randomArray(n, rng), g = randomArray(n, rng);
      const [wr, mr, vr] = [w.slice(), m.slice(), v.slice()];
      const c = coefficients(3, 1e-3, true, 0.7);
      adamwStep(w, g, m, v, c, state.kernels);
      adamwStepReference(wr, g, mr, vr, c);
      assertClose(w, wr, 'w');
      assertClose(m, mr, 'm');
      assertClose(v, vr, 'v');
    }
    assert.equal(optimizerKernelsWithState([2 ** 30, 2 ** 30]), null, 'over the 4 GiB a wasm32 memory addresses: ordinary arrays instead');
    forceJsOptimizerKernels(true);
    assert.equal(optimizerKernelsWithState([4]), null, 'JS forced');
    forceJsOptimizerKernels(false);
  });

  it('refuses arrays of different lengths', () => {
    const a = new Float32Array(4);
    assert.throws(() => adamwStep(a, new Float32Array(5), a.slice(), a.slice(), coefficients(1, 1e-3, false, 1)), RangeError);
  });
});

describe('wasm encoder', () => {
  it('writes LEB128 as the spec examples', () => {
    assert.deepEqual(uleb(0), [0]);
    assert.deepEqual(uleb(624485), [0xe5, 0x8e, 0x26]);
    assert.deepEqual(sleb(-1), [0x7f]);
    assert.deepEqual(sleb(63), [0x3f]);
    assert.deepEqual(sleb(64), [0xc0, 0x00]);
    assert.deepEqual(sleb(-123456), [0xc0, 0xbb, 0x78]);
  });
});
