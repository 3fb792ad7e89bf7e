/**
 * What became of each suggestion the model showed: accepted (Tab, or typed through to its end),
 * typed over (the user typed something else where it stood), or rejected (dismissed, an edit
 * elsewhere, the document closed, another suggestion took its place). These are the editor's own
 * labels for the acceptance head (GPT-1's supervised head, trained by `finetune --head`): the
 * workspace's cut points say what would have been right, this log says what the user took.
 *
 * Only the first item counts (the ghost text on screen); re-shows of its rest while the user types
 * through it are the same suggestion. Kept apart from AcceptanceTracker, which counts accepted
 * characters for the stats and ends its tracking at each re-show.
 */

export type Outcome = 'accepted' | 'typed-over' | 'rejected';

export interface SuggestionOutcome {
  /** When it was shown, ms since the epoch. */
  readonly shownAt: number;
  readonly languageId: string;
  /** The document's file, when it has one (a replay hides its copy from the workspace cache model). */
  readonly file?: string;
  /** The document's text before the cursor when it was shown (its tail: the prompt's side). */
  readonly prefix: string;
  /** The suggestion shown as ghost text. */
  readonly suggestion: string;
  readonly outcome: Outcome;
  /** Characters of it that ended up in the document (typed through or accepted). */
  readonly takenChars: number;
}

interface Pending {
  readonly anchor: number;
  readonly suggestion: string;
  readonly prefix: string;
  readonly languageId: string;
  readonly file: string | undefined;
  readonly shownAt: number;
  taken: string;
}

export class SuggestionOutcomeTracker {
  private readonly pending = new Map<string, Pending>();

  constructor(private readonly emit: (outcome: SuggestionOutcome) => void, private readonly now: () => number = Date.now) {}

  /**
   * A suggestion became visible with its ghost text at `anchor` (a document offset). `prefix` is
   * the text before the cursor (only its tail is kept by the log).
   */
  shown(documentUri: string, anchor: number, prefix: string, suggestion: string, languageId: string, file?: string): void {
    if (suggestion.length === 0) return;
    const p = this.pending.get(documentUri);
    // The rest of the suggestion being typed through, shown again from where the cursor now is.
    if (p !== undefined && anchor === p.anchor + p.taken.length && p.suggestion === p.taken + suggestion) return;
    this.resolve(documentUri, 'rejected');
    this.pending.set(documentUri, { anchor, suggestion, prefix, languageId, file, shownAt: this.now(), taken: '' });
  }

  /** One edit: `text` replacing `replacedLength` characters at `offset`; undefined for several at once, undo or redo. */
  edited(documentUri: string, edit: { offset: number; replacedLength: number; text: string } | undefined): void {
    const p = this.pending.get(documentUri);
    if (p === undefined) return;
    if (edit === undefined) return this.resolve(documentUri, 'rejected');
    let { offset, replacedLength, text } = edit;
    const end = p.anchor + p.taken.length;
    // A commit applied as one replacement from the suggestion's start rewrites what was taken.
    if (replacedLength > 0 && offset >= p.anchor && offset + replacedLength === end && text.startsWith(p.taken.slice(offset - p.anchor))) {
      text = text.slice(end - offset);
      offset = end;
      replacedLength = 0;
    }
    if (replacedLength === 0 && offset === end && text.length > 0) {
      if (p.suggestion.startsWith(p.taken + text)) {
        p.taken += text;
        if (p.taken === p.suggestion) this.resolve(documentUri, 'accepted');
        return;
      }
      return this.resolve(documentUri, 'typed-over');
    }
    this.resolve(documentUri, 'rejected');
  }

  /** The accept command of the document's suggestion ran (Tab). */
  accepted(documentUri: string): void {
    const p = this.pending.get(documentUri);
    if (p !== undefined) p.taken = p.suggestion;
    this.resolve(documentUri, 'accepted');
  }

  /** The document closed: what it showed was not taken. */
  closed(documentUri: string): void {
    this.resolve(documentUri, 'rejected');
  }

  /** Ends every pending suggestion as rejected (the extension is stopping). */
  flush(): void {
    for (const uri of [...this.pending.keys()]) this.resolve(uri, 'rejected');
  }

  private resolve(documentUri: string, outcome: Outcome): void {
    const p = this.pending.get(documentUri);
    if (p === undefined) return;
    this.pending.delete(documentUri);
    this.emit({
      shownAt: p.shownAt, languageId: p.languageId, ...(p.file === undefined ? {} : { file: p.file }),
      prefix: p.prefix, suggestion: p.suggestion, outcome, takenChars: p.taken.length,
    });
  }
}
