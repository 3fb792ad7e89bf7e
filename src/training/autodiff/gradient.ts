/**
 * Reverse-mode differentiation over the graph IR. The forward graph is walked backwards once; each
 * node on a path from a differentiated value to the loss hands its output gradients to its op's
 * `backward` rule (src/engine/onnx/ops.ts, beside the op's `infer`), which appends standard ONNX
 * nodes to the same graph. One session then runs forward and backward together.
 *
 * - Fan-out: a value read by several nodes gets the sum of their contributions.
 * - Broadcasting: rules sum each input's gradient back to that input's shape.
 * - Unused branches: nodes off every wrt → loss path are not differentiated (no rule needed, no
 *   work emitted); a wrt value the loss does not depend on gets zeros.
 */
import { opDef, scatterAddND, staticShape, zeros, type ScatterAdd } from '../../engine/onnx/ops';
import type { GraphBuilder, Node, Value } from '../../engine/onnx/ir';

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/**
 * Appends to `g` the nodes computing d`loss`/dv for every v in `wrt`, and returns those gradient
 * values by the name of v. `loss` must be a float32 scalar (any shape of one element) of `g`.
 * Every returned value is a fresh node output, distinct per v, so it can be made a graph output.
 */
export function addGradients(g: GraphBuilder, loss: Value, wrt: readonly Value[]): Map<string, Value> {
  const lossShape = staticShape(loss);
  if (loss.dtype !== 'float32' || lossShape.some((d) => d !== 1)) {
    throw new Error(`addGradients: the loss ${loss.name} must be a float32 scalar (it is ${loss.dtype} [${lossShape.join(',')}])`);
  }
  return addVectorJacobianProduct(g, loss, g.constFloat([1], lossShape, 'grad_seed'), wrt);
}

/**
 * The backward pass from an intermediate value: given `dy` = d loss / d`y` (same shape as y), appends
 * the nodes computing d loss / dv for every v in `wrt`, through y alone. A caller whose loss tail
 * has a cheaper gradient by hand than by the rules (the LM head's softmax cross-entropy) starts here;
 * nodes after y are not differentiated. `extra` adds gradient contributions the caller computed for
 * values upstream of y by their names (a weight that y's tail also reads, e.g. the tied head's wte).
 */
export function addVectorJacobianProduct(
  g: GraphBuilder, y: Value, dy: Value, wrt: readonly Value[], extra: ReadonlyMap<string, Value> = new Map(),
): Map<string, Value> {
  if (dy.dtype !== y.dtype || !sameShape(staticShape(dy), staticShape(y))) {
    throw new Error(`addVectorJacobianProduct: dy [${dy.shape.join(',')}] does not match ${y.name} [${y.shape.join(',')}]`);
  }
  const loss = y;
  const forward = [...g.currentNodes()];
  const differentiable = onPaths(g, forward, loss.name, wrt);

  // Contributions to each value's gradient, summed once every consumer has contributed: the dense
  // ones added, then the scatter-adds applied in place onto that sum.
  const parts = new Map<string, (Value | ScatterAdd)[]>([[loss.name, [dy]]]);
  for (const [name, d] of extra) {
    const x = g.value(name);
    if (!differentiable.has(name)) throw new Error(`addVectorJacobianProduct: ${name} does not reach ${y.name}`);
    if (d.dtype !== x.dtype || !sameShape(staticShape(d), staticShape(x))) {
      throw new Error(`addVectorJacobianProduct: the extra gradient [${d.shape.join(',')}] does not match ${name} [${x.shape.join(',')}]`);
    }
    parts.set(name, [d]);
  }
  const total = (name: string): Value | undefined => {
    const list = parts.get(name);
    if (!list || list.length === 0) return undefined;
    const dense = list.filter((d): d is Value => !('scatterAdd' in d));
    let sum = dense.length > 0 ? dense.reduce((acc, v) => g.add(acc, v)) : zeros(g, staticShape(g.value(name)));
    for (const d of list) if ('scatterAdd' in d) sum = scatterAddND(g, sum, d.scatterAdd.indices, d.scatterAdd.updates);
    parts.set(name, [sum]);
    return sum;
  };

  for (let n = forward.length - 1; n >= 0; n--) {
    const node = forward[n];
    const grads = node.outputs.map((o) => (o !== '' && differentiable.has(o) ? total(o) : undefined));
    if (grads.every((x) => x === undefined)) continue;
    const wanted = node.inputs.map((i) => i !== '' && differentiable.has(i));
    if (!wanted.some(Boolean)) continue;
    const def = opDef(node.domain, node.op);
    if (!def.backward) throw new Error(`gradient: op ${node.op} (node ${node.name}) has no backward rule in src/engine/onnx/ops.ts`);
    const inputs = node.inputs.map((i) => (i === '' ? undefined : g.value(i)));
    const result = def.backward({
      g,
      inputs,
      outputs: node.outputs.map((o) => (o === '' ? undefined : g.value(o))),
      attributes: node.attributes,
      grads,
      needs: (i) => wanted[i] ?? false,
      constant: (i) => (node.inputs[i] ? g.constantData(node.inputs[i]) : undefined),
    });
    node.inputs.forEach((name, i) => {
      if (!wanted[i]) return;
      const d = result[i];
      if (!d) throw new Error(`gradient: the ${node.op} rule gave no gradient for input ${i} of ${node.name}`);
      const x = inputs[i]!;
      // A scatter-add's updates are the indexed rows: [index dims..., x's dims after the first].
      const [got, want] = 'scatterAdd' in d
        ? [d.scatterAdd.updates, [...staticShape(d.scatterAdd.indices).slice(0, -1), ...staticShape(x).slice(1)]]
        : [d, staticShape(x)];
      if (got.dtype !== x.dtype || !sameShape(staticShape(got), want)) {
        throw new Error(`gradient: the ${node.op} rule gave [${got.shape.join(',')}] for input ${name} of shape [${x.shape.join(',')}]`);
      }
      const list = parts.get(name) ?? [];
      list.push(d);
      parts.set(name, list);
    });
  }

  // Make each result a node output of its own: a gradient may be a forward value, the seed or
  // shared by two wrt values, and a graph output must be none of those.
  const finals = wrt.map((v) => (differentiable.has(v.name) ? total(v.name) : undefined) ?? zeros(g, staticShape(v)));
  const emitted = new Set(g.currentNodes().slice(forward.length).flatMap((node) => node.outputs));
  const used = new Set<string>();
  const out = new Map<string, Value>();
  for (const [k, v] of wrt.entries()) {
    let d = finals[k];
    if (!emitted.has(d.name) || used.has(d.name)) d = g.identity(d);
    used.add(d.name);
    out.set(v.name, d);
  }
  return out;
}

/** Float values that depend on some wrt value and that the loss depends on. */
function onPaths(g: GraphBuilder, nodes: readonly Node[], loss: string, wrt: readonly Value[]): Set<string> {
  const fromWrt = new Set(wrt.filter((v) => v.dtype === 'float32').map((v) => v.name));
  for (const node of nodes) {
    if (!node.inputs.some((i) => fromWrt.has(i))) continue;
    for (const o of node.outputs) if (o !== '' && g.value(o).dtype === 'float32') fromWrt.add(o);
  }
  const toLoss = new Set([loss]);
  for (let n = nodes.length - 1; n >= 0; n--) {
    if (!nodes[n].outputs.some((o) => toLoss.has(o))) continue;
    for (const i of nodes[n].inputs) if (i !== '') toLoss.add(i);
  }
  return new Set([...fromWrt].filter((v) => toLoss.has(v)));
}
