/**
 * Peak bytes of the intermediate tensors one run of a graph holds at once, by walking its nodes in
 * order: a node's outputs are allocated, then every value whose last reader it was is freed; graph
 * outputs stay until the run ends. Graph inputs and initializers are not counted (the caller owns
 * those). onnxruntime's planner reuses buffers and runs in place where it can, so its peak is at
 * most this; what its arena adds on top is memoryEstimate.ts' business.
 */
import type { DType, Graph } from '../engine/onnx/ir';

const DTYPE_BYTES: Readonly<Record<DType, number>> = { float32: 4, float16: 2, int64: 8, int32: 4, int8: 1, uint8: 1, bool: 1 };

export interface GraphMemory {
  /** Most bytes of intermediates and outputs alive at once. */
  peak: number;
  /** Bytes of the graph's outputs (alive at the end of the run, and handed to the caller). */
  outputs: number;
}

export function graphMemory(graph: Graph): GraphMemory {
  const external = new Set([...graph.inputs, ...graph.initializers].map((v) => v.name));
  const outputs = new Set(graph.outputs.map((v) => v.name));
  const lastUse = new Map<string, number>();
  graph.nodes.forEach((n, i) => n.inputs.forEach((x) => x && lastUse.set(x, i)));
  const bytes = (name: string): number => {
    const v = graph.values.get(name);
    if (!v) throw new Error(`graphMemory: no value ${name}`);
    return DTYPE_BYTES[v.dtype] * v.shape.reduce<number>((n, d) => n * (typeof d === 'number' ? d : 1), 1);
  };
  const freed = (name: string, i: number) => !external.has(name) && !outputs.has(name) && (lastUse.get(name) ?? i) === i;
  let live = 0, peak = 0, out = 0;
  graph.nodes.forEach((n, i) => {
    for (const o of n.outputs) {
      if (!o || external.has(o)) continue;
      live += bytes(o);
      if (outputs.has(o)) out += bytes(o);
    }
    peak = Math.max(peak, live);
    for (const x of new Set([...n.inputs, ...n.outputs])) if (x && freed(x, i)) live -= bytes(x);
  });
  return { peak, outputs: out };
}
