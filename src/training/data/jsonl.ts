/**
 * The mined examples as JSON Lines, for `gpt2-complete dataset <folder> --out F.jsonl`.
 *
 * One object per line: {"prompt": x, "completion": y, "split": "train" | "validation" | "heldout", "file": path}.
 * "prompt"/"completion" are the column names of Hugging Face TRL's standard prompt-completion
 * dataset type, so the file loads as is:
 *
 *   ds = datasets.load_dataset("json", data_files="F.jsonl", split="train")
 *   train = ds.filter(lambda r: r["split"] == "train")      # SFTTrainer(train_dataset=train, ...)
 *   held_out = ds.filter(lambda r: r["split"] == "heldout")
 *
 * TRL then trains on the completion only by default (completion_only_loss), i.e. L2 alone; our
 * trainer adds λ·L1 over the prompt (README, "Fine-tuning": the combined objective). Token ids are not
 * written: the text round-trips through GPT-2's tokenizer to the same ids (encode(prompt),
 * encode(completion)), and other tools tokenize for themselves.
 */
import { withAtomicWriter, type AtomicOptions } from '../../engine/atomicFile';
import { Example } from './examples';
import { Split } from './split';

export interface JsonlRecord {
  readonly prompt: string;
  readonly completion: string;
  readonly split: Split;
  readonly file: string;
}

export function toJsonlRecord(example: Example, split: Split): JsonlRecord {
  return { prompt: example.context, completion: example.continuation, split, file: example.file };
}

/**
 * One record and its '\n'. JSON.stringify escapes \n and \r but leaves U+2028/U+2029 raw, and
 * Python's str.splitlines() breaks lines there; escaping them keeps any reader on one record per line.
 */
export function jsonLine(record: JsonlRecord): string {
  return JSON.stringify(record).replace(/[\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16)}`) + '\n';
}

/**
 * Writes train, validation, then held-out examples to `outPath`, one JSON object per line, atomically: the file
 * appears whole or not at all, and an existing file stays as it was when the write fails (a full
 * disk is a UserError naming the path).
 */
export async function writeJsonl(
  dataset: { readonly train: readonly Example[]; readonly validation?: readonly Example[]; readonly heldOut: readonly Example[] },
  outPath: string,
  options: AtomicOptions = {},
): Promise<void> {
  await withAtomicWriter(
    outPath,
    (w) => {
      const batch: string[] = [];
      const flush = () => {
        if (batch.length === 0) return;
        w.write(batch.join(''));
        batch.length = 0;
      };
      const parts: [readonly Example[], Split][] = [
        [dataset.train, 'train'],
        [dataset.validation ?? [], 'validation'],
        [dataset.heldOut, 'heldout'],
      ];
      for (const [examples, split] of parts) {
        for (const example of examples) {
          batch.push(jsonLine(toJsonlRecord(example, split)));
          if (batch.length >= 1000) flush();
        }
      }
      flush();
    },
    options,
  );
}
