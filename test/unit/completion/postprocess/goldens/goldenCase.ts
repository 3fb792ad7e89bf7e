/** One golden post-processing case: a document with the cursor marked, raw model output, what to show. */
export interface GoldenCase {
  readonly name: string;
  /** The document, with the cursor at CURSOR. */
  readonly doc: string;
  /** Raw model output. */
  readonly completion: string;
  /** What the editor should show; null: nothing. */
  readonly expected: string | null;
  /** Expected multi-line decision (default false). */
  readonly multiline?: boolean;
}

export interface GoldenSuite {
  readonly languageId: string;
  readonly indentUnit: string;
  readonly cases: readonly GoldenCase[];
}

export const CURSOR = '█';
