import { strict as assert } from 'node:assert';
import { exampleSeed, splitFiles, splitValidation } from '../../../../src/training/data/split';

const files = (n: number, tokens = (i: number) => 1000 + i) =>
  Array.from({ length: n }, (_, i) => ({ path: `src/file${i}.ts`, tokens: tokens(i) }));

describe('training data: train / held-out split', () => {
  it('holds out whole files, about the target share of tokens, deterministically', () => {
    const all = files(50);
    const { train, heldOut } = splitFiles(all, { seed: 3 });
    assert.equal(train.length + heldOut.length, 50);
    assert.deepEqual(new Set([...train, ...heldOut].map((f) => f.path)).size, 50);
    const share = heldOut.reduce((s, f) => s + f.tokens, 0) / all.reduce((s, f) => s + f.tokens, 0);
    assert.ok(share > 0.07 && share <= 0.1, `held-out share ${share}`);
    assert.deepEqual(splitFiles(all, { seed: 3 }), { train, heldOut });
    assert.notDeepEqual(splitFiles(all, { seed: 4 }).heldOut, heldOut);
    assert.deepEqual(train.map((f) => f.path), all.filter((f) => !heldOut.includes(f)).map((f) => f.path), 'input order kept');
  });

  it('takes validation files from the training side only, by their own order, leaving the held-out files as they were', () => {
    const all = files(50);
    const { train, heldOut } = splitFiles(all, { seed: 3 });
    const { train: rest, validation } = splitValidation(train, 3);
    assert.ok(validation.length >= 1);
    assert.equal(rest.length + validation.length, train.length);
    for (const f of validation) assert.ok(train.includes(f) && !heldOut.includes(f) && !rest.includes(f));
    const share = validation.reduce((s, f) => s + f.tokens, 0) / train.reduce((s, f) => s + f.tokens, 0);
    assert.ok(share > 0.05 && share <= 0.1, `validation share ${share}`);
    // Not simply the next files of the held-out order: a different hash.
    assert.notDeepEqual(validation, splitFiles(train, { seed: 3 }).heldOut);
    assert.deepEqual(splitValidation(train, 3).validation, validation);
    // Too few training files to spare one: none.
    assert.deepEqual(splitValidation(files(3), 3).validation, []);
    assert.equal(splitValidation(files(4), 3).validation.length, 1);
    assert.notEqual(exampleSeed(3, 'validation', 'a.ts'), exampleSeed(3, 'heldout', 'a.ts'));
  });

  it('holds out at least one file from two, none from one, and always keeps one for training', () => {
    assert.deepEqual(splitFiles(files(1)).heldOut, []);
    for (let seed = 0; seed < 20; seed++) {
      const two = splitFiles(files(2), { seed });
      assert.equal(two.heldOut.length, 1);
      assert.equal(two.train.length, 1);
    }
    const { train } = splitFiles(files(3), { heldOutFraction: 0.9 });
    assert.ok(train.length >= 1);
  });

  it('does not let one huge file become the held-out set', () => {
    const all = files(20, (i) => (i === 0 ? 100_000 : 1000));
    for (let seed = 0; seed < 10; seed++) {
      assert.ok(!splitFiles(all, { seed }).heldOut.some((f) => f.path === 'src/file0.ts'));
    }
  });

  it('keeps a file in the same split when other files come and go (mostly)', () => {
    const before = splitFiles(files(40), { seed: 1 });
    const after = splitFiles(files(41), { seed: 1 });
    const moved = before.heldOut.filter((f) => !after.heldOut.some((g) => g.path === f.path));
    assert.ok(moved.length <= 1, `${moved.length} held-out files moved`);
  });

  it('seeds held-out evaluation cuts apart from training cuts', () => {
    assert.notEqual(exampleSeed(0, 'train', 'a.ts'), exampleSeed(0, 'heldout', 'a.ts'));
    assert.equal(exampleSeed(5, 'heldout', 'a.ts'), exampleSeed(5, 'heldout', 'a.ts'));
    assert.notEqual(exampleSeed(5, 'heldout', 'a.ts'), exampleSeed(6, 'heldout', 'a.ts'));
  });
});
