/**
 * Typing through a suggestion: while the user types exactly what the ghost text shows, the rest
 * of it is still the answer, so it is served at once with no model call (Copilot, Continue and
 * llama.vscode all do this). A few recent suggestions are kept, not only the last, so that
 * backspacing over typed characters still finds the suggestion shown before them.
 */

/** A suggestion as shown: the document around the cursor at that moment, and the ghost text. */
export interface ShownSuggestion {
  readonly documentUri: string;
  /** Document text before the cursor when it was shown. */
  readonly prefix: string;
  /** Document text after the cursor when it was shown. */
  readonly suffix: string;
  /** The ghost text. */
  readonly completion: string;
}

/**
 * What is left of `shown` once the document reads `prefix` + cursor + `suffix`: the rest of the
 * completion when the text typed since is a strict beginning of it and nothing else changed; else null.
 */
export function remainingAfterTyping(
  shown: ShownSuggestion,
  documentUri: string,
  prefix: string,
  suffix: string,
): string | null {
  if (documentUri !== shown.documentUri) return null;
  if (prefix.length < shown.prefix.length || prefix.length >= shown.prefix.length + shown.completion.length) {
    return null; // text deleted before the suggestion, or all of it typed: nothing left to serve
  }
  // Length checks first: these strings are whole-document halves.
  if (suffix.length !== shown.suffix.length || suffix !== shown.suffix) return null;
  if (!prefix.startsWith(shown.prefix)) return null;
  const typed = prefix.slice(shown.prefix.length);
  return shown.completion.startsWith(typed) ? shown.completion.slice(typed.length) : null;
}

/** The most recent shown suggestions, newest first; `lookup` serves the first one typed through. */
export class TypingThroughCache {
  private recent: ShownSuggestion[] = [];

  /** @param capacity suggestions remembered (default 4) */
  constructor(private readonly capacity = 4) {}

  /** Call when a suggestion is shown. */
  remember(shown: ShownSuggestion): void {
    if (shown.completion === '') return;
    this.recent = [shown, ...this.recent.filter((s) => !sameSuggestion(s, shown))].slice(0, Math.max(1, this.capacity));
  }

  /** The rest of a remembered suggestion the user is typing through, or null (a miss). */
  lookup(documentUri: string, prefix: string, suffix: string): string | null {
    for (const shown of this.recent) {
      const remaining = remainingAfterTyping(shown, documentUri, prefix, suffix);
      if (remaining !== null) return remaining;
    }
    return null;
  }

  /** Forget everything (e.g. the document closed or the model changed). */
  clear(): void {
    this.recent = [];
  }

  get size(): number {
    return this.recent.length;
  }
}

function sameSuggestion(a: ShownSuggestion, b: ShownSuggestion): boolean {
  return (
    a.documentUri === b.documentUri && a.completion === b.completion && a.prefix === b.prefix && a.suffix === b.suffix
  );
}
