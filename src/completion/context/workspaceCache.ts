/**
 * The workspace's code as token ids for the cache model (engine/cacheModel): every file that the
 * fine-tuning data filters accept (no secrets, generated, vendored, minified or binary files),
 * kept current as files are opened, edited and saved, up to a token cap. Indexing reads and
 * tokenizes one file at a time and yields between files, so the process serving completions keeps
 * answering while a large workspace is indexed.
 *
 * At each request the current file's own tokens come from the live document (weighted up), and its
 * version on disk is hidden for that request: in the editor it is stale, and in the quality
 * benchmark it holds the very line being predicted.
 */
import * as path from 'node:path';
import type { CacheSource } from '../../engine/cacheModel/cacheModel';
import { TokenStore } from '../../engine/cacheModel/tokenStore';
import { CHUNK_LINES, ChunkIndex, chunkOf, type Chunk } from './chunkIndex';
import { RecentEdits } from './recentEdits';
import { WorkspaceLines } from './workspaceLines';
import { CancelledError } from '../../engine/errors';
import { contentVerdict, filterFiles, pathSkipReason } from '../../training/data/fileFilters';
import { listFiles } from '../../training/data/listFiles';

/** Default cap: ~4M tokens is ~12 MB of code and ~40 MB of memory (2 bytes a token, 4 a position, the map). */
export const DEFAULT_MAX_TOKENS = 4_000_000;
/** The current document's occurrences count this many times a workspace file's (localness of code). */
export const DOCUMENT_WEIGHT = 4;
/** Files whose live text is kept for recent-edit snippets (the ones the editor updated last). */
const LIVE_TEXTS = 16;
/** Lines of context above an edited line in its snippet. */
const LINES_ABOVE_EDIT = 2;

export interface TextEncoder {
  encode(text: string): number[];
}

export interface IndexProgress {
  files: number;
  tokens: number;
  skipped: number;
}

export class WorkspaceCache {
  readonly store = new TokenStore();
  /** The same files' lines, for whole-line candidates beside the model's suggestion (workspaceLines.ts). */
  readonly lines = new WorkspaceLines();
  /** The same files as chunks of lines, for retrieved snippets in the prompt (when asked for: it costs memory). */
  readonly chunks = new ChunkIndex();
  /** Places the editor changed last, for snippets of recent work (recentEdits.ts). */
  readonly recent = new RecentEdits();
  /** The live text of the files the editor updated last, which the recent places' snippets are cut from. */
  private readonly liveTexts = new Map<string, string>();
  private readonly hidden = new Map<string, number>();
  /** The indexed folders (absolute), for live updates. */
  private readonly folders: string[] = [];
  /** Files left out because the cap was reached. */
  overCap = 0;

  constructor(
    private readonly tokenizer: TextEncoder,
    private readonly maxTokens = DEFAULT_MAX_TOKENS,
    private readonly withChunks = false,
  ) {}

  /** Adds or replaces one file (absolute path) unless that would pass the cap. */
  setFile(file: string, text: string): boolean {
    const lf = text.replace(/\r\n/g, '\n');
    const ids = this.tokenizer.encode(lf);
    if (!this.store.has(file) && this.store.liveTokens + ids.length > this.maxTokens) {
      this.overCap++;
      return false;
    }
    this.store.set(file, ids);
    this.lines.setFile(file, lf);
    if (this.withChunks) this.chunks.setFile(file, lf);
    return true;
  }

  removeFile(file: string): void {
    this.liveTexts.delete(file);
    this.recent.forget(file);
    this.store.remove(file);
    this.lines.removeFile(file);
    this.chunks.removeFile(file);
  }

  /** `file` relative to the indexed folder it is in (for snippet headers), else its base name. */
  relativePath(file: string): string {
    const folder = this.folders.find((f) => file.startsWith(f + path.sep));
    return (folder === undefined ? path.basename(file) : path.relative(folder, file)).split(path.sep).join('/');
  }

  /**
   * A file's live text from the editor (opened, edited, saved): indexed under the same rules as at
   * indexing time (inside an indexed folder, path and content filters, secrets included), else
   * dropped from the index. Returns whether it is indexed now.
   */
  updateFile(file: string, text: string): boolean {
    const folder = this.folders.find((f) => file.startsWith(f + path.sep));
    if (folder === undefined) return false;
    const rel = path.relative(folder, file).split(path.sep).join('/');
    const verdict = pathSkipReason(rel) === null ? contentVerdict(Buffer.from(text, 'utf8')) : null;
    if (verdict === null || !('text' in verdict)) {
      this.removeFile(file);
      return false;
    }
    const lf = verdict.text.replace(/\r\n/g, '\n');
    // The first update of a file is its opening; later ones are edits (or saves, which change nothing).
    const before = this.liveTexts.get(file);
    if (before !== undefined) this.recent.note(file, before, lf);
    this.liveTexts.delete(file);
    this.liveTexts.set(file, lf);
    if (this.liveTexts.size > LIVE_TEXTS) this.liveTexts.delete(this.liveTexts.keys().next().value!);
    return this.setFile(file, lf);
  }

  /**
   * Snippets of the places edited last in files other than `exclude`, newest first: the changed
   * line with a little above it, from the file's live text.
   */
  recentChunks(exclude: string | undefined, k: number): Chunk[] {
    const chunks: Chunk[] = [];
    for (const place of this.recent.list()) {
      if (chunks.length >= k) break;
      const text = place.file === exclude ? undefined : this.liveTexts.get(place.file);
      if (text === undefined) continue;
      const lines = text.split('\n');
      const line = Math.max(0, Math.min(place.line - LINES_ABOVE_EDIT, lines.length - 1));
      const body = lines.slice(line, line + CHUNK_LINES).join('\n');
      if (body.trim() !== '') chunks.push(chunkOf(place.file, line, body));
    }
    return chunks;
  }

  /** Indexes the folder's files as fine-tuning would list and filter them. */
  async indexFolder(folder: string, options: { signal?: AbortSignal; onProgress?: (p: IndexProgress) => void } = {}): Promise<IndexProgress> {
    const root = path.resolve(folder);
    if (!this.folders.includes(root)) this.folders.push(root);
    const listing = await listFiles(root, { signal: options.signal });
    const progress: IndexProgress = { files: 0, tokens: 0, skipped: listing.excludedByGlob.length };
    for await (const verdict of filterFiles(root, listing.files, { signal: options.signal })) {
      if (options.signal?.aborted) throw new CancelledError();
      if (verdict.ok && this.setFile(path.join(root, ...verdict.path.split('/')), verdict.text)) {
        progress.files++;
        progress.tokens = this.store.liveTokens;
      } else {
        progress.skipped++;
      }
      options.onProgress?.(progress);
      // Let completion requests in between files.
      await new Promise((resolve) => setImmediate(resolve));
    }
    return progress;
  }

  /**
   * The cache model's sources for a request on `file` (absolute path, or undefined for a document
   * without one) whose live text is `documentTokens`. Call `release` when the request is done.
   */
  sourcesFor(file: string | undefined, documentTokens: DocumentTokens): { sources: CacheSource[]; release: () => void } {
    const sources: CacheSource[] = [...documentOnlySources(documentTokens), { store: this.store, weight: 1 }];
    if (file === undefined) return { sources, release: () => undefined };
    // Hidden even when not indexed yet: indexing may reach it while this request runs.
    this.hide(file);
    let released = false;
    return {
      sources,
      release: () => {
        if (released) return;
        released = true;
        this.unhide(file);
      },
    };
  }

  private hide(file: string): void {
    const n = this.hidden.get(file) ?? 0;
    if (n === 0) this.store.setHidden(file, true);
    this.hidden.set(file, n + 1);
  }

  private unhide(file: string): void {
    const n = (this.hidden.get(file) ?? 1) - 1;
    if (n === 0) {
      this.hidden.delete(file);
      this.store.setHidden(file, false);
    } else {
      this.hidden.set(file, n);
    }
  }
}

/** The live document's tokens before and after the cursor. */
export interface DocumentTokens {
  readonly before: ArrayLike<number>;
  readonly after: ArrayLike<number>;
}

/** A cache model over the live document alone (no workspace index). */
export function documentOnlySources(documentTokens: DocumentTokens): CacheSource[] {
  const document = new TokenStore();
  document.set('before', documentTokens.before);
  document.set('after', documentTokens.after);
  return [{ store: document, weight: DOCUMENT_WEIGHT }];
}
