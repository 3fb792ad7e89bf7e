/**
 * The prompt head's skip before decoding, with the defaults (cache model, head, workspace candidates,
 * minConfidence): the same held-out cuts of each quality set through two pipelines, one that skips
 * the model's decoding below the head's skip level (the editor's) and one that never does; exact,
 * shown, requests skipped and the decode time each spent (bench/QUALITY.md, "Skipping decoding").
 *
 *   npx tsx bench/skipDecoding.ts [cuts per set, default 300] [sets..., default the four]
 */
import * as path from 'path';
import { openPipelineRunner } from '../src/cli/pipelineRunner';
import { sampleCuts } from '../src/quality/cuts';
import { judgedText } from '../src/quality/metrics';
import { splitWorkspace } from '../src/quality/workspaceSplit';
import { QUALITY_SET_NAMES, TEST_CACHE } from './qualitySetRunner';
(async () => {
  const cutsN = Number(process.argv[2] ?? 300);
  const named = process.argv.slice(3);
  for (const set of named.length > 0 ? named : QUALITY_SET_NAMES) {
    const folder = path.join(TEST_CACHE, 'quality-sets', set);
    const split = await splitWorkspace(folder, { seed: 0 });
    const runners = { with: await openPipelineRunner('bench', { workspace: folder }), without: await openPipelineRunner('bench', { workspace: folder }) };
    runners.without.context.head = Object.create(runners.without.context.head!, { skipBelow: { value: 0 } });
    const { cuts } = sampleCuts(split.heldOut, cutsN, 0);
    const stats = { with: { exact: 0, shown: 0, decodeMs: 0, skipped: 0 }, without: { exact: 0, shown: 0, decodeMs: 0, skipped: 0 } };
    for (const cut of cuts) {
      for (const mode of ['without', 'with'] as const) {
        const r = await runners[mode].run(path.join(split.folder, ...cut.file.split('/')), cut.document, cut.offset, cut.languageId);
        const s = stats[mode];
        const shown = r.suppressed === null ? r.items[0] ?? '' : '';
        if (shown.trim() !== '') s.shown++;
        if (shown.trim() !== '' && judgedText(shown) === cut.expected) s.exact++;
        const res = r.trace?.result;
        if (res?.skippedBeforeDecoding) s.skipped++;
        s.decodeMs += res?.timings?.decodeMs ?? 0;
      }
    }
    console.log(set, cuts.length, JSON.stringify(stats));
    await runners.with.dispose();
    await runners.without.dispose();
  }
})();
