import assert from 'node:assert/strict';
import {
  checkStop,
  deadlineRule,
  END_OF_TEXT_ID,
  endOfTextRule,
  maxLinesRule,
  maxTokensRule,
  repetitionRule,
  stableText,
  stopStringsRule,
  type StopDecision,
  type StopOptions,
} from '../../src/engine/stopRules';

const go = (text: string): StopDecision => ({ stop: false, keepText: text });

describe('stop rules', () => {
  it('max tokens', () => {
    assert.deepEqual(maxTokensRule(3, 4, 'abc'), go('abc'));
    assert.deepEqual(maxTokensRule(4, 4, 'abcd'), { stop: true, reason: 'length', keepText: 'abcd' });
  });

  describe('max lines', () => {
    const cases: { text: string; maxLines?: number; want: StopDecision }[] = [
      { text: 'foo(bar)', maxLines: 1, want: go('foo(bar)') },
      { text: 'foo(bar)\n', maxLines: 1, want: { stop: true, reason: 'lines', keepText: 'foo(bar)' } },
      { text: 'foo\nbar', maxLines: 1, want: { stop: true, reason: 'lines', keepText: 'foo' } },
      { text: 'a\nb', maxLines: 2, want: go('a\nb') },
      { text: 'a\nb\nc', maxLines: 2, want: { stop: true, reason: 'lines', keepText: 'a\nb' } },
      { text: '\n', maxLines: 1, want: { stop: true, reason: 'lines', keepText: '' } },
      { text: 'a\r\nb', maxLines: 1, want: { stop: true, reason: 'lines', keepText: 'a' } },
      { text: 'a\nb\nc', want: go('a\nb\nc') },
    ];
    for (const c of cases) it(`${JSON.stringify(c.text)} in ${c.maxLines ?? 'any'} lines`, () => assert.deepEqual(maxLinesRule(c.text, c.maxLines), c.want));
  });

  describe('stop strings', () => {
    const cases: { text: string; stops: string[]; want: StopDecision }[] = [
      { text: 'return x;', stops: ['\n\n'], want: go('return x;') },
      { text: 'a }\n\nb', stops: ['\n\n'], want: { stop: true, reason: 'stop', keepText: 'a }' } },
      { text: 'xyz END abc STOP', stops: ['STOP', 'END'], want: { stop: true, reason: 'stop', keepText: 'xyz ' } },
      { text: 'abcd', stops: ['cd', 'bcd'], want: { stop: true, reason: 'stop', keepText: 'a' } },
      { text: 'stop', stops: ['stop'], want: { stop: true, reason: 'stop', keepText: '' } },
      { text: 'abc', stops: [''], want: go('abc') },
    ];
    for (const c of cases) it(`${JSON.stringify(c.text)} with ${JSON.stringify(c.stops)}`, () => assert.deepEqual(stopStringsRule(c.text, c.stops), c.want));
  });

  describe('repetition (degenerate loops)', () => {
    const stop = (keepText: string): StopDecision => ({ stop: true, reason: 'stop', keepText });
    const cases: { text: string; want: StopDecision }[] = [
      { text: 'self.path.path.path.path', want: stop('self.path') },
      { text: 'self.path.path.path', want: go('self.path.path.path') }, // three copies: not yet a loop
      { text: "require('./a('./a('./a('./a", want: stop("require('./a") },
      { text: ", 'a, 'a, 'a, 'a, 'a", want: stop(", 'a") },
      { text: '\n                ', want: go('\n                ') }, // indentation
      { text: '# ================', want: go('# ================') }, // a rule line
      { text: 'x = [0, 0, 0, 0]', want: go('x = [0, 0, 0, 0]') },
      { text: 'abababab', want: stop('ab') },
    ];
    for (const c of cases) it(JSON.stringify(c.text), () => assert.deepEqual(repetitionRule(c.text, true), c.want));
    it('is off unless asked for, and checkStop applies it then', () => {
      assert.deepEqual(repetitionRule('self.path.path.path.path', undefined), go('self.path.path.path.path'));
      const state = { text: 'self.path.path.path.path', tokenCount: 8, lastToken: 13, now: 0 };
      assert.equal(checkStop(state, { maxTokens: 32 }).stop, false);
      assert.deepEqual(checkStop(state, { maxTokens: 32, stopOnRepetition: true }), stop('self.path'));
    });
  });

  it('end of text', () => {
    assert.deepEqual(endOfTextRule(END_OF_TEXT_ID, 'x'), { stop: true, reason: 'eot', keepText: 'x' });
    assert.deepEqual(endOfTextRule(END_OF_TEXT_ID, 'x', false), go('x'));
    assert.deepEqual(endOfTextRule(13, 'x'), go('x'));
  });

  it('deadline', () => {
    assert.deepEqual(deadlineRule(99, 100, 'x'), go('x'));
    assert.deepEqual(deadlineRule(100, 100, 'x'), { stop: true, reason: 'deadline', keepText: 'x' });
    assert.deepEqual(deadlineRule(1e12, undefined, 'x'), go('x'));
  });

  describe('checkStop combines the rules', () => {
    const options: StopOptions = { maxTokens: 5, maxLines: 2, stopStrings: ['}'], deadline: 1000 };
    const cases: { name: string; text: string; tokenCount?: number; lastToken?: number; now?: number; opts?: Partial<StopOptions>; want: StopDecision }[] = [
      { name: 'nothing yet', text: 'ab', want: go('ab') },
      { name: 'end of text first', text: 'a\nb\nc', lastToken: END_OF_TEXT_ID, want: { stop: true, reason: 'eot', keepText: 'a\nb\nc' } },
      { name: 'end of text ignored when off', text: 'ab', lastToken: END_OF_TEXT_ID, opts: { stopAtEndOfText: false }, want: go('ab') },
      { name: 'earliest cut: stop string before the line end', text: 'a\nb}\nc', want: { stop: true, reason: 'stop', keepText: 'a\nb' } },
      { name: 'earliest cut: line end before the stop string', text: 'a\nb\n}', want: { stop: true, reason: 'lines', keepText: 'a\nb' } },
      { name: 'a cut wins over length', text: 'x}', tokenCount: 5, want: { stop: true, reason: 'stop', keepText: 'x' } },
      { name: 'length', text: 'abcde', tokenCount: 5, want: { stop: true, reason: 'length', keepText: 'abcde' } },
      { name: 'deadline', text: 'ab', now: 1000, want: { stop: true, reason: 'deadline', keepText: 'ab' } },
    ];
    for (const c of cases) {
      it(c.name, () => {
        const state = { text: c.text, tokenCount: c.tokenCount ?? 1, lastToken: c.lastToken ?? 97, now: c.now ?? 0 };
        assert.deepEqual(checkStop(state, { ...options, ...c.opts }), c.want);
      });
    }
  });

  describe('stableText holds back what a later token could cut', () => {
    const cases: { text: string; opts: Pick<StopOptions, 'stopStrings' | 'maxLines'>; want: string }[] = [
      { text: 'abc', opts: {}, want: 'abc' },
      { text: 'abc\n', opts: { stopStrings: ['\n\n'] }, want: 'abc' },
      { text: 'x EN', opts: { stopStrings: ['NE'] }, want: 'x E' },
      { text: 'x EN', opts: { stopStrings: ['Q'] }, want: 'x EN' },
      { text: 'x EN', opts: { stopStrings: ['ENDS'] }, want: 'x ' },
      { text: 'ab\r', opts: { maxLines: 1 }, want: 'ab' },
      { text: 'ab\r', opts: {}, want: 'ab\r' },
    ];
    for (const c of cases) it(`${JSON.stringify(c.text)} ${JSON.stringify(c.opts)}`, () => assert.equal(stableText(c.text, c.opts), c.want));
  });
});
