import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { bestBelowOf, CHOICE_FEATURES, chooseCandidate, choiceFeatures, evidenceOf, firstLine, mergeCandidates, readRule, scoreCandidates, usableRule, type ChoiceRule } from '../../../src/completion/context/candidateChoice';
import { DOCUMENT_LINE_WEIGHT, documentRepeats, inFileCopy, lineQuery, REPEATS_WINDOW, workspaceCandidates } from '../../../src/completion/context/workspaceCandidates';
import { documentView } from '../../../src/completion/context/documentEvidence';
import { ALIGN_ABOVE, ALIGN_BELOW, indexedLines, MAX_LINE, shapeKey, WorkspaceLines } from '../../../src/completion/context/workspaceLines';
import { chooseAmong, choiceInputs } from '../../../src/completion/engineCompletion';
import { postprocessContextAt } from '../../../src/completion/postprocess';
import type { EngineCandidate, EngineCompleteRequest } from '../../../src/completion/backend';
import { WorkspaceCache } from '../../../src/completion/context/workspaceCache';
import { getTokenizer } from '../../../src/engine/tokenizer';

describe('workspace lines', () => {
  const files = {
    a: 'import os\nimport sys\n\nimport os\nx = 1\n',
    b: '  import os\n  import re\nimport sys\n',
    c: 'import os\nimport sys\n',
  };
  const index = (): WorkspaceLines => {
    const lines = new WorkspaceLines();
    for (const [id, text] of Object.entries(files)) lines.setFile(id, text);
    return lines;
  };

  it('indexes trimmed non-blank lines; an over-long line breaks the chain of followers', () => {
    assert.deepEqual(indexedLines('  a\n\n\tb  \n'), ['a', 'b']);
    assert.deepEqual(indexedLines(`a\n${'x'.repeat(MAX_LINE + 1)}\nb`), ['a', '', 'b']);
    const lines = new WorkspaceLines();
    lines.setFile('f', `a\n${'x'.repeat(MAX_LINE + 1)}\nb`);
    assert.equal(lines.follow('a'), null);
  });

  it('completes with the most frequent line starting with what is typed, counts and share', () => {
    const m = index().complete('import ');
    assert.deepEqual(m, { line: 'import os', count: 4, total: 4 + 3 + 1, distinct: 3, context: 'typed', runnerUp: { line: 'import sys', count: 3 } });
    assert.equal(index().complete('import os'), null, 'a line that does not go on past what is typed is no completion');
    assert.equal(index().complete('zzz'), null);
  });

  it('at a line start: the line that most often follows the line above (blank lines skipped)', () => {
    const m = index().follow('import os');
    // a: os→sys, os(after blank)→x=1... blank lines are skipped: sys→os, os→x = 1; b: os→re; c: os→sys
    assert.equal(m?.line, 'import sys');
    assert.equal(m?.count, 2);
    assert.equal(m?.total, 4);
  });

  it('leaves one file out of a query, and counts extra lines with their weight', () => {
    const lines = index();
    assert.equal(lines.complete('import ', 'a')?.count, 2);
    assert.equal(lines.follow('import os', 'c')?.count, 1);
    const extra = [{ lines: ['import re', 'import re'], weight: 3 }];
    assert.deepEqual(lines.complete('import ', undefined, extra), { line: 'import re', count: 7, total: 14, distinct: 3, context: 'typed', runnerUp: { line: 'import os', count: 4 } });
    assert.equal(lines.follow('import re', undefined, extra)?.line, 'import re');
  });

  it('replacing and removing a file updates the counts', () => {
    const lines = index();
    lines.setFile('a', 'import json\n');
    assert.equal(lines.complete('import ')?.count, 2);
    assert.equal(lines.complete('import j')?.line, 'import json');
    lines.removeFile('a');
    lines.removeFile('b');
    lines.removeFile('c');
    assert.equal(lines.complete('import '), null);
    assert.equal(lines.follow('import os'), null);
    assert.equal(lines.fileCount, 0);
  });

  it('the workspace index keeps its lines with its tokens: set, replaced, removed', () => {
    const w = new WorkspaceCache(getTokenizer());
    w.setFile('/w/a.py', 'import numpy as np\n');
    assert.equal(w.lines.complete('import n')?.line, 'import numpy as np');
    w.setFile('/w/a.py', 'import pandas as pd\n');
    assert.equal(w.lines.complete('import n'), null);
    w.removeFile('/w/a.py');
    assert.equal(w.lines.complete('import p'), null);
  });

  it('at a line start the two lines above decide when they were seen together, else the line above alone', () => {
    const lines = new WorkspaceLines();
    lines.setFile('f', 'try:\n  a()\nexcept E:\n  pass\n');
    lines.setFile('g', 'try:\n  b()\nexcept E:\n  raise\n\nexcept E:\n  raise\n');
    assert.deepEqual(lines.follow('except E:', undefined, [], 'a()'), { line: 'pass', count: 1, total: 1, distinct: 1, context: 'two-lines' });
    assert.deepEqual(lines.follow('except E:', undefined, [], 'x()'), { line: 'raise', count: 2, total: 3, distinct: 2, context: 'line', runnerUp: { line: 'pass', count: 1 } });
    assert.equal(lines.follow('except E:', 'f', [], 'a()')?.context, 'line', 'the excluded file\'s two-line context is gone');
    assert.equal(lines.follow('except E:', undefined, [{ lines: ['y()', 'except E:', 'return'], weight: 4 }], 'y()')?.line, 'return');
    // Counts come and go with the files, down to nothing.
    lines.removeFile('f');
    lines.removeFile('g');
    assert.equal(lines.follow('except E:', undefined, [], 'a()'), null);
    assert.equal(lines.follow('try:'), null);
  });

  it('a line above never seen followed backs off to lines of its shape (first word, last character)', () => {
    const lines = new WorkspaceLines();
    lines.setFile('f', '/**\n * @see {@link map}\n */\n/**\n * @see {@link filter}\n */\n');
    assert.equal(shapeKey(' * @see {@link scan}'.trim()), shapeKey('* @see {@link map}'));
    assert.deepEqual(lines.follow('* @see {@link scan}'), { line: '*/', count: 2, total: 2, distinct: 1, context: 'shape' });
    assert.equal(lines.follow('* @see {@link map}')?.context, 'line', 'the line itself first');
    assert.equal(lines.follow('* @see {@link scan}', 'f'), null, 'the excluded file counts for no shape either');
    assert.notEqual(shapeKey('x'), 'x');
  });

  it('fill: the line seen between the lines above and below, else right before the line below', () => {
    const lines = new WorkspaceLines();
    lines.setFile('f', 'if a:\n  x = 1\nreturn x\n');
    lines.setFile('g', 'if b:\n  y = 2\nreturn x\nif a:\n  z = 3\nreturn x\n');
    assert.deepEqual(lines.fill('if b:', 'return x', ''), { line: 'y = 2', count: 1, total: 1, distinct: 1, context: 'between' });
    // Two lines seen between `if a:` and `return x`: counts, share, runner-up; what is typed filters.
    assert.deepEqual(lines.fill('if a:', 'return x', ''), { line: 'x = 1', count: 1, total: 2, distinct: 2, context: 'between', runnerUp: { line: 'z = 3', count: 1 } });
    assert.equal(lines.fill('if a:', 'return x', 'z')?.line, 'z = 3');
    assert.equal(lines.fill('if a:', 'return x', 'z = 3'), null, 'a line that does not go on past what is typed is no fill');
    // Never between these two: back off to the lines before `return x` (3 of them, each once).
    assert.deepEqual(lines.fill('else:', 'return x', 'y'), { line: 'y = 2', count: 1, total: 1, distinct: 1, context: 'before-next' });
    assert.equal(lines.fill(null, 'return x', '')?.context, 'before-next');
    assert.equal(lines.fill('if a:', 'never seen', ''), null);
    // The excluded file's triples are gone; a weighted extra run counts, with the line above when given.
    assert.equal(lines.fill('if a:', 'return x', '', 'g')?.line, 'x = 1');
    assert.equal(lines.fill('if a:', 'return x', '', 'f')?.line, 'z = 3');
    const extra = [{ lines: ['if a:', 'w = 4', 'return x'], weight: 4 }];
    assert.deepEqual(lines.fill('if a:', 'return x', '', undefined, extra), { line: 'w = 4', count: 4, total: 6, distinct: 3, context: 'between', runnerUp: { line: 'x = 1', count: 1 } });
    assert.equal(lines.fill(null, 'w = 4', '', undefined, extra)?.line, 'if a:', 'a run\'s first line has no line above');
    // A file's start is no line: nothing is before g's first line, and the back-off gives what is.
    assert.equal(lines.fill(null, 'if b:', ''), null);
    assert.deepEqual(lines.fill('return x', 'y = 2', ''), { line: 'if b:', count: 1, total: 1, distinct: 1, context: 'before-next' });
  });

  it('ties go to the line first in code-unit order', () => {
    const lines = new WorkspaceLines();
    lines.setFile('f', 'return b\nreturn a\n');
    assert.equal(lines.complete('return ')?.line, 'return a');
  });
});

describe('workspace candidates', () => {
  it('the query: what is typed without indentation, the line above, the document around the cursor line', () => {
    const q = lineQuery('def f():\n    x = 1\n\n    ret', 'urn x\n    y\n');
    assert.equal(q.typed, 'ret');
    assert.equal(q.previous, 'x = 1');
    assert.deepEqual(q.documentLines, [['def f():', 'x = 1'], ['y']]);
  });

  it('in-file copy: the nearest line above that starts the same; at a line start, what followed the line above before', () => {
    assert.equal(inFileCopy(lineQuery('a = f(1)\na = g(2)\na = ', '')), 'g(2)');
    assert.equal(inFileCopy(lineQuery('x = 1\ny = 2\n\nx = 1\n', '')), 'y = 2');
    assert.equal(inFileCopy(lineQuery('x = 1\n', '')), '');
  });

  it('lookup first (over the index but the document, plus the document), its runner-up, then the copy when it differs', () => {
    const lines = new WorkspaceLines();
    lines.setFile('/w/other.py', 'self.assertEqual(a, b)\nself.assertEqual(a, b)\n');
    lines.setFile('/w/doc.py', 'self.assertTrue(ok)\nself.assertTrue(ok)\nself.assertTrue(ok)\n');
    const c = workspaceCandidates('self.assertIn(k, d)\nself.assert', '', lines, '/w/doc.py', 1);
    assert.deepEqual(c.map((x) => [x.source, x.text]), [['lookup', 'Equal(a, b)'], ['runnerUp', 'In(k, d)']], 'the copy is the runner-up: offered once');
    const three = workspaceCandidates('self.assertIs(x)\nself.assertIn(k, d)\nself.assertIs(y)\nself.assert', '', lines, '/w/doc.py', 1);
    assert.deepEqual(three.map((x) => [x.source, x.text]), [['lookup', 'Equal(a, b)'], ['runnerUp', 'In(k, d)'], ['copy', 'Is(y)']], 'ties go to code-unit order');
    assert.equal(c[0].match?.count, 2);
    // By default a line of the live document counts DOCUMENT_LINE_WEIGHT (4) times: it wins, and the copy agrees.
    const local = workspaceCandidates('self.assertIn(k, d)\nself.assert', '', lines, '/w/doc.py');
    assert.deepEqual(local.map((x) => [x.source, x.text, x.match?.count]), [['lookup', 'In(k, d)', DOCUMENT_LINE_WEIGHT], ['runnerUp', 'Equal(a, b)', DOCUMENT_LINE_WEIGHT]]);
    assert.deepEqual(local[1].match?.runnerUp, { line: 'self.assertEqual(a, b)', count: 2 });
    // The line below the cursor: the line seen between it and the line above is offered as `fill`,
    // even when another source offers the same text (their agreement is evidence).
    const between = new WorkspaceLines();
    between.setFile('/w/a.py', 'def f():\n    x = load()\n    return x\n');
    const filled = workspaceCandidates('def f():\n    ', '\n    return x\n', between, '/w/doc.py');
    assert.deepEqual(filled.map((x) => [x.source, x.text, x.match?.context]), [['lookup', 'x = load()', 'line'], ['fill', 'x = load()', 'between'], ['aligned', 'x = load()', 'aligned']]);
    const typed = workspaceCandidates('def g():\n    x = ', '\n    return x\n', between, '/w/doc.py');
    assert.deepEqual(typed.map((x) => [x.source, x.text, x.match?.context]), [['lookup', 'load()', 'typed'], ['fill', 'load()', 'before-next']]);
    assert.equal(lineQuery('a\n', '\n\n  b\nc').next, 'b');
    assert.equal(lineQuery('a\n', '').next, null);
    // After the end of a block: the line seen next after the line that opened it (`sibling`), from
    // the workspace and from the document above the cursor.
    const blocks = new WorkspaceLines();
    blocks.setFile('/w/a.py', 'class A:\n    def start(self):\n        pass\n    def stop(self):\n        pass\n');
    const after = workspaceCandidates('class B:\n    def start(self):\n        self.t = now()\n    ', '\n', blocks, '/w/doc.py');
    assert.deepEqual(after.map((x) => [x.source, x.text, x.match?.context]), [['sibling', 'def stop(self):', 'sibling']]);
    assert.equal(lineQuery('class B:\n    def start(self):\n        x\n    de', '').sibling, 'def start(self):');
    const inDocument = workspaceCandidates('if a:\n    x()\nelse:\n    y()\nif a:\n    z()\n', '', undefined, undefined);
    assert.deepEqual(inDocument.find((x) => x.source === 'sibling')?.text, 'else:');
    // A parallel file: the line whose surroundings agree on two lines or more is offered as `aligned`
    // (here against the commonest follower of the line above); agreeing on the line above alone, not.
    const parallel = new WorkspaceLines();
    parallel.setFile('/w/v3/set.test.ts', 'test("small set", () => {\n  const r = check();\n  expect(r.ok).toBe(false);\n  expect(n).toBe(1);\n});\n');
    parallel.setFile('/w/v3/map.test.ts', 'test("a", () => {\n  const r = check();\n  expect(r.ok).toBe(false);\n  expect(n).toBe(2);\n});\ntest("b", () => {\n  const r = check();\n  expect(r.ok).toBe(false);\n  expect(n).toBe(2);\n});\n');
    const aligned = workspaceCandidates('test("small set", () => {\n  const r = check();\n  expect(r.ok).toBe(false);\n  ', '\n});\n', parallel, '/w/v4/set.test.ts');
    assert.deepEqual(aligned.filter((x) => x.source !== 'runnerUp').map((x) => [x.source, x.text, x.match?.agreement]), [['lookup', 'expect(n).toBe(2);', undefined], ['fill', 'expect(n).toBe(2);', undefined], ['aligned', 'expect(n).toBe(1);', 4]]);
    const once = workspaceCandidates('test("new", () => {\n  expect(r.ok).toBe(false);\n  ', '\nfoo();\n', parallel, '/w/v4/set.test.ts');
    assert.equal(once.find((x) => x.source === 'aligned'), undefined);
    // Without an index the document's own lines still give both.
    const alone = workspaceCandidates('f(1)\nf(1)\nf', '', undefined, undefined);
    assert.deepEqual(alone.map((x) => [x.source, x.text]), [['lookup', '(1)']]);
  });
});

describe('how much a document repeats the workspace', () => {
  const lines = new WorkspaceLines();
  lines.setFile('/w/en.ts', 'const messages = {\n  required: "Required",\n  tooSmall: "Too small",\n};\n');
  lines.setFile('/w/doc.ts', 'const messages = {\n  required: "Nötig",\n  tooSmall: "Zu klein",\n  tooBig: "Zu groß",\n};\n');

  // As the pipeline reads the lines above: the document view's (trimmed, nearest last, the cursor's line left out).
  const above = (textBeforeCursor: string) => documentView(textBeforeCursor, '').above;

  it('the share of the lines above (6 characters or more) that another file has, the document\'s own copy left out', () => {
    const before = 'const messages = {\n  required: "Nötig",\n  tooSmall: "Too small",\n  tooBig: "Zu groß",\n}\n  ';
    // Four long lines above the cursor's line (`}` is too short to say anything): two are in en.ts.
    assert.equal(documentRepeats(above(before), lines, '/w/doc.ts'), 2 / 4);
    // Without leaving the document's stale copy out, its own lines count as repeated.
    assert.equal(documentRepeats(above(before), lines, undefined), 4 / 4);
  });

  it('reads only the last REPEATS_WINDOW lines, and is unknown with fewer than four lines or no index', () => {
    const unique = Array.from({ length: REPEATS_WINDOW }, (_, i) => `  unique_${i} = ${i}`).join('\n');
    assert.equal(documentRepeats(above(`const messages = {\n${unique}\n`), lines, '/w/doc.ts'), 0);
    assert.equal(documentRepeats(above('const messages = {\n  required: "Required",\nx'), lines, '/w/doc.ts'), undefined);
    assert.equal(documentRepeats(above('a\nb\nc\nd\ne\n'), lines, '/w/doc.ts'), undefined, 'short lines only');
    assert.equal(documentRepeats(above(`${unique}\n`), undefined, undefined), undefined);
  });

  it('is the choice rule\'s document_repeats input (repeats_unknown when there is none)', () => {
    const c = { text: 'x', fromModel: true, fromLookup: false, fromRunnerUp: false, fromCopy: false, fromFill: false, fromSibling: false, fromAligned: false };
    const at = (repeats?: number) => {
      const x = choiceFeatures(c, { lineStart: true, modelText: 'x', repeats });
      return [x[CHOICE_FEATURES.indexOf('document_repeats')], x[CHOICE_FEATURES.indexOf('repeats_unknown')]];
    };
    assert.deepEqual(at(0.75), [0.75, 0]);
    assert.deepEqual(at(undefined), [0, 1]);
  });
});

describe('candidate choice', () => {
  const rule: ChoiceRule = {
    features: [...CHOICE_FEATURES],
    // Trust the lookup by its share, the model by its least log-probability.
    weight: CHOICE_FEATURES.map((f) => (f === 'lookup_share' ? 4 : f === 'model_min_logprob' ? 1 : f === 'from_model' ? 0.5 : 0)),
    bias: -1,
  };

  it('merges sources that agree on the cursor line, the model first', () => {
    const m = mergeCandidates({ model: { text: 'foo()\n  bar' }, lookup: { text: 'foo()' }, runnerUp: { text: 'baz()  ' }, copy: { text: 'baz()' } });
    assert.deepEqual(m, [
      { text: 'foo()\n  bar', fromModel: true, fromLookup: true, fromRunnerUp: false, fromCopy: false, fromFill: false, fromSibling: false, fromAligned: false },
      { text: 'baz()  ', fromModel: false, fromLookup: false, fromRunnerUp: true, fromCopy: true, fromFill: false, fromSibling: false, fromAligned: false },
    ]);
    assert.deepEqual(mergeCandidates({ model: { text: '' }, copy: { text: 'x' } }).map((c) => c.text), ['x']);
    assert.equal(firstLine('a  \nb'), 'a');
  });

  it('features follow CHOICE_FEATURES and vanish for sources that did not offer the text', () => {
    const ctx = { lineStart: true, modelText: 'm', modelLogprobs: { mean: -1, min: -20 }, lookup: { line: 'l', count: 3, total: 4, distinct: 2, context: 'line' as const } };
    const x = choiceFeatures({ text: 'l', fromModel: false, fromLookup: true, fromRunnerUp: false, fromCopy: false, fromFill: false, fromSibling: false, fromAligned: false }, ctx);
    assert.equal(x.length, CHOICE_FEATURES.length);
    const f = (name: string) => x[CHOICE_FEATURES.indexOf(name as (typeof CHOICE_FEATURES)[number])];
    assert.equal(f('model_min_logprob'), 0);
    assert.equal(f('lookup_share'), 0.75);
    assert.equal(f('model_differs'), 1);
    assert.equal(f('line_start_lookup'), 1);
    const xm = choiceFeatures({ text: 'm', fromModel: true, fromLookup: false, fromRunnerUp: false, fromCopy: false, fromFill: false, fromSibling: false, fromAligned: false }, ctx);
    assert.equal(xm[CHOICE_FEATURES.indexOf('model_min_logprob')], -10, 'clamped as the head clamps');
    assert.equal(xm[CHOICE_FEATURES.indexOf('lookup_share')], 0);
    const withSecond = { ...ctx, lookup: { ...ctx.lookup, runnerUp: { line: 'l2', count: 1 } } };
    const xr = choiceFeatures({ text: 'l2', fromModel: true, fromLookup: false, fromRunnerUp: true, fromCopy: false, fromFill: false, fromSibling: false, fromAligned: false }, withSecond);
    assert.deepEqual(['from_runner_up', 'runner_up_share', 'model_and_runner_up', 'from_lookup'].map((n) => xr[CHOICE_FEATURES.indexOf(n as (typeof CHOICE_FEATURES)[number])]), [1, 0.25, 1, 0]);
  });

  it('fill features: offered, share, count, between or before the next line, agreeing with the model and the lookup', () => {
    const fill = { line: 'x = 1', count: 3, total: 4, distinct: 2, context: 'between' as const };
    const ctx = { lineStart: true, modelText: 'x = 1', lookup: { line: 'x = 1', count: 1, total: 2, distinct: 2, context: 'line' as const }, fill };
    const [c] = mergeCandidates({ model: { text: 'x = 1' }, lookup: { text: 'x = 1' }, fill: { text: 'x = 1' } });
    assert.equal(c.fromFill, true);
    const x = choiceFeatures(c, ctx);
    const f = (name: string) => x[CHOICE_FEATURES.indexOf(name as (typeof CHOICE_FEATURES)[number])];
    assert.deepEqual(['from_fill', 'fill_share', 'fill_log_count', 'fill_between', 'model_and_fill', 'lookup_and_fill'].map(f), [1, 0.75, Math.log1p(3), 1, 1, 1]);
    const other = choiceFeatures(mergeCandidates({ model: { text: 'y' }, fill: { text: 'x = 1' } })[1], { ...ctx, fill: { ...fill, context: 'before-next' as const } });
    assert.deepEqual(['from_fill', 'fill_between', 'model_and_fill', 'lookup_and_fill'].map((n) => other[CHOICE_FEATURES.indexOf(n as (typeof CHOICE_FEATURES)[number])]), [1, 0, 0, 0]);
  });

  it('sibling features: offered, share, count, agreeing with the model, the lookup and the fill', () => {
    const sibling = { line: '}', count: 2, total: 4, distinct: 2, context: 'sibling' as const };
    const fill = { line: '}', count: 1, total: 1, distinct: 1, context: 'between' as const };
    const [c, d] = mergeCandidates({ model: { text: '}' }, fill: { text: '}' }, sibling: { text: '}' }, copy: { text: 'x' } });
    assert.equal(c.fromSibling, true);
    assert.equal(d.fromSibling, false);
    const f = (x: number[]) => ['from_sibling', 'sibling_share', 'sibling_log_count', 'model_and_sibling', 'lookup_and_sibling', 'fill_and_sibling'].map((n) => x[CHOICE_FEATURES.indexOf(n as (typeof CHOICE_FEATURES)[number])]);
    assert.deepEqual(f(choiceFeatures(c, { lineStart: true, modelText: '}', sibling, fill })), [1, 0.5, Math.log1p(2), 1, 0, 1]);
    assert.deepEqual(f(choiceFeatures(d, { lineStart: true, modelText: '}', sibling, fill })), [0, 0, 0, 0, 0, 0]);
  });

  it('aligned features: offered, agreement beyond the line above, share, agreeing with the model, the lookup and the fill', () => {
    const aligned = { line: 'x = 1', count: 1, total: 4, distinct: 3, context: 'aligned' as const, agreement: 1 + (ALIGN_ABOVE + ALIGN_BELOW - 1) / 2 };
    const [c, d] = mergeCandidates({ model: { text: 'x = 1' }, copy: { text: 'y' }, aligned: { text: 'x = 1' } });
    assert.equal(c.fromAligned, true);
    assert.equal(d.fromAligned, false);
    const f = (x: number[]) => ['from_aligned', 'aligned_agreement', 'aligned_share', 'model_and_aligned', 'lookup_and_aligned', 'fill_and_aligned'].map((n) => x[CHOICE_FEATURES.indexOf(n as (typeof CHOICE_FEATURES)[number])]);
    assert.deepEqual(f(choiceFeatures(c, { lineStart: true, modelText: 'x = 1', aligned })), [1, 0.5, 0.25, 1, 0, 0]);
    assert.deepEqual(f(choiceFeatures(d, { lineStart: true, modelText: 'x = 1', aligned })), [0, 0, 0, 0, 0, 0]);
    assert.deepEqual(f(choiceFeatures(c, { lineStart: true, modelText: 'x = 1' })), [0, 0, 0, 0, 0, 0], 'no match: nothing');
  });

  it("each candidate carries its first source's evidence: log P mean, least and first, and the head's logit", () => {
    assert.deepEqual(evidenceOf([-1, -30, -2], 0.8), { mean: -13 / 3, min: -10, first: -1, head: 0.8 });
    assert.equal(evidenceOf([]), undefined);
    const model = evidenceOf([-0.5], 0.9)!, lookup = evidenceOf([-2, -4], 0.2)!;
    const m = mergeCandidates({ model: { text: 'foo()', evidence: model }, lookup: { text: 'foo()', evidence: lookup }, copy: { text: 'bar()' } });
    assert.deepEqual(m.map((c) => c.evidence), [model, undefined], "the model's text keeps the model's; the copy was not scored");
    const ctx = { lineStart: false, modelText: 'foo()' };
    const f = (x: number[], name: string) => x[CHOICE_FEATURES.indexOf(name as (typeof CHOICE_FEATURES)[number])];
    const x = choiceFeatures(m[0], ctx);
    assert.equal(f(x, 'scored'), 1);
    assert.equal(f(x, 'logprob_first'), -0.5);
    assert.ok(Math.abs(f(x, 'head_logit') - Math.log(9) / 4) < 1e-9);
    const unscored = choiceFeatures(m[1], ctx);
    assert.deepEqual(['scored', 'logprob_mean', 'logprob_min', 'logprob_first', 'head_logit'].map((n) => f(unscored, n)), [0, 0, 0, 0, 0]);
  });

  it('the line below: read or not, its log P, and how far below the best candidate\'s', () => {
    const m = mergeCandidates({
      model: { text: 'a', evidence: evidenceOf([-1], 0.5, -3) }, lookup: { text: 'b', evidence: evidenceOf([-2], 0.5, -1.5) }, copy: { text: 'c' },
    });
    assert.equal(bestBelowOf(m), -1.5);
    assert.equal(bestBelowOf([m[2]]), undefined);
    const ctx = { lineStart: false, modelText: 'a' };
    const below = (i: number) => ['below_scored', 'below_logprob', 'below_margin'].map((n) => choiceFeatures(m[i], ctx, bestBelowOf(m))[CHOICE_FEATURES.indexOf(n as (typeof CHOICE_FEATURES)[number])]);
    assert.deepEqual(below(0), [1, -3, -1.5]);
    assert.deepEqual(below(1), [1, -1.5, 0]);
    assert.deepEqual(below(2), [0, 0, 0], 'not read');
    // scoreCandidates compares each with the best itself: a rule on the margin prefers the lookup.
    const onMargin: ChoiceRule = { features: [...CHOICE_FEATURES], weight: CHOICE_FEATURES.map((f) => (f === 'below_margin' ? 2 : 0)), bias: 0 };
    assert.equal(chooseCandidate(scoreCandidates(onMargin, m.slice(0, 2), ctx)), 1);
  });

  it('picks the most probable candidate; a tie keeps the earlier (the model)', () => {
    const ctx = { lineStart: false, modelText: 'm', modelLogprobs: { mean: -3, min: -6 }, lookup: { line: 'l', count: 9, total: 10, distinct: 2, context: 'line' as const } };
    const cands = mergeCandidates({ model: { text: 'm' }, lookup: { text: 'l' } });
    const p = scoreCandidates(rule, cands, ctx);
    assert.ok(p[1] > p[0]);
    assert.equal(chooseCandidate(p), 1);
    assert.equal(chooseCandidate([0.5, 0.5]), 0);
    assert.equal(chooseCandidate([]), -1);
  });

  it('a rule with a hidden layer adds each tanh unit to the logit; a malformed layer makes the rule unusable', () => {
    const ctx = { lineStart: false, modelText: 'm', modelLogprobs: { mean: -3, min: -6 } };
    const [c] = mergeCandidates({ model: { text: 'm' } });
    const x = choiceFeatures(c, ctx);
    const E = CHOICE_FEATURES.length;
    // Two units: one reads from_model (1 here), the other nothing but its bias.
    const weight = new Array<number>(2 * E).fill(0);
    weight[CHOICE_FEATURES.indexOf('from_model')] = 0.5;
    const hidden = { weight, bias: [0.25, -1], out: [2, 3] };
    const withHidden: ChoiceRule = { features: [...CHOICE_FEATURES], weight: CHOICE_FEATURES.map(() => 0), bias: 0.1, hidden };
    const z = 0.1 + 2 * Math.tanh(0.25 + 0.5 * x[CHOICE_FEATURES.indexOf('from_model')]) + 3 * Math.tanh(-1);
    assert.ok(Math.abs(scoreCandidates(withHidden, [c], ctx)[0] - 1 / (1 + Math.exp(-z))) < 1e-12);
    assert.equal(usableRule(withHidden), true);
    assert.equal(usableRule({ ...withHidden, hidden: { ...hidden, weight: weight.slice(1) } }), false, 'weights for other inputs');
    assert.equal(usableRule({ ...withHidden, hidden: { ...hidden, bias: [0.25] } }), false, 'a bias missing');
    assert.equal(usableRule({ ...withHidden, hidden: { ...hidden, out: [2, NaN] } }), false);
  });

  it('a stored rule is used only when its features are this build\'s', () => {
    assert.equal(usableRule(rule), true);
    assert.equal(usableRule({ ...rule, features: ['x'] }), false);
    assert.equal(usableRule({ ...rule, weight: rule.weight.map(() => NaN) }), false);
    assert.equal(usableRule(undefined), false);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rule-'));
    try {
      assert.equal(readRule(dir), undefined, 'no head.json');
      fs.writeFileSync(path.join(dir, 'head.json'), JSON.stringify({ format: 'x', candidates: rule }));
      assert.deepEqual(readRule(dir), rule);
      fs.writeFileSync(path.join(dir, 'head.json'), JSON.stringify({ candidates: { ...rule, features: ['x'] } }));
      assert.equal(readRule(dir), undefined, 'a rule of other inputs');
      fs.writeFileSync(path.join(dir, 'head.json'), '{ broken');
      assert.equal(readRule(dir), undefined);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('engine side: the chosen workspace line replaces an automatic suggestion, with its P as confidence', () => {
    const text = 'x = 1\nself.assert';
    const req = { n: 1, textBeforeCursor: text, textAfterCursor: '', postprocess: postprocessContextAt(text, text.length, 'python', '    ') } as EngineCompleteRequest;
    const lookup = { line: 'self.assertEqual(a, b)', count: 9, total: 10, distinct: 2, context: 'typed' as const };
    const offered = [{ source: 'lookup' as const, text: 'Equal(a, b)', match: lookup }];
    const candidates: EngineCandidate[] = [{ text: 'Foo(', tokenCount: 2, finishReason: 'stop', confidence: 0.9 }];
    chooseAmong(candidates, rule, choiceInputs(offered, 'Foo(', [-3, -6, 0, 0], req), req, (t) => t.length);
    assert.equal(candidates.length, 1);
    assert.equal(candidates[0].text, 'Equal(a, b)');
    assert.equal(candidates[0].origin, 'lookup');
    assert.ok(Math.abs(candidates[0].confidence! - 1 / (1 + Math.exp(-(4 * 0.9 - 1)))) < 1e-9);
    // The model's suggestion when it is the more probable: kept, with the rule's P.
    const sure: EngineCandidate[] = [{ text: 'Foo(', tokenCount: 2, finishReason: 'stop', confidence: 0.1 }];
    chooseAmong(sure, rule, choiceInputs([{ source: 'lookup', text: 'Equal(a, b)', match: { ...lookup, count: 1 } }], 'Foo(', [0, 0, 0, 0], req), req, (t) => t.length);
    assert.equal(sure[0].text, 'Foo(');
    assert.equal(sure[0].origin, undefined, "the model's own");
    assert.ok(Math.abs(sure[0].confidence! - 1 / (1 + Math.exp(0.5))) < 1e-9);
    // The model offered nothing (dropped by post-processing): the workspace's line is the answer.
    const none: typeof candidates = [];
    chooseAmong(none, rule, choiceInputs(offered, '', undefined, req), req, (t) => t.length);
    assert.deepEqual(none.map((c) => c.text), ['Equal(a, b)']);
    // Nothing from either side: nothing changes.
    const empty: typeof candidates = [];
    chooseAmong(empty, rule, choiceInputs([], '', undefined, req), req, (t) => t.length);
    assert.deepEqual(empty, []);
    // An explicit request keeps the model's samples and adds the workspace's after them.
    const manual: EngineCandidate[] = [{ text: 'Foo(', tokenCount: 2, finishReason: 'stop' }];
    chooseAmong(manual, rule, choiceInputs(offered, 'Foo(', undefined, { ...req, n: 3 }), { ...req, n: 3 }, (t) => t.length);
    assert.deepEqual(manual.map((c) => [c.text, c.origin]), [['Foo(', undefined], ['Equal(a, b)', 'lookup']]);
  });
});
