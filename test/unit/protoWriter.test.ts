import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import { GraphBuilder, MS_DOMAIN, attr, elementCount, type Graph, type Value } from '../../src/engine/onnx/ir';
import { allOps, opKey } from '../../src/engine/onnx/ops';
import { initializerBytes, serializeModel, writeModel } from '../../src/engine/onnx/protoWriter';
import { buildGpt2Graph } from '../../src/engine/gpt2Graph';
import { Rng } from '../../src/engine/random';
import { SMALL_CONFIG, testWeights } from '../helpers/randomWeights';

function randomData(n: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  return Float32Array.from({ length: n }, () => rng.normal());
}

async function run(model: string | Uint8Array, feeds: Record<string, ort.Tensor>): Promise<ort.InferenceSession.ReturnType> {
  const session = typeof model === 'string' ? await ort.InferenceSession.create(model) : await ort.InferenceSession.create(model);
  try {
    return await session.run(feeds);
  } finally {
    await session.release();
  }
}

/** y = tanh(x · W + b) with x [batch, 3], W [3, 200] (a multi-byte length), b [200]. */
function smallGraph(lazyCalls?: { n: number }): { graph: Graph; w: Float32Array; b: Float32Array } {
  const w = randomData(600, 1), b = randomData(200, 2);
  const g = new GraphBuilder('small');
  const x = g.input('x', 'float32', ['batch', 3]);
  const wv = g.initializer('w', 'float32', [3, 200], lazyCalls ? () => (lazyCalls.n++, w) : w);
  const bv = g.initializer('b', 'float32', [200], b);
  g.output(g.tanh(g.add(g.matMul(x, wv), bv)), 'y');
  return { graph: g.build(), w, b };
}

function expected(x: Float32Array, w: Float32Array, b: Float32Array, batch: number): Float32Array {
  const y = new Float32Array(batch * 200);
  for (let r = 0; r < batch; r++) {
    for (let o = 0; o < 200; o++) {
      let s = b[o];
      for (let i = 0; i < 3; i++) s += x[r * 3 + i] * w[i * 200 + o];
      y[r * 200 + o] = Math.tanh(s);
    }
  }
  return y;
}

function assertNear(got: ArrayLike<number>, want: ArrayLike<number>, tol = 1e-5): void {
  assert.equal(got.length, want.length);
  for (let i = 0; i < got.length; i++) assert.ok(Math.abs(got[i] - want[i]) <= tol, `[${i}] ${got[i]} vs ${want[i]}`);
}

describe('protoWriter', () => {
  let dir: string;
  beforeEach(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'protowriter-')); });
  afterEach(() => { fs.rmSync(dir, { recursive: true, force: true }); });

  it('an inline model parses in onnxruntime and computes the right numbers', async () => {
    const { graph, w, b } = smallGraph();
    const bytes = serializeModel(graph, { metadata: { graph_version: '3' } });
    const x = randomData(6, 3);
    const out = await run(bytes, { x: new ort.Tensor('float32', x, [2, 3]) });
    assert.deepEqual(out.y.dims, [2, 200]);
    assertNear(out.y.data as Float32Array, expected(x, w, b, 2));
    const session = await ort.InferenceSession.create(bytes);
    assert.deepEqual(session.inputNames, ['x']);
    assert.deepEqual(session.outputNames, ['y']);
    const meta = session.inputMetadata[0];
    assert.ok(meta.isTensor && meta.type === 'float32');
    assert.deepEqual(meta.isTensor && meta.shape, ['batch', 3]);
    await session.release();
  });

  it('external data: the same numbers from a small .onnx plus a data file; tiny tensors stay inline', async () => {
    const calls = { n: 0 };
    const { graph, w, b } = smallGraph(calls);
    const modelPath = path.join(dir, 'm.onnx');
    const written = await writeModel(graph, modelPath, { externalData: true });
    assert.equal(calls.n, 1, 'a lazy initializer is read exactly once');
    assert.equal(written.dataPath, `${modelPath}.data`);
    assert.equal(fs.statSync(modelPath).size, written.modelBytes);
    assert.equal(fs.statSync(written.dataPath!).size, written.dataBytes);
    // w (2400 bytes) goes out; b (800 bytes, under the 1 KiB cut-off) stays inline
    assert.equal(written.dataBytes, 2400);
    assert.ok(written.modelBytes > 800 && written.modelBytes < 1500, `model is ${written.modelBytes} bytes`);
    assert.deepEqual(fs.readFileSync(written.dataPath!).subarray(0, 2400), Buffer.from(w.buffer, w.byteOffset, w.byteLength));
    const x = randomData(3, 4);
    const out = await run(modelPath, { x: new ort.Tensor('float32', x, [1, 3]) });
    assertNear(out.y.data as Float32Array, expected(x, w, b, 1));
  });

  it('external tensors start on 4 KiB boundaries', async () => {
    const g = new GraphBuilder('two');
    const x = g.input('x', 'float32', [1, 3]);
    const w1 = randomData(600, 7), w2 = randomData(600, 8);
    g.output(g.add(g.matMul(x, g.initializer('w1', 'float32', [3, 200], w1)), g.matMul(x, g.initializer('w2', 'float32', [3, 200], w2))), 'y');
    const written = await writeModel(g.build(), path.join(dir, 'two.onnx'), { externalData: true });
    assert.equal(written.dataBytes, 4096 + 2400);
    const data = fs.readFileSync(written.dataPath!);
    assert.deepEqual(data.subarray(4096), Buffer.from(w2.buffer));
    const xd = Float32Array.from([1, -2, 0.5]);
    const out = await run(written.modelPath, { x: new ort.Tensor('float32', xd, [1, 3]) });
    const want = Array.from({ length: 200 }, (_, o) => [0, 1, 2].reduce((s, i) => s + xd[i] * (w1[i * 200 + o] + w2[i * 200 + o]), 0));
    assertNear(out.y.data as Float32Array, want, 1e-4);
  });

  it('external data under a temporary name resolves by its final name after a rename', async () => {
    const { graph, w, b } = smallGraph();
    const modelPath = path.join(dir, 'final.onnx');
    await writeModel(graph, modelPath + '.tmp', { externalData: true, dataLocation: 'final.onnx.data', dataPath: path.join(dir, 'x.tmp') });
    fs.renameSync(path.join(dir, 'x.tmp'), path.join(dir, 'final.onnx.data'));
    fs.renameSync(modelPath + '.tmp', modelPath);
    const x = randomData(3, 5);
    const out = await run(modelPath, { x: new ort.Tensor('float32', x, [1, 3]) });
    assertNear(out.y.data as Float32Array, expected(x, w, b, 1));
  });

  it('writes an inline model file streaming, byte-identical to serializeModel', async () => {
    const { graph } = smallGraph();
    const p = path.join(dir, 'inline.onnx');
    const written = await writeModel(graph, p);
    assert.equal(written.dataPath, undefined);
    assert.deepEqual(new Uint8Array(fs.readFileSync(p)), serializeModel(graph));
  });

  it('refuses an inline model over the protobuf limit without reading its weights', () => {
    const g = new GraphBuilder('huge');
    const x = g.input('x', 'float32', [1, 1]);
    const big = g.initializer('big', 'float32', [1, 600_000_000], () => { throw new Error('read'); });
    g.output(g.matMul(x, big), 'y');
    const graph = g.build();
    assert.equal(initializerBytes(graph), 2_400_000_000);
    assert.throws(() => serializeModel(graph), /external data/);
  });

  it('encodes int64 initializers, negative int attributes, float attributes and int lists', async () => {
    const g = new GraphBuilder('attrs');
    const x = g.input('x', 'float32', [2, 3, 4]);
    const t = g.transpose(x, [2, 0, 1]); // [4,2,3]
    const picked = g.gather(t, g.constInt64([-1, 0], [2]), -1); // axis -1: [4,2,2]
    const ln = g.layerNorm(x, g.constFloat([1, 2, 3, 4]), g.constFloat([0, 0, 0, 1]), 0.5);
    g.output(picked, 'picked');
    g.output(ln, 'ln');
    const xd = randomData(24, 6);
    const out = await run(serializeModel(g.build()), { x: new ort.Tensor('float32', xd, [2, 3, 4]) });
    assert.deepEqual(out.picked.dims, [4, 2, 2]);
    const pd = out.picked.data as Float32Array;
    // picked[k][i][0] = x[i][2][k] (index -1 of axis 3), picked[k][i][1] = x[i][0][k]
    for (let k = 0; k < 4; k++) {
      for (let i = 0; i < 2; i++) {
        assert.equal(pd[(k * 2 + i) * 2], xd[i * 12 + 2 * 4 + k]);
        assert.equal(pd[(k * 2 + i) * 2 + 1], xd[i * 12 + k]);
      }
    }
    const row = Array.from(xd.subarray(0, 4));
    const mean = row.reduce((a, v) => a + v, 0) / 4;
    const variance = row.reduce((a, v) => a + (v - mean) ** 2, 0) / 4;
    const want = row.map((v, i) => ((v - mean) / Math.sqrt(variance + 0.5)) * (i + 1) + (i === 3 ? 1 : 0));
    assertNear((out.ln.data as Float32Array).subarray(0, 4), want);
  });

  describe('op table: inferred shapes match what onnxruntime produces', () => {
    /** Builds one graph per case; every input is a graph input of static shape. */
    interface Case { name: string; build(g: GraphBuilder, inputs: (shape: number[], name?: string) => Value): Value[] }
    // Weights and biases are initializers (as in the real graph); everything else is fed.
    const f = (g: GraphBuilder) => ({ c: (vals: number[]) => g.constFloat(vals) });
    const cases: Case[] = [
      { name: 'Add', build: (g, i) => [g.add(i([2, 1, 4]), i([3, 1]))] },
      { name: 'Sub', build: (g, i) => [g.sub(i([4]), i([2, 3, 4]))] },
      { name: 'Mul', build: (g, i) => [g.mul(i([2, 3]), i([1]))] },
      { name: 'Div', build: (g, i) => [g.div(i([2, 3]), i([2, 1]))] },
      { name: 'Tanh', build: (g, i) => [g.tanh(i([5, 2]))] },
      { name: 'Identity', build: (g, i) => [g.identity(i([3]))] },
      { name: 'Cast', build: (g, i) => [g.cast(i([2, 2]), 'int64')] },
      { name: 'MatMul', build: (g, i) => [g.matMul(i([2, 1, 3, 4]), i([5, 4, 6]))] },
      { name: 'Gemm', build: (g, i) => [g.gemm(i([4, 3]), i([5, 4]), f(g).c([1, 2, 3, 4, 5]), { transA: true, transB: true, alpha: 0.5 })] },
      { name: 'Gather', build: (g, i) => [g.gather(i([5, 3, 2]), g.constInt64([4, 0, 1, 1, 2, 3], [2, 3]), 0)] },
      { name: 'Reshape', build: (g, i) => [g.reshape(i([2, 3, 4]), [0, -1, 2])] },
      { name: 'Transpose', build: (g, i) => [g.transpose(i([2, 3, 4]), [1, 2, 0])] },
      { name: 'Split', build: (g, i) => g.split(i([2, 9]), [2, 3, 4], 1) },
      { name: 'Concat', build: (g, i) => [g.concat([i([2, 3]), i([2, 5])], -1)] },
      { name: 'Unsqueeze', build: (g, i) => [g.unsqueeze(i([2, 3]), [0, -1])] },
      { name: 'Softmax', build: (g, i) => [g.softmax(i([2, 7]))] },
      { name: 'LogSoftmax', build: (g, i) => g.node('LogSoftmax', [i([2, 3, 7])], { axis: attr.int(-1) }) },
      // A scalar index drops the axis (the graph's log_normalizer reads column 0 of each row).
      { name: 'Gather', build: (g, i) => [g.gather(i([2, 3, 7]), g.constInt64([0], []), 2)] },
      { name: 'LayerNormalization', build: (g, i) => g.node('LayerNormalization', [i([2, 3, 8]), f(g).c(Array(8).fill(1))], { axis: attr.int(-1) }, { outputs: 3 }) },
      { name: `${MS_DOMAIN}.FastGelu`, build: (g, i) => [g.fastGelu(i([2, 6]), f(g).c([0, 1, 2, 3, 4, 5]))] },
      { name: `${MS_DOMAIN}.FusedMatMul`, build: (g, i) => g.node('FusedMatMul', [i([2, 3, 4]), i([5, 4])], { transB: attr.int(1) }, { domain: MS_DOMAIN }) },
      {
        name: `${MS_DOMAIN}.SkipLayerNormalization`,
        build: (g, i) => g.node('SkipLayerNormalization', [i([2, 3, 4]), i([2, 3, 4]), f(g).c([1, 1, 1, 1]), f(g).c([0, 0, 0, 0]), f(g).c([1, 2, 3, 4])],
          { epsilon: attr.float(1e-5) }, { domain: MS_DOMAIN, outputs: 4 }),
      },
      {
        name: `${MS_DOMAIN}.MultiHeadAttention`,
        build: (g, i) => {
          const r = g.multiHeadAttention(i([2, 3, 8]), i([2, 3, 8]), i([2, 3, 8]), {
            numHeads: 2, pastKey: i([2, 2, 5, 4]), pastValue: i([2, 2, 5, 4]), unidirectional: true,
          });
          return [r.output, r.presentKey, r.presentValue];
        },
      },
    ];

    it('covers every op the inference graph uses, and only ops in the table', () => {
      const table = new Set(allOps().map((d) => opKey(d.domain, d.op)));
      for (const c of cases) assert.ok(table.has(c.name), `${c.name} is not in the op table`);
      const used = new Set(buildGpt2Graph(testWeights(SMALL_CONFIG, 1)).nodes.map((n) => opKey(n.domain, n.op)));
      const covered = new Set(cases.map((c) => c.name));
      for (const op of used) assert.ok(covered.has(op), `no shape check for ${op}`);
    });

    for (const c of cases) {
      it(c.name, async () => {
        const g = new GraphBuilder(c.name);
        const feeds: Record<string, ort.Tensor> = {};
        let seed = 0;
        const input = (shape: number[]) => {
          const name = `in${seed}`;
          feeds[name] = new ort.Tensor('float32', randomData(elementCount(shape), ++seed), shape);
          return g.input(name, 'float32', shape);
        };
        const outs = c.build(g, input);
        outs.forEach((v, k) => g.output(v, `out${k}`));
        const result = await run(serializeModel(g.build()), feeds);
        outs.forEach((v, k) => assert.deepEqual(result[`out${k}`].dims, v.shape, `output ${k}`));
      });
    }
  });
});
