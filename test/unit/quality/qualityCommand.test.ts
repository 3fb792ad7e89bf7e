import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PassThrough } from 'node:stream';
import { qualityCommand, type OpenSuggester } from '../../../src/cli/qualityCommand';
import { UserError } from '../../../src/engine/errors';
import { splitWorkspace } from '../../../src/quality/workspaceSplit';
import type { SuggestRequest, Suggester } from '../../../src/quality/suggester';
import { captureStdout } from '../../helpers/captureStdout';
import { removeDir, syntheticSource, tempDir, writeFiles } from '../training/data/fixtures';

/**
 * A suggester that knows the files on disk: it checks the document it is given is the file without
 * the rest of the cut line, then answers every other request with exactly that rest.
 */
class OracleSuggester implements Suggester {
  readonly description = 'oracle · test';
  readonly requests: SuggestRequest[] = [];
  answered = 0;
  disposed = false;

  async suggest(request: SuggestRequest) {
    const original = fs.readFileSync(request.path, 'utf8');
    let lineEnd = original.indexOf('\n', request.offset);
    if (lineEnd < 0) lineEnd = original.length;
    assert.equal(request.text, original.slice(0, request.offset) + original.slice(lineEnd));
    const rest = original.slice(request.offset, lineEnd).trimEnd();
    this.requests.push(request);
    const n = this.requests.length;
    if (n % 2 === 1) {
      this.answered++;
      return { text: rest, suppressed: null, latencyMs: 10 * n };
    }
    return { text: '', suppressed: 'gate', latencyMs: 10 * n };
  }

  async dispose() {
    this.disposed = true;
  }
}

function project(root: string): void {
  const files: Record<string, string> = { 'README.md': '# fixture\n', 'pkg/store.py': 'class Store:\n    def get(self, key):\n        return self.items[key]\n' };
  for (let i = 0; i < 20; i++) files[`src/mod${i}.ts`] = syntheticSource(500 + i, 3);
  for (let i = 0; i < 4; i++) files[`test/mod${i}.test.ts`] = syntheticSource(600 + i, 2);
  writeFiles(root, files);
}

describe('quality command', () => {
  let root: string;
  before(() => {
    root = tempDir('quality-cmd');
    project(root);
  });
  after(() => removeDir(root));

  function harness() {
    const suggester = new OracleSuggester();
    let opened: { command: string; values: Record<string, unknown> } | undefined;
    const openSuggester: OpenSuggester = async (command, values) => {
      opened = { command, values };
      return suggester;
    };
    const progress = new PassThrough();
    let progressText = '';
    progress.on('data', (d) => (progressText += d.toString()));
    return { suggester, openSuggester, progress, opened: () => opened, progressText: () => progressText };
  }

  it('--json: every number, the split and the arguments; the model flags and the workspace reach the pipeline', async () => {
    const h = harness();
    const out = await captureStdout(() =>
      qualityCommand([root, '--cuts', '20', '--seed', '3', '--json', '--model', 'gpt2', '--adapter', '/tmp/adapter', '--precision', 'int8'], { openSuggester: h.openSuggester, progress: h.progress }),
    );
    const json = JSON.parse(out);
    assert.equal(h.opened()!.command, 'quality');
    assert.deepEqual(
      [h.opened()!.values.model, h.opened()!.values.adapter, h.opened()!.values.precision, h.opened()!.values.workspace],
      ['gpt2', '/tmp/adapter', 'int8', path.resolve(root)],
    );
    assert.ok(h.suggester.disposed);
    assert.deepEqual(json.arguments, { folder: path.resolve(root), model: 'gpt2', adapter: '/tmp/adapter', precision: 'int8', cuts: 20, seed: 3, heldout: null });
    assert.equal(json.model, 'oracle · test');

    const split = await splitWorkspace(root, { seed: 3 });
    assert.deepEqual(json.split.held_out, { files: split.heldOut.length, tokens: split.heldOut.reduce((s, f) => s + f.tokens, 0) });
    assert.deepEqual(json.split.train.files, split.train.length);
    assert.equal(json.split.by, 'finetune-split');

    const n = h.suggester.requests.length;
    assert.equal(json.cuts.total, n);
    assert.ok(n > 0 && n <= 20);
    const held = new Set(split.heldOut.map((f) => path.join(path.resolve(root), f.path)));
    for (const r of h.suggester.requests) {
      assert.ok(held.has(r.path), `${r.path} is held out`);
      assert.equal(r.workspace, path.resolve(root));
      assert.ok(['typescript', 'python'].includes(r.languageId));
    }
    const model = json.systems.model;
    assert.equal(model.cuts, n);
    assert.equal(model.exact_count, h.suggester.answered);
    assert.equal(model.shown_count, h.suggester.answered);
    assert.equal(model.precision, 1);
    assert.equal(model.prefix_correct, 1);
    assert.equal(model.edit_similarity, 1);
    assert.equal(model.latency_p50_ms, 10 * Math.ceil(n / 2));
    assert.deepEqual(Object.keys(json.systems), ['model', 'in-file copy', 'line lookup', 'trigram', 'best baseline']);
    for (const s of Object.values(json.systems) as { cuts: number; by_kind: Record<string, { cuts: number }> }[]) {
      assert.equal(s.cuts, n);
      assert.equal(Object.values(s.by_kind).reduce((sum, k) => sum + k.cuts, 0), n);
    }
    assert.match(h.progressText(), new RegExp(`quality: ${n}/${n} cuts`));
  });

  it('prints a table of the model and each baseline, and holds out what --heldout says', async () => {
    const h = harness();
    const out = await captureStdout(() => qualityCommand([root, '--cuts', '12', '--heldout', 'src/mod1*.ts'], { openSuggester: h.openSuggester, progress: h.progress }));
    const lines = out.split('\n');
    assert.match(out, /^oracle · test\n/);
    assert.match(out, /11 held out \([\d,]+ tokens\) by --heldout src\/mod1\*\.ts/);
    assert.ok(lines.includes('12 cuts in 11 of 11 held-out code files (at most 3 per file; 4 mid-line, 5 line-start, 3 after-opener; 0 in test files)'), out);
    const header = lines.find((l) => l.startsWith('|  '))!;
    assert.match(header, /exact \| +shown \| precision \| edit sim \| prefix-correct \| p50 \/ p90 ms \|/);
    for (const name of ['model', 'in-file copy', 'line lookup', 'trigram', 'best baseline']) {
      assert.ok(lines.some((l) => l.startsWith(`| ${name} `)), name);
    }
    const modelRow = lines.find((l) => l.startsWith('| model '))!;
    assert.match(modelRow, /\| +50\.0% \(6\/12\) \| +50\.0% \| +100\.0% \| +1\.000 \| +100\.0% \| +60 \/ 110 \|/);
    for (const r of h.suggester.requests) assert.match(path.basename(r.path), /^mod1\d?\.ts$/);
  });

  it('refuses bad arguments with one line', async () => {
    const h = harness();
    const run = (argv: string[]) => qualityCommand(argv, { openSuggester: h.openSuggester, progress: h.progress });
    await assert.rejects(run([]), (e: Error) => e instanceof UserError && /exactly one folder/.test(e.message));
    await assert.rejects(run([root, '--cuts', '0']), (e: Error) => e instanceof UserError && /--cuts must be an integer ≥ 1/.test(e.message));
    await assert.rejects(run([root, '--heldout', 'README.md']), (e: Error) => e instanceof UserError && /no cut points in the 1 held-out files/.test(e.message));
    assert.equal(h.opened(), undefined, 'nothing loaded for a refused run');
  });
  it('--ablate: the model with the cache model and the context on and off, the baselines once', async () => {
    const opened: Record<string, unknown>[] = [];
    // A suggester that is right only when the cache model is on: the ablation must tell them apart.
    const openSuggester: OpenSuggester = async (_command, values) => {
      opened.push(values);
      const oracle = new OracleSuggester();
      return {
        description: 'ablation · test',
        suggest: async (r: SuggestRequest) => {
          const answer = await oracle.suggest(r);
          return values['no-cache-model'] === true ? { text: '', suppressed: 'off', latencyMs: 1 } : { ...answer, text: answer.text || 'x' };
        },
        dispose: async () => undefined,
      };
    };
    const out = await captureStdout(() => qualityCommand([root, '--cuts', '12', '--ablate', '--json'], { openSuggester, progress: new PassThrough() }));
    const json = JSON.parse(out) as { ablation: { cache_model: boolean; context: boolean; model: { exact: number; shown: number } }[]; baselines: Record<string, unknown> };
    assert.deepEqual(opened.map((v) => [v['no-cache-model'], v.context]), [[true, false], [false, false], [true, true], [false, true]]);
    assert.deepEqual(json.ablation.map((a) => [a.cache_model, a.context]), [[false, false], [true, false], [false, true], [true, true]]);
    const off = json.ablation[0].model;
    const on = json.ablation[1].model;
    assert.equal(off.shown, 0);
    assert.ok(on.exact > 0 && on.shown > 0, JSON.stringify(on));
    assert.ok('in-file copy' in json.baselines && !('model' in json.baselines));
    const table = await captureStdout(() => qualityCommand([root, '--cuts', '12', '--ablate'], { openSuggester, progress: new PassThrough() }));
    assert.match(table, /model, cache on, context off/);
    assert.match(table, /best baseline/);
  });
});
