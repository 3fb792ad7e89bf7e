// The model download UI end to end in a real extension host: a preset is downloaded from a local
// stand-in for the Hugging Face hub (HF_ENDPOINT, read by the extension at download time; this
// test runs in the same process), after the user was asked with the size; progress is reported;
// the model lands in the extension's global storage and completions come from it; a cancelled
// download keeps its bytes and the next one resumes with a Range request.
//
// A modal dialog's buttons and a notification's Cancel cannot be clicked from the extension host,
// so the test answers and cancels through the download probe of the test hooks
// (gpt2Complete._testDownload, src/vscode/modelDownload.ts DownloadProbe); everything else is the
// extension's real command, downloader, model manager and engine.
import * as assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { closeWithoutSaving, openUntitled, typeText, waitFor } from './editorDriver';
import { hookState, inlineSuiteSettings, resetHooks, setSetting, waitForModel, waitForState, type CompletionTrace, type RestoreSettings } from './extensionState';
import { EXTENSION_ID, randomModel } from './testModels';

// A preset without pinned hashes (presets.ts): a pinned one refuses the stand-in hub's random weights.
const PRESET = 'gpt2-medium';
const REPO = 'openai-community/gpt2-medium';
const CHUNK = 64 * 1024;

function sha256(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}

/** The byte count a message shows ("1.2 MB"), and the rounding its one decimal allows. */
function shownBytes(text: string): { bytes: number; tolerance: number } {
  const m = /(\d+(?:\.\d+)?) (B|KB|MB|GB)\b/.exec(text);
  assert.ok(m, `no size in ${JSON.stringify(text)}`);
  const unit = 1000 ** ['B', 'KB', 'MB', 'GB'].indexOf(m[2]);
  return { bytes: Number(m[1]) * unit, tolerance: unit === 1 ? 0 : unit / 10 };
}

function showsSize(text: string, bytes: number): boolean {
  const shown = shownBytes(text);
  return Math.abs(shown.bytes - bytes) <= shown.tolerance;
}

interface Seen {
  method: string;
  url: string;
  range: string | undefined;
}

/** The hub's protocol as hubDownload expects it: config.json direct, the weights as an LFS redirect to a CDN path honouring Range. */
class LocalHub {
  readonly seen: Seen[] = [];
  /** Pause between 64 KiB chunks of the weights, so a download can be cancelled halfway. */
  delayMs = 0;
  private readonly server = http.createServer((req, res) => void this.handle(req, res));
  private readonly weightsSha: string;
  private readonly configBlob: string;

  constructor(readonly config: Buffer, readonly weights: Buffer) {
    this.weightsSha = sha256(weights);
    this.configBlob = createHash('sha1').update(`blob ${config.length}\0`).update(config).digest('hex');
  }

  get totalBytes(): number {
    return this.config.length + this.weights.length;
  }

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }

  gets(): Seen[] {
    return this.seen.filter((s) => s.method === 'GET');
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = req.url ?? '';
    this.seen.push({ method: req.method ?? '', url, range: req.headers.range });
    if (url === `/${REPO}/resolve/main/config.json`) {
      res.writeHead(200, { 'content-length': this.config.length, etag: `"${this.configBlob}"`, 'content-type': 'application/json' });
      res.end(req.method === 'HEAD' ? undefined : this.config);
    } else if (url === `/${REPO}/resolve/main/model.safetensors`) {
      res.writeHead(302, {
        location: `/cdn/${this.weightsSha}`,
        'x-linked-size': this.weights.length,
        'x-linked-etag': `"${this.weightsSha}"`,
        etag: `W/"${this.weightsSha}"`,
      });
      res.end();
    } else if (url === `/cdn/${this.weightsSha}` && req.method === 'GET') {
      const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
      const start = m ? Number(m[1]) : 0;
      if (m) {
        res.writeHead(206, { 'content-length': this.weights.length - start, 'content-range': `bytes ${start}-${this.weights.length - 1}/${this.weights.length}` });
      } else {
        res.writeHead(200, { 'content-length': this.weights.length });
      }
      const body = this.weights.subarray(start);
      for (let sent = 0; sent < body.length && !res.destroyed; sent += CHUNK) {
        if (!res.write(body.subarray(sent, sent + CHUNK))) {
          await new Promise<void>((resolve) => {
            const done = (): void => {
              res.off('drain', done).off('close', done);
              resolve();
            };
            res.on('drain', done).on('close', done);
          });
        }
        if (this.delayMs > 0) await new Promise((r) => setTimeout(r, this.delayMs));
      }
      res.end();
    } else {
      res.writeHead(404).end();
    }
  }
}

async function download(answers: (string | null)[]): Promise<void> {
  await vscode.commands.executeCommand('gpt2Complete._testDownload', { answers });
  await vscode.commands.executeCommand('gpt2Complete.downloadModel', PRESET);
}

suite('model download', function () {
  this.timeout(180_000);
  let hub: LocalHub;
  let presetDir: string;
  const previousEndpoint = process.env.HF_ENDPOINT;
  const editors: vscode.TextEditor[] = [];
  let restoreSettings: RestoreSettings | undefined;

  suiteSetup(async () => {
    const ext = vscode.extensions.getExtension(EXTENSION_ID);
    assert.ok(ext, `extension ${EXTENSION_ID} not found`);
    await ext.activate();
    // A tiny random checkpoint stands in for the preset's files (the engine does not care about the name).
    const source = await randomModel('tiny', 7);
    hub = new LocalHub(fs.readFileSync(path.join(source, 'config.json')), fs.readFileSync(path.join(source, 'model.safetensors')));
    process.env.HF_ENDPOINT = await hub.start();
    presetDir = path.join((await hookState()).storage.modelsRoot, PRESET);
    fs.rmSync(presetDir, { recursive: true, force: true });
    restoreSettings = await inlineSuiteSettings({ modelPath: undefined, maxTokens: 16, debounceMs: 30 });
  });

  suiteTeardown(async () => {
    await vscode.commands.executeCommand('gpt2Complete._testDownload', 'reset');
    while (editors.length > 0) await closeWithoutSaving(editors.pop()!);
    await restoreSettings?.(['model']);
    if (previousEndpoint === undefined) delete process.env.HF_ENDPOINT;
    else process.env.HF_ENDPOINT = previousEndpoint;
    await hub.stop();
  });

  setup(async () => {
    await resetHooks();
    await vscode.commands.executeCommand('gpt2Complete._testDownload', 'reset');
    hub.seen.length = 0;
  });

  test('the user is asked first, with the size; declining downloads nothing', async () => {
    await download([null]);
    const s = await hookState();
    assert.equal(s.download?.questions.length, 1);
    const host = new URL(process.env.HF_ENDPOINT!).host;
    const question = s.download!.questions[0].split('\n')[0];
    assert.match(question, new RegExp(`^Download ${PRESET} \\([^)]+\\) from ${host.replace(/\./g, '\\.')}\\?$`));
    assert.ok(showsSize(question, hub.totalBytes), `${question} (${hub.totalBytes} bytes)`);
    assert.ok(s.download!.questions[0].includes(presetDir), 'the question names where the model is saved');
    assert.deepEqual(hub.gets(), [], 'bytes were fetched before the user agreed');
    assert.ok(hub.seen.length > 0 && hub.seen.every((r) => r.method === 'HEAD'), 'the size comes from HEAD requests');
    assert.equal(fs.existsSync(path.join(presetDir, 'model.safetensors')), false);
    assert.equal(s.download!.progress.length, 0);
  });

  test('a cancelled download keeps its bytes, the next one resumes, and completions use the model', async () => {
    // The preset is the model setting and is missing: the manager reports it (with a Download action).
    await setSetting('model', PRESET);
    const editor = await openUntitled('typescript', 'const downloaded = ');
    editors.push(editor);
    await typeText(editor, 'a');
    await waitForState((st) => st.model.state === 'error' && (st.model.error ?? '').includes('not downloaded'), {
      timeoutMs: 30_000,
      what: 'the missing preset to be reported',
    });

    hub.delayMs = 25; // ~0.4 ms a KiB: a few seconds for the weights
    await vscode.commands.executeCommand('gpt2Complete._testDownload', { answers: ['Download'] });
    const first = vscode.commands.executeCommand('gpt2Complete.downloadModel', PRESET);
    const halfway = await waitForState(
      (st) => (st.download?.progress.at(-1)?.receivedBytes ?? 0) > hub.config.length + 512 * 1024,
      { timeoutMs: 60_000, intervalMs: 20, what: 'half a megabyte of the weights' },
    );
    await vscode.commands.executeCommand('gpt2Complete._testDownload', 'cancel');
    await first;
    let s = await hookState();
    assert.ok(s.download!.messages.some((m) => m.includes('cancelled')), JSON.stringify(s.download!.messages));
    assert.equal(s.download!.running, 0);
    assert.equal(fs.existsSync(path.join(presetDir, 'model.safetensors')), false, 'a cancelled download installed a model');
    assert.equal(fs.existsSync(path.join(presetDir, 'config.json')), false);
    const part = path.join(presetDir, '.partial', 'model.safetensors.part');
    const kept = fs.statSync(part).size;
    assert.ok(kept >= halfway.download!.progress.at(-1)!.receivedBytes - hub.config.length - CHUNK, `only ${kept} bytes kept`);
    assert.ok(kept < hub.weights.length, 'the cancel came too late to test anything');
    // The progress counted up, against the total.
    const reports = halfway.download!.progress;
    assert.ok(reports.length >= 2);
    for (let i = 1; i < reports.length; i++) assert.ok(reports[i].receivedBytes >= reports[i - 1].receivedBytes, 'progress went backwards');
    assert.ok(reports.every((r) => r.totalBytes === hub.totalBytes && showsSize(r.message.split(' of ')[1] ?? '', hub.totalBytes)), reports.at(-1)!.message);

    // Again: it resumes from the kept bytes and finishes.
    hub.delayMs = 0;
    hub.seen.length = 0;
    await vscode.commands.executeCommand('gpt2Complete._testDownload', 'reset');
    await download(['Download']);
    s = await hookState();
    assert.equal(s.download!.questions.length, 1, 'the resumed download asked again');
    const weightGets = hub.gets().filter((g) => g.url.startsWith('/cdn/'));
    assert.equal(weightGets.length, 1, JSON.stringify(hub.seen));
    assert.equal(weightGets[0].range, `bytes=${kept}-`, 'the download did not resume where it stopped');
    assert.ok(s.download!.messages.some((m) => m.includes(`${PRESET} downloaded`)), JSON.stringify(s.download!.messages));
    assert.ok(fs.readFileSync(path.join(presetDir, 'model.safetensors')).equals(hub.weights), 'the installed weights differ from the served ones');
    assert.ok(fs.readFileSync(path.join(presetDir, 'config.json')).equals(hub.config));
    assert.equal(fs.existsSync(path.join(presetDir, '.partial')), false, 'the partial download was left behind');

    // The setting already names the preset, so the download reloads it: completions come from global storage.
    await waitForModel(presetDir);
    let trace: CompletionTrace | undefined;
    for (const ch of 'bcdefghijk') {
      await typeText(editor, ch);
      const offset = editor.document.offsetAt(editor.selection.active);
      trace = await waitFor(
        async () => {
          const t = (await hookState()).lastCompletion;
          return t !== undefined && t.offset === offset ? t : undefined;
        },
        { timeoutMs: 20_000, intervalMs: 25, what: 'a completion at the cursor' },
      ).catch(() => undefined);
      if (trace?.source === 'model') break;
    }
    assert.ok(trace !== undefined && trace.source === 'model', 'no completion from the downloaded model');
    assert.equal(trace.checkpointDir, presetDir);
    const state = await hookState();
    assert.equal(state.model.label, PRESET);
  });
});
