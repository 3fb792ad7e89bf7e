import { strict as assert } from 'node:assert';
import {
  checkGates,
  DEFAULT_LANGUAGE_ENABLEMENT,
  isEndOfLineLike,
  isLanguageEnabled,
  type GateResult,
  type GateSettings,
} from '../../../src/completion/gates';
import { createCompletionRequest, type RequestInit } from '../../../src/completion/cursorLines';

const ON: GateSettings = { languages: { '*': true, plaintext: false, markdown: true }, paused: false };

interface GateCase {
  name: string;
  init: RequestInit;
  settings?: GateSettings;
  expected: GateResult;
}

const ok: GateResult = { ok: true };
const no = (reason: Extract<GateResult, { ok: false }>['reason']): GateResult => ({ ok: false, reason });

const CASES: GateCase[] = [
  { name: 'end of line', init: { text: 'const x = ', offset: 10, languageId: 'typescript' }, expected: ok },
  { name: 'before a closer', init: { text: 'foo()', offset: 4, languageId: 'typescript' }, expected: ok },
  { name: 'before closers and a semicolon', init: { text: 'f(g(x));', offset: 5, languageId: 'typescript' }, expected: ok },
  { name: 'inside quotes', init: { text: 'x = "";', offset: 5, languageId: 'typescript' }, expected: ok },
  { name: 'before an opening brace', init: { text: 'if (x) {', offset: 6, languageId: 'typescript' }, expected: ok },
  { name: 'trailing spaces only', init: { text: 'x   ', offset: 1, languageId: 'typescript' }, expected: ok },
  { name: 'mid-line before a word', init: { text: 'foo bar', offset: 3, languageId: 'typescript' }, expected: no('mid-line') },
  { name: 'mid-word', init: { text: 'foobar', offset: 3, languageId: 'typescript' }, expected: no('mid-line') },
  {
    name: 'mid-line, manual: allowed',
    init: { text: 'foo bar', offset: 3, languageId: 'typescript', triggerKind: 'manual' },
    expected: ok,
  },
  {
    name: 'selection, automatic',
    init: { text: 'x', offset: 1, languageId: 'typescript', selectionEmpty: false },
    expected: no('selection'),
  },
  {
    name: 'selection, manual: allowed',
    init: { text: 'x', offset: 1, languageId: 'typescript', selectionEmpty: false, triggerKind: 'manual' },
    expected: ok,
  },
  { name: 'several cursors', init: { text: 'x', offset: 1, languageId: 'typescript', cursorCount: 2 }, expected: no('multiple-cursors') },
  { name: 'language off by its own key', init: { text: 'x', offset: 1, languageId: 'plaintext' }, expected: no('language-disabled') },
  {
    name: 'language off, manual: still off (like Copilot)',
    init: { text: 'x', offset: 1, languageId: 'plaintext', triggerKind: 'manual' },
    expected: no('language-disabled'),
  },
  { name: 'language on by its own key', init: { text: 'x', offset: 1, languageId: 'markdown' }, expected: ok },
  { name: 'language on by "*"', init: { text: 'x', offset: 1, languageId: 'rust' }, expected: ok },
  {
    name: 'own key wins over "*": false',
    init: { text: 'x', offset: 1, languageId: 'yaml' },
    settings: { languages: { '*': true, yaml: false }, paused: false },
    expected: no('language-disabled'),
  },
  {
    name: 'own key wins over "*": true',
    init: { text: 'x', offset: 1, languageId: 'go' },
    settings: { languages: { '*': false, go: true }, paused: false },
    expected: ok,
  },
  {
    name: '"*" false disables the rest',
    init: { text: 'x', offset: 1, languageId: 'python' },
    settings: { languages: { '*': false, go: true }, paused: false },
    expected: no('language-disabled'),
  },
  {
    name: 'empty map: enabled',
    init: { text: 'x', offset: 1, languageId: 'python' },
    settings: { languages: {}, paused: false },
    expected: ok,
  },
  {
    name: 'paused, automatic',
    init: { text: 'x', offset: 1, languageId: 'typescript' },
    settings: { ...ON, paused: true },
    expected: no('paused'),
  },
  {
    name: 'paused, manual: allowed (manual-only mode)',
    init: { text: 'x', offset: 1, languageId: 'typescript', triggerKind: 'manual' },
    settings: { ...ON, paused: true },
    expected: ok,
  },
  {
    name: 'disabled language is reported before pause',
    init: { text: 'x', offset: 1, languageId: 'plaintext' },
    settings: { ...ON, paused: true },
    expected: no('language-disabled'),
  },
];

describe('completion gates', () => {
  for (const c of CASES) {
    it(c.name, () => {
      assert.deepEqual(checkGates(createCompletionRequest(c.init), c.settings ?? ON), c.expected);
    });
  }

  it("Copilot's end-of-line-like rule", () => {
    const table: [string, boolean][] = [
      ['', true],
      [')', true],
      ['))];', true],
      ['"', true],
      ["')", true],
      ['`', true],
      [' ) {', true],
      ['>', true],
      [':', true],
      [',', true],
      [');  ', true],
      ['x', false],
      [') + 1', false],
      [';;', false],
      ['.foo()', false],
    ];
    for (const [suffix, expected] of table) assert.equal(isEndOfLineLike(suffix), expected, JSON.stringify(suffix));
  });

  it('language map lookup ignores inherited keys', () => {
    assert.equal(isLanguageEnabled({ '*': false }, 'toString'), false);
    assert.equal(isLanguageEnabled({}, 'constructor'), true);
  });

  it('default map: on, except plain text and the commit box', () => {
    assert.equal(isLanguageEnabled(DEFAULT_LANGUAGE_ENABLEMENT, 'typescript'), true);
    assert.equal(isLanguageEnabled(DEFAULT_LANGUAGE_ENABLEMENT, 'plaintext'), false);
    assert.equal(isLanguageEnabled(DEFAULT_LANGUAGE_ENABLEMENT, 'scminput'), false);
  });
});
