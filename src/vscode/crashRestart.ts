/**
 * When the engine process dies on its own, the model manager restarts it after a pause that grows
 * with each crash, and stops after a few crashes close together: a model that crashes on load or on
 * every request would otherwise restart forever, costing a load each time. No `vscode` import.
 */

export type RestartDecision =
  | { readonly restart: true; readonly delayMs: number; readonly crashes: number }
  | { readonly restart: false; readonly crashes: number };

export interface CrashRestartOptions {
  /** Pause before the restart after the 1st, 2nd, … crash in the window (the last repeats). */
  readonly delaysMs: readonly number[];
  /** This many crashes within `windowMs` stop the automatic restarts. */
  readonly maxCrashes: number;
  readonly windowMs: number;
}

export const DEFAULT_CRASH_RESTART: CrashRestartOptions = { delaysMs: [1_000, 5_000], maxCrashes: 3, windowMs: 5 * 60_000 };

/** The stopped state's words, shown in the status bar and the notification. */
export class EngineCrashLoopError extends Error {
  constructor(readonly crashes: number, windowMs: number, lastCrash: string) {
    super(
      `the model process keeps crashing (${crashes} times in ${Math.round(windowMs / 60_000)} minutes; last: ${lastCrash}); ` +
        'automatic restarts stopped: run "GPT-2 Complete: Reload Model" to try again',
    );
    this.name = 'EngineCrashLoopError';
  }
}

export class CrashRestartPolicy {
  private crashTimes: number[] = [];

  constructor(readonly options: CrashRestartOptions = DEFAULT_CRASH_RESTART, private readonly now: () => number = Date.now) {}

  /** Records a crash now and says whether to restart, and after how long. */
  recordCrash(): RestartDecision {
    const t = this.now();
    this.crashTimes = this.crashTimes.filter((c) => t - c < this.options.windowMs);
    this.crashTimes.push(t);
    const crashes = this.crashTimes.length;
    if (crashes >= this.options.maxCrashes) return { restart: false, crashes };
    const { delaysMs } = this.options;
    return { restart: true, delayMs: delaysMs[Math.min(crashes, delaysMs.length) - 1] ?? 0, crashes };
  }

  /** A load the user asked for (Reload Model, a settings change) starts counting afresh. */
  reset(): void {
    this.crashTimes = [];
  }
}
