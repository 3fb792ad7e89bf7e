/**
 * The decode loop over one LanguageModel: KV-cache reuse across requests, the context window,
 * n candidates decoded as one batch, sampling, stop rules, cancellation and a time budget.
 */
import { CancelledError, UserError } from './errors';
import type { ForwardResult, KVCache, LanguageModel } from './model';
import { lookupDraft } from './promptLookup';
import { Rng } from './random';
import { logNormalizer, logSumExp, sampleToken, type SamplingOptions } from './sampling';
import type { LogitsMixer } from './cacheModel/mixture';
import { healPrompt, restrictLogits } from './tokenHealing';
import { checkStop, END_OF_TEXT_ID, stableText, type FinishReason, type StopOptions } from './stopRules';
import { Utf8StreamDecoder } from './utf8Stream';

/** Rows of raw next-token logits [rows, vocab], and ln Σ exp of each when the model computes it. */
export interface ScoredLogits {
  readonly logits: Float32Array;
  readonly logNorms?: Float32Array;
}

/** What the generator needs from a tokenizer: the bytes of tokens (a token may hold part of a character). */
export interface TokenBytes {
  decodeBytes(ids: readonly number[]): Uint8Array;
}

export interface GenerateRequest {
  promptTokens: readonly number[];
  /** Tokens to generate per candidate at most; below the model's context size. */
  maxTokens: number;
  /** 0 (default): greedy. */
  temperature?: number;
  topK?: number;
  topP?: number;
  /** Candidate r samples from seed + r (default seed 0: the same prompt gives the same suggestions). */
  seed?: number;
  /** Candidates, decoded together as one batch (default 1). */
  n?: number;
  maxLines?: number;
  stopStrings?: readonly string[];
  /** Default true. When false, end-of-text is generated like any token and contributes no text. */
  stopAtEndOfText?: boolean;
  /** End-of-text cannot be chosen before this many tokens. */
  minTokens?: number;
  /** Time budget from the call to generate() (waiting included); then what is ready is returned. */
  deadlineMs?: number;
  signal?: AbortSignal;
  /** After each sampled token, with the candidate's text so far that no later token can change. */
  onToken?: (event: TokenEvent) => void;
  /**
   * Speculative greedy decoding: at most this many prompt-lookup drafts checked per model run
   * (default: the generator's, DEFAULT_DRAFT_TOKENS; 0: off). Only greedy with n = 1 drafts; the
   * output is the same either way, only the number of model runs changes (up to float rounding at a
   * near-tie: a run of several tokens sums in another order, as a prefill does against cached steps).
   */
  draftTokens?: number;
  /**
   * Token healing (tokenHealing.ts): drop the prompt's last token and let the first generated token
   * be any that starts with its bytes, which are then not part of the completion. Off by default
   * here; CompletionEngine turns it on for completions (not in raw mode).
   */
  healLastToken?: boolean;
  /** Stop a degenerate loop (stopRules.ts repetitionRule). Off by default here; on for completions. */
  stopOnRepetition?: boolean;
  /**
   * Turns each next-token row of logits into the distribution actually decoded from, given the
   * tokens before it (the workspace cache model's mixture, cacheModel/mixture.ts). Every token,
   * drafted or not, is chosen from its own mixed row, so drafts stay exact (in fp32: int8's dynamic
   * quantization shares one activation scale across a run's positions).
   */
  mixer?: LogitsMixer;
  /**
   * Where speculative greedy decoding's drafts come from, given prompt ++ generated (default:
   * prompt lookup, promptLookup.ts). Drafts only decide how many tokens one model run checks; the
   * tokens chosen are the same whatever they are.
   */
  drafter?: (context: readonly number[], maxDraft: number) => number[];
  /**
   * Called once after the prefill with the final LayerNorm state at the prompt's last token (when the
   * model exposes it); returning false ends the request there, with no candidates decoded (the
   * acceptance head's skip before decoding).
   */
  afterPrefill?: (hidden: Float32Array) => boolean;
  /** Keep each sampled token's log-probability under the distribution it was drawn from (Candidate.logprobs). */
  logprobs?: boolean;
}

/**
 * Drafts per verify run. A run of D+1 tokens reads the weights once, as a run of one does; its extra
 * cost is the output head and attention for D more positions (bench/RESULTS.md, "Speculative decoding").
 */
export const DEFAULT_DRAFT_TOKENS = 8;

export interface TokenEvent {
  candidate: number;
  token: number;
  text: string;
}

export interface Candidate {
  /** Sampled tokens (a final end-of-text excluded); `text` may end earlier where a stop rule cut it. */
  tokens: number[];
  text: string;
  finishReason: FinishReason;
  /** With GenerateRequest.logprobs: log P of each of `tokens` (mixed, healed rows as decoded). */
  logprobs?: number[];
}

export interface GenerateResult {
  candidates: Candidate[];
  /** Prompt tokens the model read, after the context window dropped `droppedTokens` from the start. */
  promptTokens: number;
  /**
   * 1 when token healing dropped the prompt's last token (not counted in promptTokens): each
   * candidate's first token then re-spells it, and `text` starts after its bytes.
   */
  healedTokens: number;
  droppedTokens: number;
  /** Prompt tokens served from the KV cache of earlier requests. */
  reusedTokens: number;
  /** True when afterPrefill ended the request before decoding (no candidates). */
  stoppedAfterPrefill?: boolean;
  timings: {
    prefillMs: number;
    decodeMs: number;
    /** Tokens sampled from decode steps (all candidates; the first token of each comes from prefill). */
    decodeTokens: number;
    /** Model runs after the prefill. */
    decodeSteps: number;
    /** Draft tokens proposed to the model, and how many of them it agreed with (speculative greedy). */
    draftTokens: number;
    acceptedDraftTokens: number;
  };
}

export interface GeneratorOptions {
  /**
   * The window start moves in multiples of this many tokens (default nPositions / 4), so that it
   * stays put over many keystrokes and the cache (whose positions are absolute) stays valid.
   */
  windowChunk?: number;
  /** Clock in ms, for deadlines and timings (tests may pass their own). */
  now?: () => number;
  /** Default for GenerateRequest.draftTokens (DEFAULT_DRAFT_TOKENS; 0: no speculative decoding). */
  draftTokens?: number;
}

/**
 * Where the window starts when prompt + generation do not fit: the smallest multiple of `chunk` that
 * makes room, or, when that would leave no prompt (maxTokens close to the context size), the exact fit.
 */
export function windowStart(promptLength: number, maxTokens: number, nPositions: number, chunk: number): number {
  const over = promptLength + maxTokens - nPositions;
  if (over <= 0) return 0;
  const aligned = Math.ceil(over / chunk) * chunk;
  return aligned < promptLength ? aligned : over;
}

/** One candidate's decode state. */
interface Row {
  rng: Rng;
  tokens: number[];
  /** How many of `tokens` the model has run (their K/V are in the cache). */
  fed: number;
  bytes: Utf8StreamDecoder;
  /**
   * Decoded text, always whole characters: bytes of an unfinished one wait in `bytes` and are
   * dropped if it never completes, so no suggestion ends in half a character.
   */
  text: string;
  finish?: FinishReason;
  keepText: string;
  logprobs: number[];
}

export class Generator {
  /** Tokens whose K/V `cache` holds (batch 1): the last request's prompt + candidate 0. */
  private tokens: number[] = [];
  private cache: KVCache | null = null;
  private readonly lock = new Mutex();
  private readonly chunk: number;
  private readonly now: () => number;
  private readonly draftTokens: number;

  constructor(
    readonly model: LanguageModel,
    private readonly tokenizer: TokenBytes,
    options: GeneratorOptions = {},
  ) {
    this.chunk = Math.max(1, Math.floor(options.windowChunk ?? model.config.nPositions / 4));
    this.now = options.now ?? (() => performance.now());
    this.draftTokens = options.draftTokens ?? DEFAULT_DRAFT_TOKENS;
    checkDraftTokens(this.draftTokens);
  }

  /** The tokens in the KV cache, for diagnostics and tests. */
  get cachedTokens(): readonly number[] {
    return this.tokens;
  }

  /** Forgets the KV cache (after the running request, if any). */
  async clearCache(): Promise<void> {
    const release = await this.lock.acquire();
    this.tokens = [];
    this.cache = null;
    release();
  }

  /**
   * The final LayerNorm state [nEmbd] at the last of `tokens` (what the acceptance head reads), in
   * one forward of what the KV cache does not already hold: after generate(), the prompt and the
   * tokens of candidate 0 are cached, so scoring the shown suggestion runs only the tokens where its
   * spelling differs. The cache then holds `tokens`. Undefined when the model has no hidden output.
   */
  async hiddenAt(tokens: readonly number[], signal?: AbortSignal): Promise<Float32Array | undefined> {
    return (await this.scoreTail(tokens, tokens.length, signal)).hidden;
  }

  /**
   * hiddenAt, and the raw next-token logits [count, vocab] (and their normalisers) predicting tokens[from..] (at most
   * `maxCount` of them; fewer when the context window cut the front): how likely the model finds a
   * text it did not itself decode. The forward reruns from the first predicting position at most.
   */
  async scoreTail(tokens: readonly number[], from: number, signal?: AbortSignal, maxCount = Infinity): Promise<ScoredLogits & { hidden?: Float32Array; count: number }> {
    if (tokens.length === 0) throw new Error('scoreTail: no tokens');
    const release = await this.lock.acquire(signal);
    try {
      const n = this.model.config.nPositions;
      const seq = tokens.length > n ? tokens.slice(tokens.length - n) : tokens;
      const first = Math.max(1, Math.min(seq.length, from - (tokens.length - seq.length)));
      const reused = this.reuse(seq, first - 1);
      // Positions first-1 .. predict tokens first ..; the last position's state is h.
      const count = Math.min(seq.length - first, maxCount);
      const positions = Array.from({ length: count }, (_, i) => first - 1 - reused + i);
      const last = seq.length - 1 - reused;
      if (positions.at(-1) !== last) positions.push(last);
      const out = await this.model.forward([seq.slice(reused)], this.cache, positions);
      this.cache = out.cache;
      this.tokens = seq.slice();
      const nEmbd = this.model.config.nEmbd;
      return {
        hidden: out.hidden?.slice((positions.length - 1) * nEmbd, positions.length * nEmbd),
        logits: out.logits.subarray(0, count * this.model.config.vocabSize),
        logNorms: out.logNormalizers?.subarray(0, count),
        count,
      };
    } finally {
      release();
    }
  }

  /**
   * The raw next-token logits [at.length, vocab] (their normalisers, and the final states
   * [at.length, nEmbd] of the positions at[i] − 1 that read them) predicting tokens[at[i]] (at: ascending, each in
   * 1 .. tokens.length - 1; tokens within the context window): log P of chosen tokens of a text,
   * such as the first words of the line below a candidate, without the output head at every
   * position between them. The forward reruns from the first predicting position at most.
   */
  async logitsAt(tokens: readonly number[], at: readonly number[], signal?: AbortSignal): Promise<ScoredLogits & { hidden?: Float32Array }> {
    if (at.length === 0) return { logits: new Float32Array(0), logNorms: new Float32Array(0) };
    if (tokens.length > this.model.config.nPositions) throw new RangeError(`logitsAt: ${tokens.length} tokens exceed the model's ${this.model.config.nPositions} positions`);
    if (at.some((a, i) => !Number.isInteger(a) || a < 1 || a >= tokens.length || (i > 0 && a <= at[i - 1]))) throw new Error(`logitsAt: positions must ascend within 1..${tokens.length - 1}`);
    const release = await this.lock.acquire(signal);
    try {
      const reused = this.reuse(tokens, at[0] - 1);
      const out = await this.model.forward([tokens.slice(reused)], this.cache, at.map((a) => a - 1 - reused));
      this.cache = out.cache;
      this.tokens = tokens.slice();
      return {
        logits: out.logits.subarray(0, at.length * this.model.config.vocabSize),
        logNorms: out.logNormalizers?.subarray(0, at.length),
        hidden: out.hidden?.subarray(0, at.length * this.model.config.nEmbd),
      };
    } finally {
      release();
    }
  }

  /** Keeps the KV cache's prefix shared with `seq` (at most `limit` tokens) and returns its length. */
  private reuse(seq: readonly number[], limit: number): number {
    const reused = Math.min(commonPrefixLength(this.tokens, seq), limit);
    if (reused === 0) this.cache = null;
    else if (this.cache !== null && reused < this.cache.length) this.cache = this.model.truncate(this.cache, reused);
    this.tokens = seq.slice(0, reused);
    return reused;
  }

  /** Requests run one at a time, in call order; a cancelled one ends at its next decode step. */
  async generate(req: GenerateRequest): Promise<GenerateResult> {
    const started = this.now();
    this.validate(req);
    const release = await this.lock.acquire(req.signal);
    try {
      return await this.run(req, started);
    } finally {
      release();
    }
  }

  private validate(req: GenerateRequest): void {
    const nPositions = this.model.config.nPositions;
    if (!Number.isInteger(req.maxTokens) || req.maxTokens < 1 || req.maxTokens >= nPositions) {
      throw new UserError(`maxTokens must be an integer from 1 to ${nPositions - 1} (the model's context is ${nPositions}); got ${req.maxTokens}`);
    }
    const n = req.n ?? 1;
    if (!Number.isInteger(n) || n < 1) throw new UserError(`n (candidates) must be a positive integer; got ${n}`);
    if (req.temperature !== undefined && !(req.temperature >= 0)) throw new UserError(`temperature must be 0 or more; got ${req.temperature}`);
    if (req.topP !== undefined && !(req.topP > 0 && req.topP <= 1)) throw new UserError(`topP must be in (0, 1]; got ${req.topP}`);
    if (req.topK !== undefined && !(Number.isInteger(req.topK) && req.topK >= 0)) throw new UserError(`topK must be a whole number; got ${req.topK}`);
    if (req.draftTokens !== undefined) checkDraftTokens(req.draftTokens);
  }

  private async run(req: GenerateRequest, started: number): Promise<GenerateResult> {
    const { model } = this;
    const n = req.n ?? 1;
    const sampling: SamplingOptions = { temperature: req.temperature ?? 0, topK: req.topK, topP: req.topP };
    const stop: StopOptions = {
      maxTokens: req.maxTokens,
      maxLines: req.maxLines,
      stopStrings: req.stopStrings,
      stopAtEndOfText: req.stopAtEndOfText ?? true,
      deadline: req.deadlineMs === undefined ? undefined : started + req.deadlineMs,
      stopOnRepetition: req.stopOnRepetition,
    };
    const seed = req.seed ?? 0;
    const checkCancelled = (): void => {
      if (req.signal?.aborted) throw new CancelledError();
    };
    checkCancelled();

    // Context window; an empty prompt starts from end-of-text, as GPT-2 was trained.
    const dropped = windowStart(req.promptTokens.length, req.maxTokens, model.config.nPositions, this.chunk);
    const window = req.promptTokens.length > 0 ? req.promptTokens.slice(dropped) : [END_OF_TEXT_ID];
    const healing = req.healLastToken === true && req.promptTokens.length > 0 ? healPrompt(window, this.tokenizer, model.config.vocabSize) : null;
    const prompt = healing?.prompt ?? window;

    // Reuse the longest cached prefix, keeping at least one token to run for the next-token logits.
    let reused = commonPrefixLength(this.tokens, prompt);
    if (reused === prompt.length) reused--;
    if (reused === 0) this.cache = null;
    else if (this.cache !== null && reused < this.cache.length) this.cache = model.truncate(this.cache, reused);
    this.tokens = prompt.slice(0, reused);

    const t0 = this.now();
    const prefill = await model.forward([prompt.slice(reused)], this.cache);
    this.cache = prefill.cache;
    this.tokens = prompt.slice();
    const prefillMs = this.now() - t0;
    if (req.afterPrefill !== undefined && prefill.hidden !== undefined && !req.afterPrefill(prefill.hidden)) {
      return {
        candidates: [], promptTokens: prompt.length, healedTokens: healing === null ? 0 : 1, droppedTokens: dropped, reusedTokens: reused,
        stoppedAfterPrefill: true,
        timings: { prefillMs, decodeMs: 0, decodeTokens: 0, decodeSteps: 0, draftTokens: 0, acceptedDraftTokens: 0 },
      };
    }

    const vocab = model.config.vocabSize;
    const rows: Row[] = Array.from({ length: n }, (_, r) => ({
      rng: new Rng(seed + r),
      tokens: [],
      fed: 0,
      bytes: new Utf8StreamDecoder(),
      text: '',
      keepText: '',
      logprobs: [],
    }));
    const eotOnly = new Set([END_OF_TEXT_ID]);
    // `at`: the row of out.logits this token is chosen from.
    const step = (row: Row, r: number, out: ForwardResult, at: number, now: number): void => {
      const suppress = req.minTokens !== undefined && row.tokens.length < req.minTokens ? eotOnly : undefined;
      const healed = healing !== null && row.tokens.length === 0;
      const raw = out.logits.subarray(at * vocab, (at + 1) * vocab);
      const own = req.mixer === undefined ? { logits: raw, logNorm: out.logNormalizers?.[at] } : req.mixer(historyTail(prompt, row.tokens), raw, out.logNormalizers?.[at]);
      const dist = healed ? restrictLogits(own.logits, healing.allowed) : own.logits;
      const token = sampleToken(dist, sampling, row.rng, suppress);
      row.tokens.push(token);
      if (req.logprobs === true) row.logprobs.push(dist[token] - (healed ? logSumExp(dist) : own.logNorm ?? logNormalizer(dist)));
      const bytes = this.tokenizer.decodeBytes([token]);
      let malformed = false;
      if (token !== END_OF_TEXT_ID) {
        const decoded = row.bytes.pushValid(healed ? bytes.subarray(healing.prefix.length) : bytes);
        row.text += decoded.text;
        malformed = decoded.malformed;
      }
      let decision = checkStop({ text: row.text, tokenCount: row.tokens.length, lastToken: token, now }, stop);
      // Bytes that cannot form a character (a small model repeating a lone byte token after CJK or
      // emoji) would reach the editor as U+FFFD, and nothing after them can repair it: stop there.
      if (malformed && !decision.stop) decision = { stop: true, reason: 'malformed', keepText: row.text };
      row.keepText = decision.keepText;
      if (decision.stop) row.finish = decision.reason;
      req.onToken?.({ candidate: r, token, text: decision.stop ? decision.keepText : stableText(row.text, stop) });
    };

    // Every candidate's first token comes from the one prefill.
    const afterPrefill = this.now();
    rows.forEach((row, r) => step(row, r, prefill, 0, afterPrefill));

    // Decode all candidates as one batch: one read of the weights per step serves every row. A row
    // that finished keeps stepping with a filler token whose output is ignored: the interface has no
    // way to drop some rows of a batch, and at small n a filler row costs little next to the weights.
    let cache: KVCache = prefill.cache;
    const t1 = this.now();
    let decodeTokens = 0, decodeSteps = 0, drafted = 0, accepted = 0;

    // Speculative greedy (one candidate): run the last token with up to D drafted ones (promptLookup.ts)
    // and read logits at every position. Tokens are still chosen one at a time by `step`, each from its
    // own position's logits, which are those plain decoding would see as long as every draft before
    // it was right; so the first wrong draft ends the run, and the model's own token there is kept.
    // Stop rules, cancellation and the clock are checked per token exactly as plain decoding does.
    const draftLimit = req.draftTokens ?? this.draftTokens;
    const speculative = n === 1 && !(sampling.temperature > 0) && draftLimit > 0;
    const speculativeStep = async (row: Row): Promise<void> => {
      // Drafts past maxTokens could never be used; this also keeps the run inside the context window.
      const room = stop.maxTokens - row.tokens.length - 1;
      const drafts = room > 0 ? (req.drafter ?? lookupDraft)(prompt.concat(row.tokens), Math.min(draftLimit, room)) : [];
      const inputs = [row.tokens[row.fed], ...drafts];
      const out = await model.forward([inputs], cache, inputs.map((_, i) => i));
      cache = out.cache;
      row.fed++;
      decodeSteps++;
      drafted += drafts.length;
      for (let i = 0; ; i++) {
        if (i > 0) checkCancelled();
        step(row, 0, out, i, this.now());
        decodeTokens++;
        if (row.finish !== undefined || i === drafts.length || row.tokens[row.tokens.length - 1] !== drafts[i]) break;
        row.fed++; // the draft was right, so its K/V (computed in this run) are the real ones
        accepted++;
      }
      // Roll back the rejected drafts' K/V: a shorter view of the same buffer, which the next run overwrites.
      if (cache.length > prompt.length + row.fed) cache = model.truncate(cache, prompt.length + row.fed);
    };

    try {
      while (rows.some((row) => row.finish === undefined)) {
        checkCancelled();
        if (speculative) {
          await speculativeStep(rows[0]);
          continue;
        }
        if (cache.batch !== n) cache = model.expand(cache, n);
        const inputs = rows.map((row) => [row.fed < row.tokens.length ? row.tokens[row.fed++] : END_OF_TEXT_ID]);
        const out = await model.forward(inputs, cache);
        cache = out.cache;
        decodeSteps++;
        const now = this.now(); // one clock reading per step: a deadline ends all rows at once
        rows.forEach((row, r) => {
          if (row.finish !== undefined) return;
          step(row, r, out, r, now);
          decodeTokens++;
        });
      }
    } finally {
      // Keep what actually ran for candidate 0, whether the loop ended, failed or was cancelled.
      // A filler fed to row 0 after it finished, or a rejected draft, lies beyond `fed` and is truncated away.
      const keep = prompt.length + rows[0].fed;
      let mine = cache.batch > 1 ? model.selectRow(cache, 0) : cache;
      if (mine.length > keep) mine = model.truncate(mine, keep);
      this.cache = mine;
      this.tokens = prompt.concat(rows[0].tokens.slice(0, rows[0].fed));
    }

    return {
      candidates: rows.map((row) => ({
        tokens: row.finish === 'eot' ? row.tokens.slice(0, -1) : row.tokens,
        text: row.keepText,
        finishReason: row.finish ?? 'length',
        ...(req.logprobs === true ? { logprobs: row.logprobs.slice(0, row.finish === 'eot' ? -1 : undefined) } : {}),
      })),
      promptTokens: prompt.length,
      healedTokens: healing === null ? 0 : 1,
      droppedTokens: dropped,
      reusedTokens: reused,
      timings: { prefillMs, decodeMs: this.now() - t1, decodeTokens, decodeSteps, draftTokens: drafted, acceptedDraftTokens: accepted },
    };
  }
}

function checkDraftTokens(d: number): void {
  if (!Number.isInteger(d) || d < 0) throw new UserError(`draftTokens must be a whole number (0: off); got ${d}`);
}

/** The last HISTORY_TAIL tokens of prompt ++ generated (what a mixer looks at). */
export const HISTORY_TAIL = 48;

function historyTail(prompt: readonly number[], generated: readonly number[]): number[] {
  if (generated.length >= HISTORY_TAIL) return generated.slice(-HISTORY_TAIL);
  return prompt.slice(Math.max(0, prompt.length - (HISTORY_TAIL - generated.length))).concat(generated);
}

/** How many tokens two sequences share from the start. */
export function commonPrefixLength(a: readonly number[], b: readonly number[]): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a[i] === b[i]) i++;
  return i;
}

/** Serializes requests in call order; a waiter whose signal fires leaves the queue without running. */
class Mutex {
  private tail: Promise<void> = Promise.resolve();

  async acquire(signal?: AbortSignal): Promise<() => void> {
    const previous = this.tail;
    let release!: () => void;
    const mine = new Promise<void>((resolve) => (release = resolve));
    this.tail = previous.then(() => mine);
    if (signal === undefined) {
      await previous;
      return release;
    }
    let onAbort: (() => void) | undefined;
    const aborted = new Promise<never>((_, reject) => {
      onAbort = () => reject(new CancelledError());
      if (signal.aborted) onAbort();
      else signal.addEventListener('abort', onAbort, { once: true });
    });
    try {
      await Promise.race([previous, aborted]);
      return release;
    } catch (e) {
      void previous.then(release); // keep the queue moving past this abandoned turn
      throw e;
    } finally {
      signal.removeEventListener('abort', onAbort!);
    }
  }
}
