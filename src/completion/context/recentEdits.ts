/**
 * Where the user edited last (after llama.vscode's ring buffer of recently used chunks): what was
 * just written in another file is often what is needed next (a function defined there, then called
 * here). A small ring of places, newest first, fed from the editor's live file updates; the
 * workspace index turns each into a snippet for the prompt (workspaceCache.ts).
 */

export interface RecentEdit {
  readonly file: string;
  /** 0-based first line that changed. */
  readonly line: number;
}

/** Places kept (Continue and Tabby keep a handful of recent snippets too). */
export const RECENT_EDITS = 8;
/** Edits this close (lines) to a kept place in the same file refresh it instead of adding another. */
const SAME_PLACE_LINES = 8;

/** The first line where `before` and `after` differ; undefined when the texts are equal. */
export function firstChangedLine(before: string, after: string): number | undefined {
  if (before === after) return undefined;
  const n = Math.min(before.length, after.length);
  let i = 0;
  while (i < n && before.charCodeAt(i) === after.charCodeAt(i)) i++;
  let line = 0;
  for (let k = 0; k < i; k++) if (after.charCodeAt(k) === 10) line++;
  return line;
}

export class RecentEdits {
  private places: RecentEdit[] = [];

  constructor(private readonly capacity = RECENT_EDITS) {}

  /** `file` changed from `before` to `after`. */
  note(file: string, before: string, after: string): void {
    const line = firstChangedLine(before, after);
    if (line === undefined) return;
    this.places = [{ file, line }, ...this.places.filter((p) => p.file !== file || Math.abs(p.line - line) >= SAME_PLACE_LINES)].slice(0, this.capacity);
  }

  forget(file: string): void {
    this.places = this.places.filter((p) => p.file !== file);
  }

  /** Newest first. */
  list(): readonly RecentEdit[] {
    return this.places;
  }
}
