/**
 * The engine's process (bundled to dist/engineProcess.js, started by engineClient.ts): loads one model
 * and answers completion requests, so that onnxruntime's synchronous session creation and runs never
 * block the extension host, and a crash or the memory of an unloaded model stays out of it. Must not
 * import `vscode` (it runs outside the extension host). Started through engine/childProcess.ts, as
 * the fine-tuning process is.
 *
 * One process holds one model for its whole life: a reload is a new process, so a session never
 * has to be swapped under a running generation.
 */
import { WorkspaceCache } from '../completion/context/workspaceCache';
import { completeWithEngine } from '../completion/engineCompletion';
import { readRule, type ChoiceRule } from '../completion/context/candidateChoice';
import { cacheWeightsFor } from '../engine/cacheModel/cacheWeightsFile';
import type { CacheWeights } from '../engine/cacheModel/mixture';
import type { CompletionEngine } from '../engine/engine';
import { isCancelled } from '../engine/errors';
import { loadEngine } from '../engine/loadModel';
import { adapterOverlay } from '../training/adapterOverlay';
import { loadAcceptanceHead, type AcceptanceHead } from '../training/head/acceptanceHead';
import type {
  FromEngine, SerializedError, ToEngine, EngineCompleteRequest, EngineCompleteResult, EngineLoadRequest, WorkspaceIndexInfo,
} from './engineProtocol';

/** The parent's message channel (IPC). */
const channel = process.send !== undefined
  ? { send: (m: FromEngine) => void process.send!(m), onMessage: (f: (m: ToEngine) => void) => process.on('message', f) }
  : null;
if (channel === null) throw new Error('engineProcess.js must run as a child process with IPC (engineClient.ts)');
// The extension host went away (crashed, killed): nobody is left to ask for completions.
process.on('disconnect', () => process.exit(0));

let engine: CompletionEngine | undefined;
/** The acceptance head that goes with the model (the adapter's, else the checkpoint folder's), if any. */
let head: AcceptanceHead | undefined;
/** The cache model's mixture weights fitted for the model (cache-weights.json), if it has them. */
let cacheWeights: CacheWeights | undefined;
/** Under an adapter, the base model's candidate rule, for an adapter head that carries none this build can use. */
let baseRule: ChoiceRule | undefined;
/** The workspace's files for the cache model, once the extension asked for them. */
let workspace: WorkspaceCache | undefined;
let loading = false;
let nPositions = 0;
/** Completions waiting or running, by request id, for 'cancel'. */
const running = new Map<number, AbortController>();

function post(message: FromEngine): void {
  channel!.send(message);
}

function serialize(err: unknown, tokensBeforeCancel?: number): SerializedError {
  if (err instanceof Error) return { name: err.name, message: err.message, stack: err.stack, tokensBeforeCancel };
  return { name: 'Error', message: String(err), tokensBeforeCancel };
}

async function load(id: number, req: EngineLoadRequest): Promise<void> {
  if (engine !== undefined || loading) throw new Error('this engine process already has a model; start a new process to load another');
  loading = true;
  const loaded = await loadEngine({
    model: req.checkpointDir,
    modelsRoot: req.modelsRoot,
    graphCacheDir: req.graphCacheDir,
    device: req.device,
    threads: req.threads,
    precision: req.precision,
    overlay: req.adapterDir !== undefined ? adapterOverlay(req.adapterDir) : undefined,
  });
  engine = loaded.engine;
  nPositions = engine.model.config.nPositions;
  try {
    // The base's head reads the base's states: under an adapter only the adapter's own head is used.
    head = loadAcceptanceHead(req.adapterDir ?? loaded.checkpointDir, engine.model.config.nEmbd);
  } catch (e) {
    loaded.warnings.push(`${(e as Error).message} (suggestions are shown without the acceptance head)`);
  }
  baseRule = req.adapterDir !== undefined ? readRule(loaded.checkpointDir) : undefined;
  try {
    cacheWeights = cacheWeightsFor([req.adapterDir, loaded.checkpointDir]);
  } catch (e) {
    loaded.warnings.push(`${(e as Error).message} (the workspace cache model uses its built-in weights)`);
  }
  post({
    type: 'loaded',
    id,
    info: { checkpointDir: loaded.checkpointDir, loadMs: loaded.loadMs, device: engine.model.device, precision: engine.model.precision, graphHash: loaded.graphHash, nPositions, adapterDir: req.adapterDir, warnings: loaded.warnings },
  });
}

async function complete(id: number, req: EngineCompleteRequest, signal: AbortSignal, onToken: () => void): Promise<EngineCompleteResult> {
  if (engine === undefined) throw new Error('no model is loaded in this engine process');
  let started = false;
  return completeWithEngine(engine, req, signal, (candidate) => {
    if (candidate === 0) onToken();
    if (!started) {
      started = true;
      post({ type: 'started', id });
    }
  }, { workspace, head, cacheWeights, baseRule });
}

/** The index build in progress: a newer one (the cap or the folders changed) stops it. */
let indexing: AbortController | undefined;

/** (Re)builds the index of the folders; completions keep being answered between files. */
async function indexWorkspace(folders: string[], maxTokens: number, chunks: boolean): Promise<WorkspaceIndexInfo> {
  if (engine === undefined) throw new Error('no model is loaded in this engine process');
  // Two builds at once would hold two indexes and share the CPU; the older one's answer is stale anyway.
  indexing?.abort();
  const controller = (indexing = new AbortController());
  const t0 = performance.now();
  const index = new WorkspaceCache(engine.tokenizer, maxTokens, chunks);
  workspace = index;
  const total = { files: 0, tokens: 0, skipped: 0 };
  try {
    for (const folder of folders) {
      const p = await index.indexFolder(folder, { signal: controller.signal });
      total.files += p.files;
      total.skipped += p.skipped;
    }
  } finally {
    if (indexing === controller) indexing = undefined;
  }
  total.tokens = index.store.liveTokens;
  return { ...total, overCap: index.overCap, ms: performance.now() - t0 };
}

async function handle(message: ToEngine): Promise<void> {
  switch (message.type) {
    case 'cancel':
      running.get(message.id)?.abort();
      return;
    case 'load':
      try {
        await load(message.id, message.request);
      } catch (err) {
        post({ type: 'failed', id: message.id, error: serialize(err) });
      }
      return;
    case 'complete': {
      const controller = new AbortController();
      running.set(message.id, controller);
      let sampled = 0;
      try {
        const result = await complete(message.id, message.request, controller.signal, () => sampled++);
        post({ type: 'completed', id: message.id, result });
      } catch (err) {
        post({ type: 'failed', id: message.id, error: serialize(err, isCancelled(err) ? sampled : undefined) });
      } finally {
        running.delete(message.id);
      }
      return;
    }
    case 'indexWorkspace':
      try {
        post({ type: 'indexed', id: message.id, info: await indexWorkspace(message.folders, message.maxTokens, message.chunks) });
      } catch (err) {
        post({ type: 'failed', id: message.id, error: serialize(err) });
      }
      return;
    case 'fileChanged':
      if (message.text === null) workspace?.removeFile(message.path);
      else workspace?.updateFile(message.path, message.text);
      return;
    case 'unload':
      for (const controller of running.values()) controller.abort();
      try {
        await engine?.model.dispose();
        engine = undefined;
        post({ type: 'unloaded', id: message.id });
      } catch (err) {
        post({ type: 'failed', id: message.id, error: serialize(err) });
      }
      return;
  }
}

// Not awaited one after another: a 'cancel' must be handled while a completion is still running
// (onnxruntime yields to the event loop between decode steps, so it gets through in time).
channel.onMessage((message: ToEngine) => void handle(message));

