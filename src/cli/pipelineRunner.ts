/**
 * The completion pipeline in the CLI's own process: `complete --file` and `quality` ask it for what
 * the editor would show at a cursor. It uses the editor's defaults (automatic trigger, greedy,
 * 64 tokens, int8 on the CPU) with no debounce, and the same engine-side prompt window
 * (completeWithEngine) as the extension's engine process.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { CompletionBackend, EngineCompleteResult } from '../completion/backend';
import { WorkspaceCache } from '../completion/context/workspaceCache';
import { completeWithEngine, DEFAULT_RETRIEVAL, type EngineContext, type RetrievalOptions } from '../completion/engineCompletion';
import { DEFAULT_LANGUAGE_ENABLEMENT } from '../completion/gates';
import { CompletionPipeline, type PipelineResult, type PipelineSettings } from '../completion/pipeline';
import { DEFAULT_MIN_CONFIDENCE } from '../completion/minConfidence';
import { readRule } from '../completion/context/candidateChoice';
import { cacheWeightsFor } from '../engine/cacheModel/cacheWeightsFile';
import { UserError } from '../engine/errors';
import type { LoadedEngine } from '../engine/loadModel';
import { loadAcceptanceHead, type AcceptanceHead } from '../training/head/acceptanceHead';
import type { Suggester, SuggestRequest } from '../quality/suggester';
import { loadFromFlags } from './modelFlags';

/** The extension's defaults (src/vscode/settings.ts DEFAULTS), every language on. */
export const EDITOR_DEFAULTS: PipelineSettings = {
  enable: true,
  languages: { ...DEFAULT_LANGUAGE_ENABLEMENT, '*': true, plaintext: true, markdown: true },
  maxTokens: 64,
  temperature: 0,
  debounceMs: 0,
};

export interface PipelineRunnerFlags {
  /** Leave the workspace cache model out (on by default). */
  'no-cache-model'?: boolean;
  /** Snippets of similar code from other workspace files in the prompt: on with `context`, off with `no-context`. */
  context?: boolean;
  'no-context'?: boolean;
  /** Retrieval knobs for measurement: chunks, share of the prompt, ranking (bm25 | jaccard). */
  retrieval?: Partial<RetrievalOptions>;
  model?: string;
  adapter?: string;
  device?: string;
  threads?: string;
  precision?: string;
  workspace?: string;
  /** Leave the acceptance head out (nothing gated). */
  'no-head'?: boolean;
  /** Hide suggestions below this P(accepted) (default DEFAULT_MIN_CONFIDENCE; 0: show all). */
  'min-confidence'?: string;
}

/** What the pipeline takes from the workspace (--workspace DIR, or quality's folder). */
export const WORKSPACE_FLAGS = {
  'no-cache-model': { type: 'boolean' },
  context: { type: 'boolean' },
} as const;

export const WORKSPACE_FLAGS_HELP = `  --no-cache-model    leave the workspace cache model out of the model's distribution
  --context           put snippets of similar code from other workspace files in the prompt (off by default)`;

export const HEAD_FLAGS = {
  'no-head': { type: 'boolean' },
  'min-confidence': { type: 'string' },
} as const;

export const HEAD_FLAGS_HELP = `  --min-confidence P  hide a suggestion whose P(accepted) from the acceptance head is below P
                      (default ${DEFAULT_MIN_CONFIDENCE}; 0 shows everything; no effect without a head)
  --no-head           leave the acceptance head out (the adapter's head.safetensors, or the embedded model's)`;

/** A loaded engine with the pipeline over it. */
export class PipelineRunner implements Suggester {
  readonly pipeline: CompletionPipeline;
  /** The engine's answer to the last request that reached the model. */
  lastResult: EngineCompleteResult | undefined;
  private version = 0;

  constructor(
    readonly loaded: LoadedEngine,
    readonly workspace: string | undefined,
    settings: PipelineSettings = EDITOR_DEFAULTS,
    readonly context: EngineContext = {},
  ) {
    const model = {
      epoch: 1,
      checkpointDir: loaded.checkpointDir,
      complete: async (request: Parameters<typeof completeWithEngine>[1], signal: AbortSignal, onStarted?: () => void) => {
        let started = false;
        const result = await completeWithEngine(loaded.engine, request, signal, () => {
          if (!started) onStarted?.();
          started = true;
        }, this.context);
        this.lastResult = result;
        return result;
      },
    };
    const backend: CompletionBackend = { current: model, acquire: async () => model };
    this.pipeline = new CompletionPipeline({ backend, settings: () => settings, debounce: false });
  }

  get description(): string {
    const m = this.loaded.engine.model;
    return `${path.basename(this.loaded.checkpointDir)} · ${m.precision} · ${m.device.provider}`;
  }

  /** Forgets the pipeline's cached suggestions: the next request at a place asked before reaches the model again. */
  clearCaches(): void {
    this.pipeline.clearCaches();
  }

  /** What the editor shows for `text` with the cursor at `offset`. */
  async run(filePath: string, text: string, offset: number, languageId: string): Promise<PipelineResult> {
    return this.pipeline.complete({
      documentUri: `file://${path.resolve(filePath)}`,
      filePath: path.resolve(filePath),
      documentVersion: ++this.version,
      languageId,
      text,
      offset,
      trigger: 'automatic',
    });
  }

  async suggest(request: SuggestRequest): Promise<{ text: string; suppressed: string | null; latencyMs: number }> {
    const t0 = performance.now();
    const result = await this.run(request.path, request.text, request.offset, request.languageId);
    return { text: result.items[0] ?? '', suppressed: result.suppressed, latencyMs: performance.now() - t0 };
  }

  async dispose(): Promise<void> {
    await this.loaded.engine.model.dispose();
  }
}

/** Loads the model named by the flags (precision default: auto, as in the editor) and the pipeline over it. */
export async function openPipelineRunner(command: string, values: PipelineRunnerFlags): Promise<PipelineRunner> {
  const workspace = values.workspace === undefined ? undefined : checkedWorkspace(command, values.workspace);
  const minConfidence = minConfidenceFlag(command, values['min-confidence']);
  const loaded = await loadFromFlags(command, { ...values, precision: values.precision ?? 'auto' });
  const cacheModel = values['no-cache-model'] !== true;
  const snippets = values.context === true && values['no-context'] !== true;
  const context: EngineContext = { retrieval: { ...DEFAULT_RETRIEVAL, ...values.retrieval } };
  if (values['no-head'] !== true) context.head = headFor(loaded, values.adapter);
  if (values.adapter !== undefined) context.baseRule = readRule(loaded.checkpointDir);
  if (cacheModel) context.cacheWeights = cacheWeightsFor([values.adapter, loaded.checkpointDir]);
  if ((cacheModel || snippets) && workspace !== undefined) {
    context.workspace = new WorkspaceCache(loaded.engine.tokenizer, undefined, snippets);
    await context.workspace.indexFolder(workspace);
  }
  return new PipelineRunner(loaded, workspace, { ...EDITOR_DEFAULTS, cacheModel, context: snippets, minConfidence }, context);
}

/**
 * The acceptance head that goes with the model: the adapter's own (head.safetensors), or without an
 * adapter the checkpoint folder's (the embedded model ships one). A base head is not used under an
 * adapter: the adapter changes the states it reads.
 */
export function headFor(loaded: LoadedEngine, adapter: string | undefined): AcceptanceHead | undefined {
  return loadAcceptanceHead(adapter ?? loaded.checkpointDir, loaded.engine.model.config.nEmbd);
}

function minConfidenceFlag(command: string, value: string | undefined): number {
  if (value === undefined) return DEFAULT_MIN_CONFIDENCE;
  const p = Number(value);
  if (value.trim() === '' || !Number.isFinite(p) || p < 0 || p > 1) {
    throw new UserError(`${command}: --min-confidence must be a probability from 0 to 1 (0 shows every suggestion); got "${value}"`);
  }
  return p;
}

/** The quality benchmark's suggester. */
export function openSuggester(command: string, values: Record<string, unknown>): Promise<Suggester> {
  const flag = (name: string): string | undefined => (typeof values[name] === 'string' ? (values[name] as string) : undefined);
  return openPipelineRunner(command, {
    'no-cache-model': values['no-cache-model'] === true,
    context: values.context === true,
    'no-context': values['no-context'] === true,
    retrieval: values.retrieval as Partial<RetrievalOptions> | undefined,
    'no-head': values['no-head'] === true,
    'min-confidence': flag('min-confidence'),
    model: flag('model'), adapter: flag('adapter'), device: flag('device'), threads: flag('threads'), precision: flag('precision'), workspace: flag('workspace'),
  });
}

function checkedWorkspace(command: string, dir: string): string {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(dir);
  } catch {
    throw new UserError(`${command}: --workspace ${dir} does not exist; pass the folder the file belongs to`);
  }
  if (!stat.isDirectory()) throw new UserError(`${command}: --workspace ${dir} is not a folder; pass the folder the file belongs to`);
  return path.resolve(dir);
}
