/**
 * Finite-difference checks of backward rules: a tiny graph of one op (or a few), its outputs
 * projected onto fixed random weights, L = Σₖ Σ rₖ·yₖ, differentiated by addGradients and run in
 * onnxruntime-node; the analytic gradient of every float input is compared with central
 * differences of L, which is summed in float64 from the float32 outputs.
 */
import * as ort from 'onnxruntime-node';
import { GraphBuilder, type DType, type Value } from '../../../src/engine/onnx/ir';
import { serializeModel } from '../../../src/engine/onnx/protoWriter';
import { Rng } from '../../../src/engine/random';
import { addGradients } from '../../../src/training/autodiff/gradient';

export interface CaseInput {
  name: string;
  shape: number[];
  dtype?: 'float32' | 'int64' | 'bool';
  /** Values (default: normal(0, 1) floats). */
  data?: number[];
  /** Floats only: differentiate with respect to this input (default true). */
  wrt?: boolean;
  /** Floats only: draw from U(0.5, 1.5) instead (denominators). */
  positive?: boolean;
}

export interface GradCase {
  name: string;
  inputs: CaseInput[];
  build(g: GraphBuilder, inputs: Value[]): Value[];
  eps?: number;
  tol?: number;
  /** Entries per input checked by finite differences (default 24; all when fewer). */
  samples?: number;
}

export interface CheckReport {
  /** Worst |analytic − numeric| / max(|numeric|, 0.1·max|analytic|) per wrt input. */
  errors: Record<string, number>;
  /** Analytic gradients, for extra assertions. */
  grads: Record<string, Float32Array>;
}

function tensorData(inp: CaseInput, rng: Rng): Float32Array | BigInt64Array | Uint8Array {
  const n = inp.shape.reduce((a, b) => a * b, 1);
  const dtype = inp.dtype ?? 'float32';
  if (dtype === 'int64') return BigInt64Array.from(inp.data ?? [], (v) => BigInt(v));
  if (dtype === 'bool') return Uint8Array.from(inp.data ?? []);
  if (inp.data) return Float32Array.from(inp.data);
  return Float32Array.from({ length: n }, () => (inp.positive ? 0.5 + rng.next() : rng.normal()));
}

export async function checkGradients(c: GradCase, seed = 1): Promise<CheckReport> {
  const rng = new Rng(seed);
  const g = new GraphBuilder(c.name.replace(/\W+/g, '_'));
  const values = c.inputs.map((i) => g.input(i.name, (i.dtype ?? 'float32') as DType, i.shape));
  const outs = c.build(g, values);
  const weights = outs.map((y) => Float64Array.from({ length: y.shape.reduce<number>((a, d) => a * (d as number), 1) }, () => rng.normal()));
  const terms = outs.map((y, k) => {
    const r = g.constFloat(Array.from(weights[k]), y.shape as number[]);
    return g.node('ReduceSum', [g.mul(y, r)], { keepdims: { kind: 'int', value: 0 } })[0];
  });
  const loss = terms.reduce((a, b) => g.add(a, b));
  const wrt = values.filter((_, i) => (c.inputs[i].dtype ?? 'float32') === 'float32' && c.inputs[i].wrt !== false);
  const grads = addGradients(g, loss, wrt);
  const outNames = outs.map((y, k) => g.output(y, `y${k}`).name);
  for (const v of wrt) g.output(grads.get(v.name)!, `d_${v.name}`);
  const session = await ort.InferenceSession.create(serializeModel(g.build()), {
    executionProviders: ['cpu'], graphOptimizationLevel: 'all', intraOpNumThreads: 1,
  });
  try {
    const data = c.inputs.map((i) => tensorData(i, rng));
    const feeds = (): Record<string, ort.Tensor> =>
      Object.fromEntries(c.inputs.map((inp, i) => [inp.name, new ort.Tensor(inp.dtype ?? 'float32', data[i], inp.shape)]));
    const objective = async (): Promise<number> => {
      const res = await session.run(feeds(), outNames);
      let sum = 0;
      outNames.forEach((n, k) => {
        const y = res[n].data as Float32Array;
        for (let j = 0; j < y.length; j++) sum += weights[k][j] * y[j];
      });
      return sum;
    };
    const base = await session.run(feeds());
    const report: CheckReport = { errors: {}, grads: {} };
    const eps = c.eps ?? 1e-3;
    for (const v of wrt) {
      const idx = c.inputs.findIndex((i) => i.name === v.name);
      const x = data[idx] as Float32Array;
      const analytic = base[`d_${v.name}`].data as Float32Array;
      report.grads[v.name] = analytic;
      let scale = 0;
      for (const a of analytic) scale = Math.max(scale, Math.abs(a));
      const count = Math.min(x.length, c.samples ?? 24);
      const picks = count === x.length ? [...x.keys()] : Array.from({ length: count }, () => Math.floor(rng.next() * x.length));
      let worst = 0;
      for (const j of picks) {
        const x0 = x[j];
        x[j] = x0 + eps;
        const hi = x[j];
        const up = await objective();
        x[j] = x0 - eps;
        const lo = x[j];
        const down = await objective();
        x[j] = x0;
        const numeric = (up - down) / (hi - lo);
        const err = Math.abs(analytic[j] - numeric) / Math.max(Math.abs(numeric), 0.1 * scale, 1e-6);
        worst = Math.max(worst, err);
      }
      report.errors[v.name] = worst;
    }
    return report;
  } finally {
    await session.release();
  }
}
