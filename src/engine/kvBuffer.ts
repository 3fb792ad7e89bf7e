/**
 * JS-owned key/value storage for the GPT-2 graph (gpt2Graph.ts): per layer, keys and values [B,H,C,D]
 * at a capacity C with room to append, fed whole to every run (onnxruntime-node does not copy inputs)
 * and appended to in place with the S new positions a run returns.
 *
 * Ownership: handles (length, generation) share one buffer. Appending at position P overwrites
 * positions P.. in place, so every handle that covered one of them is stale from then on; each
 * position remembers the generation that last wrote it, and using a stale handle throws instead of
 * reading another sequence's keys. A handle whose positions were not overwritten stays valid: a
 * cache of P tokens can be continued several times (each continuation invalidates the previous one).
 */

export class StaleKVCacheError extends Error {
  constructor() {
    super('KV cache used after a later forward() overwrote its positions: continue only from the newest cache ' +
      '(truncate/expand/selectRow give caches that own or share the buffer under the same rule)');
    this.name = 'StaleKVCacheError';
  }
}

/**
 * The capacity to grow to: the needed size plus ~1/8 (at least 16), in steps of 16, at most the model's
 * positions. Every run attends over the whole capacity (the spare part masked) and every growth
 * copies the cache, so slack and growth both cost; ~1/8 keeps each to a few percent of a decode step.
 */
export function grownCapacity(needed: number, maxCapacity: number): number {
  const target = needed + Math.max(16, Math.ceil(needed / 8));
  return Math.min(maxCapacity, Math.ceil(target / 16) * 16);
}

export class KVBuffer {
  /** Per layer, [batch, heads, capacity, headSize]. */
  keys: Float32Array[];
  /** Per layer, [batch, heads, capacity, headSize]. */
  values: Float32Array[];
  private generation = 0;
  /** Generation of the last write of each position. */
  private readonly writtenAt: Uint32Array;

  constructor(
    readonly layers: number,
    readonly batch: number,
    readonly heads: number,
    readonly headSize: number,
    readonly maxCapacity: number,
    public capacity: number,
  ) {
    if (capacity > maxCapacity) throw new RangeError(`KV capacity ${capacity} above ${maxCapacity}`);
    const size = batch * heads * capacity * headSize;
    this.keys = Array.from({ length: layers }, () => new Float32Array(size));
    this.values = Array.from({ length: layers }, () => new Float32Array(size));
    this.writtenAt = new Uint32Array(maxCapacity);
  }

  /** The generation a handle made now carries. */
  get current(): number {
    return this.generation;
  }

  /** Throws unless positions [0, length) are as they were when the handle of `generation` was made. */
  check(length: number, generation: number): void {
    const w = this.writtenAt;
    for (let i = 0; i < length; i++) if (w[i] > generation) throw new StaleKVCacheError();
  }

  /**
   * Makes room for `needed` positions, keeping the first `keep` (positions beyond them are about to be
   * overwritten, so no valid handle needs them).
   */
  reserve(needed: number, keep: number): void {
    if (needed <= this.capacity) return;
    if (needed > this.maxCapacity) throw new RangeError(`KV cache: ${needed} positions exceed ${this.maxCapacity}`);
    const cap = grownCapacity(needed, this.maxCapacity);
    const rows = this.batch * this.heads, D = this.headSize, old = this.capacity;
    const size = rows * cap * D;
    const grow = (src: Float32Array): Float32Array => {
      const dst = new Float32Array(size);
      for (let r = 0; r < rows; r++) dst.set(src.subarray(r * old * D, (r * old + keep) * D), r * cap * D);
      return dst;
    };
    this.keys = this.keys.map(grow);
    this.values = this.values.map(grow);
    this.capacity = cap;
  }

  /**
   * Writes one layer's new keys and values, each [B,H,S,D], at positions [at, at+S). Capacity must have
   * been reserved; call `commit` after the last layer.
   */
  write(layer: number, at: number, count: number, newKeys: Float32Array, newValues: Float32Array): void {
    const rows = this.batch * this.heads, D = this.headSize, cap = this.capacity;
    if (at + count > cap) throw new RangeError('KV write past the reserved capacity');
    const k = this.keys[layer], v = this.values[layer];
    // Each (b,h) gets one contiguous block of S·D.
    for (let r = 0; r < rows; r++) {
      k.set(newKeys.subarray(r * count * D, (r + 1) * count * D), (r * cap + at) * D);
      v.set(newValues.subarray(r * count * D, (r + 1) * count * D), (r * cap + at) * D);
    }
  }

  /** Marks [at, at+count) written; handles covering them become stale. Returns the new generation. */
  commit(at: number, count: number): number {
    this.generation++;
    this.writtenAt.fill(this.generation, at, at + count);
    return this.generation;
  }

  /**
   * A new buffer whose row b is the first `length` positions of row `rows[b]` of this one, at a
   * capacity fitted to `length`: expand ([0, 0, ...]), selectRow ([r]), or compacting a short view
   * of a large buffer (every row).
   */
  select(rows: readonly number[], length: number): KVBuffer {
    const out = new KVBuffer(this.layers, rows.length, this.heads, this.headSize, this.maxCapacity, grownCapacity(length, this.maxCapacity));
    rows.forEach((from, to) => out.copyRow(this, from, to, length));
    return out;
  }

  private copyRow(src: KVBuffer, from: number, to: number, length: number): void {
    const H = this.heads, D = this.headSize, sc = src.capacity, dc = this.capacity;
    for (let l = 0; l < this.layers; l++) {
      for (let h = 0; h < H; h++) {
        const sr = from * H + h, dr = to * H + h;
        this.keys[l].set(src.keys[l].subarray(sr * sc * D, (sr * sc + length) * D), dr * dc * D);
        this.values[l].set(src.values[l].subarray(sr * sc * D, (sr * sc + length) * D), dr * dc * D);
      }
    }
  }
}
