/**
 * The engine side of a pipeline request: chooses the prompt window (buildPrompt, the one place it is
 * chosen) and generates. The extension's engine process and the CLI's in-process backend both call
 * this, so the editor and `gpt2-complete complete --file` see the same prompt and the same tokens.
 */
import { blankTokens } from '../engine/cacheModel/cacheModel';
import { cacheMixer, cacheTokenLogProb, modelLogProb, type CacheWeights, type TokenLogProb } from '../engine/cacheModel/mixture';
import type { CompletionEngine } from '../engine/engine';
import type { EngineCompleteRequest, EngineCompleteResult } from './backend';
import { chooseCandidate, evidenceOf, firstLine, mergeCandidates, scoreCandidates, usableRule, type ChoiceContext, type ChoiceRule, type ChoiceSource, type Evidence, type Offers } from './context/candidateChoice';
import { CHUNK_LINES, queryText, type Ranking } from './context/chunkIndex';
import { workspaceCandidates, type WorkspaceCandidate } from './context/workspaceCandidates';
import { documentView } from './context/documentEvidence';
import { snippetHeader } from './context/snippets';
import { documentOnlySources, type WorkspaceCache } from './context/workspaceCache';
import { postprocessCompletion } from './postprocess';
import { buildPrompt } from './prompt';
import { END_OF_TEXT_ID } from '../engine/stopRules';
import { commonPrefixLength, HISTORY_TAIL, type ScoredLogits } from '../engine/generator';

/** What the engine side needs of an acceptance head (src/training/head/acceptanceHead.ts). */
export interface ConfidenceHead {
  readonly nEmbd: number;
  /** head.json; its `candidates` entry, when there is one, is the rule choosing among workspace candidates (candidateChoice.ts). */
  readonly meta?: object;
  /** Prompt-head probability below which decoding is skipped (0: never). */
  readonly skipBelow: number;
  /** P(accepted) from x = h at the last token of prompt ++ shown suggestion, then suggestionFeatures. */
  suggestion(x: Float32Array): number;
  /** P(the request ends in an exact suggestion) from h at the prompt's last token. */
  prompt(h: Float32Array): number | undefined;
}

/** The model's states for one request, for training a head on what the pipeline really shows. */
export interface RequestStates {
  /** h at the prompt's last token (after the prefill). */
  prompt: Float32Array | undefined;
  /** Per candidate: its post-processed text and the head's input x (h ++ suggestionFeatures); null when dropped. */
  candidates: ({ text: string; x: Float32Array; firstLogprob?: number; next?: number } | null)[];
  /** The workspace's candidates as shown, each read by the model after the prompt (none when not offered). */
  offered: OfferedState[];
  /**
   * Every workspace candidate as shown, a text another source also offered included (read once, but
   * each source's agreement is an input of the choice): what the choice rule is fitted on.
   */
  workspace: readonly { readonly source: WorkspaceCandidate['source']; readonly text: string }[];
}

/** A workspace candidate read by the model: the head's input after it, and its tokens' log P (mixed). */
export interface OfferedState {
  readonly source: WorkspaceCandidate['source'];
  readonly text: string;
  readonly x: Float32Array;
  readonly logprobs: number[];
  /** Mean log P of the line below's first tokens after it (readLineBelow); undefined when there is none. */
  readonly next?: number;
}

/** Names of the scalar features after h in the suggestion head's input, in order. */
export const SUGGESTION_FEATURES = ['mean_logprob', 'min_logprob', 'line_start', 'log_length'] as const;

/**
 * The scalars beside h: how sure the decoder was of the shown tokens (mean and least log P, under
 * the distribution decoded from), whether the line was blank before the cursor, and the length.
 * h says what the model knows after reading the suggestion; these say how it chose it.
 */
export function suggestionFeatures(logprobs: readonly number[] | undefined, shownTokens: number, shown: string, lineStart: boolean): number[] {
  const lp = (logprobs ?? []).slice(0, Math.max(1, shownTokens)).map((x) => Math.max(-10, x));
  const mean = lp.length === 0 ? 0 : lp.reduce((a, b) => a + b, 0) / lp.length;
  const min = lp.length === 0 ? 0 : Math.min(...lp);
  return [mean, min, lineStart ? 1 : 0, Math.log1p(shown.length) / 4];
}

/** How snippets are retrieved and how much of the prompt they may take. */
export interface RetrievalOptions {
  /** Chunks retrieved at most (default 2). */
  readonly k: number;
  /** Share of the prompt's token budget the snippets may take (default 0.25). */
  readonly share: number;
  readonly ranking: Ranking;
  /** Snippets of the places edited last in other files, before the retrieved ones (default 1). */
  readonly recent: number;
}

export const DEFAULT_RETRIEVAL: RetrievalOptions = { k: 2, share: 0.25, ranking: 'bm25', recent: 1 };

/** What the engine side knows of the workspace. */
export interface EngineContext {
  /** Snippet retrieval (default DEFAULT_RETRIEVAL). */
  retrieval?: RetrievalOptions;
  /** The indexed workspace, when there is one. */
  workspace?: WorkspaceCache;
  /** The cache model's mixture weights (default: the fitted ones). */
  cacheWeights?: CacheWeights;
  /** The acceptance head: confidence per candidate, and the skip before decoding. */
  head?: ConfidenceHead;
  /** The candidate rule to use when the head carries none this build can use (an adapter's head: its base's rule). */
  baseRule?: ChoiceRule;
  /** Told the states of every request that reached the model (training the head). */
  onStates?: (states: RequestStates) => void;
  /**
   * Offer the workspace's whole-line candidates beside the model's suggestion (default true; they
   * also need the cache model on and a head with a choice rule). Off to collect the model's own
   * suggestions for training.
   */
  candidates?: boolean;
}

export async function completeWithEngine(
  engine: CompletionEngine,
  req: EngineCompleteRequest,
  signal: AbortSignal | undefined,
  onToken?: (candidate: number) => void,
  context: EngineContext = {},
): Promise<EngineCompleteResult> {
  const t0 = performance.now();
  const nPositions = engine.model.config.nPositions;
  // Half the context at most, so the prompt always keeps the other half.
  const maxTokens = Math.max(1, Math.min(req.maxTokens, Math.floor(nPositions / 2)));
  const tokenBudget = nPositions - maxTokens;
  const countTokens = (text: string): number => engine.tokenizer.encode(text).length;
  const built = buildPrompt(req.textBeforeCursor, req.textBeforeCursor.length, {
    tokenBudget,
    countTokens,
    previousWindowStart: req.previousWindowStart,
    header: req.context === true && context.workspace !== undefined ? snippetsFor(context.workspace, req, tokenBudget, countTokens, context.retrieval) : undefined,
  });
  const cache = req.cacheModel === true ? cacheFor(engine, req, context) : undefined;
  const promptMs = performance.now() - t0;
  const { head, onStates } = context;
  const scoring = (head !== undefined || onStates !== undefined) && req.postprocess !== undefined;
  let promptState: Float32Array | undefined;
  let promptConfidence: number | undefined;
  const offering = req.cacheModel === true && context.candidates !== false && req.postprocess !== undefined;
  const rule = offering && head !== undefined ? choiceRuleOf(head) ?? context.baseRule : undefined;
  // Offered to choose among (with a rule), or to record (collecting the rule's training data).
  const offered = offering && (rule !== undefined || onStates !== undefined)
    ? asShown(workspaceCandidates(req.textBeforeCursor, req.textAfterCursor ?? '', context.workspace?.lines, req.documentPath), req)
    : [];
  // Below the prompt head's skip level the model's own suggestion is not decoded; the workspace's
  // lines are still read and chosen among (a line can be right where the model would not be).
  const skipBelow = head !== undefined && (req.minConfidence ?? 0) > 0 ? head.skipBelow : 0;
  try {
    const result = await engine.complete({
      prompt: built.prompt,
      maxTokens,
      temperature: req.temperature,
      topP: req.topP,
      seed: req.seed,
      n: req.n,
      maxLines: req.maxLines,
      deadlineMs: req.deadlineMs,
      signal,
      mixer: cache?.mixer,
      onToken: onToken === undefined ? undefined : (event) => onToken(event.candidate),
      logprobs: scoring,
      afterPrefill: scoring ? (h) => {
        promptState = h.slice();
        promptConfidence = head?.prompt(h);
        return !(skipBelow > 0 && promptConfidence !== undefined && promptConfidence < skipBelow);
      } : undefined,
    });
    const t1 = performance.now();
    const candidates: EngineCompleteResult['candidates'] = result.candidates.map((c) => ({ text: c.text, tokenCount: c.tokens.length, finishReason: c.finishReason }));
    let modelFeatures: number[] | undefined;
    let modelShown = '';
    let modelFirstLogprob: number | undefined;
    let modelNext: number | undefined;
    const offeredStates: OfferedState[] = [];
    // The line below, read after each candidate when choosing among them (readLineBelow).
    const below = offering ? lineBelow(req.textAfterCursor ?? '') : '';
    const logProb = cache?.logProb ?? modelLogProb;
    if (scoring) {
      const states: RequestStates['candidates'] = [];
      for (const [i, candidate] of candidates.entries()) {
        const shown = postprocessCompletion(candidate.text, req.postprocess!);
        const shownTokens = shown === null || shown.trim() === '' ? undefined : engine.tokenizer.encode(built.prompt + shown).slice(result.droppedTokens);
        // The model's own suggestion is read with the line below it (one forward); its samples' states only.
        const read = shownTokens === undefined ? undefined
          : i === 0 ? await readCandidate(engine, shownTokens, built.prompt, result.droppedTokens, shown!, below, logProb, signal)
          : { h: await suggestionState(engine, shownTokens, signal) };
        const h = read?.h;
        if (h === undefined) {
          states.push(null);
          continue;
        }
        const features = suggestionFeatures(result.candidates[i].logprobs, engine.tokenizer.encode(shown!).length, shown!, req.postprocess!.prefixOnLine.trim() === '');
        if (i === 0) {
          [modelFeatures, modelShown, modelFirstLogprob, modelNext] = [features, shown!, result.candidates[0].logprobs?.[0], read?.next];
        }
        const x = headInput(h, features);
        states.push({ text: shown!, x, firstLogprob: result.candidates[i].logprobs?.[0], ...(i === 0 && modelNext !== undefined ? { next: modelNext } : {}) });
        if (head !== undefined) candidate.confidence = head.suggestion(x);
      }
      offeredStates.push(...await readOffered(engine, offered, modelShown, built.prompt, result.droppedTokens, req, logProb, below, signal));
      if (!result.stoppedAfterPrefill) onStates?.({ prompt: promptState, candidates: states, offered: offeredStates, workspace: offered.map((c) => ({ source: c.source, text: c.text })) });
    }
    if (rule !== undefined) {
      const evidence: Partial<Record<ChoiceSource, Evidence>> = {};
      if (modelFeatures !== undefined && modelFirstLogprob !== undefined) {
        evidence.model = { mean: modelFeatures[0], min: modelFeatures[1], first: Math.max(-10, modelFirstLogprob), head: candidates[0]?.confidence, next: modelNext };
      }
      for (const o of offeredStates) evidence[o.source] = evidenceOf(o.logprobs, head?.suggestion(o.x), o.next);
      chooseAmong(candidates, rule, offered, modelShown, modelFeatures, req, (t) => engine.tokenizer.encode(t).length, evidence);
    }
    return {
      candidates,
      windowStartOffset: built.windowStartOffset,
      promptTokens: result.promptTokens,
      reusedTokens: result.reusedTokens,
      droppedTokens: result.droppedTokens,
      ...(result.stoppedAfterPrefill ? { skippedBeforeDecoding: true } : {}),
      ...(promptConfidence !== undefined ? { promptConfidence } : {}),
      timings: { promptMs, ...result.timings, scoreMs: performance.now() - t1, totalMs: performance.now() - t0 },
    };
  } finally {
    cache?.release();
  }
}

/**
 * The workspace candidates (as shown: asShown) against the model's suggestion (candidateChoice.ts):
 * the most probable under the rule becomes candidates[0], its P the confidence the pipeline gates
 * on. An automatic request (one candidate) shows only that one; an explicit one keeps the model's
 * samples and adds the workspace's lines after them as alternatives.
 */
export function chooseAmong(
  candidates: EngineCompleteResult['candidates'],
  rule: ChoiceRule,
  offered: readonly WorkspaceCandidate[],
  modelShown: string,
  modelFeatures: readonly number[] | undefined,
  req: EngineCompleteRequest,
  countTokens: (text: string) => number,
  evidence: Partial<Record<ChoiceSource, Evidence>> = {},
): void {
  const offers: Offers = { model: { text: modelShown, evidence: evidence.model } };
  let match: WorkspaceCandidate['match'], fill: WorkspaceCandidate['match'];
  for (const c of offered) {
    offers[c.source] = { text: c.text, evidence: evidence[c.source] };
    if (c.source === 'fill') fill = c.match;
    else match ??= c.match;
  }
  const merged = mergeCandidates(offers);
  const ctx: ChoiceContext = {
    lineStart: req.postprocess!.prefixOnLine.trim() === '',
    modelText: modelShown,
    modelLogprobs: modelFeatures === undefined ? undefined : { mean: modelFeatures[0], min: modelFeatures[1] },
    lookup: match,
    fill,
    document: documentView(req.textBeforeCursor, req.textAfterCursor ?? ''),
  };
  const scores = scoreCandidates(rule, merged, ctx);
  const best = chooseCandidate(scores);
  if (best < 0) return;
  const chosen = merged[best];
  const origin = (c: (typeof merged)[number]) => (c.fromLookup || c.fromRunnerUp || c.fromFill ? 'lookup' as const : 'copy' as const);
  const workspaceOnes = merged.filter((c) => !c.fromModel).map((c) => ({ text: c.text, tokenCount: countTokens(c.text), finishReason: 'stop' as const, origin: origin(c) }));
  if (req.n > 1) {
    candidates.push(...workspaceOnes);
    return;
  }
  if (chosen.fromModel && candidates.length > 0) {
    candidates[0].confidence = scores[best];
    return;
  }
  candidates.splice(0, candidates.length, { text: chosen.text, tokenCount: countTokens(chosen.text), finishReason: 'stop', confidence: scores[best], origin: origin(chosen) });
}

/** The head's candidate-choice rule, when it has one this build can use. */
function choiceRuleOf(head: ConfidenceHead | undefined): ChoiceRule | undefined {
  const rule = (head?.meta as { candidates?: unknown } | undefined)?.candidates;
  return usableRule(rule) ? rule : undefined;
}

/** The head's input: h, then the scalar features. */
function headInput(h: Float32Array, features: readonly number[]): Float32Array {
  const x = new Float32Array(h.length + features.length);
  x.set(h);
  x.set(features, h.length);
  return x;
}

/** The workspace candidates post-processed as the editor would show them; those left blank are dropped. */
function asShown(offered: readonly WorkspaceCandidate[], req: EngineCompleteRequest): WorkspaceCandidate[] {
  return offered.flatMap((c) => {
    const text = postprocessCompletion(c.text, req.postprocess!);
    return text === null || text.trim() === '' ? [] : [{ ...c, text }];
  });
}

/**
 * The workspace's candidates (as shown), each read after the prompt. A line the model or an earlier
 * source already offered is that source's candidate (mergeCandidates): not read twice.
 */
async function readOffered(
  engine: CompletionEngine, offered: readonly WorkspaceCandidate[], modelShown: string, prompt: string, dropped: number,
  req: EngineCompleteRequest, logProb: TokenLogProb, below: string, signal: AbortSignal | undefined,
): Promise<OfferedState[]> {
  if (offered.length === 0) return [];
  const promptTokens = engine.tokenizer.encode(prompt).slice(dropped);
  const seen = new Set(modelShown.trim() === '' ? [] : [firstLine(modelShown)]);
  const out: OfferedState[] = [];
  for (const c of offered) {
    if (seen.has(firstLine(c.text))) continue;
    seen.add(firstLine(c.text));
    const tokens = engine.tokenizer.encode(prompt + c.text).slice(dropped);
    const read = await readCandidate(engine, tokens, prompt, dropped, c.text, below, logProb, signal, promptTokens);
    if (read?.h === undefined || read.logprobs === undefined) continue;
    const features = suggestionFeatures(read.logprobs, read.logprobs.length, c.text, req.postprocess!.prefixOnLine.trim() === '');
    out.push({ source: c.source, text: c.text, x: headInput(read.h, features), logprobs: read.logprobs, ...(read.next !== undefined ? { next: read.next } : {}) });
  }
  return out;
}

/**
 * Tokens of a candidate whose log P is read: each costs the output head over the vocabulary and a
 * normaliser, and a line's first tokens are where candidates differ. 6 chose as well as 12 (the
 * same right lines on the quality sets, bench/QUALITY.md) at half the head's work.
 */
export const READ_TOKENS = 6;

/**
 * A suggestion read after the prompt window (`tokens`: prompt ++ shown, encoded together as the text
 * would be once accepted, after `dropped`): h at its last token; with `promptTokens` (a text the model
 * did not decode), each of its first READ_TOKENS tokens' log P under the distribution the model
 * decodes from (the cache model mixed in; the first scored token may carry the prompt's last
 * characters with it, as token healing decodes it); and how well it fits the line below
 * (readLineBelow's mean). All in one forward of what the KV cache lacks when prompt ++ shown ++ below
 * spells `tokens` first and fits the window (each forward is ~20 small ops per layer beside the
 * weights: one per candidate saved); else the line below takes a second forward, or none.
 */
export async function readCandidate(
  engine: CompletionEngine, tokens: readonly number[], prompt: string, dropped: number, shown: string, below: string,
  logProb: TokenLogProb, signal: AbortSignal | undefined, promptTokens?: readonly number[],
): Promise<{ h?: Float32Array; logprobs?: number[]; next?: number } | undefined> {
  let scoredAt: number[] = [];
  if (promptTokens !== undefined) {
    const from = commonPrefixLength(tokens, promptTokens);
    if (from >= tokens.length) return undefined;
    // The first token scored (the generator keeps the last nPositions when they are more).
    const start = Math.max(from, 1 + Math.max(0, tokens.length - engine.model.config.nPositions));
    scoredAt = Array.from({ length: Math.min(READ_TOKENS, tokens.length - start) }, (_, j) => start + j);
  }
  const withBelow = below === '' ? undefined : lineBelowPositions(engine, prompt + shown + below, dropped, tokens);
  if (withBelow !== undefined && withBelow.at[0] === tokens.length) {
    // The first row read for the line below is the state at the suggestion's last token: h.
    const at = [...scoredAt, ...withBelow.at];
    const out = await engine.generator.logitsAt(withBelow.tokens, at, signal);
    const E = engine.model.config.nEmbd, row = scoredAt.length;
    const lps = tokenLogProbs(engine, withBelow.tokens, at, out, logProb);
    return {
      h: out.hidden?.slice(row * E, (row + 1) * E),
      ...(promptTokens !== undefined ? { logprobs: lps.slice(0, row) } : {}),
      next: meanLineBelow(lps.slice(row)),
    };
  }
  let h: Float32Array | undefined, logprobs: number[] | undefined;
  if (promptTokens !== undefined) {
    const scored = await engine.generator.scoreTail(tokens, scoredAt[0], signal, READ_TOKENS);
    [h, logprobs] = [scored.hidden, tokenLogProbs(engine, tokens, scoredAt.slice(0, scored.count), scored, logProb)];
  } else {
    h = await suggestionState(engine, tokens, signal);
  }
  const next = withBelow === undefined ? undefined : meanLineBelow(tokenLogProbs(engine, withBelow.tokens, withBelow.at, await engine.generator.logitsAt(withBelow.tokens, withBelow.at, signal), logProb));
  return { h, ...(logprobs !== undefined ? { logprobs } : {}), ...(next !== undefined ? { next } : {}) };
}

/** Log P of tokens[at[j]] from row j of `scored`, with the history the cache model reads before it. */
function tokenLogProbs(engine: CompletionEngine, tokens: readonly number[], at: readonly number[], scored: ScoredLogits, logProb: TokenLogProb): number[] {
  const vocab = engine.model.config.vocabSize;
  return at.map((t, j) => logProb(tokens.slice(Math.max(0, t - HISTORY_TAIL), t), scored.logits.subarray(j * vocab, (j + 1) * vocab), tokens[t], scored.logNorms?.[j]));
}

/** Words of the line below whose log P is read after a candidate (readLineBelow). */
export const LINE_BELOW_TOKENS = 4;

/**
 * What follows the cursor up to the end of the nearest non-blank line below: the rest of the
 * cursor's line, then the lines down to that one ('' when no non-blank line follows).
 */
export function lineBelow(textAfterCursor: string): string {
  const text = textAfterCursor.replace(/\r\n/g, '\n');
  let start = text.indexOf('\n');
  while (start >= 0) {
    const end = text.indexOf('\n', start + 1);
    const line = text.slice(start + 1, end < 0 ? text.length : end);
    if (line.trim() !== '') return text.slice(0, end < 0 ? text.length : end);
    start = end;
  }
  return '';
}

/**
 * How well a candidate fits what the user already wrote below it: the mean log P (mixed
 * distribution, each at least -10) of the first token after it (the line break, or the
 * candidate's end spelled together with it) and of the line below's first LINE_BELOW_TOKENS
 * non-blank tokens, read after prompt ++ candidate ++ `below`. A left-to-right model cannot see the
 * suffix while decoding; reading it after each candidate is the next best (the right candidate
 * makes the line below likelier). Undefined when there is no line below, or no room for it in the
 * context window. `shownTokens`: prompt ++
 * shown as encoded (after `dropped`), when the caller has them.
 */
export async function readLineBelow(
  engine: CompletionEngine, prompt: string, dropped: number, shown: string, below: string,
  logProb: TokenLogProb, signal: AbortSignal | undefined, shownTokens?: readonly number[],
): Promise<number | undefined> {
  if (below === '') return undefined;
  const read = lineBelowPositions(engine, prompt + shown + below, dropped, shownTokens ?? engine.tokenizer.encode(prompt + shown).slice(dropped));
  if (read === undefined) return undefined;
  return meanLineBelow(tokenLogProbs(engine, read.tokens, read.at, await engine.generator.logitsAt(read.tokens, read.at, signal), logProb));
}

/**
 * prompt ++ shown ++ below as encoded (after `dropped`), and the positions readLineBelow reads:
 * the first token after what `shownTokens` spells, then the next LINE_BELOW_TOKENS non-blank ones.
 * Undefined past the context window (a small maxTokens leaves the prompt little room): dropping the
 * front would rerun every position for each candidate, as the KV cache holds the window from its
 * start (bench:completion at 16 tokens: warm p90 84 → 336 ms), and reading only what fits still
 * cost p50 44 → 65 ms there.
 */
function lineBelowPositions(engine: CompletionEngine, text: string, dropped: number, shownTokens: readonly number[]): { tokens: number[]; at: number[] } | undefined {
  const tokens = engine.tokenizer.encode(text).slice(dropped);
  if (tokens.length > engine.model.config.nPositions) return undefined;
  const from = commonPrefixLength(shownTokens, tokens);
  const blank = blankTokensOf(engine);
  const at: number[] = [];
  // GPT-2 spends a token on each space of an indentation: near-certain, and not what tells candidates apart.
  for (let i = Math.max(1, from); i < tokens.length && at.length <= LINE_BELOW_TOKENS; i++) if (at.length === 0 || blank[tokens[i]] === 0) at.push(i);
  return at.length === 0 ? undefined : { tokens, at };
}

/** readLineBelow's measure: the mean log P, each at least -10. */
function meanLineBelow(logprobs: readonly number[]): number | undefined {
  return logprobs.length === 0 ? undefined : logprobs.reduce((sum, lp) => sum + Math.max(-10, lp), 0) / logprobs.length;
}

/**
 * h at the last of `tokens`: the prompt window ++ the shown suggestion, encoded together as the
 * model would read the accepted text; the generator's KV cache already holds the prompt and the raw
 * generation, so this runs only the tokens after their common prefix.
 */
async function suggestionState(engine: CompletionEngine, tokens: readonly number[], signal: AbortSignal | undefined): Promise<Float32Array | undefined> {
  return engine.generator.hiddenAt(tokens.length > 0 ? tokens : [END_OF_TEXT_ID], signal);
}

/**
 * The cache model for one request: the document before and after the cursor as two texts (so the
 * cursor's own position, whose "next token" is the text after it, predicts nothing), weighted up,
 * over the workspace's files with this document's copy hidden.
 */
function cacheFor(engine: CompletionEngine, req: EngineCompleteRequest, context: EngineContext) {
  // Without its last token: token healing backs off the prompt's last token, and the document's own
  // copy of it would then be "what followed" the healed history (the cut word predicting itself).
  const before = engine.tokenizer.encode(req.textBeforeCursor.replace(/\r\n/g, '\n')).slice(0, -1);
  const after = req.textAfterCursor ? engine.tokenizer.encode(req.textAfterCursor.replace(/\r\n/g, '\n')) : [];
  const documentTokens = { before, after };
  const { sources, release } = context.workspace !== undefined
    ? context.workspace.sourcesFor(req.documentPath, documentTokens)
    : { sources: documentOnlySources(documentTokens), release: () => undefined };
  const blank = blankTokensOf(engine);
  return { mixer: cacheMixer(sources, blank, context.cacheWeights), logProb: cacheTokenLogProb(sources, blank, context.cacheWeights), release };
}

/** The snippet header for a request: chunks like the lines above the cursor, from other files. */
function snippetsFor(
  workspace: WorkspaceCache, req: EngineCompleteRequest, tokenBudget: number, countTokens: (t: string) => number, options = DEFAULT_RETRIEVAL,
): string | undefined {
  // The place edited last in another file first (what was just written there is often what is
  // needed here), then the chunks most like the lines above the cursor, one place said once.
  const recent = workspace.recentChunks(req.documentPath, options.recent);
  const similar = workspace.chunks.search(queryText(req.textBeforeCursor), options.k, req.documentPath, options.ranking);
  const chunks = [...recent, ...similar.filter((c) => !recent.some((r) => r.file === c.file && Math.abs(r.line - c.line) < CHUNK_LINES))];
  if (chunks.length === 0) return undefined;
  const header = snippetHeader(chunks, req.languageId ?? 'plaintext', (f) => workspace.relativePath(f), Math.floor(tokenBudget * options.share), countTokens);
  return header === '' ? undefined : header;
}

const blankTables = new WeakMap<object, Uint8Array>();

/** The tokenizer's blank tokens, computed once per tokenizer. */
function blankTokensOf(engine: CompletionEngine): Uint8Array {
  let table = blankTables.get(engine.tokenizer);
  if (table === undefined) {
    table = blankTokens((ids) => engine.tokenizer.decodeBytes(ids), engine.model.config.vocabSize);
    blankTables.set(engine.tokenizer, table);
  }
  return table;
}
