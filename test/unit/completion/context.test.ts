// Workspace context: chunking and retrieval (BM25 and Jaccard), the query's stability while a line
// is typed, snippet headers in a stable order within their token budget, and the workspace index's
// live updates under the data filters (a secret typed into a file takes it out of the index).
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ChunkIndex, queryText, wordsOf } from '../../../src/completion/context/chunkIndex';
import { snippetHeader } from '../../../src/completion/context/snippets';
import { firstChangedLine, RecentEdits } from '../../../src/completion/context/recentEdits';
import { WorkspaceCache } from '../../../src/completion/context/workspaceCache';
import { getTokenizer } from '../../../src/engine/tokenizer';

const words = (n: number, stem: string): string => Array.from({ length: n }, (_, i) => `${stem}${i}`).join(' ');

describe('workspace context', () => {
  it('words are identifiers, lowercased, without keywords and one-letter names', () => {
    assert.deepEqual([...wordsOf('def parse_config(self, x): return self.Path').keys()].sort(), ['parse_config', 'path']);
  });

  for (const ranking of ['bm25', 'jaccard'] as const) {
    it(`${ranking}: finds the chunk that shares the rare names, never from the excluded file`, () => {
      const index = new ChunkIndex();
      index.setFile('/w/a.py', 'def load_invoice(invoice_id):\n    return invoice_store.fetch(invoice_id)\n');
      index.setFile('/w/b.py', 'def render_page(page):\n    return template.render(page)\n');
      index.setFile('/w/c.py', 'def load_invoice_total(invoice_id):\n    return sum(invoice_store.lines(invoice_id))\n');
      const hits = index.search('total = load_invoice(invoice_id)\n', 2, '/w/a.py', ranking);
      assert.equal(hits[0].file, '/w/c.py');
      assert.ok(hits.every((h) => h.file !== '/w/a.py'));
    });
  }

  it('replacing and removing a file updates the index', () => {
    const index = new ChunkIndex();
    index.setFile('/w/a.py', 'alpha_beta = 1\n');
    index.setFile('/w/a.py', 'gamma_delta = 2\n');
    assert.equal(index.search('alpha_beta', 1, undefined).length, 0);
    assert.equal(index.search('gamma_delta', 1, undefined)[0].file, '/w/a.py');
    index.removeFile('/w/a.py');
    assert.equal(index.size, 0);
    assert.equal(index.search('gamma_delta', 1, undefined).length, 0);
  });

  it('the query is the lines above the cursor line: typing on the line does not change it', () => {
    const above = 'import os\nvalue = compute_total(items)\n';
    assert.equal(queryText(`${above}resu`), queryText(`${above}result = value + 1`));
    assert.notEqual(queryText(`${above}x = 1\nre`), queryText(`${above}re`));
  });

  it('snippet headers: comment lines under the file name, in path order, within the budget', () => {
    const index = new ChunkIndex();
    index.setFile('/w/z.py', `${words(5, 'shared_name')}\nzeta_only = 1\n`);
    index.setFile('/w/a.py', `${words(5, 'shared_name')}\nalpha_only = 2\n`);
    const hits = index.search(words(5, 'shared_name'), 2, undefined);
    const t = getTokenizer();
    const count = (s: string): number => t.encode(s).length;
    const header = snippetHeader(hits, 'python', (f) => path.basename(f), 1000, count);
    const lines = header.split('\n');
    assert.equal(lines[0], '# path: a.py');
    assert.ok(lines.every((l) => l.startsWith('#')));
    assert.ok(header.indexOf('# path: a.py') < header.indexOf('# path: z.py'));
    // The same chunks ranked the other way round give the same header (a stable prompt prefix).
    assert.equal(snippetHeader([...hits].reverse(), 'python', (f) => path.basename(f), 1000, count), header);
    const small = snippetHeader(hits, 'python', (f) => path.basename(f), 40, count);
    assert.ok(count(`${small}\n`) <= 40, small);
  });

  it('the workspace index takes live edits under the data filters; a secret takes the file out', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gpt2c-ws-'));
    try {
      const file = path.join(dir, 'app.py');
      fs.writeFileSync(file, 'def unique_function_name():\n    return 1\n');
      const ws = new WorkspaceCache(getTokenizer(), undefined, true);
      const progress = await ws.indexFolder(dir);
      assert.equal(progress.files, 1);
      assert.ok(ws.store.has(file));
      assert.equal(ws.updateFile(file, 'def renamed_function():\n    return 2\n'), true);
      assert.equal(ws.chunks.search('renamed_function', 1, undefined)[0]?.file, file);
      // A private key block typed into the file: the file leaves the index (never predicted from).
      const key = ['-----BEGIN RSA', 'PRIVATE KEY-----'].join(' ');
      assert.equal(ws.updateFile(file, `KEY = """${key}\nMIIEowIBAAKCAQEA7\n"""\n`), false);
      assert.equal(ws.store.has(file), false);
      assert.equal(ws.chunks.search('renamed_function', 1, undefined).length, 0);
      // Outside the indexed folders: ignored.
      assert.equal(ws.updateFile(path.join(os.tmpdir(), 'elsewhere.py'), 'x = 1\n'), false);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('recent edits: the first changed line, newest first, one entry per place, a file forgotten', () => {
    assert.equal(firstChangedLine('a\nb\nc\n', 'a\nb\nc\n'), undefined);
    assert.equal(firstChangedLine('a\nb\nc\n', 'a\nbx\nc\n'), 1);
    assert.equal(firstChangedLine('a\nb\n', 'a\nb\nnew\n'), 2);
    assert.equal(firstChangedLine('a\nb\n', 'z\nb\n'), 0);
    const recent = new RecentEdits(3);
    recent.note('/w/a.py', 'x\n', 'y\n');
    recent.note('/w/b.py', '1\n2\n', '1\n3\n');
    recent.note('/w/a.py', 'y\n', 'y\nz\n'); // line 1 of a.py: the same place as line 0, refreshed
    assert.deepEqual(recent.list(), [{ file: '/w/a.py', line: 1 }, { file: '/w/b.py', line: 1 }]);
    recent.note('/w/c.py', '', 'c\n');
    recent.note('/w/d.py', '', 'd\n');
    assert.deepEqual(recent.list().map((p) => p.file), ['/w/d.py', '/w/c.py', '/w/a.py'], 'the oldest place leaves the ring');
    recent.forget('/w/c.py');
    assert.deepEqual(recent.list().map((p) => p.file), ['/w/d.py', '/w/a.py']);
  });

  it('the workspace index keeps the place edited last in another file as a snippet; opening a file is not an edit', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gpt2c-ws-'));
    try {
      const util = path.join(dir, 'util.py');
      const app = path.join(dir, 'app.py');
      const utilText = 'import os\n\n\ndef existing():\n    return 1\n';
      fs.writeFileSync(util, utilText);
      fs.writeFileSync(app, 'print(1)\n');
      const ws = new WorkspaceCache(getTokenizer(), undefined, true);
      await ws.indexFolder(dir);
      ws.updateFile(util, utilText); // opened in the editor
      assert.deepEqual(ws.recentChunks(app, 1), []);
      const edited = `${utilText}\n\ndef parse_invoice_total(invoice):\n    return sum(line.amount for line in invoice.lines)\n`;
      ws.updateFile(util, edited);
      const [chunk] = ws.recentChunks(app, 1);
      assert.equal(chunk.file, util);
      assert.match(chunk.text, /def parse_invoice_total\(invoice\):/);
      assert.ok(chunk.words.has('parse_invoice_total'));
      // Not offered to the file that was edited itself, and gone with the file.
      assert.deepEqual(ws.recentChunks(util, 1), []);
      ws.removeFile(util);
      assert.deepEqual(ws.recentChunks(app, 1), []);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
