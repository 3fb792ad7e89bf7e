/**
 * Seeded cut points in held-out files: where a person is typing a line, with the rest of that line
 * still to come. Three kinds, in turn:
 * - `mid-line`: part of the line typed, the cursor at a GPT-2 token boundary of the line (so the
 *   prefix ends where a tokenizer would end it, not inside a word piece);
 * - `line-start`: a new line begun from scratch: Enter pressed at the end of the line above and the
 *   editor's indentation typed, the cursor after that indentation;
 * - `after-opener`: the same, on the first non-blank line after a line ending with a block opener
 *   (`{`, `(`, `[`, Python's `:`, `=>`), where a body starts.
 * The document is the file with the rest of the cut line removed (what exists while it is being
 * typed); the expected text is that rest, without trailing whitespace. Lines whose rest is empty or
 * only whitespace give no cut.
 *
 * Cuts are drawn round-robin over the code files in a seeded order, one per file per round, so no
 * file supplies most of them (and none more than `perFileCap`); test files supply at most half the
 * cuts while other files can supply the rest.
 */
import { languageSyntax } from '../completion/languages';
import { Rng } from '../engine/random';
import { getTokenizer, type Tokenizer } from '../engine/tokenizer';
import { hashToUint32, hashToUnit } from '../training/data/seededHash';
import { codeLanguage, isTestPath } from './fileKinds';
import type { BenchFile } from './workspaceSplit';

export const CUT_KINDS = ['mid-line', 'line-start', 'after-opener'] as const;
export type CutKind = (typeof CUT_KINDS)[number];

export const DEFAULT_CUTS = 300;

export interface Cut {
  /** Relative path of the held-out file. */
  readonly file: string;
  readonly languageId: string;
  readonly isTest: boolean;
  readonly kind: CutKind;
  /** 0-based line of the cut. */
  readonly line: number;
  /** The cursor: a UTF-16 offset into `document` (and into the file: the text before it is the same). */
  readonly offset: number;
  /** The file with the rest of the cut line removed. */
  readonly document: string;
  /** The rest of the line, trailing whitespace trimmed; never blank. */
  readonly expected: string;
}

export interface CutSample {
  readonly cuts: Cut[];
  /** Held-out code files cuts were drawn from. */
  readonly files: number;
  readonly perFileCap: number;
}

/** At most this many cuts from one file: max(3, 2·N/files). */
export function perFileCap(cuts: number, files: number): number {
  return Math.max(3, Math.ceil((2 * cuts) / Math.max(1, files)));
}

export function sampleCuts(heldOut: readonly BenchFile[], count: number, seed: number): CutSample {
  const tokenizer = getTokenizer();
  const sources = heldOut
    .filter((f) => codeLanguage(f.path) !== null)
    .map((f) => ({ file: f, key: hashToUnit(seed, 'quality-order', f.path) }))
    .sort((a, b) => a.key - b.key || (a.file.path < b.file.path ? -1 : 1))
    .map(({ file }, index) => new FileCuts(file, seed, index, tokenizer));
  const cap = perFileCap(count, sources.length);
  const cuts: Cut[] = [];
  let testCuts = 0;
  const testCap = sources.some((s) => s.isTest) && sources.some((s) => !s.isTest) ? Math.ceil(count / 2) : count;
  // First with test files held to half the cuts, then (if other files ran out) without.
  for (const limit of [testCap, count]) {
    let progress = true;
    while (progress && cuts.length < count) {
      progress = false;
      for (const source of sources) {
        if (cuts.length >= count) break;
        if (source.drawn >= cap || (source.isTest && testCuts >= limit)) continue;
        const cut = source.draw();
        if (cut === null) continue;
        cuts.push(cut);
        if (cut.isTest) testCuts++;
        progress = true;
      }
    }
  }
  return { cuts, files: sources.length, perFileCap: cap };
}

interface LineInfo {
  start: number;
  /** End of the indentation. */
  indentEnd: number;
  /** End of the line without trailing whitespace (== indentEnd for a blank line). */
  contentEnd: number;
  /** Index of the '\n' ending the line, or the text's length. */
  end: number;
}

function lineInfos(text: string): LineInfo[] {
  const out: LineInfo[] = [];
  for (let start = 0; start <= text.length; ) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    let indentEnd = start;
    while (indentEnd < end && (text[indentEnd] === ' ' || text[indentEnd] === '\t')) indentEnd++;
    let contentEnd = end;
    while (contentEnd > indentEnd && /\s/.test(text[contentEnd - 1])) contentEnd--;
    out.push({ start, indentEnd, contentEnd, end });
    start = end + 1;
  }
  return out;
}

/** UTF-16 offsets inside `text` where one GPT-2 token of encode(text) ends and the next begins. */
export function tokenBoundaries(text: string, tokenizer: Tokenizer = getTokenizer()): number[] {
  // Byte offset of each character start, to map token byte ends back to UTF-16 offsets.
  const charAtByte = new Map<number, number>();
  let bytes = 0;
  for (let i = 0; i < text.length; ) {
    charAtByte.set(bytes, i);
    const cp = text.codePointAt(i)!;
    bytes += cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
    i += cp >= 0x10000 ? 2 : 1;
  }
  const out: number[] = [];
  let at = 0;
  const ids = tokenizer.encode(text);
  for (let k = 0; k + 1 < ids.length; k++) {
    at += tokenizer.tokenBytes(ids[k]).length;
    const offset = charAtByte.get(at);
    if (offset !== undefined) out.push(offset); // else the token ends inside a character
  }
  return out;
}

function endsWithOpener(line: string, languageId: string): boolean {
  if (line.endsWith('=>')) return true;
  const last = line[line.length - 1];
  return last !== undefined && languageSyntax(languageId).blockOpeners.includes(last);
}

function shuffled<T>(xs: T[], rng: Rng): T[] {
  for (let i = xs.length - 1; i > 0; i--) {
    const j = Math.floor(rng.next() * (i + 1));
    [xs[i], xs[j]] = [xs[j], xs[i]];
  }
  return xs;
}

/** One file's cuts, drawn on demand from its own seeded stream; each line gives at most one cut. */
class FileCuts {
  readonly isTest: boolean;
  drawn = 0;
  private readonly languageId: string;
  private readonly lines: LineInfo[];
  private readonly rng: Rng;
  private readonly queues: Record<CutKind, number[]>;
  private readonly used = new Set<number>();

  constructor(
    private readonly file: BenchFile,
    seed: number,
    private readonly index: number,
    private readonly tokenizer: Tokenizer,
  ) {
    this.languageId = codeLanguage(file.path)!;
    this.isTest = isTestPath(file.path);
    this.rng = new Rng(hashToUint32(seed, 'quality-cuts', file.path));
    this.lines = lineInfos(file.text);
    const queues: Record<CutKind, number[]> = { 'mid-line': [], 'line-start': [], 'after-opener': [] };
    let previous = -1; // last non-blank line
    this.lines.forEach((l, i) => {
      if (l.contentEnd === l.indentEnd) return;
      queues['mid-line'].push(i);
      if (previous >= 0) {
        const above = this.lines[previous];
        const opener = endsWithOpener(file.text.slice(above.indentEnd, above.contentEnd), this.languageId);
        queues[opener ? 'after-opener' : 'line-start'].push(i);
      }
      previous = i;
    });
    for (const kind of CUT_KINDS) shuffled(queues[kind], this.rng);
    this.queues = queues;
  }

  /** The next cut, kinds in turn (starting at a per-file offset); null when the file has no more. */
  draw(): Cut | null {
    for (let k = 0; k < CUT_KINDS.length; k++) {
      const kind = CUT_KINDS[(this.index + this.drawn + k) % CUT_KINDS.length];
      const cut = this.drawKind(kind);
      if (cut !== null) {
        this.drawn++;
        return cut;
      }
    }
    return null;
  }

  private drawKind(kind: CutKind): Cut | null {
    const queue = this.queues[kind];
    while (queue.length > 0) {
      const line = queue.pop()!;
      if (this.used.has(line)) continue;
      const offset = kind === 'mid-line' ? this.midLineOffset(line) : this.lines[line].indentEnd;
      if (offset === null) continue;
      this.used.add(line);
      return this.cutAt(kind, line, offset);
    }
    return null;
  }

  /** A token boundary after the indentation with something left to type, or null. */
  private midLineOffset(line: number): number | null {
    const l = this.lines[line];
    const text = this.file.text.slice(l.start, l.contentEnd);
    const inside = tokenBoundaries(text, this.tokenizer)
      .map((b) => l.start + b)
      .filter((b) => b > l.indentEnd && b < l.contentEnd);
    if (inside.length === 0) return null;
    return inside[Math.floor(this.rng.next() * inside.length)];
  }

  private cutAt(kind: CutKind, line: number, offset: number): Cut {
    const l = this.lines[line];
    const text = this.file.text;
    return {
      file: this.file.path,
      languageId: this.languageId,
      isTest: this.isTest,
      kind,
      line,
      offset,
      document: text.slice(0, offset) + text.slice(l.end),
      expected: text.slice(offset, l.contentEnd),
    };
  }
}
