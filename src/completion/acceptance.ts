/**
 * Which characters of a shown suggestion the user accepted, full and partial (accept word, accept
 * line), worked out from the document's edits.
 *
 * VS Code runs an InlineCompletionItem's `command` only on a full accept (Tab). It reports partial
 * accepts to `InlineCompletionItemProvider.handleDidPartiallyAcceptCompletionItem`, but in VS Code
 * 1.139 that is still the proposed API `inlineCompletionsAdditions`: a published extension cannot
 * enable it, and registering a provider that has the method without the proposal throws. So the
 * extension sees partial accepts as what they are in the document: one edit that inserts, at the
 * end of what was already taken of the suggestion, two or more of its next characters without
 * completing it. One character at a time is the user typing through it (not counted as accepted);
 * the edit that completes it is the full accept, which the accept command counts.
 *
 * Known limits: a partial accept of a single character counts as typing; an auto-closed pair typed
 * as the next two characters of the suggestion (`(` inserting `()`) counts as a partial accept.
 */

/** The suggestion last shown in a document: where its ghost text starts and the candidates offered. */
interface Shown {
  readonly anchor: number;
  readonly candidates: readonly string[];
  /** Text of the suggestion now in the document after the anchor (typed or accepted). */
  taken: string;
  /** Length of the edit that completed a candidate, once one did; the accept command's characters. */
  completedBy: number | undefined;
}

export class AcceptanceTracker {
  private readonly shown = new Map<string, Shown>();
  /**
   * A partly accepted suggestion whose tracking ended before its full accept: VS Code may re-show or
   * re-request suggestions after an accept-word, or apply Tab as one edit that rewrites the word
   * already taken. If the original item's accept command then runs, its count is what was left.
   */
  private readonly partlyTaken = new Map<string, { candidates: readonly string[]; taken: string }>();

  /** Suggestions were shown with their ghost text starting at `anchor` (a document offset). */
  recordShown(documentUri: string, anchor: number, candidates: readonly string[]): void {
    this.end(documentUri);
    const nonEmpty = candidates.filter((c) => c.length > 0);
    if (nonEmpty.length > 0) this.shown.set(documentUri, { anchor, candidates: nonEmpty, taken: '', completedBy: undefined });
  }

  /** Stops tracking the shown suggestion, remembering it if it was partly accepted. */
  private end(documentUri: string): void {
    const s = this.shown.get(documentUri);
    this.shown.delete(documentUri);
    if (s !== undefined && s.taken.length > 0 && s.completedBy === undefined) this.partlyTaken.set(documentUri, { candidates: s.candidates, taken: s.taken });
  }

  /**
   * A single edit of the document: `insertedText` replacing `replacedLength` characters at `offset`.
   * Returns the characters it accepted partially (0 when it was typing, a full accept, or unrelated).
   */
  recordEdit(documentUri: string, offset: number, replacedLength: number, insertedText: string): number {
    const s = this.shown.get(documentUri);
    if (s === undefined) return 0;
    // An edit that rewrites the end of what was taken with the same characters and more (a commit
    // applied as one replacement from the suggestion's start) is an insertion of the more.
    const end = s.anchor + s.taken.length;
    if (replacedLength > 0 && offset >= s.anchor && offset + replacedLength === end) {
      const rewritten = s.taken.slice(offset - s.anchor);
      if (insertedText.startsWith(rewritten)) {
        insertedText = insertedText.slice(rewritten.length);
        offset = end;
        replacedLength = 0;
      }
    }
    const taken = s.taken + insertedText;
    const continues =
      s.completedBy === undefined &&
      replacedLength === 0 &&
      insertedText.length > 0 &&
      offset === s.anchor + s.taken.length &&
      s.candidates.some((c) => c.startsWith(taken));
    if (!continues) {
      // Anything else (a deletion, an edit elsewhere, text that leaves the suggestion) ends it.
      this.end(documentUri);
      return 0;
    }
    s.taken = taken;
    if (s.candidates.includes(taken)) {
      s.completedBy = insertedText.length;
      return 0;
    }
    return insertedText.length >= 2 ? insertedText.length : 0;
  }

  /**
   * The accept command of an item with `itemText` ran (a full accept): the characters that accept
   * inserted. The document's edit normally arrives first (then it is the completing edit's length);
   * if not, it is what was left of the suggestion. Unknown documents count the whole item.
   */
  recordAccepted(documentUri: string, itemText: string): number {
    const s = this.shown.get(documentUri);
    const earlier = this.partlyTaken.get(documentUri);
    this.shown.delete(documentUri);
    this.partlyTaken.delete(documentUri);
    if (s !== undefined && s.completedBy !== undefined) return s.completedBy;
    const candidate = s?.candidates.find((c) => c.startsWith(s.taken) && (c === itemText || c.endsWith(itemText)));
    if (s !== undefined && candidate !== undefined) return candidate.length - s.taken.length;
    // The item of a partly accepted suggestion whose tracking ended: only its rest is new.
    if (earlier !== undefined && earlier.candidates.includes(itemText) && itemText.startsWith(earlier.taken)) return itemText.length - earlier.taken.length;
    return itemText.length;
  }

  /** Forget a document (closed) or everything. */
  clear(documentUri?: string): void {
    if (documentUri === undefined) {
      this.shown.clear();
      this.partlyTaken.clear();
    } else {
      this.shown.delete(documentUri);
      this.partlyTaken.delete(documentUri);
    }
  }
}
