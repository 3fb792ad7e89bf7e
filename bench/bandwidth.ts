/**
 * The machine's memory read bandwidth as onnxruntime sees it, for decode floors measured in the same
 * run as the decode itself: a ReduceSum over rows of a 256 MiB graph input (inputs are read in
 * place, not copied), so the time is the read. Decoding one token reads every weight once, so
 * bytes of weights / this bandwidth is the fastest a step can be at that thread count.
 */
import * as ort from 'onnxruntime-node';
import { GraphBuilder, attr } from '../src/engine/onnx/ir';
import { serializeModel } from '../src/engine/onnx/protoWriter';

const ROWS = 4096;
const COLS = 16384; // ROWS × COLS float32 = 256 MiB

/** Best of `reps` timed reads, in bytes per second. */
export async function readBandwidth(threads: number, reps = 7): Promise<number> {
  const g = new GraphBuilder('bandwidth');
  const x = g.input('x', 'float32', [ROWS, COLS]);
  g.output(g.node('ReduceSum', [x, g.constInt64([1])], { keepdims: attr.int(0) })[0], 'sums');
  const session = await ort.InferenceSession.create(serializeModel(g.build()), {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    extra: { session: { intra_op: { allow_spinning: '0' } } },
  });
  const data = new Float32Array(ROWS * COLS).fill(1);
  const feeds = { x: new ort.Tensor('float32', data, [ROWS, COLS]) };
  let best = Infinity;
  for (let r = 0; r <= reps; r++) {
    const t0 = performance.now();
    await session.run(feeds);
    if (r > 0) best = Math.min(best, performance.now() - t0); // the first run faults pages in
  }
  await session.release();
  return data.byteLength / (best / 1000);
}

if (require.main === module) {
  void (async () => {
    for (const t of [1, 2]) console.log(`${t} thread(s): ${(await readBandwidth(t) / 1e9).toFixed(1)} GB/s`);
  })();
}
