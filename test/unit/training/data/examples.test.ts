import { strict as assert } from 'node:assert';
import { Rng } from '../../../../src/engine/random';
import { getTokenizer } from '../../../../src/engine/tokenizer';
import {
  Example,
  FileText,
  cutCandidates,
  examplesWanted,
  mineFileExamples,
  normalizeLineBreaks,
} from '../../../../src/training/data/examples';
import { syntheticSource } from './fixtures';

const tok = getTokenizer();

/** The properties every mined example must have, whatever the options. */
function checkExample(e: Example, text: string, contextTokens: number, continuationTokens: number): void {
  assert.ok(e.context.length > 0 && e.cut >= e.context.length);
  assert.equal(text.slice(e.cut - e.context.length, e.cut), e.context, 'context ends exactly at the cut');
  assert.ok(text.startsWith(e.continuation, e.cut), 'continuation starts at the cut');
  assert.equal(text.indexOf(e.context + e.continuation, e.cut - e.context.length), e.cut - e.context.length);
  assert.deepEqual(e.contextIds, tok.encode(e.context), 'contextIds = encode(context)');
  assert.deepEqual(e.continuationIds, tok.encode(e.continuation), 'continuationIds = encode(continuation)');
  assert.ok(e.contextIds.length <= contextTokens, `context ${e.contextIds.length} > ${contextTokens}`);
  assert.ok(e.continuationIds.length <= continuationTokens, `continuation ${e.continuationIds.length} > ${continuationTokens}`);
  assert.ok(e.continuationIds.length > 0 && e.continuation.trim() !== '', 'continuation is not blank');
}

describe('training data: mining examples', () => {
  const text = syntheticSource(11, 40); // ~9 KB, ~3,000 tokens

  it('cuts at line starts (after the indentation) and mid-line after identifiers and punctuation', () => {
    const sample = 'const a = foo.bar(x, y);\n  return a;\n\nz';
    const { lineStarts, midLine } = cutCandidates(sample);
    assert.deepEqual(lineStarts.map((c) => sample.slice(c, c + 6)), ['return', 'z']);
    const prefixes = midLine.map((c) => sample.slice(sample.lastIndexOf('\n', c - 1) + 1, c));
    for (const p of ['const', 'const ', 'const a', 'const a =', 'const a = ', 'const a = foo', 'const a = foo.', 'const a = foo.bar(', 'const a = foo.bar(x', 'const a = foo.bar(x,', '  return', '  return a']) {
      assert.ok(prefixes.includes(p), `missing cut after ${JSON.stringify(p)}`);
    }
    assert.ok(!prefixes.includes('const a = foo.bar(x, y);'), 'nothing left to type there');
    assert.ok(!prefixes.includes('co') && !prefixes.includes(' ') && !prefixes.includes('  '), 'not inside a word or the indentation');
  });

  it('marks block starts: the first line after one ending with an opener, as the editor meets them', () => {
    const sample = 'function f(a) {\n  const b = [\n    1,\n  ];\n\n  if (a) {\n\n    return b;\n  }\n}\nclass A:\n    x = g(\n        1)\n';
    const { blockStarts, lineStarts } = cutCandidates(sample);
    const at = (cuts: number[]) => cuts.map((c) => sample.slice(c, sample.indexOf('\n', c)));
    assert.deepEqual(at(blockStarts), ['const b = [', '1,', 'return b;', 'x = g(', '1)']);
    for (const c of blockStarts) assert.ok(lineStarts.includes(c));
    // Mined: about a third mid-line, a third at block starts, a third at other line starts.
    const code = Array.from({ length: 60 }, (_, i) => `function f${i}(a) {\n  const x${i} = a + ${i};\n  return x${i} * 2;\n}\n`).join('\n');
    const examples = mineFileExamples('b.ts', code, 150, new Rng(4));
    const blocks = new Set(cutCandidates(code).blockStarts);
    const kinds = { block: 0, line: 0, mid: 0 };
    for (const e of examples) kinds[blocks.has(e.cut) ? 'block' : /\n[ \t]*$/.test(e.context) ? 'line' : 'mid']++;
    for (const [kind, n] of Object.entries(kinds)) assert.ok(n > examples.length * 0.2 && n < examples.length * 0.46, `${kind}: ${n} of ${examples.length}`);
  });

  it('mines examples with the promised properties (defaults)', () => {
    const examples = mineFileExamples('m.ts', text, 60, new Rng(1));
    assert.ok(examples.length >= 50, `only ${examples.length} examples`);
    for (const e of examples) checkExample(e, text, 256, 64);
    const cuts = examples.map((e) => e.cut);
    assert.deepEqual(cuts, [...cuts].sort((a, b) => a - b));
    assert.equal(new Set(cuts).size, cuts.length, 'distinct cuts');
    // Both kinds of cut, single lines and multi-line continuations, and full-size contexts.
    const atLineStart = examples.filter((e) => /\n[ \t]*$/.test(e.context)).length;
    assert.ok(atLineStart > 10 && atLineStart < examples.length - 10, `${atLineStart} line-start cuts`);
    const multiLine = examples.filter((e) => e.continuation.replace(/\n$/, '').includes('\n')).length;
    assert.ok(multiLine > 3 && multiLine < examples.length / 2, `${multiLine} multi-line continuations`);
    assert.ok(examples.filter((e) => e.contextIds.length > 200).length > examples.length / 2);
  });

  it('respects small caps on both sides', () => {
    const examples = mineFileExamples('m.ts', text, 40, new Rng(2), { contextTokens: 24, continuationTokens: 3, moreLinesProbability: 1 });
    assert.ok(examples.length >= 30);
    for (const e of examples) checkExample(e, text, 24, 3);
  });

  it('takes as many whole lines of context as fit (like the completion prompt)', () => {
    const file = new FileText(text);
    for (const e of mineFileExamples('m.ts', file, 40, new Rng(3), { contextTokens: 64 })) {
      const start = e.cut - e.context.length;
      const line = file.lineOf(start);
      if (file.lineStarts[line] !== start) continue; // a cut line longer than the budget
      if (line > 0) assert.ok(tok.encode(text.slice(file.lineStarts[line - 1], e.cut)).length > 64, 'one more line would not fit');
    }
  });

  it('falls back to the tail of a line too long for the context budget', () => {
    const long = `values = [${'12, '.repeat(200)}]\nfoo()\n  bar(values)\n`;
    const file = new FileText(long);
    const atFoo = long.indexOf('foo()');
    const start = file.contextStart(atFoo, 32);
    assert.ok(start > 0 && start < atFoo, 'a tail of the long line');
    assert.ok(tok.encode(long.slice(start, atFoo)).length <= 32);
    assert.ok(tok.encode(long.slice(start - 8, atFoo)).length > 32, 'and about the longest that fits');
    const inBar = long.indexOf('(values)') + 1;
    assert.equal(file.contextStart(inBar, 32), long.indexOf('foo()'), 'whole lines when they fit');
    const midLong = long.indexOf('12, 12') + 200;
    const tail = file.contextStart(midLong, 16);
    assert.ok(tail > 0 && tok.encode(long.slice(tail, midLong)).length <= 16);
  });

  it('is deterministic by seed', () => {
    const a = mineFileExamples('m.ts', text, 30, new Rng(7));
    const b = mineFileExamples('m.ts', text, 30, new Rng(7));
    const c = mineFileExamples('m.ts', text, 30, new Rng(8));
    assert.deepEqual(a, b);
    assert.notDeepEqual(a.map((e) => e.cut), c.map((e) => e.cut));
  });

  it('handles CRLF files (normalized), a file without a final newline, one-line files and non-ASCII text', () => {
    const crlf = normalizeLineBreaks('let a = 1;\r\nlet b = a + 1;\r\nprint(b)');
    assert.ok(!crlf.includes('\r'));
    for (const e of mineFileExamples('c.ts', crlf, 10, new Rng(4))) checkExample(e, crlf, 256, 64);
    const unicode = 'const naïve = "日本語のテキスト 😀";\nconst café = naïve + "ü";\n'.repeat(20);
    for (const e of mineFileExamples('u.ts', unicode, 20, new Rng(5), { contextTokens: 7, continuationTokens: 5 })) {
      checkExample(e, unicode, 7, 5);
    }
    assert.deepEqual(mineFileExamples('x', 'x', 5, new Rng(6)), []); // nothing before any cut
  });

  it('asks for examples in proportion to the file size, at least one, capped', () => {
    assert.equal(examplesWanted(10), 1);
    assert.equal(examplesWanted(1280), 10);
    assert.equal(examplesWanted(1_000_000), 256);
    assert.equal(examplesWanted(1280, { contextTokens: 64 }), 40);
    assert.equal(examplesWanted(1_000_000, { maxExamplesPerFile: 12 }), 12);
  });

  it('counts the file tokens exactly', () => {
    assert.equal(new FileText(text).tokenCount, tok.encode(text).length);
  });
});
