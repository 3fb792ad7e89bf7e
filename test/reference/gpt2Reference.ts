/**
 * GPT-2's forward pass in plain loops, written to be obviously right rather than fast: the yardstick
 * the ONNX graph is checked against. Sums are taken in doubles.
 */
import type { WeightSource } from '../../src/engine/weights';

/** Logits [tokens.length, vocab] (row-major) of one sequence starting at position 0. */
export function referenceLogits(weights: WeightSource, tokens: readonly number[]): Float32Array {
  return referenceForward(weights, tokens).logits;
}

/** The final LayerNorm's output [tokens.length, nEmbd] (GPT-1's h_l^m at each position). */
export function referenceHidden(weights: WeightSource, tokens: readonly number[]): Float32Array {
  return referenceForward(weights, tokens).hidden;
}

function referenceForward(weights: WeightSource, tokens: readonly number[]): { logits: Float32Array; hidden: Float32Array } {
  const c = weights.config;
  const E = c.nEmbd, H = c.nHead, D = E / H, V = c.vocabSize, T = tokens.length;
  const wt = (name: string) => weights.tensor(name);

  // x[t] = wte[token] + wpe[t]
  const wte = wt('wte.weight'), wpe = wt('wpe.weight');
  let x: number[][] = tokens.map((tok, t) => Array.from({ length: E }, (_, e) => wte[tok * E + e] + wpe[t * E + e]));

  for (let l = 0; l < c.nLayer; l++) {
    const p = `h.${l}.`;
    const [ln1w, ln1b, attnW, attnB, projW, projB] = ['ln_1.weight', 'ln_1.bias', 'attn.c_attn.weight', 'attn.c_attn.bias', 'attn.c_proj.weight', 'attn.c_proj.bias'].map((n) => wt(p + n));
    const [ln2w, ln2b, fcW, fcB, mlpW, mlpB] = ['ln_2.weight', 'ln_2.bias', 'mlp.c_fc.weight', 'mlp.c_fc.bias', 'mlp.c_proj.weight', 'mlp.c_proj.bias'].map((n) => wt(p + n));
    // attention sublayer: x = x + proj(attn(ln_1(x)))
    const h1 = x.map((row) => layerNorm(row, ln1w, ln1b, c.layerNormEpsilon));
    const qkv = h1.map((row) => linear(row, attnW, attnB, E, 3 * E));
    const attended = x.map(() => new Array<number>(E).fill(0));
    for (let h = 0; h < H; h++) {
      for (let t = 0; t < T; t++) {
        // causal: position t attends to positions 0..t
        const scores: number[] = [];
        for (let s = 0; s <= t; s++) {
          let dot = 0;
          for (let d = 0; d < D; d++) dot += qkv[t][h * D + d] * qkv[s][E + h * D + d];
          scores.push(dot / Math.sqrt(D));
        }
        const probs = softmax(scores);
        for (let d = 0; d < D; d++) {
          let sum = 0;
          for (let s = 0; s <= t; s++) sum += probs[s] * qkv[s][2 * E + h * D + d];
          attended[t][h * D + d] = sum;
        }
      }
    }
    const proj = attended.map((row) => linear(row, projW, projB, E, E));
    x = x.map((row, t) => row.map((v, e) => v + proj[t][e]));

    // MLP sublayer: x = x + proj(gelu(fc(ln_2(x))))
    const h2 = x.map((row) => layerNorm(row, ln2w, ln2b, c.layerNormEpsilon));
    const mlp = h2.map((row) => {
      const fc = linear(row, fcW, fcB, E, 4 * E).map(geluNew);
      return linear(fc, mlpW, mlpB, 4 * E, E);
    });
    x = x.map((row, t) => row.map((v, e) => v + mlp[t][e]));
  }

  // tied head: logits = ln_f(x) · wteᵀ
  const out = new Float32Array(T * V);
  const hidden = new Float32Array(T * E);
  const lnfW = wt('ln_f.weight'), lnfB = wt('ln_f.bias');
  for (let t = 0; t < T; t++) {
    const hf = layerNorm(x[t], lnfW, lnfB, c.layerNormEpsilon);
    hidden.set(hf, t * E);
    for (let v = 0; v < V; v++) {
      let dot = 0;
      for (let e = 0; e < E; e++) dot += hf[e] * wte[v * E + e];
      out[t * V + v] = dot;
    }
  }
  return { logits: out, hidden };
}

function layerNorm(x: readonly number[], gamma: Float32Array, beta: Float32Array, eps: number): number[] {
  const mean = x.reduce((a, b) => a + b, 0) / x.length;
  const variance = x.reduce((a, b) => a + (b - mean) ** 2, 0) / x.length;
  return x.map((v, i) => ((v - mean) / Math.sqrt(variance + eps)) * gamma[i] + beta[i]);
}

/** Conv1D: y = x · W + b with W stored [in, out]. */
function linear(x: readonly number[], w: Float32Array, b: Float32Array, nIn: number, nOut: number): number[] {
  const y = Array.from(b);
  for (let i = 0; i < nIn; i++) for (let o = 0; o < nOut; o++) y[o] += x[i] * w[i * nOut + o];
  return y;
}

function softmax(xs: readonly number[]): number[] {
  const m = Math.max(...xs);
  const ex = xs.map((v) => Math.exp(v - m));
  const z = ex.reduce((a, b) => a + b, 0);
  return ex.map((v) => v / z);
}

/** GPT-2's gelu_new: the tanh approximation of GELU. */
function geluNew(x: number): number {
  return 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)));
}
