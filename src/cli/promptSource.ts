import * as fs from 'fs';
import { UserError } from '../engine/errors';

/** Reads all of stdin (for `complete` with neither --prompt nor --file). */
export async function readStdin(): Promise<string> {
  if (process.stdin.isTTY) throw new UserError('complete: give --prompt TEXT, --file F --line L --column C, or pipe the prompt on stdin');
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** The text of `file` before (line, column), both 1-based as editors show them. */
export function textBeforePosition(file: string, line: number, column: number): string {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new UserError(`complete: cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  const lines = text.split('\n');
  if (line > lines.length) throw new UserError(`complete: --line ${line} is past the end of ${file} (${lines.length} lines)`);
  const lineText = lines[line - 1].replace(/\r$/, '');
  if (column > lineText.length + 1) {
    throw new UserError(`complete: --column ${column} is past the end of line ${line} of ${file} (${lineText.length} characters)`);
  }
  return lines.slice(0, line - 1).map((l) => l + '\n').join('') + lineText.slice(0, column - 1);
}
