import { strict as assert } from 'node:assert';
import { buildPrompt, pathHeader, type PromptOptions } from '../../../src/completion/prompt';
import { getTokenizer } from '../../../src/engine/tokenizer';

/** A BPE-like stand-in: runs of word characters, runs of spaces, and single symbols are tokens. */
const countWordTokens = (text: string): number => (text.match(/\w+|[ \t]+|\n|[^\w\s]/g) ?? []).length;

/** A TypeScript-looking document of `lines` short lines. */
function sampleDocument(lines: number): string {
  const out: string[] = [];
  for (let i = 0; i < lines; i++) {
    out.push(i % 5 === 0 ? `function f${i}(a: number) {` : i % 5 === 4 ? '}' : `  const v${i} = a * ${i} + f(${i});`);
  }
  return `${out.join('\n')}\n`;
}

function isLineStart(text: string, offset: number): boolean {
  return offset === 0 || text[offset - 1] === '\n';
}

interface TypingRun {
  starts: number[];
  texts: string[];
}

/** Appends `typed` one character at a time at the end of `base`, building a prompt per keystroke. */
function typeAtEnd(base: string, typed: string, options: PromptOptions, passPreviousStart: boolean): TypingRun {
  const run: TypingRun = { starts: [], texts: [] };
  let text = base;
  let previousWindowStart: number | undefined;
  for (const ch of typed) {
    text += ch;
    const built = buildPrompt(text, text.length, passPreviousStart ? { ...options, previousWindowStart } : options);
    previousWindowStart = built.windowStartOffset;
    run.starts.push(built.windowStartOffset);
    run.texts.push(text);
    assert.ok(built.tokenCount <= options.tokenBudget, 'the window fits');
    assert.equal(built.tokenCount, options.countTokens(built.prompt), 'tokenCount is exact');
    assert.ok(isLineStart(text, built.windowStartOffset), 'the window starts at a line start');
    assert.equal(built.prompt, text.slice(built.windowStartOffset), 'the prompt is the window');
  }
  return run;
}

/** Checks the stability property: the start only moves forward, in chunk-sized jumps, on overflow. */
function assertStable(run: TypingRun, options: PromptOptions, chunkChars: number): number {
  let moves = 0;
  for (let i = 1; i < run.starts.length; i++) {
    const previous = run.starts[i - 1];
    const current = run.starts[i];
    if (current === previous) continue;
    moves++;
    assert.ok(current > previous, 'the start never moves back while typing');
    assert.ok(current - previous >= chunkChars / 2, `jump of ${current - previous} chars is a chunk`);
    const kept = options.countTokens(run.texts[i].slice(previous));
    assert.ok(kept > options.tokenBudget, 'the start moves only when the old window overflows');
  }
  return moves;
}

describe('prompt window', () => {
  it('takes the whole prefix when it fits', () => {
    const text = 'const a = 1;\nconst b = 2;\n';
    const built = buildPrompt(text, text.length, { tokenBudget: 100, countTokens: countWordTokens });
    assert.deepEqual(built, { prompt: text, windowStartOffset: 0, tokenCount: countWordTokens(text) });
  });

  it('ignores text after the cursor', () => {
    const text = 'const a = 1;\nconst b = 2;\n';
    assert.equal(buildPrompt(text, 5, { tokenBudget: 100, countTokens: countWordTokens }).prompt, 'const');
  });

  it('is stable across keystrokes until a chunk boundary is crossed (stand-in tokenizer)', () => {
    const options: PromptOptions = { tokenBudget: 256, countTokens: countWordTokens, chunkChars: 200 };
    const base = sampleDocument(200);
    const typed = sampleDocument(40);
    const run = typeAtEnd(base, typed, options, false);
    const moves = assertStable(run, options, 200);
    const distinct = new Set(run.starts).size;
    assert.equal(distinct, moves + 1);
    // About one move per chunk typed, never one per keystroke.
    assert.ok(moves >= 1 && moves <= Math.ceil(typed.length / 200) + 1, `${moves} moves`);
  });

  // GPT-2 token counts are not monotone under typing, so the caller passes the previous start.
  it('is stable across keystrokes with the GPT-2 tokenizer', function () {
    this.timeout(30_000);
    const tokenizer = getTokenizer();
    const options: PromptOptions = { tokenBudget: 1000, countTokens: (t) => tokenizer.encode(t).length };
    const base = sampleDocument(600);
    const typed = sampleDocument(60);
    const run = typeAtEnd(base, typed, options, true);
    const moves = assertStable(run, options, 1000);
    assert.ok(moves >= 1 && moves < typed.length / 200, `${moves} moves over ${typed.length} keystrokes`);
  });

  it('keeps the previous start while it fits and is at most one step ahead', () => {
    const options: PromptOptions = { tokenBudget: 256, countTokens: countWordTokens, chunkChars: 200 };
    const text = sampleDocument(200);
    const fresh = buildPrompt(text, text.length, options);
    // The first line start after the stateless choice's next candidate.
    const ahead = text.indexOf('\n', fresh.windowStartOffset + 10) + 1;
    assert.equal(buildPrompt(text, text.length, { ...options, previousWindowStart: ahead }).windowStartOffset, ahead);
    // Too far ahead (the cursor moved, or text was deleted): back to the stateless choice.
    const farAhead = text.lastIndexOf('\n', text.length - 2) + 1;
    assert.equal(
      buildPrompt(text, text.length, { ...options, previousWindowStart: farAhead }).windowStartOffset,
      fresh.windowStartOffset,
    );
    // Not a line start, or past the cursor: ignored.
    assert.equal(buildPrompt(text, 3000, { ...options, previousWindowStart: 5000 }).windowStartOffset, buildPrompt(text, 3000, options).windowStartOffset);
  });

  it('is stateless: the same text and cursor give the same window', () => {
    const options: PromptOptions = { tokenBudget: 128, countTokens: countWordTokens };
    const text = sampleDocument(300);
    const a = buildPrompt(text, 5000, options);
    buildPrompt(text, 9000, options);
    assert.deepEqual(buildPrompt(text, 5000, options), a);
  });

  it('turns CRLF into LF and counts the normalized text', () => {
    const text = 'a = 1\r\nb = 2\r\n';
    const built = buildPrompt(text, text.length, { tokenBudget: 100, countTokens: countWordTokens });
    assert.equal(built.prompt, 'a = 1\nb = 2\n');
    assert.equal(built.tokenCount, countWordTokens('a = 1\nb = 2\n'));
  });

  it('puts the header first and counts it in the budget', () => {
    const text = sampleDocument(100);
    const header = pathHeader('typescript', 'src/a.ts');
    assert.equal(header, '// path: src/a.ts');
    const options: PromptOptions = { tokenBudget: 200, countTokens: countWordTokens, header };
    const built = buildPrompt(text, text.length, options);
    assert.ok(built.prompt.startsWith('// path: src/a.ts\n'));
    assert.ok(built.tokenCount <= 200);
    assert.equal(built.tokenCount, countWordTokens(built.prompt));
    assert.equal(built.prompt.slice(header.length + 1), text.slice(built.windowStartOffset));
  });

  it('drops a header that would leave no room', () => {
    const built = buildPrompt('x = 1\n', 6, { tokenBudget: 3, countTokens: countWordTokens, header: 'a b c d e f' });
    assert.ok(!built.prompt.includes('a b c'));
  });

  it('header comment syntax follows the language', () => {
    assert.equal(pathHeader('python', 'a.py'), '# path: a.py');
    assert.equal(pathHeader('markdown', 'README.md'), '<!-- path: README.md -->');
  });

  it('cuts inside one enormous line when nothing else fits', () => {
    const text = `x = [${'1, '.repeat(5000)}`;
    const options: PromptOptions = { tokenBudget: 300, countTokens: countWordTokens };
    const built = buildPrompt(text, text.length, options);
    // Inside the cursor line the start moves in steps of chunk / 8 characters: nearly full.
    assert.ok(built.tokenCount <= 300 && built.tokenCount > 300 - 300 / 8 - 2, `${built.tokenCount} tokens`);
    assert.equal(built.prompt, text.slice(built.windowStartOffset));
  });

  it('handles an empty document and a cursor at 0', () => {
    assert.deepEqual(buildPrompt('', 0, { tokenBudget: 10, countTokens: countWordTokens }), {
      prompt: '',
      windowStartOffset: 0,
      tokenCount: 0,
    });
    assert.equal(buildPrompt('abc', 0, { tokenBudget: 10, countTokens: countWordTokens }).prompt, '');
  });

  it('counts text of a bounded size per call, not the whole document', () => {
    const text = sampleDocument(20_000);
    let counted = 0;
    const countTokens = (t: string): number => {
      counted += t.length;
      return countWordTokens(t);
    };
    buildPrompt(text, text.length, { tokenBudget: 512, countTokens });
    assert.ok(counted < 20 * 1024, `${counted} characters tokenized for a ${text.length}-character document`);
  });
});
