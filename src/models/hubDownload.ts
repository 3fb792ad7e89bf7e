import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as http from 'node:http';
import * as https from 'node:https';
import * as path from 'node:path';
import { CancelledError, UserError } from '../engine/errors';
import { pinnedSha256 } from '../engine/presets';
import { formatBytes } from '../engine/units';

/**
 * Downloads a Hugging Face model repo's files into a folder: resumable, cancellable, verified by
 * SHA-256, and installed so that a reader never sees half a model. No `vscode` import: the
 * extension wraps it in a progress notification, the CLI prints the progress.
 *
 * Built on node:http/https rather than fetch: VS Code's proxy support patches those modules, and
 * following redirects by hand lets us read the hub's `x-linked-*` headers on the LFS redirect.
 */

export const DEFAULT_HUB_URL = 'https://huggingface.co';
/** A checkpoint folder is complete when all of these are present (the Hugging Face layout: config.json + model.safetensors). */
export const MODEL_FILES: readonly string[] = ['config.json', 'model.safetensors'];

export interface HubOptions {
  /** Hub (or mirror) root; files are fetched from `${baseUrl}/${repo}/resolve/${revision}/${file}`. */
  baseUrl?: string;
  revision?: string;
  signal?: AbortSignal;
  /** A connection silent this long counts as dropped. */
  idleTimeoutMs?: number;
}

export interface RemoteFile {
  file: string;
  /** Bytes, when the server says. */
  size: number | undefined;
  /** Lowercase hex, for LFS files (the hub's LFS etag is the content's SHA-256). */
  sha256: string | undefined;
  /** The remote version, without quotes or W/; a partial download is only resumed against the same one. */
  etag: string | undefined;
}

/** A file to fetch: what HEAD said, and the SHA-256 it must have when one is pinned. */
interface PlannedFile extends RemoteFile {
  pinned: string | undefined;
}

export interface DownloadProgress {
  file: string;
  receivedBytes: number;
  totalBytes: number | undefined;
  bytesPerSecond: number;
}

export interface DownloadOptions extends HubOptions {
  files?: readonly string[];
  /**
   * SHA-256 (hex) per file that the download must have, whatever the server says. Default: the
   * preset's pins (presets.ts) when `repo` is a preset's and the revision is main; null: none.
   */
  pinnedSha256?: Readonly<Record<string, string>> | null;
  onProgress?: (p: DownloadProgress) => void;
  /** Least time between progress events for one file; the last event of each file is always sent. */
  progressIntervalMs?: number;
}

export interface DownloadResult {
  /** True when `dest` already held every file and nothing was fetched. */
  alreadyComplete: boolean;
}

const MAX_REDIRECTS = 10;
const USER_AGENT = 'gpt2-complete';

interface Hub {
  base: string;
  repo: string;
  revision: string;
  signal: AbortSignal | undefined;
  idleTimeoutMs: number;
}

/** True when `dest` holds every file; installation puts config.json last, so this means complete. */
export async function isModelComplete(dest: string, files: readonly string[] = MODEL_FILES): Promise<boolean> {
  for (const f of files) {
    const st = await fsp.stat(path.join(dest, f)).catch(() => undefined);
    if (!st?.isFile()) return false;
  }
  return true;
}

/** Sizes and checksums of the repo's files, by HEAD requests; for asking the user before downloading. */
export async function getRemoteSizes(
  repo: string,
  options: HubOptions & { files?: readonly string[] } = {},
): Promise<RemoteFile[]> {
  const hub = hubOf(repo, options);
  const files = checkFileNames(options.files ?? MODEL_FILES);
  const out: RemoteFile[] = [];
  for (const f of files) out.push(await headFile(hub, f));
  return out;
}

/**
 * Downloads `files` of `repo` into `dest`, unless they are all there already (then no network access).
 * Bytes go to `<dest>/.partial/<file>.part` first; only when every file is complete and verified are
 * they renamed into `dest`, config.json last.
 */
export async function downloadModel(repo: string, dest: string, options: DownloadOptions = {}): Promise<DownloadResult> {
  const hub = hubOf(repo, options);
  const files = checkFileNames(options.files ?? MODEL_FILES);
  if (await isModelComplete(dest, files)) return { alreadyComplete: true };
  throwIfCancelled(hub);

  const pins = options.pinnedSha256 === undefined ? (hub.revision === 'main' ? pinnedSha256(repo) : undefined) : options.pinnedSha256 ?? undefined;
  const remotes: PlannedFile[] = [];
  for (const f of files) remotes.push({ ...(await headFile(hub, f)), pinned: pins?.[f]?.toLowerCase() });
  for (const r of remotes) {
    if (!r.sha256 && !isJson(r.file) && !r.pinned) {
      throw new UserError(`${hub.base} gave no SHA-256 for ${repo}/${r.file}, so it cannot be verified; ${manualAlternative(hub)}`);
    }
    // The server announces another file than the one pinned: refuse before fetching it.
    if (r.pinned && r.sha256 && r.sha256 !== r.pinned) throw pinMismatch(hub, r, r.sha256, 'announces');
  }

  const partialDir = path.join(dest, '.partial');
  await fsp.mkdir(partialDir, { recursive: true });
  const release = await lock(partialDir);
  try {
    const parts: string[] = [];
    for (let i = 0; i < remotes.length; i++) {
      const stillNeeded = remotes.slice(i + 1).reduce((n, r) => n + (r.size ?? 0), 0);
      parts.push(await fetchFile(hub, remotes[i], partialDir, stillNeeded, options));
    }
    await install(dest, files, parts);
  } finally {
    await release();
  }
  await fsp.rm(partialDir, { recursive: true, force: true });
  return { alreadyComplete: false };
}

// ---- one file -------------------------------------------------------------------------------

/** Brings `<partialDir>/<file>.part` to the complete, verified file and returns its path. */
async function fetchFile(
  hub: Hub,
  remote: PlannedFile,
  partialDir: string,
  stillNeeded: number,
  options: DownloadOptions,
): Promise<string> {
  const part = path.join(partialDir, `${remote.file}.part`);
  let offset = await resumableBytes(part, remote);
  let hash = createHash('sha256');
  if (offset > 0) await hashExisting(hub, part, hash);

  if (remote.size === undefined || offset < remote.size) {
    const res = await getFrom(hub, remote.file, offset);
    if (res.statusCode === 200) {
      // The server ignored the Range header (or there was none): the body starts at byte 0.
      offset = 0;
      hash = createHash('sha256');
    }
    const total = totalOf(res, offset) ?? remote.size;
    const report = progressReporter(remote.file, total, offset, options);
    const received = await receive(hub, res, part, offset, hash, total, stillNeeded, report);
    report(received, true);
  } else {
    progressReporter(remote.file, remote.size, offset, options)(offset, true);
  }

  await verify(hub, remote, part, hash.digest('hex'));
  return part;
}

/**
 * Bytes of an earlier partial that can be resumed: 0 (and the partial removed) unless it was
 * fetched from the same remote version, recorded in `<file>.etag` beside it.
 */
async function resumableBytes(part: string, remote: RemoteFile): Promise<number> {
  const versionFile = part.replace(/\.part$/, '.etag');
  const saved = await fsp.readFile(versionFile, 'utf8').catch(() => undefined);
  const size = (await fsp.stat(part).catch(() => undefined))?.size ?? 0;
  if (remote.etag !== undefined && saved === remote.etag && (remote.size === undefined || size <= remote.size)) return size;
  await fsp.rm(part, { force: true });
  if (remote.etag !== undefined) await fsp.writeFile(versionFile, remote.etag);
  else await fsp.rm(versionFile, { force: true });
  return 0;
}

async function hashExisting(hub: Hub, part: string, hash: Hash): Promise<void> {
  try {
    for await (const chunk of createReadStream(part, { signal: hub.signal })) hash.update(chunk as Buffer);
  } catch (e) {
    throwIfCancelled(hub);
    throw e;
  }
}

/** GET with `Range` from `offset`; a 206 that does not start there (or a 416) restarts from 0. */
async function getFrom(hub: Hub, file: string, offset: number): Promise<http.IncomingMessage> {
  const res = await request(hub, file, 'GET', offset > 0 ? { range: `bytes=${offset}-` } : {});
  const status = res.statusCode ?? 0;
  if (status === 200 || (status === 206 && rangeStart(res) === offset)) return res;
  res.destroy();
  if (offset > 0 && (status === 206 || status === 416)) return getFrom(hub, file, 0);
  throw httpError(hub, file, status);
}

/** Streams the body into `part` (appending at `offset`), hashing as it writes; returns the size reached. */
async function receive(
  hub: Hub,
  res: http.IncomingMessage,
  part: string,
  offset: number,
  hash: Hash,
  total: number | undefined,
  stillNeeded: number,
  report: (received: number) => void,
): Promise<number> {
  const file = path.basename(part, '.part');
  const fh = await fsp.open(part, offset > 0 ? 'a' : 'w');
  let received = offset;
  try {
    for await (const chunk of res as AsyncIterable<Buffer>) {
      try {
        await writeAll(fh, chunk);
      } catch (e) {
        res.destroy();
        const code = (e as NodeJS.ErrnoException).code;
        if (code !== 'ENOSPC' && code !== 'EDQUOT') throw e;
        const needed = (total ?? received) - received + stillNeeded;
        throw new UserError(
          `Not enough disk space for ${file} in ${path.dirname(path.dirname(part))}: about ${formatBytes(needed)} more is needed ` +
            `(${formatBytes(received)} saved); free some space and run the command again to resume.`,
        );
      }
      hash.update(chunk);
      received += chunk.length;
      report(received);
      throwIfCancelled(hub);
    }
    // An abort can also end the stream quietly; that must not pass for a complete file.
    throwIfCancelled(hub);
    if (total !== undefined && received < total) throw interrupted(file, received, total);
    await fh.sync();
    return received;
  } catch (e) {
    res.destroy();
    throwIfCancelled(hub);
    const syscall = (e as NodeJS.ErrnoException).syscall;
    if (e instanceof UserError || e instanceof CancelledError || syscall === 'write' || syscall === 'fsync') throw e;
    // Anything the response stream throws (reset, premature close, idle timeout) is a dropped connection.
    throw interrupted(file, received, total);
  } finally {
    await fh.close();
  }
}

async function writeAll(fh: fsp.FileHandle, buf: Buffer): Promise<void> {
  for (let done = 0; done < buf.length; ) done += (await fh.write(buf, done, buf.length - done)).bytesWritten;
}

function interrupted(file: string, received: number, total: number | undefined): UserError {
  const of = total !== undefined ? ` of ${formatBytes(total)}` : '';
  return new UserError(
    `Download of ${file} was interrupted (${formatBytes(received)}${of} saved); run the command again to resume.`,
  );
}

/** Checks the complete partial; a bad one is deleted so the next attempt starts clean. */
async function verify(hub: Hub, remote: PlannedFile, part: string, sha256: string): Promise<void> {
  if (remote.pinned && sha256 !== remote.pinned) {
    await fsp.rm(part, { force: true });
    await fsp.rm(part.replace(/\.part$/, '.etag'), { force: true });
    throw pinMismatch(hub, remote, sha256, 'sent');
  }
  let ok: boolean;
  if (remote.pinned) ok = true;
  else if (remote.sha256) ok = sha256 === remote.sha256;
  else {
    // Small non-LFS files carry a git-blob etag, not a SHA-256; a truncated or mangled JSON will not parse.
    ok = await fsp.readFile(part, 'utf8').then(parsesAsJson, () => false);
  }
  if (ok) return;
  await fsp.rm(part, { force: true });
  await fsp.rm(part.replace(/\.part$/, '.etag'), { force: true });
  throw new UserError(
    `${remote.file} from ${hub.base}/${hub.repo} was corrupted in transit (${remote.sha256 ? 'SHA-256 mismatch' : 'not valid JSON'}); ` +
      `the partial download was deleted, run the command again to retry.`,
  );
}

/** One line for a file whose SHA-256 is not the pinned one (`what`: announced by HEAD, or sent). */
function pinMismatch(hub: Hub, remote: PlannedFile, got: string, what: 'announces' | 'sent'): UserError {
  const done = what === 'sent' ? 'the download was deleted' : 'nothing was downloaded';
  return new UserError(
    `${hub.base}/${hub.repo} ${what} a ${remote.file} with SHA-256 ${got}, not the published file this version pins (${remote.pinned}); ${done}. ` +
      `If the repository has really changed it, ${manualAlternative(hub)}`,
  );
}

/**
 * Renames the verified parts into `dest`. A reader takes config.json + model.safetensors as a
 * complete model, so a stale config.json goes first and the new one last.
 */
async function install(dest: string, files: readonly string[], parts: readonly string[]): Promise<void> {
  const order = files.map((_, i) => i).sort((a, b) => Number(files[a] === 'config.json') - Number(files[b] === 'config.json'));
  await fsp.rm(path.join(dest, 'config.json'), { force: true });
  for (const i of order) await fsp.rename(parts[i], path.join(dest, files[i]));
}

/**
 * One download per folder at a time (each VS Code window has its own extension host): a lock file
 * holding the owner's pid; a lock whose process is gone is stale and taken over.
 */
async function lock(partialDir: string): Promise<() => Promise<void>> {
  const lockFile = path.join(partialDir, 'lock');
  for (;;) {
    try {
      await fsp.writeFile(lockFile, String(process.pid), { flag: 'wx' });
      return () => fsp.rm(lockFile, { force: true });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    const owner = Number(await fsp.readFile(lockFile, 'utf8').catch(() => ''));
    if (Number.isInteger(owner) && owner > 0 && processAlive(owner)) {
      throw new UserError(`Another download into ${path.dirname(partialDir)} is in progress (process ${owner}); wait for it to finish.`);
    }
    await fsp.rm(lockFile, { force: true });
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

// ---- HTTP -----------------------------------------------------------------------------------

/**
 * HEAD, following redirects until the hub's LFS pointer: that redirect carries x-linked-size and
 * x-linked-etag, and the CDN URL it points to may be signed for GET only.
 */
async function headFile(hub: Hub, file: string): Promise<RemoteFile> {
  const res = await request(hub, file, 'HEAD', {}, (r) => r.headers['x-linked-size'] !== undefined);
  res.resume();
  const status = res.statusCode ?? 0;
  if (status !== 200 && !isRedirect(status)) throw httpError(hub, file, status);
  const etag = normalizeEtag(header(res, 'x-linked-etag') ?? header(res, 'etag'));
  const size = Number(header(res, 'x-linked-size') ?? header(res, 'content-length'));
  return {
    file,
    size: Number.isSafeInteger(size) && size >= 0 ? size : undefined,
    sha256: etag !== undefined && /^[0-9a-f]{64}$/.test(etag) ? etag : undefined,
    etag,
  };
}

/** Sends `method` for the file's resolve URL and follows redirects (until `stopAt` says so). */
async function request(
  hub: Hub,
  file: string,
  method: 'GET' | 'HEAD',
  headers: http.OutgoingHttpHeaders,
  stopAt: (res: http.IncomingMessage) => boolean = () => false,
): Promise<http.IncomingMessage> {
  let url = new URL(`${hub.base}/${hub.repo}/resolve/${encodeURIComponent(hub.revision)}/${encodeURIComponent(file)}`);
  for (let hop = 0; ; hop++) {
    const res = await send(hub, url, method, headers);
    const location = res.headers.location;
    if (!isRedirect(res.statusCode ?? 0) || location === undefined || stopAt(res)) return res;
    res.resume();
    if (hop === MAX_REDIRECTS) throw new UserError(`Too many redirects fetching ${hub.repo}/${file} from ${hub.base}; ${manualAlternative(hub)}`);
    url = new URL(location, url);
  }
}

function send(hub: Hub, url: URL, method: string, headers: http.OutgoingHttpHeaders): Promise<http.IncomingMessage> {
  throwIfCancelled(hub);
  const client = url.protocol === 'https:' ? https : url.protocol === 'http:' ? http : undefined;
  if (!client) return Promise.reject(new UserError(`Cannot download from ${url.origin}: only http and https are supported.`));
  return new Promise((resolve, reject) => {
    const req = client.request(
      url,
      // identity: content-length must be the file's size, and the bytes hashed must be the file's.
      { method, signal: hub.signal, headers: { 'user-agent': USER_AGENT, 'accept-encoding': 'identity', ...headers } },
      resolve,
    );
    // Covers the whole exchange: a response that stops arriving fails its body stream.
    req.setTimeout(hub.idleTimeoutMs, () => req.destroy(Object.assign(new Error('connection idle'), { code: 'ETIMEDOUT' })));
    req.on('error', (e: NodeJS.ErrnoException) => {
      reject(hub.signal?.aborted ? new CancelledError() : new UserError(
        `Cannot reach ${url.origin} to download ${hub.repo} (${e.code ?? e.message}); check the network connection or proxy, or ${manualAlternative(hub)}`,
      ));
    });
    req.end();
  });
}

function httpError(hub: Hub, file: string, status: number): UserError {
  const what = `${hub.repo}/${file}`;
  if (status === 404) return new UserError(`${what} was not found on ${hub.base} (HTTP 404); check the model name, or ${manualAlternative(hub)}`);
  if (status === 401 || status === 403) {
    return new UserError(`${hub.base} refused ${what} (HTTP ${status}): the repository does not exist, or is private or gated; ${manualAlternative(hub)}`);
  }
  return new UserError(`${hub.base} answered HTTP ${status} for ${what}; try again later, or ${manualAlternative(hub)}`);
}

function manualAlternative(hub: Hub): string {
  return `download config.json and model.safetensors from ${hub.base}/${hub.repo} into a folder and set gpt2Complete.modelPath to it.`;
}

function isRedirect(status: number): boolean {
  return status === 301 || status === 302 || status === 303 || status === 307 || status === 308;
}

function header(res: http.IncomingMessage, name: string): string | undefined {
  const v = res.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** `W/"abc"` → `abc`, lowercased (the hub's etags are hex). */
function normalizeEtag(etag: string | undefined): string | undefined {
  const v = etag?.trim().replace(/^W\//i, '').replace(/^"(.*)"$/, '$1').toLowerCase();
  return v ? v : undefined;
}

/** Start of a 206's `Content-Range: bytes <start>-<end>/<total>`. */
function rangeStart(res: http.IncomingMessage): number | undefined {
  const m = /^bytes (\d+)-/.exec(header(res, 'content-range') ?? '');
  return m ? Number(m[1]) : undefined;
}

/** Full file size as this response tells it. */
function totalOf(res: http.IncomingMessage, offset: number): number | undefined {
  if (res.statusCode === 206) {
    const m = /\/(\d+)$/.exec(header(res, 'content-range') ?? '');
    if (m) return Number(m[1]);
  }
  const len = Number(header(res, 'content-length'));
  return header(res, 'content-length') !== undefined && Number.isSafeInteger(len) ? offset + len : undefined;
}

// ---- small helpers --------------------------------------------------------------------------

function hubOf(repo: string, options: HubOptions): Hub {
  if (!/^[\w.-]+(\/[\w.-]+)?$/.test(repo) || repo.includes('..')) {
    throw new UserError(`"${repo}" is not a Hugging Face model name (expected "name" or "owner/name").`);
  }
  const base = (options.baseUrl ?? DEFAULT_HUB_URL).replace(/\/+$/, '');
  if (!URL.canParse(base)) throw new UserError(`"${base}" is not a valid hub URL.`);
  return { base, repo, revision: options.revision ?? 'main', signal: options.signal, idleTimeoutMs: options.idleTimeoutMs ?? 30_000 };
}

function checkFileNames(files: readonly string[]): readonly string[] {
  for (const f of files) if (!/^[\w.-]+$/.test(f) || f.startsWith('.')) throw new Error(`bad file name for a hub download: ${f}`);
  return files;
}

function parsesAsJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

function isJson(file: string): boolean {
  return file.endsWith('.json');
}

function throwIfCancelled(hub: Hub): void {
  if (hub.signal?.aborted) throw new CancelledError();
}

function progressReporter(
  file: string,
  total: number | undefined,
  startBytes: number,
  options: DownloadOptions,
): (received: number, last?: boolean) => void {
  const { onProgress, progressIntervalMs = 250 } = options;
  const t0 = performance.now();
  let lastSent = -Infinity;
  return (received, last = false) => {
    const now = performance.now();
    if (!onProgress || (!last && now - lastSent < progressIntervalMs)) return;
    lastSent = now;
    const seconds = (now - t0) / 1000;
    onProgress({ file, receivedBytes: received, totalBytes: total, bytesPerSecond: seconds > 0 ? (received - startBytes) / seconds : 0 });
  };
}

/** Sizes read the same everywhere (engine/units.ts). */
export { formatBytes };
