/**
 * The machine's matrix-multiply throughput as onnxruntime's CPU provider (MLAS sgemm) delivers it, for
 * training ceilings measured in the same run as the training itself: the training step is almost all
 * large fp32 products (the tied head's three [tokens × vocab × width] products alone are two thirds
 * of a small model's step), so step FLOPs / this rate bounds tokens/s from above.
 */
import * as ort from 'onnxruntime-node';
import { GraphBuilder, attr } from '../src/engine/onnx/ir';
import { serializeModel } from '../src/engine/onnx/protoWriter';

/** Best of `reps` timed [m,k]·[k,n] products (plus a sum over the result, ~3%) (B a graph input, as trainable weights are), in FLOP/s. */
export async function matMulFlops(threads: number, m = 1024, k = 768, n = 3072, reps = 7): Promise<number> {
  const g = new GraphBuilder('flops');
  const a = g.input('a', 'float32', [m, k]);
  const b = g.input('b', 'float32', [k, n]);
  // Only a sum comes back: copying the [m,n] product out of onnxruntime would cost a quarter as much as computing it.
  g.output(g.node('ReduceSum', [g.matMul(a, b)], { keepdims: attr.int(0) })[0], 'sum');
  const session = await ort.InferenceSession.create(serializeModel(g.build()), {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    extra: { session: { intra_op: { allow_spinning: '0' } } },
  });
  const feeds = {
    a: new ort.Tensor('float32', new Float32Array(m * k).fill(0.5), [m, k]),
    b: new ort.Tensor('float32', new Float32Array(k * n).fill(0.25), [k, n]),
  };
  let best = Infinity;
  for (let r = 0; r <= reps; r++) {
    const t0 = performance.now();
    await session.run(feeds);
    if (r > 0) best = Math.min(best, performance.now() - t0);
  }
  await session.release();
  return (2 * m * k * n) / (best / 1000);
}

if (require.main === module) {
  void (async () => {
    for (const t of [1, 2]) console.log(`${t} thread(s): ${((await matMulFlops(t)) / 1e9).toFixed(0)} GFLOP/s`);
  })();
}
