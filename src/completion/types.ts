/**
 * Plain data the completion pipeline works on. The extension layer adapts VS Code's document,
 * position, selections and trigger context into these, so every stage stays testable without an
 * editor (no `vscode` import anywhere under src/completion/).
 */

/** How a request started: typing (`automatic`) or an explicit command such as Alt+\ (`manual`). */
export type TriggerKind = 'automatic' | 'manual';

/** The cursor's line, split at the cursor. */
export interface CursorLine {
  /** The whole line holding the cursor, without its line break. */
  readonly lineText: string;
  /** `lineText` before the cursor. */
  readonly prefixOnLine: string;
  /** `lineText` after the cursor. */
  readonly suffixOnLine: string;
}

/** What the pipeline needs to know about one completion request. */
export interface CompletionRequest extends CursorLine {
  /** Identity of the document (its URI as a string); caches never mix documents. */
  readonly documentUri: string;
  /** The editor's version counter for the document; bumps on every edit. */
  readonly documentVersion: number;
  readonly languageId: string;
  /** The whole document. */
  readonly text: string;
  /** Cursor offset into `text`, in UTF-16 code units (VS Code's `document.offsetAt`). */
  readonly offset: number;
  /** False when the primary selection covers text. */
  readonly selectionEmpty: boolean;
  /** Number of cursors (selections) in the editor. */
  readonly cursorCount: number;
  readonly triggerKind: TriggerKind;
}
