import { strict as assert } from 'node:assert';
import { getTokenizer } from '../../../src/engine/tokenizer';
import { perFileCap, sampleCuts, tokenBoundaries, type Cut } from '../../../src/quality/cuts';
import { isTestPath } from '../../../src/quality/fileKinds';
import type { BenchFile } from '../../../src/quality/workspaceSplit';
import { syntheticSource } from '../training/data/fixtures';

const file = (path: string, text: string): BenchFile => ({ path, text, tokens: getTokenizer().encode(text).length });

const PY = `import os


def load(path):
    with open(path) as f:
        data = f.read()
    return data.strip()


class Store:
    def __init__(self, root):
        self.root = root
        self.items = {}

    def get(self, key):
        if key in self.items:
            return self.items[key]
        return None
`;

function sources(n: number, prefix = 'src/mod'): BenchFile[] {
  return Array.from({ length: n }, (_, i) => file(`${prefix}${i}.ts`, syntheticSource(300 + i, 3)));
}

/** The line of the file a cut is on, and where on it the cursor is. */
function lineOf(f: BenchFile, cut: Cut): { line: string; column: number } {
  const lines = f.text.split('\n');
  const start = lines.slice(0, cut.line).reduce((s, l) => s + l.length + 1, 0);
  return { line: lines[cut.line], column: cut.offset - start };
}

describe('quality: cut sampler', () => {
  it('is deterministic for a seed and moves with it', () => {
    const files = [...sources(8), file('pkg/store.py', PY)];
    const a = sampleCuts(files, 40, 5).cuts;
    const b = sampleCuts(files, 40, 5).cuts;
    assert.deepEqual(a, b);
    const c = sampleCuts(files, 40, 6).cuts;
    assert.notDeepEqual(c.map((x) => [x.file, x.offset]), a.map((x) => [x.file, x.offset]));
  });

  it('cuts where the line is being typed: the document lacks the rest of the line, the expected text is that rest', () => {
    const files = [...sources(6), file('pkg/store.py', PY)];
    const byPath = new Map(files.map((f) => [f.path, f]));
    const { cuts } = sampleCuts(files, 60, 1);
    assert.equal(cuts.length, 60);
    for (const cut of cuts) {
      const f = byPath.get(cut.file)!;
      const { line, column } = lineOf(f, cut);
      const indent = line.length - line.trimStart().length;
      assert.equal(cut.expected, line.slice(column).trimEnd());
      assert.notEqual(cut.expected.trim(), '');
      assert.equal(cut.document, f.text.slice(0, cut.offset) + f.text.slice(cut.offset + line.length - column));
      assert.equal(cut.document.slice(0, cut.offset), f.text.slice(0, cut.offset));
      if (cut.kind === 'mid-line') {
        assert.ok(column > indent, `${cut.file}:${cut.line} typed something`);
        const lineStart = cut.offset - column;
        assert.ok(tokenBoundaries(line.trimEnd()).includes(column), `${cut.file}:${cut.line} at a token boundary`);
        assert.ok(lineStart >= 0);
      } else {
        assert.equal(column, indent, 'new lines: the cursor after the indentation');
        const above = f.text.split('\n').slice(0, cut.line).filter((l) => l.trim() !== '').pop()!.trimEnd();
        const opener = /[{([]$|=>$/.test(above) || (cut.languageId === 'python' && above.endsWith(':'));
        assert.equal(opener, cut.kind === 'after-opener', `${cut.file}:${cut.line} after "${above}"`);
      }
    }
    const kinds = new Set(cuts.map((c) => c.kind));
    assert.deepEqual([...kinds].sort(), ['after-opener', 'line-start', 'mid-line']);
    for (const kind of kinds) assert.ok(cuts.filter((c) => c.kind === kind).length >= 15, kind);
    // One line gives at most one cut.
    assert.equal(new Set(cuts.map((c) => `${c.file}:${c.line}`)).size, cuts.length);
  });

  it('a Python block opener is ":" and the first body line after it is an after-opener cut', () => {
    const { cuts } = sampleCuts([file('store.py', PY)], 100, 0);
    const bodies = ['data = f.read()', 'def __init__(self, root):', 'if key in self.items:', 'return self.items[key]', 'self.root = root', 'with open(path) as f:'];
    const openers = cuts.filter((c) => c.kind === 'after-opener').map((c) => c.expected);
    // Every line is cut once, in one of its kinds: some body lines went to mid-line cuts.
    assert.ok(openers.length >= 3);
    for (const o of openers) assert.ok(bodies.includes(o), o);
    assert.ok(!cuts.some((c) => c.kind === 'line-start' && bodies.includes(c.expected)));
    // The first line has nothing above it: never a new-line cut.
    assert.ok(!cuts.some((c) => c.line === 0 && c.kind !== 'mid-line'));
  });

  it('no file supplies more than max(3, 2N/files) cuts, and a big file does not take most of them', () => {
    const big = file('src/big.ts', syntheticSource(1, 200));
    const files = [big, ...sources(9)];
    const cap = perFileCap(30, 10);
    assert.equal(cap, 6);
    const { cuts, perFileCap: used } = sampleCuts(files, 30, 2);
    assert.equal(used, cap);
    assert.equal(cuts.length, 30);
    const perFile = new Map<string, number>();
    for (const c of cuts) perFile.set(c.file, (perFile.get(c.file) ?? 0) + 1);
    assert.ok(Math.max(...perFile.values()) <= 3, 'round-robin: 30 cuts over 10 files is 3 each');
    // Fewer files than cuts can fill: each file stops at the cap, so the sample is smaller than asked.
    const few = sampleCuts([big, ...sources(1)], 100, 2);
    assert.equal(perFileCap(100, 2), 100);
    assert.equal(few.cuts.filter((c) => c.file === 'src/big.ts').length, 100 - few.cuts.filter((c) => c.file !== 'src/big.ts').length);
    const three = sampleCuts([big, ...sources(2)], 1, 0);
    assert.equal(three.perFileCap, 3);
  });

  it('test files supply at most half the cuts while other files can supply the rest', () => {
    const tests = sources(12, 'test/mod').map((f) => file(f.path.replace(/\.ts$/, '.test.ts'), f.text));
    const files = [...tests, ...sources(8)];
    const { cuts } = sampleCuts(files, 30, 4);
    assert.equal(cuts.length, 30);
    assert.equal(cuts.filter((c) => c.isTest).length, 15);
    // Only test files: they supply everything.
    const only = sampleCuts(tests, 30, 4).cuts;
    assert.equal(only.length, 30);
    assert.ok(only.every((c) => c.isTest));
    // Other files too small for their half: test files make up the rest.
    const tiny = file('src/tiny.ts', 'export const a = 1;\nexport const b = 2;\n');
    const mixed = sampleCuts([...tests, tiny], 30, 4).cuts;
    assert.equal(mixed.length, 30);
    assert.equal(mixed.filter((c) => !c.isTest).length, 2, 'one cut per line of the tiny file');
  });

  it('draws only from code files', () => {
    const { cuts, files } = sampleCuts([file('README.md', '# Title\n\nSome prose here.\n'), file('data.json', '{\n  "a": 1\n}\n'), ...sources(2)], 20, 0);
    assert.equal(files, 2);
    assert.ok(cuts.every((c) => c.file.endsWith('.ts')));
  });

  it('token boundaries are where one token of the line ends, never inside a character', () => {
    const tokenizer = getTokenizer();
    const text = '    const total = items.map((x) => x.price);';
    const boundaries = tokenBoundaries(text);
    const pieces = tokenizer.encode(text).map((id) => tokenizer.decode([id]));
    let at = 0;
    assert.deepEqual(boundaries, pieces.slice(0, -1).map((p) => (at += p.length)));
    const accented = 'const é = "日本語";';
    for (const b of tokenBoundaries(accented)) assert.ok(!/[\uFFFD]/.test(accented.slice(0, b)) && b < accented.length);
  });

  it('recognises test paths by folder and name', () => {
    for (const p of ['test/a.ts', 'src/__tests__/b.js', 'a/b.spec.ts', 'pkg/test_util.py', 'pkg/util_test.py', 'tests/conftest.py', 'x/conftest.py']) assert.ok(isTestPath(p), p);
    for (const p of ['src/testing.ts', 'src/contest.py', 'src/latest/a.ts', 'lib/attest.js']) assert.ok(!isTestPath(p), p);
  });
});
