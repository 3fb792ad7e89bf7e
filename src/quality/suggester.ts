/**
 * What the quality benchmark asks of the completion pipeline: one suggestion for a document and a
 * cursor, as the editor would show it. The CLI's pipeline runner (src/cli/pipelineRunner.ts)
 * provides the real one; tests pass a fake.
 */
export interface SuggestRequest {
  /** Absolute path of the file (inside `workspace`). */
  path: string;
  /** The document as it exists while a person types the cut line: the rest of that line removed. */
  text: string;
  /** The cursor, a UTF-16 offset into `text`. */
  offset: number;
  /** VS Code language id (typescript, javascript, python, ...). */
  languageId: string;
  /** The repository folder the file belongs to. */
  workspace: string;
}

export interface Suggestion {
  /** What the editor would insert on Tab; '' when nothing is shown. */
  text: string;
  /** Why nothing is shown (null when a suggestion is shown). */
  suppressed: string | null;
  /** Pipeline time for this request, ms. */
  latencyMs: number;
}

export interface Suggester {
  suggest(request: SuggestRequest): Promise<Suggestion>;
  /** One line naming the model, precision and adapter (for the report). */
  readonly description: string;
  dispose(): Promise<void>;
}
