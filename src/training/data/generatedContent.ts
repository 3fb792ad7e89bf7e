/**
 * Generated code without a marker, recognised by its content: database types (Supabase, Prisma),
 * API clients and schema dumps are long runs of lines of the same few shapes (`name: type | null`,
 * `}`, `name?: type`), while code people write mixes calls, assignments, branches and returns. A
 * file is generated when the `topShapes` most frequent line shapes cover at least `coverage` of its
 * non-blank lines (at least `minLines` of them), or of the lines of one huge bracketed literal that
 * holds at least half the file (a Supabase `types.ts`: one `Database = { ... }` type, then a
 * hundred lines of varied generic helpers that dilute the whole-file share).
 *
 * A shape is the line without its indentation, with string literals, numbers and words each
 * replaced by one placeholder: `avatar_url?: string | null` and `deleted_at?: Json | null` are both
 * `w?: w | w`. Thresholds chosen on real files (bench/QUALITY.md, "Generated files by content"):
 * a generated 1,000-line Supabase `types.ts` covers 0.97, ordinary source in node_modules rarely
 * passes 0.7.
 */

export const GENERATED_CONTENT = { minLines: 200, topShapes: 8, coverage: 0.9 } as const;

const STRING = /"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'|`(?:[^`\\\n]|\\.)*`/g;
const NUMBER = /\b\d[\d_]*(?:\.\d+)?(?:e[+-]?\d+)?\b|\b0x[\da-f]+\b/gi;
const WORD = /[\p{L}_$][\p{L}\p{N}_$]*/gu;

/** A line's shape: no indentation, strings → ", numbers → 0, words → w, runs of spaces → one. */
export function lineShape(line: string): string {
  return line.trim().replace(STRING, '"').replace(NUMBER, '0').replace(WORD, 'w').replace(/\s+/g, ' ');
}

/** Share of non-blank lines whose shape is among the `top` most frequent, and how many lines there are. */
export function shapeCoverage(text: string, top: number = GENERATED_CONTENT.topShapes): { lines: number; coverage: number } {
  const counts = new Map<string, number>();
  let lines = 0;
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    lines++;
    const shape = lineShape(line);
    counts.set(shape, (counts.get(shape) ?? 0) + 1);
  }
  if (lines === 0) return { lines: 0, coverage: 0 };
  const covered = [...counts.values()].sort((a, b) => b - a).slice(0, top).reduce((s, n) => s + n, 0);
  return { lines, coverage: covered / lines };
}

/**
 * The non-blank lines of the longest block opened at bracket depth 0 and closed back there (a
 * top-level object, array or type literal, or a class or function body), by brackets outside strings.
 */
export function largestTopLevelBlock(text: string): string[] {
  let best: string[] = [];
  let current: string[] = [];
  let depth = 0;
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const shape = line.replace(STRING, 's');
    const wasOpen = depth > 0;
    for (const c of shape) {
      if (c === '{' || c === '[' || c === '(') depth++;
      else if ((c === '}' || c === ']' || c === ')') && depth > 0) depth--;
    }
    if (wasOpen || depth > 0) current.push(line);
    if (depth === 0 && current.length > 0) {
      if (current.length > best.length) best = current;
      current = [];
    }
  }
  return current.length > best.length ? current : best;
}

/** True when the text reads as generated (see the module comment). */
export function looksGenerated(text: string): boolean {
  const { minLines, coverage } = GENERATED_CONTENT;
  const whole = shapeCoverage(text);
  if (whole.lines < minLines) return false;
  if (whole.coverage >= coverage) return true;
  const block = largestTopLevelBlock(text);
  return block.length >= minLines && block.length >= whole.lines / 2 && shapeCoverage(block.join('\n')).coverage >= coverage;
}
