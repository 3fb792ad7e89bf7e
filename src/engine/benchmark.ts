/**
 * The engine's speed on whatever model it loaded, as `gpt2-complete bench` and bench/engine.ts
 * report it: cold prefill, decode at a short and a long context (one model run per token, and with
 * the generator's prompt-lookup drafts), and a one-token edit with a warm cache. Prompts are
 * deterministic token ids from the ordinary vocabulary: the text does not change the cost.
 */
import type { CompletionEngine } from './engine';

export interface BenchmarkOptions {
  /** Repetitions per measurement; medians are reported (default 5). */
  reps?: number;
  /** Tokens decoded per decode measurement (default 16: context 1000 plus 16 fits gpt2's 1024). */
  decodeTokens?: number;
}

export interface DecodeSpeed {
  /** One model run per token (no drafts): what the weights' precision and the context change. */
  plainTokensPerSec: number;
  /** With the generator's default prompt-lookup drafts (a random model's repetitive output inflates it). */
  draftedTokensPerSec: number;
}

export interface BenchmarkResult {
  /** Median ms of a forward pass over n prompt tokens from an empty cache, by n. */
  prefillMs: Record<number, number>;
  /** Decode speed by context length. */
  decode: Record<number, DecodeSpeed>;
  /** Median ms from a one-token edit at the end of the prompt to its first new token, the rest cached. */
  editMs: number;
  /** The prompt length of the edit measurement. */
  editPromptTokens: number;
}

const PREFILLS = [256, 512, 1024];
const CONTEXTS = [64, 1000];
const EDIT_PROMPT = 500;

/** `n` deterministic token ids below 50000 (the ordinary part of GPT-2's vocabulary). */
export function benchmarkTokens(n: number, seed: number, vocabSize: number): number[] {
  let s = seed;
  const limit = Math.min(50000, vocabSize);
  return Array.from({ length: n }, () => (s = (s * 1103515245 + 12345) % 2 ** 31) % limit);
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/**
 * Measures `engine`. Lengths that do not fit the model's context are left out (a 512-token model gets
 * prefill 256 and decode at 64 only), so the result's keys say what was measured.
 */
export async function benchmarkEngine(engine: CompletionEngine, opts: BenchmarkOptions = {}): Promise<BenchmarkResult> {
  const reps = opts.reps ?? 5;
  const steps = opts.decodeTokens ?? 16;
  if (!(Number.isInteger(reps) && reps >= 1) || !(Number.isInteger(steps) && steps >= 1)) throw new Error('benchmarkEngine: reps and decodeTokens must be positive integers');
  const { model, generator } = engine;
  const { nPositions, vocabSize } = model.config;
  const tokens = (n: number, seed: number) => benchmarkTokens(n, seed, vocabSize);

  const prefillMs: Record<number, number> = {};
  for (const n of PREFILLS.filter((p) => p <= nPositions)) {
    const prompt = tokens(n, n);
    const times: number[] = [];
    for (let r = 0; r < reps; r++) {
      const t0 = performance.now();
      await model.forward([prompt], null);
      times.push(performance.now() - t0);
    }
    prefillMs[n] = median(times);
  }

  const decode: Record<number, DecodeSpeed> = {};
  for (const ctx of CONTEXTS.filter((c) => c + steps <= nPositions)) {
    const prompt = tokens(ctx, ctx);
    const rate = async (draftTokens: number | undefined): Promise<number> => {
      const rates: number[] = [];
      for (let r = 0; r < reps; r++) {
        const res = await generator.generate({ promptTokens: prompt, maxTokens: steps, stopAtEndOfText: false, draftTokens });
        rates.push(res.timings.decodeTokens / (res.timings.decodeMs / 1000));
      }
      return median(rates);
    };
    decode[ctx] = { draftedTokensPerSec: await rate(undefined), plainTokensPerSec: await rate(0) };
  }

  // A keystroke changes the last token of the prompt; everything before it is cached.
  const editPromptTokens = Math.min(EDIT_PROMPT, nPositions - 2);
  const base = tokens(editPromptTokens, 7);
  await generator.generate({ promptTokens: base, maxTokens: 1, stopAtEndOfText: false });
  const edits: number[] = [];
  for (let r = 0; r < reps * 2; r++) {
    const edited = [...base.slice(0, -1), 1000 + r];
    const t0 = performance.now();
    const res = await generator.generate({ promptTokens: edited, maxTokens: 1, stopAtEndOfText: false });
    edits.push(performance.now() - t0);
    if (res.reusedTokens !== editPromptTokens - 1) throw new Error(`benchmarkEngine: expected ${editPromptTokens - 1} reused tokens, got ${res.reusedTokens}`);
  }
  return { prefillMs, decode, editMs: median(edits), editPromptTokens };
}
