import { strict as assert } from 'node:assert';
import { CompletionEngine } from '../../../src/engine/engine';
import { CancelledError } from '../../../src/engine/errors';
import {
  evalCases, evaluate, formatEvalTable, formatExactChange, formatExactCount, modelScorer, nextLineExactMatch, restOfLine, sessionScorer,
  type Completer, type EvalResult,
} from '../../../src/training/evaluate';
import { FakeModel, fakeTokenizer } from '../../helpers/fakeModel';
import { BigramModel, BigramSession, bigramValues, markovExamples } from './bigramSession';

/** Completes each known context with a scripted answer (as a greedy model that learnt it would). */
function scriptedCompleter(answers: Record<string, string>): Completer & { prompts: string[] } {
  const prompts: string[] = [];
  return {
    prompts,
    async complete(req) {
      prompts.push(req.prompt);
      assert.deepEqual([req.maxTokens, req.maxLines, req.temperature], [48, 1, 0]);
      const text = answers[req.prompt] ?? '';
      const nl = text.indexOf('\n');
      return { candidates: [{ text: nl < 0 ? text : text.slice(0, nl) }] };
    },
  };
}

describe('evaluation', () => {
  it('picks a fixed set of cut points, whatever the order of the held-out examples', () => {
    const held = Array.from({ length: 50 }, (_, i) => ({ file: `src/f${i % 7}.ts`, cut: i * 13 }));
    const a = evalCases(held, { max: 10 });
    const b = evalCases([...held].reverse(), { max: 10 });
    assert.equal(a.length, 10);
    assert.deepEqual(a, b);
    assert.notDeepEqual(evalCases(held, { max: 10, seed: 1 }), a);
    assert.equal(evalCases(held).length, 50);
  });

  it('compares the rest of the line, without trailing whitespace', () => {
    assert.equal(restOfLine('foo(bar);  \n  next();\n'), 'foo(bar);');
    assert.equal(restOfLine('end\t'), 'end');
    assert.equal(restOfLine('\n'), '');
  });

  it('counts next-line exact matches', async () => {
    const examples = [
      { context: 'a = ', continuation: 'compute(x);\n' },
      { context: 'b = ', continuation: 'other();  \nmore' },
      { context: 'c = ', continuation: 'right(1);\n' },
      { context: 'd = ', continuation: 'nothing\n' },
    ];
    const completer = scriptedCompleter({ 'a = ': 'compute(x);\nignored', 'b = ': 'other();', 'c = ': 'wrong(1);' });
    const r = await nextLineExactMatch(completer, examples);
    assert.deepEqual(r, { matches: 2, total: 4, rate: 0.5 });
    assert.deepEqual(completer.prompts, ['a = ', 'b = ', 'c = ', 'd = ']);
  });

  it('runs exact match through a real CompletionEngine (greedy, one line)', async () => {
    const answers: Record<string, string> = { 'let x = ': 'foo(1);\nbar();\n', 'let y = ': 'baz;\n' };
    const model = new FakeModel({
      vocabSize: 50257,
      forced: (history) => {
        const text = Buffer.from(history.filter((t) => t < 256)).toString('utf8');
        for (const [prompt, answer] of Object.entries(answers)) {
          if (text.startsWith(prompt)) return answer.charCodeAt(text.length - prompt.length) || undefined;
        }
        return undefined;
      },
    });
    const engine: Completer = new CompletionEngine(model, fakeTokenizer);
    const r = await nextLineExactMatch(engine, [
      { context: 'let x = ', continuation: 'foo(1);\n' },
      { context: 'let y = ', continuation: 'qux;\n' },
    ]);
    assert.deepEqual(r, { matches: 1, total: 2, rate: 0.5 });
  });

  it('scores the same losses from the session and from the inference model', async () => {
    const V = 11;
    const examples = markovExamples(V, 23, 8);
    const values = bigramValues(V, 4, 1);
    const fromSession = await sessionScorer(new BigramSession(V, 4, 16), values, { rows: 4, seqLen: 16 })(examples, 0.5);
    const fromModel = await modelScorer(new BigramModel(values, V))(examples, 0.5);
    assert.deepEqual([fromSession.l1Targets, fromSession.l2Targets], [fromModel.l1Targets, fromModel.l2Targets]);
    for (const k of ['l1', 'l2', 'l3'] as const) assert.ok(Math.abs(fromSession[k] - fromModel[k]) < 1e-5, `${k}: ${fromSession[k]} vs ${fromModel[k]}`);
    assert.ok(fromSession.l1 > 0 && fromSession.l2 > 0);
  });

  it('evaluates to the contract JSON keys, with perplexity exp(L2)', async () => {
    const V = 11;
    const examples = markovExamples(V, 6, 2);
    const values = bigramValues(V, 1);
    const answers = Object.fromEntries(examples.slice(0, 3).map((e) => [e.context, e.continuation]));
    const r = await evaluate({
      examples,
      lambda: 0.5,
      scorer: sessionScorer(new BigramSession(V, 2, 16), values, { rows: 2, seqLen: 16 }),
      completer: scriptedCompleter(answers),
    });
    assert.deepEqual(Object.keys(r).sort(), ['cases', 'exact_match', 'exact_matches', 'l1', 'l2', 'perplexity']);
    assert.ok(Math.abs(r.perplexity - Math.exp(r.l2)) < 1e-12);
    assert.equal(r.exact_match, 0.5);
    assert.equal(r.exact_matches, 3);
    assert.equal(r.cases, 6);
  });

  it('stops on cancellation', async () => {
    const controller = new AbortController();
    controller.abort();
    const V = 5;
    await assert.rejects(
      sessionScorer(new BigramSession(V, 2, 16), bigramValues(V, 1), { rows: 2, seqLen: 16 })(markovExamples(V, 4, 1), 0.5, controller.signal),
      CancelledError,
    );
    await assert.rejects(nextLineExactMatch(scriptedCompleter({}), [{ context: 'a', continuation: 'b' }], { signal: controller.signal }), CancelledError);
  });

  it('formats before and after as a table', () => {
    const before: EvalResult = { l1: 2.5, l2: 2.0, perplexity: Math.exp(2.0), exact_match: 0.125 };
    const after: EvalResult = { l1: 2.25, l2: 1.5, perplexity: Math.exp(1.5), exact_match: 0.2 };
    const table = formatEvalTable(before, after);
    assert.equal(
      table,
      [
        '                          before   after    change',
        'held-out L2 (nats/token)  2.0000  1.5000   -0.5000',
        'perplexity exp(L2)          7.39    4.48    -39.3%',
        'held-out L1 (nats/token)  2.5000  2.2500   -0.2500',
        'next-line exact match      12.5%   20.0%  +7.5 pts',
      ].join('\n'),
    );
    assert.match(formatEvalTable(before), /^ +value\nheld-out L2 \(nats\/token\) +2\.0000/);
  });

  it('shows exact match as counts with the change when it has them', () => {
    const before: EvalResult = { l1: 2.5, l2: 2.0, perplexity: Math.exp(2.0), exact_match: 2 / 249, exact_matches: 2, cases: 249 };
    const after: EvalResult = { l1: 2.25, l2: 1.5, perplexity: Math.exp(1.5), exact_match: 1 / 249, exact_matches: 1, cases: 249 };
    assert.match(formatEvalTable(before, after), /next-line exact match +2 of 249 \(0\.8%\) +1 of 249 \(0\.4%\) +-1$/);
    assert.equal(formatExactChange(before, after), '2 → 1 of 249 (−1)');
    assert.equal(formatExactChange(after, before), '1 → 2 of 249 (+1)');
    assert.equal(formatExactChange(before, before), '2 → 2 of 249 (±0)');
    assert.equal(formatExactCount({ exact_match: 0.125 }), '12.5%');
  });
});
