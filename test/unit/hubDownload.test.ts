import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { CancelledError, UserError } from '../../src/engine/errors';
import { PRESETS, pinnedSha256 } from '../../src/engine/presets';
import { downloadModel, getRemoteSizes, type DownloadProgress } from '../../src/models/hubDownload';

const REPO = 'test-org/tiny-gpt2';
const CONFIG = Buffer.from(
  JSON.stringify({ model_type: 'gpt2', vocab_size: 50257, n_positions: 128, n_embd: 32, n_layer: 2, n_head: 2, layer_norm_epsilon: 1e-5 }),
);
const WEIGHTS = randomBytes(1_500_000);
const WEIGHTS_SHA = sha256(WEIGHTS);
// The hub's etag for a non-LFS file is its git blob id, not a SHA-256.
const CONFIG_BLOB = createHash('sha1').update(`blob ${CONFIG.length}\0`).update(CONFIG).digest('hex');
const CHUNK = 64 * 1024;

function sha256(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}

interface Seen {
  method: string;
  url: string;
  range: string | undefined;
  status: number;
}

/**
 * Imitates the hub: config.json served directly, model.safetensors as an LFS pointer (302 with
 * x-linked-* headers) to a CDN path that honours Range and refuses HEAD (signed for GET only).
 */
class FakeHub {
  readonly seen: Seen[] = [];
  /** Repositories served, all with the same files. */
  repos: string[] = [REPO];
  /** Destroy the socket after this many body bytes of the next CDN response. */
  dropAfter: number | undefined;
  /** Stop sending (but keep the socket open) after this many body bytes of the next CDN response. */
  stallAfter: number | undefined;
  ignoreRange = false;
  corrupt = false;
  delayMs = 0;
  private server = http.createServer((req, res) => void this.handle(req, res));

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }

  cdnGets(): Seen[] {
    return this.seen.filter((s) => s.method === 'GET' && s.url.startsWith('/cdn/'));
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = req.url ?? '';
    const log = (status: number) => this.seen.push({ method: req.method ?? '', url, range: req.headers.range, status });
    if (this.repos.some((r) => url === `/${r}/resolve/main/config.json`)) {
      log(200);
      res.writeHead(200, { 'content-length': CONFIG.length, etag: `"${CONFIG_BLOB}"`, 'content-type': 'application/json' });
      res.end(req.method === 'HEAD' ? undefined : CONFIG);
    } else if (this.repos.some((r) => url === `/${r}/resolve/main/model.safetensors`)) {
      log(302);
      res.writeHead(302, {
        location: `/cdn/${WEIGHTS_SHA}?signature=abc`,
        'x-linked-size': WEIGHTS.length,
        'x-linked-etag': `"${WEIGHTS_SHA}"`,
        etag: `W/"${WEIGHTS_SHA}"`,
      });
      res.end();
    } else if (url.startsWith(`/cdn/${WEIGHTS_SHA}`) && req.method === 'GET') {
      await this.serveWeights(req, res, log);
    } else {
      const status = url.startsWith('/cdn/') ? 403 : 404;
      log(status);
      res.writeHead(status).end();
    }
  }

  private async serveWeights(req: http.IncomingMessage, res: http.ServerResponse, log: (status: number) => void): Promise<void> {
    let body = WEIGHTS;
    if (this.corrupt) {
      body = Buffer.from(WEIGHTS);
      body[body.length >> 1] ^= 0xff;
    }
    const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    const start = m && !this.ignoreRange ? Number(m[1]) : undefined;
    if (start !== undefined) {
      log(206);
      res.writeHead(206, { 'content-length': body.length - start, 'content-range': `bytes ${start}-${body.length - 1}/${body.length}` });
      body = body.subarray(start);
    } else {
      log(200);
      res.writeHead(200, { 'content-length': body.length, etag: '"cdn-etag"' });
    }
    const dropAt = this.dropAfter;
    const stallAt = this.stallAfter;
    this.dropAfter = this.stallAfter = undefined;
    for (let sent = 0; sent < body.length && !res.destroyed; ) {
      const chunk = body.subarray(sent, sent + CHUNK);
      const cut = dropAt ?? stallAt;
      if (cut !== undefined && sent + chunk.length >= cut) {
        res.write(chunk.subarray(0, cut - sent), () => {
          if (dropAt !== undefined) res.socket?.destroy();
        });
        return;
      }
      if (!res.write(chunk)) await drainedOrClosed(res);
      sent += chunk.length;
      if (this.delayMs) await new Promise((r) => setTimeout(r, this.delayMs));
    }
    res.end();
  }
}

function drainedOrClosed(res: http.ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done).off('close', done);
      resolve();
    };
    res.on('drain', done).on('close', done);
  });
}

describe('hubDownload', () => {
  let hub: FakeHub;
  let base: string;
  let root: string;
  let dest: string;
  const part = () => path.join(dest, '.partial', 'model.safetensors.part');

  beforeEach(async () => {
    hub = new FakeHub();
    base = await hub.start();
    root = await fsp.mkdtemp(path.join(os.tmpdir(), 'hubdl-'));
    dest = path.join(root, 'models', 'gpt2');
  });

  afterEach(async () => {
    await hub.stop();
    await fsp.rm(root, { recursive: true, force: true });
  });

  async function assertInstalled(): Promise<void> {
    assert.equal(sha256(await fsp.readFile(path.join(dest, 'model.safetensors'))), WEIGHTS_SHA);
    assert.deepEqual(await fsp.readFile(path.join(dest, 'config.json')), CONFIG);
    assert.deepEqual((await fsp.readdir(dest)).sort(), ['config.json', 'model.safetensors']);
  }

  async function assertNothingInstalled(): Promise<void> {
    assert.equal(existsSync(path.join(dest, 'config.json')), false);
    assert.equal(existsSync(path.join(dest, 'model.safetensors')), false);
  }

  function assertOneLine(e: unknown, pattern: RegExp): true {
    assert.ok(e instanceof UserError, `expected a UserError, got ${String(e)}`);
    assert.ok(!e.message.includes('\n'), 'message is one line');
    assert.match(e.message, pattern);
    return true;
  }

  it('reports sizes and checksums by HEAD, without following the CDN redirect', async () => {
    const remote = await getRemoteSizes(REPO, { baseUrl: base });
    assert.deepEqual(remote, [
      { file: 'config.json', size: CONFIG.length, sha256: undefined, etag: CONFIG_BLOB },
      { file: 'model.safetensors', size: WEIGHTS.length, sha256: WEIGHTS_SHA, etag: WEIGHTS_SHA },
    ]);
    assert.ok(hub.seen.every((s) => s.method === 'HEAD' && !s.url.startsWith('/cdn/')));
  });

  it('downloads, verifies and installs the files, leaving no partial folder', async () => {
    const result = await downloadModel(REPO, dest, { baseUrl: base });
    assert.deepEqual(result, { alreadyComplete: false });
    await assertInstalled();
    assert.equal(hub.cdnGets().length, 1);
  });

  it('reports monotone progress that ends at each file’s total', async () => {
    const events: DownloadProgress[] = [];
    await downloadModel(REPO, dest, { baseUrl: base, progressIntervalMs: 0, onProgress: (p) => events.push(p) });
    for (const [file, size] of [['config.json', CONFIG.length], ['model.safetensors', WEIGHTS.length]] as const) {
      const mine = events.filter((e) => e.file === file);
      assert.ok(mine.length >= 1);
      for (let i = 1; i < mine.length; i++) assert.ok(mine[i].receivedBytes >= mine[i - 1].receivedBytes);
      assert.ok(mine.every((e) => e.totalBytes === size && Number.isFinite(e.bytesPerSecond) && e.bytesPerSecond >= 0));
      assert.equal(mine[mine.length - 1].receivedBytes, size);
    }
    assert.ok(events.filter((e) => e.file === 'model.safetensors').length > 2, 'several events for the big file');
  });

  it('throttles progress events', async () => {
    hub.delayMs = 5; // ~23 chunks over ≥ 115 ms
    const events: DownloadProgress[] = [];
    await downloadModel(REPO, dest, { baseUrl: base, progressIntervalMs: 250, onProgress: (p) => events.push(p) });
    const mine = events.filter((e) => e.file === 'model.safetensors');
    assert.ok(mine.length <= 3, `got ${mine.length} events`);
    assert.equal(mine[mine.length - 1].receivedBytes, WEIGHTS.length);
  });

  it('keeps the partial when the connection drops, and resumes it with a Range request', async () => {
    hub.dropAfter = 500_000;
    await assert.rejects(downloadModel(REPO, dest, { baseUrl: base }), (e) =>
      assertOneLine(e, /interrupted \(\d+(\.\d)? KB of 1\.5 MB saved\); run the command again to resume/),
    );
    await assertNothingInstalled();
    const saved = (await fsp.stat(part())).size;
    assert.ok(saved > 0 && saved <= 500_000, `partial has ${saved} bytes`);

    await downloadModel(REPO, dest, { baseUrl: base });
    await assertInstalled();
    const resumed = hub.cdnGets()[1];
    assert.equal(resumed.range, `bytes=${saved}-`);
    assert.equal(resumed.status, 206);
  });

  it('treats a stalled connection as dropped', async () => {
    hub.stallAfter = 200_000;
    await assert.rejects(downloadModel(REPO, dest, { baseUrl: base, idleTimeoutMs: 300 }), (e) => assertOneLine(e, /interrupted/));
    assert.ok((await fsp.stat(part())).size > 0);
  });

  it('starts over when the server ignores Range', async () => {
    hub.dropAfter = 300_000;
    await assert.rejects(downloadModel(REPO, dest, { baseUrl: base }), UserError);
    hub.ignoreRange = true;
    await downloadModel(REPO, dest, { baseUrl: base });
    await assertInstalled();
    const retry = hub.cdnGets()[1];
    assert.match(retry.range ?? '', /^bytes=\d+-$/);
    assert.equal(retry.status, 200);
  });

  it('discards a partial fetched from another remote version', async () => {
    await fsp.mkdir(path.dirname(part()), { recursive: true });
    await fsp.writeFile(part(), randomBytes(100_000));
    await fsp.writeFile(path.join(dest, '.partial', 'model.safetensors.etag'), 'an-older-version');
    await downloadModel(REPO, dest, { baseUrl: base });
    await assertInstalled();
    assert.equal(hub.cdnGets()[0].range, undefined);
  });

  it('rejects a file corrupted in transit, installs nothing, and retries cleanly', async () => {
    hub.corrupt = true;
    await assert.rejects(downloadModel(REPO, dest, { baseUrl: base }), (e) =>
      assertOneLine(e, /model\.safetensors .*corrupted in transit.*run the command again to retry/),
    );
    await assertNothingInstalled();
    assert.equal(existsSync(part()), false, 'the bad partial is deleted');

    hub.corrupt = false;
    await downloadModel(REPO, dest, { baseUrl: base });
    await assertInstalled();
  });

  it('cancels promptly, keeps the partial, and resumes later', async () => {
    hub.delayMs = 2;
    const ac = new AbortController();
    const onProgress = (p: DownloadProgress) => {
      if (p.file === 'model.safetensors' && p.receivedBytes > 0) ac.abort();
    };
    await assert.rejects(downloadModel(REPO, dest, { baseUrl: base, signal: ac.signal, progressIntervalMs: 0, onProgress }), CancelledError);
    await assertNothingInstalled();
    const saved = (await fsp.stat(part())).size;
    assert.ok(saved > 0 && saved < WEIGHTS.length, `partial has ${saved} bytes`);

    await downloadModel(REPO, dest, { baseUrl: base });
    await assertInstalled();
    assert.equal(hub.cdnGets()[1].range, `bytes=${saved}-`);
  });

  it('does nothing when already cancelled', async () => {
    const ac = new AbortController();
    ac.abort();
    await assert.rejects(downloadModel(REPO, dest, { baseUrl: base, signal: ac.signal }), CancelledError);
    assert.equal(hub.seen.length, 0);
  });

  it('says clearly when the model does not exist', async () => {
    await assert.rejects(downloadModel('test-org/missing', dest, { baseUrl: base }), (e) =>
      assertOneLine(
        e,
        new RegExp(`test-org/missing/config\\.json was not found .*HTTP 404.*from ${base}/test-org/missing into a folder and set gpt2Complete\\.modelPath`),
      ),
    );
    await assertNothingInstalled();
  });

  it('gives the offline message when the hub cannot be reached', async () => {
    const closed = new FakeHub();
    const closedBase = await closed.start();
    await closed.stop();
    await assert.rejects(downloadModel(REPO, dest, { baseUrl: closedBase }), (e) =>
      assertOneLine(e, /Cannot reach .*ECONNREFUSED.*download config\.json and model\.safetensors from .* set gpt2Complete\.modelPath to it/),
    );
  });

  it('makes no request when the model is already complete', async () => {
    await fsp.mkdir(dest, { recursive: true });
    await fsp.writeFile(path.join(dest, 'config.json'), CONFIG);
    await fsp.writeFile(path.join(dest, 'model.safetensors'), WEIGHTS);
    assert.deepEqual(await downloadModel(REPO, dest, { baseUrl: base }), { alreadyComplete: true });
    assert.equal(hub.seen.length, 0);
  });

  it('replaces a stale config.json when the weights are missing', async () => {
    await fsp.mkdir(dest, { recursive: true });
    await fsp.writeFile(path.join(dest, 'config.json'), '{"stale": true}');
    await downloadModel(REPO, dest, { baseUrl: base });
    await assertInstalled();
  });

  it('refuses to run beside a live download into the same folder, and takes over a stale lock', async () => {
    await fsp.mkdir(path.join(dest, '.partial'), { recursive: true });
    const lockFile = path.join(dest, '.partial', 'lock');
    await fsp.writeFile(lockFile, String(process.pid));
    await assert.rejects(downloadModel(REPO, dest, { baseUrl: base }), (e) => assertOneLine(e, /Another download .* is in progress/));

    const gone = spawnSync(process.execPath, ['-e', '']).pid;
    await fsp.writeFile(lockFile, String(gone));
    await downloadModel(REPO, dest, { baseUrl: base });
    await assertInstalled();
  });

  describe('pinned SHA-256', () => {
    const other = sha256(Buffer.from('the published weights'));

    it('refuses weights whose hash is not the pin, though the server\'s own header agrees with them, before fetching', async () => {
      await assert.rejects(downloadModel(REPO, dest, { baseUrl: base, pinnedSha256: { 'model.safetensors': other } }), (e) =>
        assertOneLine(e, new RegExp(`announces a model\\.safetensors with SHA-256 ${WEIGHTS_SHA}, not the published file this version pins \\(${other}\\); nothing was downloaded`)),
      );
      assert.equal(hub.cdnGets().length, 0, 'not downloaded');
      await assertNothingInstalled();
    });

    it('refuses a file the server gives no hash for (config.json) when its content is not the pin, and deletes it', async () => {
      await assert.rejects(downloadModel(REPO, dest, { baseUrl: base, pinnedSha256: { 'config.json': other } }), (e) =>
        assertOneLine(e, new RegExp(`sent a config\\.json with SHA-256 ${sha256(CONFIG)}, not the published file this version pins \\(${other}\\); the download was deleted`)),
      );
      await assertNothingInstalled();
      assert.equal(existsSync(path.join(dest, '.partial', 'config.json.part')), false);
    });

    it('pins gpt2\'s and distilgpt2\'s files; presets whose hashes could not be confirmed have none', () => {
      for (const repo of ['openai-community/gpt2', 'distilbert/distilgpt2']) {
        assert.deepEqual(Object.keys(pinnedSha256(repo) ?? {}).sort(), ['config.json', 'model.safetensors']);
      }
      for (const p of PRESETS) {
        for (const h of Object.values(p.sha256 ?? {})) assert.match(h, /^[0-9a-f]{64}$/);
        if (!['gpt2', 'distilgpt2'].includes(p.name)) assert.equal(pinnedSha256(p.repo), undefined, `${p.name} has pins: update README's Models section`);
      }
      assert.equal(pinnedSha256(REPO), undefined);
    });

    it('installs files that match their pins', async () => {
      await downloadModel(REPO, dest, { baseUrl: base, pinnedSha256: { 'model.safetensors': WEIGHTS_SHA, 'config.json': sha256(CONFIG) } });
      await assertInstalled();
    });

    it('a preset\'s repository is checked against the preset\'s pins by default', async () => {
      hub.repos.push('openai-community/gpt2');
      // The fake hub's files are not gpt2's: the real pins refuse them.
      await assert.rejects(downloadModel('openai-community/gpt2', dest, { baseUrl: base }), (e) =>
        assertOneLine(e, /not the published file this version pins \(248dfc3911869ec493c76e65bf2fcf7f615828b0254c12b473182f0f81d3a707\)/),
      );
      await downloadModel('openai-community/gpt2', dest, { baseUrl: base, pinnedSha256: null });
      await assertInstalled();
    });
  });

  it('says how much space is needed when the disk is full, keeping the partial', async function () {
    if (!existsSync('/dev/full')) this.skip();
    // /dev/full fails every write with ENOSPC: make it the partial, recorded as the current version.
    await fsp.mkdir(path.dirname(part()), { recursive: true });
    await fsp.writeFile(path.join(dest, '.partial', 'model.safetensors.etag'), WEIGHTS_SHA);
    await fsp.symlink('/dev/full', part());
    await assert.rejects(downloadModel(REPO, dest, { baseUrl: base }), (e) =>
      assertOneLine(e, /Not enough disk space for model\.safetensors .*about 1\.5 MB more is needed \(0 B saved\).*resume/),
    );
    assert.equal((await fsp.lstat(part())).isSymbolicLink(), true, 'partial kept');
    await assertNothingInstalled();
  });
});
