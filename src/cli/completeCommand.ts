import { UserError } from '../engine/errors';
import { intFlag, numberFlag, parseCommandArgs } from './args';
import { loadFromFlags, MODEL_FLAGS, MODEL_FLAGS_HELP } from './modelFlags';
import { readStdin, textBeforePosition } from './promptSource';

export const COMPLETE_HELP = `gpt2-complete complete [--model M] (--prompt TEXT | --file F --line L --column C | < stdin) [options]
  Prints the completion of the prompt (a file's text before line L, column C, both 1-based).
${MODEL_FLAGS_HELP}
  --max-tokens N     tokens to generate at most (default 32)
  --max-lines N      stop after N lines (default: no limit)
  --stop STR         stop before STR (repeatable)
  --temperature T    0 = greedy (default 0)
  --top-k K, --top-p P, --seed S   sampling controls
  --raw              no stop rule but --max-tokens: exactly N tokens, no post-processing
  --no-speculative   greedy: one token per model run (prompt-lookup drafts off; same output, speed differs)
  --json             print {"completion","prompt_tokens","tokens","timings","device","precision"}`;

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
  });
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
        precision: 'precision' in engine.model ? engine.model.precision : undefined,
      }) + '\n');
    } else {
      process.stdout.write(best.text + '\n');
    }
  } finally {
    await engine.model.dispose();
  }
}

async function promptFrom(values: { prompt?: string; file?: string; line?: string; column?: string }): Promise<string> {
  if (values.prompt !== undefined && values.file !== undefined) throw new UserError('complete: give either --prompt or --file, not both');
  if (values.prompt !== undefined) return values.prompt;
  if (values.file !== undefined) {
    if (values.line === undefined || values.column === undefined) throw new UserError('complete: --file needs --line L and --column C (1-based)');
    return textBeforePosition(values.file, intFlag('line', values.line, 1, 1), intFlag('column', values.column, 1, 1));
  }
  return readStdin();
}

const round = (ms: number): number => Math.round(ms * 100) / 100;
