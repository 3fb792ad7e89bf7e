/**
 * The optimizer's two passes over GPT-2 small's 124M trainable parameters (full fine-tuning):
 * AdamW.step and globalGradNorm, the JS reference loops against the WebAssembly SIMD kernels, median
 * of 5 after one warm-up call each. Tensors are grouped into three arrays of gpt2's sizes (wte,
 * wpe, the blocks), which is the same memory traffic as its 148 tensors. Allocates ~2 GB.
 *
 *   npx tsx bench/optimizer.ts [--runs 5]
 */
import * as os from 'node:os';
import { AdamW, globalGradNorm } from '../src/training/optimizer';
import { forceJsOptimizerKernels, optimizerKernelBackend } from '../src/training/wasm/optimizerKernels';

const runsArg = process.argv.indexOf('--runs');
const RUNS = runsArg >= 0 ? Number(process.argv[runsArg + 1]) : 5;

const PARAMS = [
  { name: 'wte.weight', shape: [50257, 768] },
  { name: 'wpe.weight', shape: [1024, 768] },
  { name: 'h.weight', shape: [110750, 768] }, // 12 blocks + ln_f: 85,056,000 (decayed as matrices)
];

/** Fast deterministic fill (an LCG scaled to ±scale): random data without 250M Box–Muller calls. */
function filled(n: number, seed: number, scale: number): Float32Array {
  const a = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    a[i] = (s / 4294967296 - 0.5) * 2 * scale;
  }
  return a;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1];
}

function time(fn: () => void): number[] {
  fn(); // warm-up: first touches of m and v, tier-up of the loops
  const out: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const t = performance.now();
    fn();
    out.push(performance.now() - t);
  }
  return out;
}

function main(): void {
  const sizes = PARAMS.map((p) => p.shape[0] * p.shape[1]);
  const total = sizes.reduce((a, b) => a + b, 0);
  const values = new Map(PARAMS.map((p, i) => [p.name, filled(sizes[i], 1 + i, 0.1)]));
  const grads = new Map(PARAMS.map((p, i) => [p.name, filled(sizes[i], 11 + i, 1e-3)]));
  const gradList = [...grads.values()];
  const opt = new AdamW(PARAMS);

  const rows: { pass: string; js: number[]; wasm: number[]; bytes: number }[] = [
    { pass: 'AdamW.step', js: [], wasm: [], bytes: total * 4 * 7 }, // reads w, g, m, v; writes w, m, v
    { pass: 'globalGradNorm', js: [], wasm: [], bytes: total * 4 },
  ];
  for (const js of [true, false]) {
    forceJsOptimizerKernels(js);
    const key = js ? 'js' : 'wasm';
    process.stderr.write(`${optimizerKernelBackend()}...\n`);
    rows[0][key] = time(() => opt.step(values, grads, 1e-4, 0.5));
    rows[1][key] = time(() => globalGradNorm(gradList));
  }
  forceJsOptimizerKernels(false);

  const load = os.loadavg()[0].toFixed(1);
  console.log(`\n${(total / 1e6).toFixed(1)}M parameters (${sizes.map((s) => (s / 1e6).toFixed(1) + 'M').join(' + ')}), median of ${RUNS}, node ${process.version}, ${os.cpus()[0]?.model ?? 'cpu'}, load ${load}\n`);
  console.log('| pass | JS ms | WASM SIMD ms | speed-up | WASM GB/s (minimum traffic) |');
  console.log('| --- | ---: | ---: | ---: | ---: |');
  for (const r of rows) {
    const js = median(r.js), wasm = median(r.wasm);
    console.log(`| ${r.pass} | ${js.toFixed(0)} | ${wasm.toFixed(0)} | ${(js / wasm).toFixed(1)}× | ${(r.bytes / wasm / 1e6).toFixed(1)} |`);
  }
  console.log(`\nall runs, ms: ${rows.map((r) => `${r.pass} JS [${r.js.map((x) => x.toFixed(0)).join(', ')}] WASM [${r.wasm.map((x) => x.toFixed(0)).join(', ')}]`).join('; ')}`);
}

main();
