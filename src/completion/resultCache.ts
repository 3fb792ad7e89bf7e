/**
 * A small LRU cache of recent completion results, keyed by a hash of what determined them
 * (Copilot keeps 100, llama.vscode 250). A hit skips the model entirely, e.g. when the user
 * deletes a character and types it again, or returns to a spot they just left.
 */

/** A Map used in insertion order: a read moves the entry to the back, the front is evicted first. */
export class LruCache<K, V> {
  private readonly entries = new Map<K, V>();

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`LRU capacity must be a positive integer, got ${capacity}`);
  }

  get(key: K): V | undefined {
    const value = this.entries.get(key);
    if (value === undefined) return undefined;
    this.entries.delete(key);
    this.entries.set(key, value);
    return value;
  }

  has(key: K): boolean {
    return this.entries.has(key);
  }

  set(key: K, value: V): void {
    this.entries.delete(key);
    this.entries.set(key, value);
    while (this.entries.size > this.capacity) {
      const oldest = this.entries.keys().next();
      if (oldest.done === true) break;
      this.entries.delete(oldest.value);
    }
  }

  delete(key: K): boolean {
    return this.entries.delete(key);
  }

  clear(): void {
    this.entries.clear();
  }

  get size(): number {
    return this.entries.size;
  }
}

/**
 * A 53-bit string hash (cyrb53), as 14 hex digits. Not cryptographic: it keeps keys short so the
 * cache does not hold whole prompts; with ~100 entries a collision is vanishingly unlikely.
 */
export function hashString(text: string, seed = 0): string {
  let h1 = 0xdeadbeef ^ seed;
  let h2 = 0x41c6ce57 ^ seed;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ ch, 2654435761);
    h2 = Math.imul(h2 ^ ch, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  const value = 4294967296 * (2097151 & h2) + (h1 >>> 0);
  return value.toString(16).padStart(14, '0');
}

/**
 * The cache key of a result: everything that shaped it, e.g. (prompt, suffix on the line, next
 * line, multi-line flag, model id). Parts are length-prefixed so ("ab","c") and ("a","bc") differ.
 */
export function completionCacheKey(parts: readonly string[]): string {
  return hashString(parts.map((part) => `${part.length}:${part}`).join('|'));
}

/** The LRU of post-processed completions by cache key (default 100 entries, as Copilot). */
export class CompletionResultCache {
  private readonly lru: LruCache<string, readonly string[]>;

  constructor(capacity = 100) {
    this.lru = new LruCache(capacity);
  }

  /** The completions stored for these key parts (alternatives, best first), or undefined. */
  get(keyParts: readonly string[]): readonly string[] | undefined {
    return this.lru.get(completionCacheKey(keyParts));
  }

  set(keyParts: readonly string[], completions: readonly string[]): void {
    this.lru.set(completionCacheKey(keyParts), [...completions]);
  }

  clear(): void {
    this.lru.clear();
  }

  get size(): number {
    return this.lru.size;
  }
}
