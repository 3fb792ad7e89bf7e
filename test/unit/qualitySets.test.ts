/** The benchmark's repositories and the ones the shipped head and choice rule are fitted on (scripts/quality-sets.ts). */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { FIT_SETS, QUALITY_SETS } from '../../scripts/quality-sets';
import { FIT_SET_NAMES, QUALITY_SET_NAMES, setsNamed } from '../../bench/qualitySetRunner';

describe('quality and fitting sets', () => {
  it('never fits on a repository the benchmark judges', () => {
    const judged = new Set(QUALITY_SETS.flatMap((s) => [s.name, s.package]));
    for (const s of FIT_SETS) assert.ok(!judged.has(s.name) && !judged.has(s.package), `${s.name} is also a benchmark set`);
    assert.deepEqual([...QUALITY_SET_NAMES].sort(), QUALITY_SETS.map((s) => s.name).sort());
  });

  it('fits on no package of the embedded model\'s corpus (this project\'s node_modules, Python\'s standard library)', () => {
    const nodeModules = path.resolve(__dirname, '..', '..', 'node_modules');
    for (const s of FIT_SETS) {
      if (s.source === 'npm') assert.ok(!fs.existsSync(path.join(nodeModules, ...s.package.split('/'))), `${s.package} is in node_modules`);
      else assert.match(s.keep, /^usr\/lib\/python3\/dist-packages\//, `${s.name} would come from the standard library`);
    }
  });

  it('pins every set by version and SHA-256, with a licence', () => {
    for (const s of [...QUALITY_SETS, ...FIT_SETS]) {
      assert.match(s.sha256, /^[0-9a-f]{64}$/, s.name);
      assert.ok(s.version !== '' && s.licence !== '', s.name);
    }
    assert.equal(new Set([...QUALITY_SETS, ...FIT_SETS].map((s) => s.name)).size, QUALITY_SETS.length + FIT_SETS.length);
  });

  it('names the benchmark sets by default and the fitting sets with --fit', () => {
    assert.deepEqual(setsNamed([]), QUALITY_SET_NAMES);
    assert.deepEqual(setsNamed(['zod', '--verbose']), ['zod']);
    assert.deepEqual(setsNamed(['--fit']), FIT_SET_NAMES);
    assert.deepEqual(setsNamed(['--fit', 'mobx', 'rich']), [...FIT_SET_NAMES, 'rich']);
  });
});
