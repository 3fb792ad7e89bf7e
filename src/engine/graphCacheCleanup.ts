/**
 * Keeps the compiled-graph cache (graphCache.ts; the extension's `<globalStorage>/graphs`, the CLI's
 * `~/.cache/gpt2-complete/graphs`) from growing without bound. Every distinct set of weights gets its own graph, as large as the model:
 * each fine-tuned adapter (and each model the fine-tuning evaluates) adds one, and nothing in the
 * cache itself ever removes an entry that is still intact.
 *
 * Policy, applied after each model load (by the extension and by the CLI):
 *   - entries built by another graph version (GPT2_GRAPH_VERSION: an update of the extension that
 *     changed the graph) can never be loaded again, not even for the weights in use: deleted;
 *   - entries of the weights now in use are kept, and their manifest's mtime is set to now, so
 *     the mtime means "last used" (a cache hit sets it too: graphCache.ts);
 *   - entries used (or written) in the last `minAgeMs` are kept, whatever their version: another
 *     window, or a fine-tuning run, may have just written one it is about to load;
 *   - of the others, the `keepUnused` most recently used stay (switching an adapter off, or back
 *     to the previous model, should not rebuild a graph), the rest are deleted;
 *   - leftovers of interrupted writes (temporary files, graphs without a manifest, unreadable
 *     manifests) older than `strayMaxAgeMs` are deleted.
 * A graph cannot be told apart by base checkpoint (an adapter's entry is keyed by a hash of base
 * and adapter together), so the count is over the whole cache, not per checkpoint.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CONFIG_FILE, HASH_SIDECAR, WEIGHTS_FILE } from './checkpoint';
import { GPT2_GRAPH_VERSION } from './gpt2Graph';

export interface GraphCachePolicy {
  /** Entries not in use that stay, most recently used first (default 2). */
  readonly keepUnused: number;
  /** Entries used or written this recently always stay (default 10 minutes). */
  readonly minAgeMs: number;
  /** Temporary files and graphs without a manifest older than this are removed (default 1 hour). */
  readonly strayMaxAgeMs: number;
}

export const DEFAULT_GRAPH_CACHE_POLICY: GraphCachePolicy = {
  keepUnused: 2,
  minAgeMs: 10 * 60_000,
  strayMaxAgeMs: 60 * 60_000,
};

export interface GraphCacheEntry {
  /** `<hash>-<version>-<precision>`: the manifest is `<name>.json`. */
  readonly name: string;
  /** The weights' hash the graph was built from (manifest.checkpointHash). */
  readonly checkpointHash: string;
  /** The graph version it was built by (manifest.graphVersion; undefined when the manifest has none). */
  readonly graphVersion?: number;
  /** Every file of the entry, manifest included. */
  readonly files: readonly string[];
  readonly bytes: number;
  /** The manifest's mtime: when the entry was written or last marked used. */
  readonly lastUsedMs: number;
}

export interface CleanupPlan {
  readonly keep: readonly GraphCacheEntry[];
  readonly remove: readonly GraphCacheEntry[];
}

export interface CleanupResult {
  /** Entry names and stray files removed. */
  readonly removed: readonly string[];
  readonly freedBytes: number;
  readonly kept: number;
}

/**
 * Which entries go, given the weights in use (`inUse`: graph-cache hashes), the time and the graph
 * version this build loads. Pure.
 */
export function planCleanup(
  entries: readonly GraphCacheEntry[],
  inUse: ReadonlySet<string>,
  nowMs: number,
  policy: GraphCachePolicy = DEFAULT_GRAPH_CACHE_POLICY,
  graphVersion: number = GPT2_GRAPH_VERSION,
): CleanupPlan {
  const keep: GraphCacheEntry[] = [];
  const stale: GraphCacheEntry[] = [];
  const candidates: GraphCacheEntry[] = [];
  for (const e of entries) {
    if (nowMs - e.lastUsedMs < policy.minAgeMs) keep.push(e);
    else if (e.graphVersion !== graphVersion) stale.push(e);
    else if (inUse.has(e.checkpointHash)) keep.push(e);
    else candidates.push(e);
  }
  candidates.sort((a, b) => b.lastUsedMs - a.lastUsedMs || a.name.localeCompare(b.name));
  const spare = Math.max(0, Math.floor(policy.keepUnused));
  return { keep: [...keep, ...candidates.slice(0, spare)], remove: [...stale, ...candidates.slice(spare)] };
}

interface Listing {
  readonly entries: GraphCacheEntry[];
  /** Files belonging to no intact manifest: temporaries, graphs whose manifest is missing or unreadable. */
  readonly strays: { file: string; bytes: number; mtimeMs: number }[];
}

/** The cache's entries (by their manifests) and the files that belong to none. */
export async function listGraphCache(cacheDir: string): Promise<Listing> {
  let names: string[];
  try {
    names = await fs.promises.readdir(cacheDir);
  } catch {
    return { entries: [], strays: [] };
  }
  const stat = async (file: string): Promise<fs.Stats | undefined> => fs.promises.stat(path.join(cacheDir, file)).catch(() => undefined);
  const owned = new Set<string>();
  const entries: GraphCacheEntry[] = [];
  for (const file of names) {
    if (!file.endsWith('.json')) continue;
    const name = file.slice(0, -'.json'.length);
    let manifest: { checkpointHash?: unknown; graphVersion?: unknown; files?: unknown };
    try {
      manifest = JSON.parse(await fs.promises.readFile(path.join(cacheDir, file), 'utf8')) as typeof manifest;
    } catch {
      continue; // unreadable: a stray, removed once old enough
    }
    if (typeof manifest.checkpointHash !== 'string' || !Array.isArray(manifest.files)) continue;
    const st = await stat(file);
    if (st === undefined) continue;
    const files = [file, `${name}.onnx`, `${name}.onnx.data`];
    let bytes = st.size;
    for (const f of files.slice(1)) bytes += (await stat(f))?.size ?? 0;
    for (const f of files) owned.add(f);
    const graphVersion = typeof manifest.graphVersion === 'number' ? manifest.graphVersion : undefined;
    entries.push({ name, checkpointHash: manifest.checkpointHash, ...(graphVersion !== undefined ? { graphVersion } : {}), files, bytes, lastUsedMs: st.mtimeMs });
  }
  const strays: Listing['strays'] = [];
  for (const file of names) {
    if (owned.has(file)) continue;
    // Only what graphCache writes: entries' files and their temporaries (`<file>.tmp-<pid>-...`).
    if (!/\.(onnx|onnx\.data|json)(\.tmp-.*)?$/.test(file)) continue;
    const st = await stat(file);
    if (st?.isFile()) strays.push({ file, bytes: st.size, mtimeMs: st.mtimeMs });
  }
  return { entries, strays };
}

/**
 * Marks the entries of `inUse` as used now and removes what the policy lets go. Never throws: a
 * file another process holds open (Windows) or removed first is skipped.
 */
export async function cleanGraphCache(
  cacheDir: string,
  inUse: readonly string[],
  options: { policy?: GraphCachePolicy; nowMs?: number } = {},
): Promise<CleanupResult> {
  const policy = options.policy ?? DEFAULT_GRAPH_CACHE_POLICY;
  const now = options.nowMs ?? Date.now();
  const used = new Set(inUse);
  const { entries, strays } = await listGraphCache(cacheDir);
  const plan = planCleanup(entries, used, now, policy);
  const removed: string[] = [];
  let freedBytes = 0;
  for (const e of plan.keep) {
    if (!used.has(e.checkpointHash) || e.graphVersion !== GPT2_GRAPH_VERSION) continue;
    const when = new Date(now);
    await fs.promises.utimes(path.join(cacheDir, `${e.name}.json`), when, when).catch(() => undefined);
  }
  for (const e of plan.remove) {
    // The manifest first: without it the rest is never trusted, even if a removal below fails.
    let ok = true;
    for (const f of e.files) {
      await fs.promises.rm(path.join(cacheDir, f), { force: true }).catch(() => (ok = false));
    }
    if (ok) {
      removed.push(e.name);
      freedBytes += e.bytes;
    }
  }
  for (const s of strays) {
    if (now - s.mtimeMs < policy.strayMaxAgeMs) continue;
    const ok = await fs.promises.rm(path.join(cacheDir, s.file), { force: true }).then(() => true, () => false);
    if (ok) {
      removed.push(s.file);
      freedBytes += s.bytes;
    }
  }
  return { removed, freedBytes, kept: plan.keep.length };
}

/**
 * The checkpoint's content hash as the engine computes it (Checkpoint.contentHash: SHA-256 of
 * config.json's bytes then model.safetensors'), from its memo file when that is current, else
 * hashed here without blocking the thread.
 */
export async function checkpointContentHash(checkpointDir: string): Promise<string> {
  const files = [CONFIG_FILE, WEIGHTS_FILE].map((f) => path.join(checkpointDir, f));
  const stats = await Promise.all(files.map((f) => fs.promises.stat(f)));
  const key = JSON.stringify([CONFIG_FILE, WEIGHTS_FILE].map((file, i) => ({ file, size: stats[i].size, mtimeMs: stats[i].mtimeMs })));
  try {
    const memo = JSON.parse(await fs.promises.readFile(path.join(checkpointDir, HASH_SIDECAR), 'utf8')) as { key?: unknown; sha256?: unknown };
    if (memo.key === key && typeof memo.sha256 === 'string' && /^[0-9a-f]{64}$/.test(memo.sha256)) return memo.sha256;
  } catch {
    // no memo (read-only folder, or never loaded): hash
  }
  const h = createHash('sha256');
  for (const f of files) {
    for await (const chunk of fs.createReadStream(f, { highWaterMark: 4 << 20 })) h.update(chunk as Buffer);
  }
  return h.digest('hex');
}

