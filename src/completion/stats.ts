/**
 * Local acceptance counters (nothing leaves the machine): how many suggestions were shown, how
 * many accepted, and how many characters those acceptances inserted. Acceptance rate is the
 * metric that best predicts perceived usefulness (Ziegler et al., the Copilot study).
 */

export interface CompletionStatsSnapshot {
  readonly shown: number;
  readonly accepted: number;
  /** Characters inserted by acceptances, partial ones (word, line) included. */
  readonly acceptedChars: number;
  /** Partial accepts (accept word, accept line); not counted in `accepted`. */
  readonly partialAccepts: number;
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0;
}

export class CompletionStats {
  private shown = 0;
  private accepted = 0;
  private acceptedChars = 0;
  private partialAccepts = 0;

  /** A suggestion became visible. */
  recordShown(): void {
    this.shown++;
  }

  /** A suggestion (or part of one) was accepted, inserting `chars` characters. */
  recordAccepted(chars: number): void {
    this.accepted++;
    this.acceptedChars += Math.max(0, Math.floor(chars));
  }

  /**
   * Part of a suggestion was accepted (a word, a line), inserting `chars` characters. Counted in
   * the characters but not as an acceptance: a suggestion taken word by word, then with Tab, is one
   * acceptance and all of its characters.
   */
  recordPartialAccept(chars: number): void {
    this.partialAccepts++;
    this.acceptedChars += Math.max(0, Math.floor(chars));
  }

  /** Accepted / shown, in [0, 1]; 0 before anything was shown. */
  acceptRate(): number {
    return this.shown === 0 ? 0 : Math.min(1, this.accepted / this.shown);
  }

  snapshot(): CompletionStatsSnapshot {
    return { shown: this.shown, accepted: this.accepted, acceptedChars: this.acceptedChars, partialAccepts: this.partialAccepts };
  }

  /** For JSON.stringify (e.g. into the extension's globalState). */
  toJSON(): CompletionStatsSnapshot {
    return this.snapshot();
  }

  reset(): void {
    this.shown = 0;
    this.accepted = 0;
    this.acceptedChars = 0;
    this.partialAccepts = 0;
  }

  /**
   * Restores counters from stored JSON (a parsed object or its string). Anything malformed, from
   * an older version or hand-edited storage, restarts the counters from zero rather than failing.
   */
  static fromJSON(stored: unknown): CompletionStats {
    const stats = new CompletionStats();
    let value = stored;
    if (typeof value === 'string') {
      try {
        value = JSON.parse(value) as unknown;
      } catch {
        return stats;
      }
    }
    if (typeof value !== 'object' || value === null) return stats;
    const record = value as Record<string, unknown>;
    if (isCount(record.shown) && isCount(record.accepted) && isCount(record.acceptedChars)) {
      stats.shown = record.shown;
      stats.accepted = record.accepted;
      stats.acceptedChars = record.acceptedChars;
      // Absent in counters stored before partial accepts were counted.
      stats.partialAccepts = isCount(record.partialAccepts) ? record.partialAccepts : 0;
    }
    return stats;
  }
}
