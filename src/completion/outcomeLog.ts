/**
 * The editor's local accept/reject log: one JSON line per suggestion outcome
 * (suggestionOutcomes.ts), in the workspace's own extension storage, never sent anywhere. The next
 * `finetune --head` reads it as labelled examples for the acceptance head.
 *
 * It holds the user's code (the text before the cursor, cut to its tail), so it is treated like
 * fine-tuning data: an entry whose text the secret scanner flags is not written; and it is bounded
 * (the newest half is kept when it outgrows its cap). Appends are queued and asynchronous, so the
 * extension host never waits on the disk; a failed write (full disk) drops that entry and says so once.
 */
import * as fs from 'fs';
import * as path from 'path';
import { writeFileAtomic } from '../engine/atomicFile';
import { scanSecrets } from '../training/data/secretScan';
import type { Outcome, SuggestionOutcome } from './suggestionOutcomes';

/** The log's file name in the workspace's extension storage. */
export const SUGGESTION_LOG_FILE = 'suggestion-log.jsonl';
/** Characters of text before the cursor kept per entry: more than the embedded model's 512-token prompt. */
export const OUTCOME_PREFIX_CHARS = 3000;
/** The log's size cap; beyond it the oldest half is dropped. */
export const OUTCOME_LOG_MAX_BYTES = 4 * 1024 * 1024;
const FORMAT = 1;
const OUTCOMES: readonly Outcome[] = ['accepted', 'typed-over', 'rejected'];

export interface OutcomeLogOptions {
  readonly maxBytes?: number;
  /** Told once when a write fails (the log goes on trying later entries). */
  readonly onError?: (message: string) => void;
}

export class OutcomeLog {
  private queue: Promise<void> = Promise.resolve();
  private failed = false;
  /** Entries not written because their text looked like a secret. */
  skippedSecrets = 0;

  constructor(readonly file: string, private readonly options: OutcomeLogOptions = {}) {}

  /** Queues one outcome; resolves when it is on disk (or was dropped). */
  append(outcome: SuggestionOutcome): Promise<void> {
    const prefix = outcome.prefix.slice(-OUTCOME_PREFIX_CHARS);
    if (scanSecrets(prefix + outcome.suggestion).length > 0) {
      this.skippedSecrets++;
      return this.queue;
    }
    const line = JSON.stringify({ v: FORMAT, ...outcome, prefix }) + '\n';
    this.queue = this.queue.then(() => this.write(line));
    return this.queue;
  }

  /** Resolves once every queued entry is written. */
  flushed(): Promise<void> {
    return this.queue;
  }

  private async write(line: string): Promise<void> {
    try {
      await fs.promises.mkdir(path.dirname(this.file), { recursive: true });
      await fs.promises.appendFile(this.file, line, 'utf8');
      const { size } = await fs.promises.stat(this.file);
      if (size > (this.options.maxBytes ?? OUTCOME_LOG_MAX_BYTES)) await this.dropOldestHalf();
      this.failed = false;
    } catch (err) {
      if (!this.failed) this.options.onError?.(`could not write the suggestion log ${this.file}: ${(err as Error).message}`);
      this.failed = true;
    }
  }

  private async dropOldestHalf(): Promise<void> {
    const lines = (await fs.promises.readFile(this.file, 'utf8')).split('\n').filter((l) => l.length > 0);
    writeFileAtomic(this.file, lines.slice(Math.floor(lines.length / 2)).join('\n') + '\n');
  }
}

export interface OutcomeLogContents {
  readonly outcomes: SuggestionOutcome[];
  /** Lines that were not an outcome of this format (a truncated last line, hand edits). */
  readonly malformed: number;
}

/** Reads a log; a missing file is an empty log, and lines it cannot read are counted, not fatal. */
export function readOutcomeLog(file: string): OutcomeLogContents {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { outcomes: [], malformed: 0 };
    throw err;
  }
  const outcomes: SuggestionOutcome[] = [];
  let malformed = 0;
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const o = parseLine(line);
    if (o === undefined) malformed++;
    else outcomes.push(o);
  }
  return { outcomes, malformed };
}

function parseLine(line: string): SuggestionOutcome | undefined {
  let v: Record<string, unknown>;
  try {
    v = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  if (typeof v !== 'object' || v === null || v.v !== FORMAT) return undefined;
  const { shownAt, languageId, file, prefix, suggestion, outcome, takenChars } = v;
  if (typeof shownAt !== 'number' || typeof languageId !== 'string' || typeof prefix !== 'string' || typeof suggestion !== 'string') return undefined;
  if (!OUTCOMES.includes(outcome as Outcome) || typeof takenChars !== 'number' || (file !== undefined && typeof file !== 'string')) return undefined;
  return { shownAt, languageId, ...(file === undefined ? {} : { file }), prefix, suggestion, outcome: outcome as Outcome, takenChars };
}
