import * as fs from 'fs';
import { UserError } from '../engine/errors';
import { parseCommandArgs } from './args';
import { loadFromFlags, MODEL_FLAGS, MODEL_FLAGS_HELP } from './modelFlags';

export const SCORE_HELP = `gpt2-complete score [--model M] (--text TEXT | --file F) [--json]
  Log-probability of each token given the ones before it, and the mean loss in nats per token.
${MODEL_FLAGS_HELP}
  --json   print {"tokens": [int], "logprobs": [num], "loss": num}; logprobs[i] = ln P(tokens[i+1] | tokens[0..i])`;

export async function scoreCommand(argv: string[]): Promise<void> {
  const { values } = parseCommandArgs('score', argv, {
    ...MODEL_FLAGS,
    text: { type: 'string' },
    file: { type: 'string' },
    json: { type: 'boolean' },
  });
  if ((values.text === undefined) === (values.file === undefined)) throw new UserError('score: give exactly one of --text TEXT or --file F');
  let text = values.text;
  if (values.file !== undefined) {
    try {
      text = fs.readFileSync(values.file, 'utf8');
    } catch (e) {
      throw new UserError(`score: cannot read ${values.file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
  }
  const { engine } = await loadFromFlags('score', values);
  try {
    const result = await engine.score(text!);
    if (values.json) {
      process.stdout.write(JSON.stringify(result) + '\n');
    } else {
      process.stdout.write(`${result.tokens.length} tokens, loss ${result.loss.toFixed(4)} nats/token, perplexity ${Math.exp(result.loss).toFixed(2)}\n`);
    }
  } finally {
    await engine.model.dispose();
  }
}
