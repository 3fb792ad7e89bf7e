import * as fs from 'node:fs';
import { languageIdForPath } from '../completion/languageIds';
import { promptSource } from '../completion/prompt';
import { UserError } from '../engine/errors';
import { describeKind, pathKind } from '../engine/pathKind';
import { intFlag, numberFlag, parseCommandArgs } from './args';
import { loadFromFlags, MODEL_FLAGS, MODEL_FLAGS_HELP } from './modelFlags';
import { HEAD_FLAGS, HEAD_FLAGS_HELP, openPipelineRunner, WORKSPACE_FLAGS, WORKSPACE_FLAGS_HELP } from './pipelineRunner';
import { offsetOfPosition, readStdin } from './promptSource';

export const COMPLETE_HELP = `gpt2-complete complete [--model M] (--prompt TEXT | --file F --line L --column C | < stdin) [options]
  Prints the completion of the prompt. With --file: exactly what the editor would show with the
  cursor at line L, column C (both 1-based): the editor's prompt window, generation settings
  (greedy, 64 tokens, int8 on the CPU unless --precision) and post-processing, which reads the text
  after the cursor; nothing printed when the editor would show nothing (--json says why).
${MODEL_FLAGS_HELP}
  --workspace DIR    the folder the --file belongs to: its files feed the workspace cache model
${WORKSPACE_FLAGS_HELP}
${HEAD_FLAGS_HELP}
  --max-tokens N     tokens to generate at most (default 32)
  --max-lines N      stop after N lines (default: no limit)
  --stop STR         stop before STR (repeatable)
  --temperature T    0 = greedy (default 0)
  --top-k K, --top-p P, --seed S   sampling controls
  --raw              no stop rule but --max-tokens: exactly N tokens, no post-processing
  --no-speculative   greedy: one token per model run (drafts off; the same output in fp32, speed differs)
  --json             print {"completion","prompt_tokens","tokens","timings","device","precision","suppressed","confidence","origin"}
                     ("suppressed": null, or why the editor would show nothing; "confidence": the acceptance
                     head's P(accepted) of the suggestion, null without a head or a suggestion; "origin":
                     "model", or the workspace candidate shown instead: "lookup" (a workspace line) or "copy"
                     (a line of this file), or "cache" / "typing-through" when no model run was needed)
  The sampling and stop flags apply to --prompt and stdin only; --file takes the editor's (and refuses them).`;

/** Generation flags for a raw prompt; `--file` runs the editor's pipeline, which has its own. */
const PROMPT_ONLY_FLAGS = ['max-tokens', 'max-lines', 'stop', 'temperature', 'top-k', 'top-p', 'seed', 'raw', 'no-speculative'] as const;

export async function completeCommand(argv: string[]): Promise<void> {
  const { values } = parseCommandArgs('complete', argv, {
    ...MODEL_FLAGS,
    prompt: { type: 'string' },
    file: { type: 'string' },
    line: { type: 'string' },
    column: { type: 'string' },
    'max-tokens': { type: 'string' },
    'max-lines': { type: 'string' },
    stop: { type: 'string', multiple: true },
    temperature: { type: 'string' },
    'top-k': { type: 'string' },
    'top-p': { type: 'string' },
    seed: { type: 'string' },
    raw: { type: 'boolean' },
    // node's parseArgs has no --no-X negation: the flag is its own name.
    'no-speculative': { type: 'boolean' },
    json: { type: 'boolean' },
    workspace: { type: 'string' },
    ...WORKSPACE_FLAGS,
    ...HEAD_FLAGS,
  });
  if (values.file !== undefined) {
    // Silently ignoring them would print the editor's suggestion as if they had been applied.
    const promptOnly = PROMPT_ONLY_FLAGS.filter((flag) => values[flag] !== undefined);
    if (promptOnly.length > 0) throw new UserError(`complete: --${promptOnly[0]} applies to --prompt and stdin; --file shows what the editor would, with its own settings (drop --${promptOnly[0]})`);
    return completeFile(values);
  }
  if (values.workspace !== undefined) throw new UserError('complete: --workspace goes with --file F --line L --column C');
  const request = {
    maxTokens: intFlag('max-tokens', values['max-tokens'], 1, 32),
    maxLines: intFlag('max-lines', values['max-lines'], 1),
    stopStrings: values.stop,
    temperature: numberFlag('temperature', values.temperature, 0, 10, 0),
    topK: intFlag('top-k', values['top-k'], 1),
    topP: numberFlag('top-p', values['top-p'], 0, 1, 1),
    seed: intFlag('seed', values.seed, 0, 0),
    raw: values.raw ?? false,
    draftTokens: values['no-speculative'] === true ? 0 : undefined,
  };
  const prompt = await promptFrom(values);
  const { engine, loadMs } = await loadFromFlags('complete', values);
  try {
    const promptIds = engine.tokenizer.encode(prompt);
    const result = await engine.complete({ ...request, prompt });
    if (result.droppedTokens > 0) {
      process.stderr.write(`note: the prompt has ${promptIds.length} tokens; its first ${result.droppedTokens} were dropped to fit the model's context of ${engine.model.config.nPositions}\n`);
    }
    const best = result.candidates[0];
    if (values.json) {
      process.stdout.write(JSON.stringify({
        completion: best.text,
        // The tokens the model read: without the last one when token healing re-spelled it (then tokens[0] starts with its bytes).
        prompt_tokens: promptIds.slice(result.droppedTokens, promptIds.length - result.healedTokens),
        tokens: best.tokens,
        timings: {
          load_ms: round(loadMs),
          prefill_ms: round(result.timings.prefillMs),
          decode_ms: round(result.timings.decodeMs),
          decode_tokens: result.timings.decodeTokens,
          decode_steps: result.timings.decodeSteps,
        },
        device: engine.model.device.provider,
        precision: engine.model.precision,
        suppressed: null,
      }) + '\n');
    } else {
      process.stdout.write(best.text + '\n');
    }
  } finally {
    await engine.model.dispose();
  }
}

/** `complete --file`: the editor's whole pipeline at the file's cursor. */
async function completeFile(values: {
  'no-cache-model'?: boolean;
  context?: boolean; 'no-head'?: boolean; 'min-confidence'?: string;
  file?: string; line?: string; column?: string; prompt?: string; json?: boolean; workspace?: string;
  model?: string; adapter?: string; device?: string; threads?: string; precision?: string;
}): Promise<void> {
  const file = values.file!;
  if (values.prompt !== undefined) throw new UserError('complete: give either --prompt or --file, not both');
  if (values.line === undefined || values.column === undefined) throw new UserError('complete: --file needs --line L and --column C (1-based)');
  // Named before reading, as the model loaders do: reading a FIFO would wait for a writer forever.
  const kind = pathKind(file);
  if (kind !== 'file') throw new UserError(`complete: ${file} ${describeKind(kind)}; give the file to complete in`);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new UserError(`complete: cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  const offset = offsetOfPosition(file, text, intFlag('line', values.line, 1, 1), intFlag('column', values.column, 1, 1));
  const runner = await openPipelineRunner('complete', values);
  try {
    const result = await runner.run(file, text, offset, languageIdForPath(file));
    const completion = result.items[0] ?? '';
    if (values.json) {
      const engine = runner.loaded.engine;
      const raw = runner.lastResult;
      process.stdout.write(JSON.stringify({
        completion,
        // The tokens of the prompt window the engine read (absent when no model run was needed).
        prompt_tokens: raw === undefined ? [] : engine.tokenizer.encode(promptWindow(text, offset, raw.windowStartOffset)),
        tokens: completion === '' ? [] : engine.tokenizer.encode(completion),
        timings: {
          load_ms: round(runner.loaded.loadMs),
          prefill_ms: round(raw?.timings.prefillMs ?? 0),
          decode_ms: round(raw?.timings.decodeMs ?? 0),
          decode_tokens: raw?.timings.decodeTokens ?? 0,
          pipeline_ms: round(result.trace?.latencyMs ?? 0),
        },
        device: engine.model.device.provider,
        precision: engine.model.precision,
        suppressed: result.suppressed,
        // Of the candidate the editor would show (or hid for low confidence), from this request's model run.
        confidence: result.source === 'model' ? raw?.candidates[0]?.confidence ?? null : null,
        // What the shown text came from: the model, or a workspace line the candidate rule chose.
        origin: result.source === 'model' ? raw?.candidates[0]?.origin ?? 'model' : result.source,
      }) + '\n');
    } else {
      if (result.suppressed !== null) process.stderr.write(`note: the editor would show nothing here (${result.suppressed})\n`);
      process.stdout.write(completion + '\n');
    }
  } finally {
    await runner.dispose();
  }
}

/** The window the engine read: from its start (an offset into the prompt source) to the cursor. */
function promptWindow(text: string, offset: number, windowStartOffset: number): string {
  return text.slice(promptSource(text, offset).start + windowStartOffset, offset).replace(/\r\n/g, '\n');
}

async function promptFrom(values: { prompt?: string }): Promise<string> {
  if (values.prompt !== undefined) return values.prompt;
  return readStdin();
}

const round = (ms: number): number => Math.round(ms * 100) / 100;
