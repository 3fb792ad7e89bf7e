/**
 * The baselines, built once from the training side of the split and asked about every cut the
 * model is asked about, plus (d) the best of them: the first of in-file copy, line lookup and
 * trigram that offers something.
 */
import { inFileCopy } from './inFileCopy';
import { LineLookup } from './lineLookup';
import { TrigramModel } from './trigram';

export const BASELINE_NAMES = ['in-file copy', 'line lookup', 'trigram', 'best baseline'] as const;
export type BaselineName = (typeof BASELINE_NAMES)[number];

export interface Baselines {
  /** Suggestions of every baseline for one cut, in BASELINE_NAMES order, with the time each took. */
  suggest(document: string, offset: number): { name: BaselineName; text: string; latencyMs: number }[];
  /** Time spent building them, ms. */
  readonly buildMs: number;
}

/** The first suggestion that is not blank, or ''. */
export function bestOf(suggestions: readonly string[]): string {
  return suggestions.find((s) => s.trim() !== '') ?? '';
}

export function buildBaselines(trainingTexts: readonly string[]): Baselines {
  const started = performance.now();
  const lookup = new LineLookup(trainingTexts);
  const trigram = new TrigramModel(trainingTexts);
  const buildMs = performance.now() - started;
  const timed = (f: () => string): [string, number] => {
    const t0 = performance.now();
    const text = f();
    return [text, performance.now() - t0];
  };
  return {
    buildMs,
    suggest(document, offset) {
      const [copy, copyMs] = timed(() => inFileCopy(document, offset));
      const [line, lineMs] = timed(() => lookup.suggest(document, offset));
      const [tri, triMs] = timed(() => trigram.suggest(document, offset));
      // The best baseline runs them in order and stops at the first answer.
      const bestMs = copy.trim() !== '' ? copyMs : line.trim() !== '' ? copyMs + lineMs : copyMs + lineMs + triMs;
      return [
        { name: 'in-file copy', text: copy, latencyMs: copyMs },
        { name: 'line lookup', text: line, latencyMs: lineMs },
        { name: 'trigram', text: tri, latencyMs: triMs },
        { name: 'best baseline', text: bestOf([copy, line, tri]), latencyMs: bestMs },
      ];
    },
  };
}
