import { strict as assert } from 'node:assert';
import { bestOf, buildBaselines } from '../../../src/quality/baselines';
import { previousLine } from '../../../src/quality/baselines/cursorLine';
import { inFileCopy } from '../../../src/quality/baselines/inFileCopy';
import { LineLookup } from '../../../src/quality/baselines/lineLookup';
import { dedentedLines, TRIGRAM_MAX_TOKENS, TrigramModel } from '../../../src/quality/baselines/trigram';

/** A document and its cursor, written with a █ where the cursor is. */
function at(marked: string): [string, number] {
  const offset = marked.indexOf('█');
  return [marked.slice(0, offset) + marked.slice(offset + 1), offset];
}

describe('quality: baselines', () => {
  describe('in-file copy', () => {
    const table: [string, string, string][] = [
      ['the nearest line above starting with the typed text wins', 'x = compute(a)\n  x = compute(b)\nfoo()\n    x = co█\n', 'mpute(b)'],
      ['indentation is ignored on both sides', '\t\tself.items = {}\nself.it█', 'ems = {}'],
      ['a line equal to the typed text offers nothing: look further up', 'return x;\nret\nret█', 'urn x;'],
      ['only lines above the cursor count', 'a = 1\nb█\nb = 2\n', ''],
      ['nothing matches: nothing', 'alpha()\nbeta()\nzeta█', ''],
      ['the rest keeps its spacing, trailing whitespace trimmed', 'if (a) {   \nif█', ' (a) {'],
      ['line start: what followed the last earlier copy of the line above', 'case 1:\n  run(1)\ncase 2:\n  stop(2)\nother()\ncase 2:\n  █', 'stop(2)'],
      ['line start: blank lines skipped on both sides', '}\n\n\nnext()\n}\n\n  █', 'next()'],
      ['line start: the line above occurs once: nothing', 'a()\nb()\n█', ''],
      ['line start at the top: nothing', '█x = 1\n', ''],
    ];
    for (const [name, marked, expected] of table) {
      it(name, () => assert.equal(inFileCopy(...at(marked)), expected));
    }
  });

  describe('line lookup', () => {
    const lookup = new LineLookup([
      'import os\nimport sys\nimport os\n\nx = 1\n',
      '  import os\nimport re\nimport sys\nreturn None\nreturn None\nreturn value\n',
      'def f():\n    return None\ndef g():\n    return None\ndef h():\n    pass\n',
    ]);
    const table: [string, string, string][] = [
      ['the most frequent training line with the typed prefix', 'import█', ' os'],
      ['counts lines without indentation', '    impo█', 'rt os'],
      ['ties go to the first line in code-unit order', 'import s█', 'ys'],
      ['a narrower prefix changes the answer', 'import r█', 'e'],
      ['the typed text alone is never offered', 'x = 1█', ''],
      ['no training line starts with it: nothing', 'zzz█', ''],
      ['line start: the line that most often follows the line above', 'x\ndef g():\n    █', 'return None'],
      ['line start: another line above, another answer', 'def h():\n    █', 'pass'],
      ['line start: ties go to the first line in code-unit order', 'return None\n█', 'def g():'],
      ['line start: the line above must match exactly (trimmed)', 'def k():\n    █', ''],
      ['line start: a line above never seen: nothing', 'unseen()\n█', ''],
      ['line start at the top: nothing', '█', ''],
    ];
    for (const [name, marked, expected] of table) {
      it(name, () => assert.equal(lookup.suggest(...at(marked)), expected));
    }
  });

  describe('trigram', () => {
    const training = ['for (let i = 0; i < n; i++) {\n  total += values[i];\n}\n'.repeat(3), 'const name = "value";\nconst name = "value";\n'];
    const model = new TrigramModel(training);

    it('counts the training tokens', () => {
      assert.ok(model.tokens > 50);
    });

    it('continues a seen line greedily to its end', () => {
      assert.equal(model.suggest(...at('x\n  total█')), ' += values[i];');
      // A trigram loops where its commonest continuations do (" <" after "; i" beats "++)" by id on a tie).
      assert.equal(model.suggest(...at('for (let i = 0; i <█')), ' n; i <'.repeat(TRIGRAM_MAX_TOKENS / 4));
      assert.equal(model.suggest(...at('x\n  total +=█')), ' values[i];');
    });

    it('drops trailing spaces from the context and from the front of the output', () => {
      assert.equal(model.suggest(...at('x\nconst name = █')), '"value";');
    });

    it('at a line start, leaves the indentation to the editor', () => {
      assert.equal(model.suggest(...at('for (let i = 0; i < n; i++) {\n  █')), 'total += values[i];');
    });

    it('counts lines without indentation, so a line start is not read as more indentation', () => {
      assert.equal(dedentedLines('def f(x):\n    if x:\n\n        return 1  \n'), 'def f(x):\nif x:\nreturn 1');
      const python = new TrigramModel(['def f(x):\n    if x:\n        return x\n'.repeat(2)]);
      assert.equal(python.suggest(...at('def g(y):\n    █')), 'if x:');
      assert.equal(python.suggest(...at('    if y:\n        █')), 'return x');
    });

    it('backs off to a bigram and a unigram, and stops after 48 tokens', () => {
      // "xyz" was never seen: the last token alone (or the commonest token) carries on.
      const loop = new TrigramModel(['a a a a a a a a a a a a a a a a a a a a']);
      const text = loop.suggest(...at('qq a█'));
      assert.equal(text, ' a'.repeat(TRIGRAM_MAX_TOKENS));
      assert.equal(loop.suggest(...at('never seen█')), ' a'.repeat(TRIGRAM_MAX_TOKENS));
    });
  });

  it('best baseline: the first of them that offers something', () => {
    assert.equal(bestOf(['', 'b', 'c']), 'b');
    assert.equal(bestOf(['  ', '', 'c']), 'c');
    assert.equal(bestOf(['a', 'b', 'c']), 'a');
    assert.equal(bestOf(['', '', '']), '');
    const baselines = buildBaselines(['import os\nimport sys\n']);
    const [copy, lookup, trigram, best] = baselines.suggest(...at('import os\nimport s█'));
    assert.deepEqual([copy.name, lookup.name, trigram.name, best.name], ['in-file copy', 'line lookup', 'trigram', 'best baseline']);
    assert.equal(copy.text, '');
    assert.equal(lookup.text, 'ys');
    assert.equal(best.text, 'ys');
    for (const b of [copy, lookup, trigram, best]) assert.ok(b.latencyMs >= 0);
  });

  it('previousLine finds the nearest non-blank line above', () => {
    assert.equal(previousLine('a\n  b  \n\n\nc', 9), 'b');
    assert.equal(previousLine('\n\nc', 2), null);
    assert.equal(previousLine('c', 0), null);
  });
});
