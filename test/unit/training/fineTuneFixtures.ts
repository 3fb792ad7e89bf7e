/** The fine-tuning tests' tiny model and corpus. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { GPT2Config } from '../../../src/engine/config';
import type { ChildMessage } from '../../../src/training/fineTuneProtocol';

/** A tiny random GPT-2: the real vocabulary, 64 positions, 32 wide. */
export const CONFIG: GPT2Config = { vocabSize: 50257, nPositions: 64, nEmbd: 32, nLayer: 2, nHead: 2, layerNormEpsilon: 1e-5 };

/** 48 files of near-identical small functions: ~26,000 tokens, enough to pass the data minimum. */
export function writeCorpus(root: string, files = 48, functions = 18): void {
  const names = ['count', 'total', 'index', 'value', 'limit'];
  fs.mkdirSync(root, { recursive: true });
  for (let f = 0; f < files; f++) {
    const lines = [`// module ${f}`, `import { check } from './check';`, ''];
    for (let k = 0; k < functions; k++) {
      const n = names[(f + k) % names.length];
      lines.push(`export function ${n}Plus${k}(${n}: number): number {`, `  check(${n});`, `  return ${n} + ${k};`, '}', '');
    }
    fs.writeFileSync(path.join(root, `m${f}.ts`), lines.join('\n'));
  }
}

export function collect(): { messages: ChildMessage[]; emit: (m: ChildMessage) => void } {
  const messages: ChildMessage[] = [];
  return { messages, emit: (m) => messages.push(m) };
}
