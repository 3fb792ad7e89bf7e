import * as fs from 'fs';
import { UserError } from '../engine/errors';

/** Reads all of stdin (for `complete` with neither --prompt nor --file). */
export async function readStdin(): Promise<string> {
  if (process.stdin.isTTY) throw new UserError('complete: give --prompt TEXT, --file F --line L --column C, or pipe the prompt on stdin');
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** The UTF-16 offset of (line, column), both 1-based as editors show them, in `text` (read from `file`). */
export function offsetOfPosition(file: string, text: string, line: number, column: number): number {
  const lines = text.split('\n');
  if (line > lines.length) throw new UserError(`complete: --line ${line} is past the end of ${file} (${lines.length} lines)`);
  const lineText = lines[line - 1].replace(/\r$/, '');
  if (column > lineText.length + 1) {
    throw new UserError(`complete: --column ${column} is past the end of line ${line} of ${file} (${lineText.length} characters)`);
  }
  let offset = 0;
  for (let i = 0; i < line - 1; i++) offset += lines[i].length + 1;
  return offset + column - 1;
}
