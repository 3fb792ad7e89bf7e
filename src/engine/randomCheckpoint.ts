/**
 * Seeded random GPT-2 weights with GPT-2's initialisation, for tests, benchmarks and `init --random`.
 * Each tensor has its own generator seeded from (seed, name), so a tensor's values do not depend on
 * which others were generated before it: lazy, in-memory and on-disk copies agree exactly.
 */
import { parameterShapes, type GPT2Config } from './config';
import { writeCheckpoint, type WriteCheckpointOptions } from './checkpoint';
import { InMemoryWeights, type WeightSource } from './weights';

export interface RandomInitOptions {
  /** Std of normal noise added to every bias (default 0, GPT-2's init). Tests comparing against a
   *  reference set it, since all-zero biases hide a bias that is never added. */
  biasStd?: number;
  /** Std of normal noise added to layer-norm weights (default 0: all ones), for the same reason. */
  lnStd?: number;
}

/** FNV-1a of the name mixed with the seed: a per-tensor seed. */
function tensorSeed(seed: number, name: string): number {
  let h = 0x811c9dc5 ^ (seed >>> 0);
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/*
 * Normal samples by Marsaglia & Tsang's ziggurat over a mulberry32 stream: one 32-bit draw and a
 * table lookup per sample almost always, with no log or trig, about 4x faster than Rng.normal()'s
 * Box–Muller; that is the difference between seconds and half a minute for a 124M model.
 */
const ZIG_R = 3.442619855899;
const zigK = new Float64Array(128);
const zigW = new Float64Array(128);
const zigF = new Float64Array(128);
{
  const m1 = 2147483648;
  const v = 9.91256303526217e-3;
  let d = ZIG_R;
  let t = d;
  const q = v / Math.exp(-0.5 * d * d);
  zigK[0] = Math.floor((d / q) * m1);
  zigK[1] = 0;
  zigW[0] = q / m1;
  zigW[127] = d / m1;
  zigF[0] = 1;
  zigF[127] = Math.exp(-0.5 * d * d);
  for (let i = 126; i >= 1; i--) {
    d = Math.sqrt(-2 * Math.log(v / d + Math.exp(-0.5 * d * d)));
    zigK[i + 1] = Math.floor((d / t) * m1);
    t = d;
    zigF[i] = Math.exp(-0.5 * d * d);
    zigW[i] = d / m1;
  }
}

/** mulberry32 state, kept in a typed array so the rare slow path can share it with the hot loop. */
const zigState = new Int32Array(1);

function nextInt32(): number {
  const s = (zigState[0] = (zigState[0] + 0x6d2b79f5) | 0);
  let t = Math.imul(s ^ (s >>> 15), s | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return t ^ (t >>> 14);
}

/** Uniform in (0, 1): safe under log. */
function nextOpenUnit(): number {
  return ((nextInt32() >>> 0) + 0.5) / 4294967296;
}

/** The ziggurat's rejection step for a draw outside the rectangles. */
function zigSlow(hz: number, iz: number): number {
  for (;;) {
    const x = hz * zigW[iz];
    if (iz === 0) {
      // The tail beyond ZIG_R.
      let tx: number;
      let ty: number;
      do {
        tx = -Math.log(nextOpenUnit()) / ZIG_R;
        ty = -Math.log(nextOpenUnit());
      } while (ty + ty < tx * tx);
      return hz > 0 ? ZIG_R + tx : -ZIG_R - tx;
    }
    if (zigF[iz] + nextOpenUnit() * (zigF[iz - 1] - zigF[iz]) < Math.exp(-0.5 * x * x)) return x;
    hz = nextInt32();
    iz = hz & 127;
    if (Math.abs(hz) < zigK[iz]) return hz * zigW[iz];
  }
}

function fillNormal(seed: number, out: Float32Array, mean: number, std: number): void {
  if (std === 0) {
    out.fill(mean);
    return;
  }
  zigState[0] = seed | 0;
  for (let i = 0; i < out.length; i++) {
    const hz = nextInt32();
    const iz = hz & 127;
    const z = Math.abs(hz) < zigK[iz] ? hz * zigW[iz] : zigSlow(hz, iz);
    out[i] = mean + std * z;
  }
}

/** One parameter of a random model, as GPT-2 initialises it (normal 0.02; residual projections
 *  scaled by 1/sqrt(2·nLayer); layer norms 1 and 0; biases 0). */
export function randomTensor(config: GPT2Config, name: string, seed: number, init: RandomInitOptions = {}): Float32Array {
  const shape = parameterShapes(config).get(name);
  if (!shape) throw new Error(`randomTensor: ${name} is not a GPT-2 parameter`);
  const out = new Float32Array(shape.reduce((a, b) => a * b, 1));
  const s = tensorSeed(seed, name);
  const isLayerNorm = /(^|\.)ln_(1|2|f)\./.test(name);
  if (name.endsWith('.bias')) fillNormal(s, out, 0, init.biasStd ?? 0);
  else if (isLayerNorm) fillNormal(s, out, 1, init.lnStd ?? 0);
  else if (name.endsWith('.c_proj.weight')) fillNormal(s, out, 0, 0.02 / Math.sqrt(2 * config.nLayer));
  else fillNormal(s, out, 0, 0.02);
  return out;
}

/** A WeightSource that generates each tensor when asked (nothing is kept). */
export function randomWeightSource(config: GPT2Config, seed: number, init: RandomInitOptions = {}): WeightSource {
  return { config, tensor: (name) => randomTensor(config, name, seed, init) };
}

/** All parameters of a random model in memory (small configs, tests). */
export function randomWeights(config: GPT2Config, seed: number, init: RandomInitOptions = {}): InMemoryWeights {
  const m = new Map<string, Float32Array>();
  for (const name of parameterShapes(config).keys()) m.set(name, randomTensor(config, name, seed, init));
  return new InMemoryWeights(config, m);
}

/** Writes a random checkpoint folder, generating and writing one tensor at a time. */
export function writeRandomCheckpoint(
  dir: string,
  config: GPT2Config,
  seed: number,
  opts: WriteCheckpointOptions & RandomInitOptions = {},
): void {
  writeCheckpoint(dir, config, randomWeightSource(config, seed, opts), opts);
}
