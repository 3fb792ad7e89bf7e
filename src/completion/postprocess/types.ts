/** What every post-processing step sees besides the completion itself. */
export interface PostprocessContext {
  /** The cursor line before the cursor. */
  readonly prefixOnLine: string;
  /** The cursor line after the cursor; it stays after the inserted completion. */
  readonly suffixOnLine: string;
  /** The line above the cursor line (undefined on the first line). */
  readonly previousLine?: string;
  /** Lines below the cursor line, nearest first. */
  readonly nextLines: readonly string[];
  /** One level of indentation: "\t" or some spaces. */
  readonly indentUnit: string;
  readonly languageId: string;
  /** Allow several lines (the cursor opens an empty block, see isMultilineContext); else one line. */
  readonly multiline: boolean;
}

/** One step: the completion so far → the completion after this step, or null to drop it. */
export type PostprocessStep = (completion: string, ctx: PostprocessContext) => string | null;
