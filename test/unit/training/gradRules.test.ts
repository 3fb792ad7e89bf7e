/**
 * Every backward rule in src/engine/onnx/ops.ts against central finite differences, through
 * onnxruntime-node (see gradCheck.ts). Cases cover broadcasting in both directions, fan-out,
 * unused outputs and branches, duplicate indices, and the attention and loss compositions the
 * GPT-2 training graph is made of.
 */
import assert from 'node:assert/strict';
import { GraphBuilder, attr, type Value } from '../../../src/engine/onnx/ir';
import { opDef } from '../../../src/engine/onnx/ops';
import { addGradients } from '../../../src/training/autodiff/gradient';
import { checkGradients, type GradCase } from './gradCheck';

const TOL = 1e-2;
const worst: Record<string, number> = {};

const i64 = (name: string, shape: number[], data: number[]) => ({ name, shape, dtype: 'int64' as const, data, wrt: false });
const int = (v: number) => attr.int(v);
const reduceSum = (g: GraphBuilder, x: Value, axes: number[] | null, keepdims: number) =>
  g.node('ReduceSum', axes ? [x, g.constInt64(axes)] : [x], { keepdims: int(keepdims) })[0];

const CASES: GradCase[] = [
  // elementwise, with broadcasting on either side
  { name: 'Add [3,4] + [4]', inputs: [{ name: 'a', shape: [3, 4] }, { name: 'b', shape: [4] }], build: (g, [a, b]) => [g.add(a, b)] },
  { name: 'Add [3,1] + [2,3,4]', inputs: [{ name: 'a', shape: [3, 1] }, { name: 'b', shape: [2, 3, 4] }], build: (g, [a, b]) => [g.add(a, b)] },
  { name: 'Sub [2,3,4] − [3,1]', inputs: [{ name: 'a', shape: [2, 3, 4] }, { name: 'b', shape: [3, 1] }], build: (g, [a, b]) => [g.sub(a, b)] },
  { name: 'Mul [3,4] · [1,4]', inputs: [{ name: 'a', shape: [3, 4] }, { name: 'b', shape: [1, 4] }], build: (g, [a, b]) => [g.mul(a, b)] },
  { name: 'Mul x·x (fan-out into one node)', inputs: [{ name: 'x', shape: [5] }], build: (g, [x]) => [g.mul(x, x)] },
  { name: 'Div [3,4] / [4]', inputs: [{ name: 'a', shape: [3, 4] }, { name: 'b', shape: [4], positive: true }], build: (g, [a, b]) => [g.div(a, b)] },
  { name: 'Div [4] / [3,4]', inputs: [{ name: 'a', shape: [4] }, { name: 'b', shape: [3, 4], positive: true }], build: (g, [a, b]) => [g.div(a, b)] },
  { name: 'Tanh', inputs: [{ name: 'x', shape: [3, 5] }], build: (g, [x]) => [g.tanh(x)] },
  { name: 'Exp', inputs: [{ name: 'x', shape: [3, 5] }], build: (g, [x]) => [g.node('Exp', [x])[0]] },
  { name: 'Neg', inputs: [{ name: 'x', shape: [3, 5] }], build: (g, [x]) => [g.node('Neg', [x])[0]] },
  { name: 'Identity', inputs: [{ name: 'x', shape: [3, 5] }], build: (g, [x]) => [g.identity(x)] },

  // matrix products
  { name: 'MatMul [3,4]·[4,5]', inputs: [{ name: 'a', shape: [3, 4] }, { name: 'b', shape: [4, 5] }], build: (g, [a, b]) => [g.matMul(a, b)] },
  { name: 'MatMul batched [2,3,4,5]·[2,3,5,2]', inputs: [{ name: 'a', shape: [2, 3, 4, 5] }, { name: 'b', shape: [2, 3, 5, 2] }], build: (g, [a, b]) => [g.matMul(a, b)] },
  { name: 'MatMul [2,3,4]·[4,5] (weight folded)', inputs: [{ name: 'a', shape: [2, 3, 4] }, { name: 'b', shape: [4, 5] }], build: (g, [a, b]) => [g.matMul(a, b)] },
  { name: 'MatMul [3,4]·[2,4,5]', inputs: [{ name: 'a', shape: [3, 4] }, { name: 'b', shape: [2, 4, 5] }], build: (g, [a, b]) => [g.matMul(a, b)] },
  { name: 'MatMul broadcast batch [2,1,3,4]·[3,4,2]', inputs: [{ name: 'a', shape: [2, 1, 3, 4] }, { name: 'b', shape: [3, 4, 2] }], build: (g, [a, b]) => [g.matMul(a, b)] },
  ...([[false, false], [true, false], [false, true], [true, true]] as const).map(([ta, tb]): GradCase => ({
    name: `Gemm transA=${+ta} transB=${+tb} α=0.7 β=1.3 C [5]`,
    inputs: [{ name: 'a', shape: ta ? [4, 3] : [3, 4] }, { name: 'b', shape: tb ? [5, 4] : [4, 5] }, { name: 'c', shape: [5] }],
    build: (g, [a, b, c]) => [g.gemm(a, b, c, { transA: ta, transB: tb, alpha: 0.7, beta: 1.3 })],
  })),
  { name: 'Gemm transB=1 with a tall narrow B [40,4] (dB as (Aᵀ·dY)ᵀ)', inputs: [{ name: 'a', shape: [3, 4] }, { name: 'b', shape: [40, 4] }], build: (g, [a, b]) => [g.gemm(a, b, null, { transB: true, alpha: 0.7 })] },
  { name: 'Gemm C [3,1]', inputs: [{ name: 'a', shape: [3, 4] }, { name: 'b', shape: [4, 5] }, { name: 'c', shape: [3, 1] }], build: (g, [a, b, c]) => [g.gemm(a, b, c)] },

  // indexing
  {
    name: 'Gather axis 0, repeated ids (embedding)',
    inputs: [{ name: 'w', shape: [5, 4] }, i64('ids', [2, 3], [1, 3, 1, 4, 1, 0])],
    build: (g, [w, ids]) => [g.gather(w, ids, 0)],
  },
  {
    name: 'Gather axis 1, repeated ids',
    inputs: [{ name: 'w', shape: [3, 5, 2] }, i64('ids', [4], [4, 0, 4, 2])],
    build: (g, [w, ids]) => [g.gather(w, ids, 1)],
  },
  {
    name: 'GatherElements axis 1, repeated indices',
    inputs: [{ name: 'x', shape: [3, 5] }, i64('idx', [3, 2], [0, 0, 4, 1, 2, 2])],
    build: (g, [x, idx]) => [g.node('GatherElements', [x, idx], { axis: int(1) })[0]],
  },
  {
    name: 'SoftmaxCrossEntropyLoss, reduction none (NLL per row)',
    inputs: [{ name: 'x', shape: [5, 7] }, i64('labels', [5], [3, 0, 6, 3, 2])],
    build: (g, [x, labels]) => [g.node('SoftmaxCrossEntropyLoss', [x, labels], { reduction: attr.string('none') }, { outputs: 2 })[0]],
  },
  {
    name: 'SoftmaxCrossEntropyLoss without its log_prob output',
    inputs: [{ name: 'x', shape: [4, 6] }, i64('labels', [4], [5, 5, 1, 0])],
    build: (g, [x, labels]) => [g.node('SoftmaxCrossEntropyLoss', [x, labels], { reduction: attr.string('none') })[0]],
  },
  {
    name: 'Slice rows 1..3, columns −4..end',
    inputs: [{ name: 'x', shape: [4, 6] }],
    build: (g, [x]) => [g.node('Slice', [x, g.constInt64([1, -4]), g.constInt64([3, 100]), g.constInt64([0, 1])])[0]],
  },

  // shape ops
  { name: 'Reshape', inputs: [{ name: 'x', shape: [2, 3, 4] }], build: (g, [x]) => [g.reshape(x, [6, -1])] },
  { name: 'Transpose [2,0,1]', inputs: [{ name: 'x', shape: [2, 3, 4] }], build: (g, [x]) => [g.transpose(x, [2, 0, 1])] },
  { name: 'Unsqueeze', inputs: [{ name: 'x', shape: [3, 4] }], build: (g, [x]) => [g.unsqueeze(x, [0, 2])] },
  { name: 'Expand [3,1] → [2,3,4]', inputs: [{ name: 'x', shape: [3, 1] }], build: (g, [x]) => [g.node('Expand', [x, g.constInt64([2, 3, 4])])[0]] },
  {
    name: 'Split, middle part unused',
    inputs: [{ name: 'x', shape: [4, 6] }],
    build: (g, [x]) => {
      const [p0, , p2] = g.split(x, [1, 2, 3], 1);
      return [p0, g.tanh(p2)];
    },
  },
  {
    name: 'Concat axis 1, one input not differentiated',
    inputs: [{ name: 'a', shape: [3, 2] }, { name: 'b', shape: [3, 4], wrt: false }, { name: 'c', shape: [3, 1] }],
    build: (g, [a, b, c]) => [g.concat([a, b, c], 1)],
  },

  // reductions
  { name: 'ReduceSum axis 1, keepdims 0', inputs: [{ name: 'x', shape: [2, 3, 4] }], build: (g, [x]) => [reduceSum(g, x, [1], 0)] },
  { name: 'ReduceSum axes [0,2], keepdims 1', inputs: [{ name: 'x', shape: [2, 3, 4] }], build: (g, [x]) => [reduceSum(g, x, [0, 2], 1)] },
  { name: 'ReduceSum all', inputs: [{ name: 'x', shape: [2, 3] }], build: (g, [x]) => [reduceSum(g, x, null, 0)] },
  {
    name: 'ReduceMean axes [0,2]',
    inputs: [{ name: 'x', shape: [2, 3, 4] }],
    build: (g, [x]) => [g.node('ReduceMean', [x, g.constInt64([0, -1])], { keepdims: int(0) })[0]],
  },

  // the nonlinear layers
  { name: 'Softmax last axis', inputs: [{ name: 'x', shape: [3, 6] }], build: (g, [x]) => [g.softmax(x, -1)] },
  { name: 'Softmax axis 1 of 3', inputs: [{ name: 'x', shape: [2, 4, 3] }], build: (g, [x]) => [g.softmax(x, 1)] },
  { name: 'LogSoftmax', inputs: [{ name: 'x', shape: [3, 7] }], build: (g, [x]) => [g.node('LogSoftmax', [x], { axis: int(-1) })[0]] },
  {
    name: 'LayerNormalization last axis (from saved mean, 1/σ)',
    inputs: [{ name: 'x', shape: [3, 8] }, { name: 'gamma', shape: [8] }, { name: 'beta', shape: [8] }],
    build: (g, [x, gamma, beta]) => [g.node('LayerNormalization', [x, gamma, beta], { axis: int(-1), epsilon: attr.float(1e-5) }, { outputs: 3 })[0]],
  },
  {
    name: 'LayerNormalization over axes 1.. of [2,3,4]',
    inputs: [{ name: 'x', shape: [2, 3, 4] }, { name: 'gamma', shape: [3, 4] }, { name: 'beta', shape: [3, 4] }],
    build: (g, [x, gamma, beta]) => [g.node('LayerNormalization', [x, gamma, beta], { axis: int(1), epsilon: attr.float(1e-5) }, { outputs: 3 })[0]],
  },
  { name: 'FastGelu (gelu_new) with bias', inputs: [{ name: 'x', shape: [3, 8] }, { name: 'b', shape: [8] }], build: (g, [x, b]) => [g.fastGelu(x, b)] },
  { name: 'FastGelu without bias, wide range', inputs: [{ name: 'x', shape: [4, 8], data: Array.from({ length: 32 }, (_, i) => (i - 16) / 4) }], build: (g, [x]) => [g.fastGelu(x, null)] },
  {
    name: 'Where with a scalar branch',
    inputs: [{ name: 'c', shape: [3, 4], dtype: 'bool', data: [1, 0, 0, 1, 1, 1, 0, 0, 0, 1, 0, 1], wrt: false }, { name: 'x', shape: [3, 4] }, { name: 'y', shape: [] }],
    build: (g, [c, x, y]) => [g.node('Where', [c, x, y])[0]],
  },

  // compositions: what the GPT-2 training graph is made of
  {
    name: 'causal attention (Where mask, Softmax, batched MatMul)',
    inputs: [{ name: 'q', shape: [2, 2, 4, 3] }, { name: 'k', shape: [2, 2, 4, 3] }, { name: 'v', shape: [2, 2, 4, 3] }],
    build: (g, [q, k, v]) => {
      const mask = g.initializer('mask', 'bool', [4, 4], Uint8Array.from({ length: 16 }, (_, i) => (i % 4 <= Math.floor(i / 4) ? 1 : 0)));
      const s = g.matMul(g.mul(q, g.constFloat([0.5], [])), g.transpose(k, [0, 1, 3, 2]));
      const p = g.softmax(g.node('Where', [mask, s, g.constFloat([-1e9], [])])[0], -1);
      return [g.matMul(p, v)];
    },
  },
  {
    name: 'masked token-level NLL: LogSoftmax + GatherElements, Σ(nll·m)/max(Σm, 1)',
    inputs: [
      { name: 'logits', shape: [5, 7] },
      i64('targets', [5, 1], [3, 0, 6, 3, 2]),
      { name: 'mask', shape: [5], data: [1, 0, 1, 1, 0], wrt: false },
    ],
    build: (g, [logits, targets, mask]) => {
      const lp = g.node('GatherElements', [g.node('LogSoftmax', [logits], { axis: int(1) })[0], targets], { axis: int(1) })[0];
      const nll = g.node('Neg', [g.reshape(lp, [5])])[0];
      const n = g.node('Max', [reduceSum(g, mask, null, 0), g.constFloat([1], [])])[0];
      return [g.div(reduceSum(g, g.mul(nll, mask), null, 0), n)];
    },
  },
  {
    name: 'fan-out across nodes, a dead branch, a Max off the path',
    inputs: [{ name: 'x', shape: [3, 4] }, { name: 'w', shape: [4, 2] }, { name: 'z', shape: [2], wrt: false }],
    build: (g, [x, w, z]) => {
      const h = g.tanh(x);
      g.node('Exp', [h]); // read, but never reaches the loss
      const y = g.add(g.matMul(h, w), g.matMul(g.mul(h, h), w));
      return [g.div(y, g.node('Max', [z, g.constFloat([1], [])])[0])];
    },
  },
];

describe('backward rules vs finite differences', function () {
  this.timeout(120_000);
  after(() => {
    const top = Object.entries(worst).sort((a, b) => b[1] - a[1]).slice(0, 5);
    console.log(`      worst relative FD errors: ${top.map(([k, v]) => `${k}: ${v.toExponential(2)}`).join('; ')}`);
  });

  for (const c of CASES) {
    it(c.name, async () => {
      const report = await checkGradients(c);
      for (const [input, err] of Object.entries(report.errors)) {
        worst[`${c.name} / ${input}`] = err;
        assert.ok(err <= (c.tol ?? TOL), `d/d${input}: relative error ${err.toExponential(3)} > ${c.tol ?? TOL}`);
      }
    });
  }

  it('gives zeros for a value the loss does not depend on', async () => {
    const report = await checkGradients({
      name: 'unused input',
      inputs: [{ name: 'x', shape: [3] }, { name: 'unused', shape: [2, 2] }],
      build: (g, [x]) => [g.tanh(x)],
    });
    assert.deepEqual(Array.from(report.grads.unused), [0, 0, 0, 0]);
    assert.ok(report.errors.x <= TOL);
  });

  it('catches a wrong rule (the check is not vacuous)', async () => {
    const def = opDef('', 'Tanh') as { backward?: unknown };
    const rule = def.backward;
    def.backward = opDef('', 'Identity').backward; // dx = g instead of g·(1 − y²)
    try {
      const report = await checkGradients({ name: 'wrong', inputs: [{ name: 'x', shape: [6] }], build: (g, [x]) => [g.tanh(x)] });
      assert.ok(report.errors.x > 0.1, `error ${report.errors.x}`);
    } finally {
      def.backward = rule;
    }
  });

  it('refuses an op without a rule by name', () => {
    const g = new GraphBuilder('norule');
    const x = g.input('x', 'float32', [3]);
    const m = g.node('Max', [x, g.constFloat([0], [])])[0];
    const loss = reduceSum(g, m, null, 0);
    assert.throws(() => addGradients(g, loss, [x]), /op Max .* has no backward rule/);
  });

  it('asks for LayerNormalization statistics when the node lacks them', () => {
    const g = new GraphBuilder('ln1');
    const x = g.input('x', 'float32', [2, 4]);
    const y = g.layerNorm(x, g.constFloat([1, 1, 1, 1]), null, 1e-5);
    assert.throws(() => addGradients(g, reduceSum(g, y, null, 0), [x]), /Mean and InvStdDev outputs/);
  });

  it('differentiates only what the loss needs: a frozen weight gets no gradient nodes', () => {
    const g = new GraphBuilder('frozen');
    const x = g.input('x', 'float32', [3, 4]);
    const w = g.initializer('w', 'float32', [4, 5], new Float32Array(20));
    const loss = reduceSum(g, g.matMul(x, w), null, 0);
    const before = g.currentNodes().length;
    addGradients(g, loss, [x]);
    const added = g.currentNodes().slice(before);
    // dx = G·wᵀ only: no Aᵀ·G product for w.
    assert.equal(added.filter((n) => n.op === 'Gemm' || n.op === 'MatMul').length, 1);
  });
});
