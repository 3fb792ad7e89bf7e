/**
 * The engine side of a pipeline request: chooses the prompt window (buildPrompt, the one place it is
 * chosen) and generates. The extension's engine process and the CLI's in-process backend both call
 * this, so the editor and `gpt2-complete complete --file` see the same prompt and the same tokens.
 */
import { cacheDrafter, cacheMixer, cacheTokenLogProb, modelLogProb, type CacheWeights, type TokenLogProb } from '../engine/cacheModel/mixture';
import type { CompletionEngine } from '../engine/engine';
import type { EngineCompleteRequest, EngineCompleteResult } from './backend';
import { chooseCandidate, evidenceOf, firstLine, mergeCandidates, scoreCandidates, usableRule, type ChoiceContext, type ChoiceRule, type ChoiceSource, type Evidence, type Offers } from './context/candidateChoice';
import { CHUNK_LINES, queryText, type Ranking } from './context/chunkIndex';
import { documentRepeats, workspaceCandidates, type WorkspaceCandidate } from './context/workspaceCandidates';
import type { WorkspaceLines } from './context/workspaceLines';
import { documentView } from './context/documentEvidence';
import { snippetHeader } from './context/snippets';
import { documentOnlySources, type WorkspaceCache } from './context/workspaceCache';
import { postprocessCompletion } from './postprocess';
import { buildPrompt } from './prompt';
import { blankTokensOf, lineBelow, readCandidate, suggestionState } from './candidateReading';

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
  /**
   * When the workspace candidates were offered: what the choice rule reads (the head's P left out of
   * the evidence) and each source's head input, to add the P of whichever head the rule is fitted with.
   */
  choice?: ChoiceInputs & { readonly heads: Partial<Record<ChoiceSource, Float32Array>> };
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
      drafter: cache?.drafter,
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
      if (!result.stoppedAfterPrefill && onStates !== undefined) {
        // The rule's inputs with each source's head input beside them, the head's P left to the
        // reader: a workspace's own rule is fitted on them with the head trained for it (ruleAdaptation.ts).
        const heads: Partial<Record<ChoiceSource, Float32Array>> = {};
        if (states[0] != null && states[0].text === modelShown) heads.model = states[0].x;
        for (const o of offeredStates) heads[o.source] = o.x;
        const evidence = choiceEvidence(modelFeatures, modelFirstLogprob, modelNext, offeredStates);
        const choice = offering ? { ...choiceInputs(offered, modelShown, modelFeatures, req, evidence, context.workspace?.lines), heads } : undefined;
        onStates({ prompt: promptState, candidates: states, offered: offeredStates, workspace: offered.map((c) => ({ source: c.source, text: c.text })), ...(choice !== undefined ? { choice } : {}) });
      }
    }
    if (rule !== undefined) {
      const evidence = choiceEvidence(modelFeatures, modelFirstLogprob, modelNext, offeredStates, head, candidates[0]?.confidence);
      chooseAmong(candidates, rule, choiceInputs(offered, modelShown, modelFeatures, req, evidence, context.workspace?.lines), req, (t) => engine.tokenizer.encode(t).length);
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

/** What the model made of each candidate (the head's P on it when a head is given). */
function choiceEvidence(
  modelFeatures: readonly number[] | undefined, modelFirstLogprob: number | undefined, modelNext: number | undefined,
  offeredStates: readonly OfferedState[], head?: ConfidenceHead, modelConfidence?: number,
): Partial<Record<ChoiceSource, Evidence>> {
  const evidence: Partial<Record<ChoiceSource, Evidence>> = {};
  if (modelFeatures !== undefined && modelFirstLogprob !== undefined) {
    evidence.model = { mean: modelFeatures[0], min: modelFeatures[1], first: Math.max(-10, modelFirstLogprob), head: modelConfidence, next: modelNext };
  }
  for (const o of offeredStates) evidence[o.source] = evidenceOf(o.logprobs, head?.suggestion(o.x), o.next);
  return evidence;
}

/** What the choice rule reads at a request: each source's text with the model's reading of it, and the context. */
export interface ChoiceInputs {
  readonly offers: Offers;
  readonly ctx: ChoiceContext;
}

/**
 * The model's suggestion and the workspace candidates (as shown: asShown) as the choice rule reads
 * them; `lines`, the workspace index, for how much the document repeats it (documentRepeats).
 */
export function choiceInputs(
  offered: readonly WorkspaceCandidate[],
  modelShown: string,
  modelFeatures: readonly number[] | undefined,
  req: EngineCompleteRequest,
  evidence: Partial<Record<ChoiceSource, Evidence>> = {},
  lines?: WorkspaceLines,
): ChoiceInputs {
  const offers: Offers = { model: { text: modelShown, evidence: evidence.model } };
  let match: WorkspaceCandidate['match'], fill: WorkspaceCandidate['match'], sibling: WorkspaceCandidate['match'], aligned: WorkspaceCandidate['match'];
  for (const c of offered) {
    offers[c.source] = { text: c.text, evidence: evidence[c.source] };
    if (c.source === 'fill') fill = c.match;
    else if (c.source === 'sibling') sibling = c.match;
    else if (c.source === 'aligned') aligned = c.match;
    else match ??= c.match;
  }
  const document = documentView(req.textBeforeCursor, req.textAfterCursor ?? '', req.languageId);
  const ctx: ChoiceContext = {
    lineStart: req.postprocess!.prefixOnLine.trim() === '',
    modelText: modelShown,
    modelLogprobs: modelFeatures === undefined ? undefined : { mean: modelFeatures[0], min: modelFeatures[1] },
    lookup: match,
    fill,
    sibling,
    aligned,
    document,
    repeats: documentRepeats(document.above, lines, req.documentPath),
  };
  return { offers, ctx };
}

/**
 * The choice among the model's suggestion and the workspace candidates (candidateChoice.ts): the
 * most probable under the rule becomes candidates[0], its P the confidence the pipeline gates
 * on. An automatic request (one candidate) shows only that one; an explicit one keeps the model's
 * samples and adds the workspace's lines after them as alternatives.
 */
export function chooseAmong(
  candidates: EngineCompleteResult['candidates'],
  rule: ChoiceRule,
  inputs: ChoiceInputs,
  req: EngineCompleteRequest,
  countTokens: (text: string) => number,
): void {
  const merged = mergeCandidates(inputs.offers);
  const ctx = inputs.ctx;
  const scores = scoreCandidates(rule, merged, ctx);
  const best = chooseCandidate(scores);
  if (best < 0) return;
  const chosen = merged[best];
  const origin = (c: (typeof merged)[number]) => (c.fromLookup || c.fromRunnerUp || c.fromFill || c.fromSibling || c.fromAligned ? 'lookup' as const : 'copy' as const);
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
  return { mixer: cacheMixer(sources, blank, context.cacheWeights), drafter: cacheDrafter(sources, blank), logProb: cacheTokenLogProb(sources, blank, context.cacheWeights), release };
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
