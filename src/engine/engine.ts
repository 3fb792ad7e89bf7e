/**
 * The text-level facade over the engine, for the CLI and the extension: text in, text out.
 * The decode loop and its state live in Generator; this only tokenizes and scores.
 */
import { CancelledError, UserError } from './errors';
import { Generator, type GenerateRequest, type GenerateResult, type GeneratorOptions, type TokenBytes } from './generator';
import type { LanguageModel } from './model';
import { logSumExp } from './sampling';

/** What the engine needs from a tokenizer (the real one in tokenizer.ts fits). */
export interface EngineTokenizer extends TokenBytes {
  encode(text: string): number[];
}

export interface CompleteRequest extends Omit<GenerateRequest, 'promptTokens'> {
  prompt: string;
  /** Only maxTokens ends generation: no stop strings, line limit, loop stop, end-of-text or deadline; no token healing. */
  raw?: boolean;
}

export interface ScoreResult {
  tokens: number[];
  /** logprobs[i] = ln P(tokens[i + 1] | tokens[0..i]). */
  logprobs: number[];
  /** −mean(logprobs), in nats per token. */
  loss: number;
}

export class CompletionEngine {
  readonly generator: Generator;

  constructor(
    readonly model: LanguageModel,
    readonly tokenizer: EngineTokenizer,
    options: GeneratorOptions = {},
  ) {
    this.generator = new Generator(model, tokenizer, options);
  }

  complete(req: CompleteRequest): Promise<GenerateResult> {
    const { prompt, raw, ...rest } = req;
    const stops = raw
      ? { maxLines: undefined, stopStrings: undefined, stopAtEndOfText: false, deadlineMs: undefined }
      : {};
    // Healing by default: the cursor usually cuts the text inside what would be one token (tokenHealing.ts).
    return this.generator.generate({ healLastToken: !raw, stopOnRepetition: !raw, ...rest, ...stops, promptTokens: this.tokenizer.encode(prompt) });
  }

  /**
   * Log-probability of each token given all before it (nextTokenRows).
   */
  async score(text: string, signal?: AbortSignal): Promise<ScoreResult> {
    const tokens = this.tokenizer.encode(text);
    if (tokens.length < 2) throw new UserError('score needs a text of at least two tokens');
    const logprobs: number[] = [];
    await this.nextTokenRows(tokens, (i, row) => logprobs.push(row[tokens[i]] - logSumExp(row)), signal);
    const loss = -logprobs.reduce((a, b) => a + b, 0) / logprobs.length;
    return { tokens, logprobs, loss };
  }

  /**
   * The model's next-token logits at every position of `tokens`: visit(i, row) with the row that
   * predicts tokens[i], for i = 1 … n − 1, in order. The tokens are cut into windows of the model's
   * context; each runs in one forward with logits at every position, and a window's last position
   * predicts the next window's first token, so every token but the first is predicted exactly once.
   * `row` is a view into the window's logits, valid only during the call.
   */
  async nextTokenRows(tokens: readonly number[], visit: (i: number, row: Float32Array) => void, signal?: AbortSignal): Promise<void> {
    const { nPositions, vocabSize } = this.model.config;
    for (let start = 0; start < tokens.length - 1; start += nPositions) {
      if (signal?.aborted) throw new CancelledError();
      const window = tokens.slice(start, start + nPositions);
      const scored = Math.min(window.length, tokens.length - 1 - start); // positions with a next token
      const { logits } = await this.model.forward([window], null, Array.from({ length: scored }, (_, p) => p));
      for (let p = 0; p < scored; p++) visit(start + p + 1, logits.subarray(p * vocabSize, (p + 1) * vocabSize));
    }
  }
}
