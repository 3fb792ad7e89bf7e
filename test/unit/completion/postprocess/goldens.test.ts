import { strict as assert } from 'node:assert';
import { postprocessCompletion, postprocessContextAt, tracePostprocess } from '../../../../src/completion/postprocess';
import { CURSOR, type GoldenSuite } from './goldens/goldenCase';
import { goGoldens } from './goldens/go';
import { javascriptGoldens } from './goldens/javascript';
import { markdownGoldens } from './goldens/markdown';
import { pythonGoldens } from './goldens/python';
import { typescriptGoldens } from './goldens/typescript';

const SUITES: readonly GoldenSuite[] = [typescriptGoldens, javascriptGoldens, pythonGoldens, goGoldens, markdownGoldens];

for (const suite of SUITES) {
  describe(`post-processing goldens: ${suite.languageId}`, () => {
    it('has at least six cases', () => {
      assert.ok(suite.cases.length >= 6);
    });

    for (const golden of suite.cases) {
      it(golden.name, () => {
        const offset = golden.doc.indexOf(CURSOR);
        assert.ok(offset >= 0, 'the document marks the cursor');
        const text = golden.doc.slice(0, offset) + golden.doc.slice(offset + CURSOR.length);
        const ctx = postprocessContextAt(text, offset, suite.languageId, suite.indentUnit);
        assert.equal(ctx.multiline, golden.multiline ?? false, 'multi-line decision');
        const actual = postprocessCompletion(golden.completion, ctx);
        assert.equal(actual, golden.expected, JSON.stringify(tracePostprocess(golden.completion, ctx), null, 1));
      });
    }
  });
}
