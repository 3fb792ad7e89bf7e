import assert from 'node:assert/strict';
import type { GPT2Config } from '../../src/engine/config';
import { buildGpt2Graph, GPT2_GRAPH_VERSION, HIDDEN_OUTPUT, LOG_NORMALIZER_OUTPUT, newKeyName, newValueName, pastKeyName, pastValueName } from '../../src/engine/gpt2Graph';
import { StaleKVCacheError } from '../../src/engine/kvBuffer';
import { OrtModel } from '../../src/engine/ortModel';
import { logSumExp } from '../../src/engine/sampling';
import type { WeightSource } from '../../src/engine/weights';
import { referenceHidden, referenceLogits } from '../reference/gpt2Reference';
import { SMALL_CONFIG, testWeights } from '../helpers/randomWeights';

const TOL = 1e-4;

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length, 'length');
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

function assertClose(got: ArrayLike<number>, want: ArrayLike<number>, what: string): void {
  const d = maxAbsDiff(got, want);
  assert.ok(d <= TOL, `${what}: max abs diff ${d} > ${TOL}`);
}

/** Rows [from, to) of a [T, V] logits matrix. */
function rows(logits: Float32Array, V: number, from: number, to: number): Float32Array {
  return logits.subarray(from * V, to * V);
}

function tokens(n: number, seed: number, vocab: number): number[] {
  return Array.from({ length: n }, (_, i) => (i * 131 + seed * 977 + ((i * i) % 7)) % vocab);
}

const all = (n: number) => Array.from({ length: n }, (_, i) => i);

describe('gpt2Graph', () => {
  describe('graph', () => {
    it('has the documented inputs and outputs', () => {
      const g = buildGpt2Graph(testWeights(SMALL_CONFIG, 1));
      const { nLayer, nHead, nEmbd, vocabSize } = SMALL_CONFIG;
      const D = nEmbd / nHead;
      assert.deepEqual(g.inputs.slice(0, 3).map((v) => [v.name, v.dtype, v.shape]), [
        ['input_ids', 'int64', ['batch', 'sequence']],
        ['position_ids', 'int64', ['batch', 'sequence']],
        ['logits_index', 'int64', ['logit_positions']],
      ]);
      assert.deepEqual(g.inputs.slice(3, 5).map((v) => [v.name, v.dtype, v.shape]), [
        ['attention_bias', 'float32', ['sequence', 'attention_columns']],
        ['attention_split', 'int64', [2]],
      ]);
      assert.equal(g.inputs.length, 5 + 2 * nLayer);
      assert.deepEqual(g.inputs.find((v) => v.name === pastKeyName(1))?.shape, ['batch', nHead, 'past_capacity', D]);
      assert.deepEqual(g.inputs.find((v) => v.name === pastValueName(1))?.shape, ['batch', nHead, 'past_capacity', D]);
      const logits = g.outputs.find((v) => v.name === 'logits');
      assert.deepEqual(logits?.shape, ['batch', 'logit_positions', vocabSize]);
      // Only the new tokens' K/V come back (the past stays in the caller's buffers).
      assert.deepEqual(g.outputs.find((v) => v.name === newKeyName(0))?.shape, ['batch', nHead, 'sequence', D]);
      assert.deepEqual(g.outputs.find((v) => v.name === newValueName(0))?.shape, ['batch', nHead, 'sequence', D]);
      // The final LayerNorm's state at the logit positions, for the acceptance head.
      assert.deepEqual(g.outputs.find((v) => v.name === HIDDEN_OUTPUT)?.shape, ['batch', 'logit_positions', nEmbd]);
      // ln Σ exp of each logits row, for log P without a pass over the vocabulary in JS.
      assert.deepEqual(g.outputs.find((v) => v.name === LOG_NORMALIZER_OUTPUT)?.shape, ['batch', 'logit_positions']);
      assert.equal(g.outputs.length, 3 + 2 * nLayer);
      // Every node output carries its inferred type (what a backward pass builds on).
      for (const n of g.nodes) for (const o of n.outputs) if (o !== '') assert.ok(g.values.get(o), `no type for ${o}`);
      assert.deepEqual(g.values.get(newValueName(0))?.dtype, 'float32');
      assert.ok(Number.isInteger(GPT2_GRAPH_VERSION) && GPT2_GRAPH_VERSION >= 2);
    });

    it('reads each weight lazily, once per write', () => {
      const w = testWeights(SMALL_CONFIG, 1);
      const reads: string[] = [];
      const counting: WeightSource = { config: w.config, tensor: (n) => (reads.push(n), w.tensor(n)) };
      const g = buildGpt2Graph(counting);
      assert.equal(reads.length, 0, 'building the graph reads no weights');
      for (const init of g.initializers) if (typeof init.data === 'function') init.data();
      assert.equal(new Set(reads).size, reads.length, 'no weight is read twice');
    });
  });

  describe('quantized graphs (precision int8 / int4)', () => {
    const weightMatMuls = (nLayer: number) => 4 * nLayer + 1; // c_attn, c_proj, c_fc, c_proj per block, and the head

    for (const [precision, op, dtype] of [['int8', 'DynamicQuantizeMatMul', 'int8'], ['int4', 'MatMulNBits', 'uint8']] as const) {
      it(`${precision}: every weight MatMul and the head become ${op}; embeddings and attention stay fp32`, () => {
        const g = buildGpt2Graph(testWeights(SMALL_CONFIG, 1), { precision });
        const quantized = g.nodes.filter((n) => n.op === op);
        assert.equal(quantized.length, weightMatMuls(SMALL_CONFIG.nLayer));
        assert.ok(quantized.every((n) => n.domain === 'com.microsoft'));
        // What is left of MatMul/FusedMatMul reads no weight: attention products only.
        for (const n of g.nodes.filter((x) => x.op === 'MatMul' || x.op === 'FusedMatMul')) {
          assert.ok(!n.inputs.some((i) => /\.weight$/.test(i)), `${n.name} reads ${n.inputs.join(', ')}`);
        }
        assert.equal(g.initializers.filter((i) => i.dtype === dtype).length, weightMatMuls(SMALL_CONFIG.nLayer) * (precision === 'int4' ? 2 : 1));
        assert.equal(g.initializers.find((i) => i.name === 'wte.weight')?.dtype, 'float32', 'the embedding lookup reads fp32 wte');
        assert.deepEqual(g.outputs.find((v) => v.name === 'logits')?.shape, ['batch', 'logit_positions', SMALL_CONFIG.vocabSize]);
      });

      it(`${precision}: quantizes each weight once, lazily, at write time`, () => {
        const w = testWeights(SMALL_CONFIG, 1);
        const reads: string[] = [];
        const counting: WeightSource = { config: w.config, tensor: (n) => (reads.push(n), w.tensor(n)) };
        const g = buildGpt2Graph(counting, { precision });
        assert.equal(reads.length, 0, 'building the graph reads no weights');
        for (const init of g.initializers) if (typeof init.data === 'function') init.data();
        // wte twice: the fp32 copy the embedding Gather reads and the quantized head.
        assert.deepEqual(reads.filter((n) => n === 'wte.weight').length, 2);
        const others = reads.filter((n) => n !== 'wte.weight');
        assert.equal(new Set(others).size, others.length, 'no other weight is read twice');
      });
    }

    it('without the quantized head, the head is the fp32 tied product', () => {
      const g = buildGpt2Graph(testWeights(SMALL_CONFIG, 1), { precision: 'int8', quantizeHead: false });
      assert.equal(g.nodes.filter((n) => n.op === 'DynamicQuantizeMatMul').length, weightMatMuls(SMALL_CONFIG.nLayer) - 1);
      assert.ok(g.nodes.some((n) => n.op === 'FusedMatMul' && n.inputs[1] === 'wte.weight'));
    });
  });

  for (const [label, config] of [['vocab 512, 48 wide, 4 heads', SMALL_CONFIG],
    ['GPT-2 vocab, 32 wide, 2 heads', { vocabSize: 50257, nPositions: 64, nEmbd: 32, nLayer: 2, nHead: 2, layerNormEpsilon: 1e-5 }]] as const) {
    describe(`against the reference (${label})`, () => {
      const weights = testWeights(config as GPT2Config, 7);
      const V = config.vocabSize;
      let model: OrtModel;
      before(async () => { model = await OrtModel.load({ weights, device: 'cpu', threads: 1 }); });
      after(async () => { await model.dispose(); });

      it('batch 1: logits at every position, several prompt lengths', async () => {
        for (const n of [1, 2, 5, 17, 40]) {
          const toks = tokens(n, n, V);
          const { logits, cache } = await model.forward([toks], null, all(n));
          assertClose(logits, referenceLogits(weights, toks), `length ${n}`);
          assert.equal(cache.length, n);
          assert.equal(cache.batch, 1);
        }
      });

      it('batch 3: each row matches its own reference', async () => {
        const batch = [tokens(9, 1, V), tokens(9, 2, V), tokens(9, 3, V)];
        const { logits } = await model.forward(batch, null, all(9));
        batch.forEach((row, b) => assertClose(rows(logits, V, b * 9, (b + 1) * 9), referenceLogits(weights, row), `row ${b}`));
      });

      it('hidden: the final LayerNorm state at the logit positions, per row, after a cache too', async () => {
        const E = config.nEmbd;
        const batch = [tokens(9, 4, V), tokens(9, 5, V)];
        const { hidden } = await model.forward(batch, null, [8, 2]);
        assert.equal(hidden?.length, 2 * 2 * E);
        batch.forEach((row, b) => {
          const want = referenceHidden(weights, row);
          assertClose(hidden!.subarray((b * 2) * E, (b * 2 + 1) * E), rows(want, E, 8, 9), `row ${b}, position 8`);
          assertClose(hidden!.subarray((b * 2 + 1) * E, (b * 2 + 2) * E), rows(want, E, 2, 3), `row ${b}, position 2`);
        });
        const head = await model.forward([batch[0].slice(0, 6)], null);
        const rest = await model.forward([batch[0].slice(6)], head.cache);
        assertClose(rest.hidden!, rows(referenceHidden(weights, batch[0]), E, 8, 9), 'after a cache of 6');
      });
    });
  }

  describe('KV cache and logit positions', () => {
    const weights = testWeights(SMALL_CONFIG, 3);
    const V = SMALL_CONFIG.vocabSize;
    const seq = tokens(12, 5, V);
    let model: OrtModel;
    let full: Float32Array;
    before(async () => {
      model = await OrtModel.load({ weights, device: 'cpu', threads: 1 });
      full = (await model.forward([seq], null, all(seq.length))).logits;
      assertClose(full, referenceLogits(weights, seq), 'full run');
    });
    after(async () => { await model.dispose(); });

    it('prefill 5, then 1 at a time, then 3 at once gives the full run', async () => {
      let r = await model.forward([seq.slice(0, 5)], null, all(5));
      assertClose(r.logits, rows(full, V, 0, 5), 'prefill');
      for (let i = 5; i < 9; i++) {
        r = await model.forward([[seq[i]]], r.cache);
        assert.equal(r.cache.length, i + 1);
        assertClose(r.logits, rows(full, V, i, i + 1), `step ${i}`);
      }
      r = await model.forward([seq.slice(9, 12)], r.cache, all(3));
      assert.equal(r.cache.length, 12);
      assertClose(r.logits, rows(full, V, 9, 12), 'chunk of 3');
    });

    it('logits_index picks positions, in the order asked; the default is the last', async () => {
      const last = await model.forward([seq], null);
      assert.equal(last.logits.length, V);
      assertClose(last.logits, rows(full, V, 11, 12), 'default');
      const picked = await model.forward([seq], null, [7, 0, 7]);
      assertClose(picked.logits, [...rows(full, V, 7, 8), ...rows(full, V, 0, 1), ...rows(full, V, 7, 8)], 'picked');
    });

    it('truncate keeps a prefix that continues like the full run', async () => {
      const { cache } = await model.forward([seq.slice(0, 10)], null);
      assert.equal(model.truncate(cache, 10), cache);
      assert.throws(() => model.truncate(cache, 11), /outside/);
      const cut = model.truncate(cache, 6);
      assert.equal(cut.length, 6);
      const r = await model.forward([seq.slice(6)], cut, all(6));
      assertClose(r.logits, rows(full, V, 6, 12), 'after truncate');
      const empty = model.truncate(r.cache, 0);
      assert.equal(empty.length, 0);
      assertClose((await model.forward([seq], empty, all(12))).logits, full, 'after truncate to 0');
    });

    it('a cache whose positions a later forward() overwrote is refused; its unchanged prefix is not', async () => {
      const { cache: ten } = await model.forward([seq.slice(0, 10)], null);
      const six = model.truncate(ten, 6);
      const seven = model.truncate(ten, 7);
      const first = await model.forward([[seq[6], 300]], six); // writes positions 6 and 7 in place
      for (const stale of [ten, seven]) {
        await assert.rejects(model.forward([[1]], stale), StaleKVCacheError);
        assert.throws(() => model.truncate(stale, 2), StaleKVCacheError);
        assert.throws(() => model.expand(stale, 2), StaleKVCacheError);
      }
      // Positions 0..5 are untouched: six continues again (the bench decodes one cache repeatedly),
      // which in turn overwrites what `first` holds.
      const again = await model.forward([seq.slice(6, 9)], six, all(3));
      assertClose(again.logits, rows(full, V, 6, 9), 'second continuation of the same prefix');
      await assert.rejects(model.forward([[1]], first.cache), StaleKVCacheError);
      assert.equal(model.truncate(again.cache, 4).length, 4);
    });

    it('concurrent forwards from a cache and a shorter view of it: the longer one ends up stale', async () => {
      const { cache: ten } = await model.forward([seq.slice(0, 10)], null);
      const six = model.truncate(ten, 6);
      const [fromTen, fromSix] = await Promise.allSettled([model.forward([[seq[10]]], ten), model.forward([[seq[6]]], six)]);
      assert.equal(fromSix.status, 'fulfilled');
      if (fromSix.status === 'fulfilled') assertClose(fromSix.value.logits, rows(full, V, 6, 7), 'the shorter view');
      // Whichever finished first, what came from the overwritten cache is refused, never silently wrong.
      if (fromTen.status === 'fulfilled') await assert.rejects(model.forward([[1]], fromTen.value.cache), StaleKVCacheError);
      else assert.ok(fromTen.reason instanceof StaleKVCacheError);
    });

    it('appends past the buffer capacity: decode to the last position equals the full run', async () => {
      const n = SMALL_CONFIG.nPositions;
      const long = tokens(n, 9, V);
      const ref = (await model.forward([long], null, all(n))).logits;
      assertClose(ref, referenceLogits(weights, long), 'one run of every position');
      let r = await model.forward([long.slice(0, 20)], null);
      for (let i = 20; i < n; i++) { // the buffer (room for 48) grows on the way
        r = await model.forward([[long[i]]], r.cache);
        assertClose(r.logits, rows(ref, V, i, i + 1), `position ${i}`);
      }
      await assert.rejects(model.forward([[1]], r.cache), /exceed/);
    });

    it('a short cache of a large buffer continues in a copy; the large one stays usable', async () => {
      const long = tokens(40, 4, V);
      const ref = referenceLogits(weights, [...long.slice(0, 3), ...seq.slice(0, 2)]);
      const { cache: forty } = await model.forward([long], null);
      for (const batch of [1, 2]) {
        const big = batch === 1 ? forty : model.expand(forty, batch);
        const r = await model.forward(Array.from({ length: batch }, () => seq.slice(0, 2)), model.truncate(big, 3), [0, 1]);
        for (let b = 0; b < batch; b++) assertClose(r.logits.subarray(b * 2 * V, (b + 1) * 2 * V), rows(ref, V, 3, 5), `row ${b} of ${batch}`);
        const more = await model.forward(Array.from({ length: batch }, () => [long[0]]), big); // not overwritten: it was a copy
        assert.equal(more.cache.length, 41);
      }
    });

    it('runs long inputs in chunks with the same logits', async () => {
      const chunked = await OrtModel.load({ weights, device: 'cpu', threads: 1, prefillChunk: 5 });
      try {
        const picked = await chunked.forward([seq], null, [11, 0, 7, 7, 4]);
        assertClose(picked.logits, [11, 0, 7, 7, 4].flatMap((p) => [...rows(full, V, p, p + 1)]), 'chunked, picked positions');
        const E = SMALL_CONFIG.nEmbd, fullHidden = referenceHidden(weights, seq);
        assertClose(picked.hidden!, [11, 0, 7, 7, 4].flatMap((p) => [...rows(fullHidden, E, p, p + 1)]), 'chunked hidden');
        assertClose(picked.logNormalizers!, [11, 0, 7, 7, 4].map((p) => logSumExp(rows(full, V, p, p + 1))), 'chunked normalisers');
        assert.equal(picked.cache.length, 12);
        const head = await chunked.forward([seq.slice(0, 1)], null);
        const rest = await chunked.forward([seq.slice(1)], head.cache, all(11));
        assertClose(rest.logits, rows(full, V, 1, 12), 'chunked after a cache');
        const reversed = seq.slice().reverse();
        const batch = await chunked.forward([seq, reversed], null, [6]);
        assertClose(batch.logits.subarray(0, V), rows(full, V, 6, 7), 'chunked batch row 0');
        assertClose(batch.logits.subarray(V), rows(referenceLogits(weights, reversed), V, 6, 7), 'chunked batch row 1');
      } finally {
        await chunked.dispose();
      }
    });

    it('expand repeats a batch-1 cache; selectRow takes one row back out', async () => {
      const { cache } = await model.forward([seq.slice(0, 8)], null);
      const wide = model.expand(cache, 3);
      assert.equal(wide.batch, 3);
      assert.equal(wide.length, 8);
      const nexts = [seq[8], 17, 300];
      const r = await model.forward(nexts.map((t) => [t, seq[9]]), wide, [0, 1]);
      for (let b = 0; b < 3; b++) {
        const alone = await model.forward([[nexts[b], seq[9]]], cache, [0, 1]);
        assertClose(r.logits.subarray(b * 2 * V, (b + 1) * 2 * V), alone.logits, `expanded row ${b}`);
      }
      assertClose(r.logits.subarray(0, 2 * V), rows(full, V, 8, 10), 'row 0 is the original sequence');

      const row2 = model.selectRow(r.cache, 2);
      assert.equal(row2.batch, 1);
      assert.equal(row2.length, 10);
      const cont = await model.forward([[seq[10]]], row2);
      const ref = referenceLogits(weights, [...seq.slice(0, 8), 300, seq[9], seq[10]]);
      assertClose(cont.logits, rows(ref, V, 10, 11), 'selected row continues as its own sequence');
      assert.throws(() => model.selectRow(r.cache, 3), /outside/);
      assert.throws(() => model.expand(wide, 2), /batch-1/);
    });

    it('refuses bad input', async () => {
      await assert.rejects(model.forward([[1, 2], [3]], null), /different lengths/);
      await assert.rejects(model.forward([[V]], null), /outside the vocabulary/);
      await assert.rejects(model.forward([[1, 2]], null, [2]), /logit positions/);
      await assert.rejects(model.forward([tokens(SMALL_CONFIG.nPositions + 1, 1, V)], null), /exceed/);
      const { cache } = await model.forward([[1, 2]], null);
      await assert.rejects(model.forward([[1], [2]], cache), /rows after a cache/);
      const other = await OrtModel.load({ weights, device: 'cpu', threads: 1 });
      try {
        await assert.rejects(other.forward([[1]], cache), /another model/);
      } finally {
        await other.dispose();
      }
    });
  });

  it('the transposed-copy head gives the same logits', async () => {
    const weights = testWeights(SMALL_CONFIG, 11);
    const model = await OrtModel.load({ weights, device: 'cpu', threads: 1, graph: { head: 'transposedCopy' } });
    try {
      const toks = tokens(6, 2, SMALL_CONFIG.vocabSize);
      assertClose((await model.forward([toks], null, all(6))).logits, referenceLogits(weights, toks), 'transposed head');
    } finally {
      await model.dispose();
    }
  });

  it('reports its device', async () => {
    const model = await OrtModel.load({ weights: testWeights(SMALL_CONFIG, 1), device: 'cpu', threads: 2 });
    try {
      assert.deepEqual(model.device, { provider: 'cpu', reason: 'cpu: as configured', threads: 2 });
      assert.equal(model.graphSource.fromCache, false);
    } finally {
      await model.dispose();
    }
  });
});
