/**
 * How long to wait after a keystroke before asking the model, adapted to the user's typing speed
 * (after Tabby's adaptive debouncer). A fast typist's pauses are short, so a short wait already
 * means "stopped typing"; a slow typist needs a longer one, or every keystroke would start (and
 * cancel) a generation, which is CPU the user pays for with a local model.
 *
 * The wait aims at when the suggestion should *appear*: a pause of 1.25–2 typical intervals after
 * the last keystroke. The model's own expected response time is spent inside that pause rather
 * than added after it, so a faster model starts later and a slower one earlier, and the ghost text
 * shows at about the same moment. (Waiting 1.5–3 intervals and then generating put the ghost text
 * ~460 ms after the last keystroke of an 80 ms-per-key typist; users expect ≤ 250 ms.) A request
 * started too early is cancelled by the next keystroke, which is cheap: the engine stops at once
 * and the KV cache keeps the prompt's prefix.
 *
 * Time is passed in, never read, so tests drive it with a fake clock.
 */

export interface AdaptiveDebounceOptions {
  /**
   * The delay setting in ms: used until the typing rhythm is known, and the centre of the adaptive
   * range [baseDelayMs / 2, baseDelayMs * 4]. 0 turns debouncing off.
   */
  readonly baseDelayMs: number;
  /** False: always `baseDelayMs` (default true). */
  readonly adaptive?: boolean;
  /** Weight of the newest interval in the moving average (default 0.15, about the last dozen keys). */
  readonly smoothing?: number;
  /** Intervals longer than this are pauses, not typing, and do not count (default 1500 ms). */
  readonly pauseMs?: number;
  /** Intervals needed before the average is trusted (default 5). */
  readonly minSamples?: number;
  /** Weight of the newest model response time in its moving average (default 0.3). */
  readonly latencySmoothing?: number;
}

/** What is known about the keystroke that the delay is for. */
export interface KeystrokeHints {
  /** Manual triggers do not wait. */
  readonly manual?: boolean;
  /** The character just typed; after a non-word character (".", "(", " ") a completion is likelier wanted. */
  readonly typedCharacter?: string;
  /** The cursor is at the end of its line. */
  readonly atLineEnd?: boolean;
}

/** A pause this many typical intervals long means the user stopped; shorter at likely completion points. */
const PAUSE_FACTOR_MAX = 2;
const PAUSE_FACTOR_MIN = 1.25;
/** How much each hint moves the factor toward its minimum (sums to 1). */
const HINT_WEIGHTS = { nonWordCharacter: 0.6, lineEnd: 0.4 } as const;
/** Shorter intervals are key repeat or programmatic edits; clamp so they cannot drag the average to 0. */
const MIN_INTERVAL_MS = 20;

function clamp(value: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, value));
}

export class AdaptiveDebouncer {
  private readonly baseDelayMs: number;
  private readonly adaptive: boolean;
  private readonly smoothing: number;
  private readonly pauseMs: number;
  private readonly minSamples: number;
  private lastKeystrokeMs: number | undefined;
  private averageIntervalMs: number | undefined;
  private samples = 0;
  private readonly latencySmoothing: number;
  private expectedLatencyMs = 0;

  constructor(options: AdaptiveDebounceOptions) {
    this.baseDelayMs = Math.max(0, options.baseDelayMs);
    this.adaptive = options.adaptive ?? true;
    this.smoothing = clamp(options.smoothing ?? 0.15, 0.01, 1);
    this.pauseMs = options.pauseMs ?? 1500;
    this.minSamples = Math.max(1, options.minSamples ?? 5);
    this.latencySmoothing = clamp(options.latencySmoothing ?? 0.3, 0.01, 1);
  }

  /** Records how long the model took to answer after the wait (its moving average is spent inside the next waits). */
  recordLatency(ms: number): void {
    if (!(Number.isFinite(ms) && ms >= 0)) return;
    this.expectedLatencyMs =
      this.expectedLatencyMs === 0 ? ms : this.expectedLatencyMs + this.latencySmoothing * (ms - this.expectedLatencyMs);
  }

  /** The moving average of the model's response times in ms (0 until one is recorded). */
  expectedLatency(): number {
    return this.expectedLatencyMs;
  }

  /** Records a keystroke at `nowMs` and returns how long to wait before requesting a completion. */
  delayFor(nowMs: number, hints: KeystrokeHints = {}): number {
    this.recordKeystroke(nowMs);
    return this.currentDelay(hints);
  }

  /** Feeds the interval since the previous keystroke into the moving average. */
  recordKeystroke(nowMs: number): void {
    const previous = this.lastKeystrokeMs;
    this.lastKeystrokeMs = nowMs;
    if (previous === undefined) return;
    const interval = nowMs - previous;
    if (interval <= 0 || interval > this.pauseMs) return;
    const sample = Math.max(MIN_INTERVAL_MS, interval);
    this.averageIntervalMs =
      this.averageIntervalMs === undefined
        ? sample
        : this.averageIntervalMs + this.smoothing * (sample - this.averageIntervalMs);
    this.samples++;
  }

  /** The delay for the latest keystroke, without recording one. */
  currentDelay(hints: KeystrokeHints = {}): number {
    if (hints.manual === true || this.baseDelayMs === 0) return 0;
    if (!this.adaptive || this.averageIntervalMs === undefined || this.samples < this.minSamples) {
      return this.baseDelayMs;
    }
    let score = 0;
    if (hints.typedCharacter !== undefined && /^[^\p{L}\p{N}_]$/u.test(hints.typedCharacter)) {
      score += HINT_WEIGHTS.nonWordCharacter;
    }
    if (hints.atLineEnd === true) score += HINT_WEIGHTS.lineEnd;
    const factor = PAUSE_FACTOR_MAX - (PAUSE_FACTOR_MAX - PAUSE_FACTOR_MIN) * score;
    const pause = factor * this.averageIntervalMs - this.expectedLatencyMs;
    return Math.round(clamp(pause, this.baseDelayMs / 2, this.baseDelayMs * 4));
  }

  /** The moving average of typing intervals in ms, once enough keystrokes were seen. */
  typingIntervalMs(): number | undefined {
    return this.samples >= this.minSamples ? this.averageIntervalMs : undefined;
  }

  /** Forgets the typing rhythm (e.g. after the setting changed). */
  reset(): void {
    this.lastKeystrokeMs = undefined;
    this.averageIntervalMs = undefined;
    this.samples = 0;
  }
}

/** The timer functions `wait` uses; tests pass a fake clock's. */
export interface Timers {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

const REAL_TIMERS: Timers = {
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

/**
 * Waits `ms`; resolves true when the time passed, false as soon as `signal` aborts (a newer
 * keystroke superseded this request). Never rejects, so callers just `if (!(await wait(...))) return`.
 */
export function wait(ms: number, signal?: AbortSignal, timers: Timers = REAL_TIMERS): Promise<boolean> {
  if (signal?.aborted === true) return Promise.resolve(false);
  return new Promise<boolean>((resolve) => {
    const onAbort = (): void => {
      timers.clearTimeout(handle);
      resolve(false);
    };
    const handle = timers.setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve(true);
    }, Math.max(0, ms));
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
