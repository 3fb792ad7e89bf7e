import assert from 'node:assert/strict';
import { BLOCK_FEATURES, blockFeatures, BRACKET_FEATURES, bracketFeatures, DOCUMENT_ALIGNMENT_FEATURES, documentAlignmentFeatures, DOCUMENT_FEATURES, DOCUMENT_WINDOW, documentFeatures, documentView } from '../../../src/completion/context/documentEvidence';
import { ALIGN_ABOVE, ALIGN_BELOW } from '../../../src/completion/context/workspaceLines';
import { cursorLine } from '../../../src/completion/context/cursorLine';
import { lineQuery } from '../../../src/completion/context/workspaceCandidates';

describe('document evidence for the choice rule', () => {
  const before = 'import { parseConfig } from "./config";\nconst cfg = parseConfig(raw);\n\nlog(cfg);\n  if (cfg';
  const after = '.debug) x;\nexport function render(cfg: Config) {}\n';
  const view = documentView(before, after);

  it('documentView: names around the cursor but on its line, the lines above and below, what is typed', () => {
    assert.ok(view.names.has('parseConfig') && view.names.has('render') && view.names.has('Config'));
    assert.ok(!view.names.has('debug'), "the rest of the cursor's line is not the document's");
    assert.ok(!view.names.has('if'), 'names shorter than three characters say nothing');
    assert.deepEqual(view.above, ['import { parseConfig } from "./config";', 'const cfg = parseConfig(raw);', '', 'log(cfg);']);
    assert.deepEqual(view.below, ['export function render(cfg: Config) {}', '']);
    assert.equal(view.typed, 'if (cfg');
    assert.equal(view.indent, 2);
  });

  it('cursorLine: the line being typed, its start and indentation, as lineQuery reads it too', () => {
    assert.deepEqual(cursorLine('a\n\t  foo('), { start: 2, typed: 'foo(', indent: 3 });
    assert.deepEqual(cursorLine('a\n    '), { start: 2, typed: '', indent: 4 });
    assert.deepEqual(cursorLine('x = 1'), { start: 0, typed: 'x = 1', indent: 0 });
    assert.equal(lineQuery('a\n\t  foo(', '').typed, 'foo(');
  });

  it('documentFeatures: the share of known names, the unknown ones, and copies of the whole line above and below', () => {
    const at = (text: string) => Object.fromEntries(DOCUMENT_FEATURES.map((f, i) => [f, documentFeatures(view, text)[i]]));
    const known = at(' && parseConfig) render(cfg);');
    assert.equal(known.known_names, 1);
    assert.equal(known.unknown_names_log, 0);
    const strange = at(' && sizing) getSizing(origin);');
    assert.equal(strange.known_names, 0);
    assert.ok(Math.abs(strange.unknown_names_log - Math.log1p(3)) < 1e-12);
    assert.equal(at(') {').no_names, 1);
    assert.equal(at(') {').known_names, 1, 'no names: nothing unknown');
    // The whole line is what is typed plus the candidate's first line.
    const v2 = documentView('a();\nlog(cfg);\nb();\n', '\nlog(cfg);\n');
    const copy = Object.fromEntries(DOCUMENT_FEATURES.map((f, i) => [f, documentFeatures(v2, 'log(cfg);\nmore')[i]]));
    assert.ok(Math.abs(copy.copies_above_log - Math.log(2)) < 1e-12);
    assert.ok(Math.abs(copy.copies_below_log - Math.log(2)) < 1e-12);
    assert.equal(copy.copy_nearness, 1 / (1 + 1), 'the nearest copy is one line further up');
    assert.equal(documentFeatures(v2, 'other();')[5], 0, 'no copy above');
  });

  it('blockFeatures: the indentation of the line below against a line that opens or closes a block', () => {
    const at = (before: string, after: string, text: string) => {
      const x = blockFeatures(documentView(before, after), text);
      return BLOCK_FEATURES.filter((_, i) => x[i] === 1);
    };
    assert.equal(view.indent, 2);
    assert.equal(view.belowIndent, 0);
    // The cursor at `    ` with a deeper line below: a block opener fits, a statement does not.
    assert.deepEqual(at('def f():\n    ', '\n        return 1\n', 'if x:'), ['below_deeper', 'opens_block']);
    assert.deepEqual(at('def f():\n    ', '\n        return 1\n', 'x = 1'), ['below_deeper', 'open_mismatch']);
    assert.deepEqual(at('    f(\n        a,\n    ', '\n\nx = 1\n', ')'), ['below_shallower', 'closes_block']);
    assert.deepEqual(at('  items.map((x) ', '\n    x + 1\n', '=> {\nmore'), ['below_deeper', 'opens_block'], 'what is typed and the first line of the candidate');
    assert.deepEqual(at('a\n', '', 'if x:'), ['opens_block'], 'no line below: no mismatch either');
  });

  it('bracketFeatures: the brackets open at the cursor against what the candidate closes or opens', () => {
    const at = (before: string, text: string, languageId?: string) =>
      Object.fromEntries(BRACKET_FEATURES.map((f, i) => [f, bracketFeatures(documentView(before, '\n', languageId), text)[i]]));
    const call = '    parser.add_argument(\n        "path",  # (\n        ';
    assert.deepEqual(at(call, ')', 'python'), { brackets_open: Math.log1p(1), brackets_closed: Math.log1p(1), brackets_opened: 0, brackets_unopened: 0, brackets_mismatched: 0 });
    assert.equal(at(call, '"-i",', 'python').brackets_closed, 0);
    assert.equal(at(call, ']', 'python').brackets_mismatched, 1);
    assert.equal(at('x = 1\n', ')', 'python').brackets_unopened, 1);
    assert.equal(at('test("a", () => {\n  f(', 'x, [1, 2], {').brackets_opened, Math.log1p(1), 'what is typed counts: f( is open before the candidate');
    assert.equal(at('test("a", () => {\n  ', '});').brackets_closed, Math.log1p(2));
  });

  it('documentAlignmentFeatures: the document has the line where the lines around it agree with the cursor\'s', () => {
    assert.deepEqual([...DOCUMENT_ALIGNMENT_FEATURES], ['document_aligned', 'document_agreement']);
    const table = (name: string, unit: string) => `${name}: {\n  string: { unit: "${unit}" },\n  file: { unit: "bytes" },\n\n  array: { unit: "items" },\n},\n`;
    // The first table above; the cursor in the second, after `string`, with `array` and the closer below.
    const doc = documentView(table('sizable', 'chars') + 'other: {\n  string: { unit: "chars" },\n  ', '\n  array: { unit: "items" },\n},\n');
    const n = ALIGN_ABOVE + ALIGN_BELOW;
    // `file` agrees on the line above (`string`) and the two below (`array`, `}`, blank lines skipped).
    assert.deepEqual(documentAlignmentFeatures(doc, 'file: { unit: "bytes" },'), [1, 3 / n]);
    // A line the document has elsewhere only: found, nothing agrees around it.
    assert.deepEqual(documentAlignmentFeatures(doc, 'sizable: {'), [1, 0]);
    assert.deepEqual(documentAlignmentFeatures(doc, 'never: 1,'), [0, 0]);
    // What is typed is part of the line; the typed line itself is not a place (it is not in the view).
    const typed = documentView(table('a', 'x') + 'b: {\n  string: { unit: "x" },\n  fi', '\n  array: { unit: "items" },\n');
    assert.deepEqual(documentAlignmentFeatures(typed, 'le: { unit: "bytes" },'), [1, 2 / n]);
    assert.deepEqual(documentAlignmentFeatures(typed, 'le: { unit: "kB" },'), [0, 0]);
  });

  it('reads a bounded window of a long document', () => {
    const far = 'farAwayName();\n' + 'x;\n'.repeat(DOCUMENT_WINDOW);
    const v = documentView(far + 'near();\n', '\n');
    assert.ok(v.names.has('near') && !v.names.has('farAwayName'));
    assert.ok(v.above.length <= DOCUMENT_WINDOW / 2 + 2);
  });
});
