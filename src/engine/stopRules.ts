/**
 * When generation stops, as pure functions over the text generated so far. Each rule says whether to
 * stop and which prefix of the text to keep; `checkStop` combines them for the decode loop.
 */

/** GPT-2's end-of-text token, `<|endoftext|>`. */
export const END_OF_TEXT_ID = 50256;

/** `malformed`: the model produced bytes that are not UTF-8 (the text before them is kept). */
export type FinishReason = 'length' | 'stop' | 'eot' | 'lines' | 'deadline' | 'malformed';

export interface StopDecision {
  stop: boolean;
  reason?: FinishReason;
  /** The text to return: all of it, or the prefix before the point where a rule cut it. */
  keepText: string;
}

export interface StopOptions {
  maxTokens: number;
  /** Stop before line maxLines + 1 starts: at the maxLines-th newline, which is not kept. */
  maxLines?: number;
  /** Stop at the earliest occurrence of any of these; the match and what follows are cut. */
  stopStrings?: readonly string[];
  /** Stop at `<|endoftext|>` (default true). */
  stopAtEndOfText?: boolean;
  /** Absolute time (the `now` clock passed to checkStop) after which to stop with what is ready. */
  deadline?: number;
  /** Stop a degenerate loop (repetitionRule). */
  stopOnRepetition?: boolean;
}

/** One candidate's progress after a token was sampled. */
export interface GenerationState {
  /** Decoded text so far (end-of-text contributes nothing). */
  text: string;
  /** Tokens sampled so far, the last one included. */
  tokenCount: number;
  lastToken: number;
  now: number;
}

const go = (text: string): StopDecision => ({ stop: false, keepText: text });

export function maxTokensRule(tokenCount: number, maxTokens: number, text: string): StopDecision {
  return tokenCount >= maxTokens ? { stop: true, reason: 'length', keepText: text } : go(text);
}

export function maxLinesRule(text: string, maxLines: number | undefined): StopDecision {
  if (maxLines === undefined || maxLines <= 0) return go(text);
  let at = -1;
  for (let n = 0; n < maxLines; n++) {
    at = text.indexOf('\n', at + 1);
    if (at < 0) return go(text);
  }
  const end = at > 0 && text[at - 1] === '\r' ? at - 1 : at; // a CRLF line ending goes as a whole
  return { stop: true, reason: 'lines', keepText: text.slice(0, end) };
}

export function stopStringsRule(text: string, stopStrings: readonly string[] | undefined): StopDecision {
  let first = -1;
  for (const s of stopStrings ?? []) {
    if (s.length === 0) continue;
    const at = text.indexOf(s);
    if (at >= 0 && (first < 0 || at < first)) first = at;
  }
  return first < 0 ? go(text) : { stop: true, reason: 'stop', keepText: text.slice(0, first) };
}

export function endOfTextRule(token: number, text: string, stopAtEndOfText = true): StopDecision {
  return stopAtEndOfText && token === END_OF_TEXT_ID ? { stop: true, reason: 'eot', keepText: text } : go(text);
}

/** Repeats in a row that make a loop: the text then ends with the same unit this many times. */
export const LOOP_REPEATS = 4;
const LOOP_MAX_UNIT = 32;

/**
 * Small models fall into loops under greedy decoding (`self.path.path.path.path`, `('./a('./a('./a`).
 * When the text ends with LOOP_REPEATS copies of one unit of 2–32 characters that holds a letter, digit
 * or underscore, stop and keep the text through the first copy. Runs of whitespace or punctuation
 * (indentation, `=====` rules) are not loops.
 */
export function repetitionRule(text: string, enabled: boolean | undefined): StopDecision {
  if (enabled !== true) return go(text);
  const n = text.length;
  for (let unit = 2; unit <= LOOP_MAX_UNIT && unit * LOOP_REPEATS <= n; unit++) {
    const last = text.slice(n - unit);
    if (!/\w/.test(last)) continue;
    let start = n - unit; // where the run of copies begins
    while (start - unit >= 0 && text.startsWith(last, start - unit)) start -= unit;
    if ((n - start) / unit >= LOOP_REPEATS) return { stop: true, reason: 'stop', keepText: text.slice(0, start + unit) };
  }
  return go(text);
}

export function deadlineRule(now: number, deadline: number | undefined, text: string): StopDecision {
  return deadline !== undefined && now >= deadline ? { stop: true, reason: 'deadline', keepText: text } : go(text);
}

/**
 * All rules together. Rules that cut the text win over those that keep all of it, and among those the
 * earliest cut wins (one token can complete both a stop string and a line break).
 */
export function checkStop(state: GenerationState, options: StopOptions): StopDecision {
  const { text } = state;
  const eot = endOfTextRule(state.lastToken, text, options.stopAtEndOfText ?? true);
  if (eot.stop) return eot;
  const cuts = [stopStringsRule(text, options.stopStrings), maxLinesRule(text, options.maxLines), repetitionRule(text, options.stopOnRepetition)]
    .filter((d) => d.stop);
  if (cuts.length > 0) return cuts.reduce((a, b) => (b.keepText.length < a.keepText.length ? b : a));
  const length = maxTokensRule(state.tokenCount, options.maxTokens, text);
  if (length.stop) return length;
  return deadlineRule(state.now, options.deadline, text);
}

/**
 * The part of not-yet-stopped text that is final whatever comes next: without a trailing partial
 * stop string (it may complete and be cut) or a trailing CR (it may become a cut CRLF). For streaming.
 */
export function stableText(text: string, options: Pick<StopOptions, 'stopStrings' | 'maxLines'>): string {
  let held = 0;
  for (const s of options.stopStrings ?? []) {
    for (let n = Math.min(s.length - 1, text.length); n > held; n--) {
      if (text.endsWith(s.slice(0, n))) {
        held = n;
        break;
      }
    }
  }
  if (held === 0 && options.maxLines !== undefined && text.endsWith('\r')) held = 1;
  return text.slice(0, text.length - held);
}
