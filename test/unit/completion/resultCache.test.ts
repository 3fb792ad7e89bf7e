import { strict as assert } from 'node:assert';
import { completionCacheKey, CompletionResultCache, hashString, LruCache } from '../../../src/completion/resultCache';

describe('LRU cache', () => {
  it('evicts the least recently used entry', () => {
    const lru = new LruCache<string, number>(2);
    lru.set('a', 1);
    lru.set('b', 2);
    assert.equal(lru.get('a'), 1); // a is now the most recent
    lru.set('c', 3);
    assert.equal(lru.has('b'), false);
    assert.equal(lru.get('a'), 1);
    assert.equal(lru.get('c'), 3);
    assert.equal(lru.size, 2);
  });

  it('overwriting refreshes the entry', () => {
    const lru = new LruCache<string, number>(2);
    lru.set('a', 1);
    lru.set('b', 2);
    lru.set('a', 10);
    lru.set('c', 3);
    assert.deepEqual([lru.get('a'), lru.has('b')], [10, false]);
  });

  it('rejects a capacity below one', () => {
    assert.throws(() => new LruCache(0), RangeError);
    assert.throws(() => new LruCache(1.5), RangeError);
  });
});

describe('completion cache keys', () => {
  it('hash is stable, 14 hex digits, and sensitive to every character', () => {
    assert.equal(hashString('hello'), hashString('hello'));
    assert.match(hashString('hello'), /^[0-9a-f]{14}$/);
    assert.notEqual(hashString('hello'), hashString('hellp'));
    assert.notEqual(hashString(''), hashString(' '));
  });

  it('part boundaries matter', () => {
    assert.notEqual(completionCacheKey(['ab', 'c']), completionCacheKey(['a', 'bc']));
    assert.notEqual(completionCacheKey(['a|', 'b']), completionCacheKey(['a', '|b']));
  });

  it('result cache stores alternatives by key parts, bounded', () => {
    const cache = new CompletionResultCache(2);
    cache.set(['prompt 1', ')'], ['x', 'y']);
    cache.set(['prompt 2', ''], ['z']);
    assert.deepEqual(cache.get(['prompt 1', ')']), ['x', 'y']);
    assert.equal(cache.get(['prompt 1', '']), undefined);
    cache.set(['prompt 3', ''], ['w']);
    assert.equal(cache.get(['prompt 2', '']), undefined, 'least recently used evicted');
    assert.equal(cache.size, 2);
    cache.clear();
    assert.equal(cache.size, 0);
  });
});
