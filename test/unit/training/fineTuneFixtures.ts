/** The fine-tuning tests' tiny model and corpus. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { GPT2Config } from '../../../src/engine/config';
import { writeRandomCheckpoint } from '../../../src/engine/randomCheckpoint';
import type { ChildMessage, FineTuneJob } from '../../../src/training/fineTuneProtocol';

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

/** A temp folder with the corpus and the tiny model, made before the suite and removed after it. */
export interface FineTuneFixture {
  readonly dir: string;
  readonly corpus: string;
  readonly model: string;
  /** A short LoRA job on the corpus into `dir/name`. */
  job(name: string, extra?: Partial<FineTuneJob>): FineTuneJob;
}

/** Call inside a mocha `describe`: registers its before/after hooks. */
export function useFineTuneFixture(prefix: string, threads: number): FineTuneFixture {
  const f = { dir: '', corpus: '', model: '' };
  before(() => {
    f.dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
    f.corpus = path.join(f.dir, 'corpus');
    f.model = path.join(f.dir, 'model');
    writeCorpus(f.corpus);
    writeRandomCheckpoint(f.model, CONFIG, 11);
  });
  after(() => fs.rmSync(f.dir, { recursive: true, force: true }));
  return {
    get dir() { return f.dir; },
    get corpus() { return f.corpus; },
    get model() { return f.model; },
    job: (name, extra = {}) => ({
      folder: f.corpus, model: f.model, out: path.join(f.dir, name), method: 'lora', batchTokens: 128, evalCases: 4, threads, seed: 3, ...extra,
    }),
  };
}
