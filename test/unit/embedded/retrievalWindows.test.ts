/** The embedded model's retrieval-aware training windows (scripts/embedded/retrievalWindows.ts). */
import { strict as assert } from 'node:assert';
import { queryText } from '../../../src/completion/context/chunkIndex';
import { snippetHeader } from '../../../src/completion/context/snippets';
import { DEFAULT_RETRIEVAL } from '../../../src/completion/engineCompletion';
import { buildPrompt } from '../../../src/completion/prompt';
import { getTokenizer } from '../../../src/engine/tokenizer';
import { makeBatch } from '../../../src/training/objective';
import {
  completionPair, corpusRetrievalExamples, isRetrievalWindow, snippetCoverage, PIPELINE_MAX_TOKENS, retrievalExample, sourceIndex, SplitStream, withoutHeader,
} from '../../../scripts/embedded/retrievalWindows';
import type { CorpusFile } from '../../../scripts/embedded/corpus';
import { corpusOf } from './corpusFixture';

const tokenizer = getTokenizer();

/** A helper module whose words the cursor's file repeats, and an unrelated one. */
const HELPERS = [
  'def parse_header_value(raw_header, separator):',
  '    parts = raw_header.split(separator)',
  '    cleaned_parts = [part.strip() for part in parts]',
  '    return cleaned_parts',
  '',
  'def encode_header_value(cleaned_parts, separator):',
  '    return separator.join(cleaned_parts)',
  '',
].join('\n');
const UNRELATED = ['def area_of_circle(radius):', '    return 3.14159 * radius * radius', ''].join('\n');
/** The cursor's file: the lines above the cursor use the helper's words. */
function userFile(filler: number): string {
  const lines = [];
  for (let i = 0; i < filler; i++) lines.push(`value_${i} = compute_thing(${i})`);
  lines.push('def read_request(raw_header):');
  lines.push('    cleaned_parts = parse_header_value(raw_header, ";")');
  lines.push('    separator = ";"');
  lines.push('    return encode_header_value(cleaned_parts, separator)');
  lines.push('');
  lines.push('print(read_request("a; b"))');
  lines.push('');
  return lines.join('\n');
}

describe('embedded retrieval windows', () => {
  it('puts the pipeline\'s snippet header from another file before the window, with the loss on the file only', () => {
    const text = userFile(3);
    const files = [{ path: 'pkg/helpers.py', text: HELPERS }, { path: 'pkg/geometry.py', text: UNRELATED }, { path: 'pkg/app.py', text }];
    const index = sourceIndex(files);
    const cursor = text.indexOf('print(');
    const r = retrievalExample({ index, file: 'pkg/app.py', text, cursor, nPositions: 512, tokenizer });

    // The header is exactly the pipeline's: same search, same snippetHeader, same prompt.
    const countTokens = (t: string) => tokenizer.encode(t).length;
    const budget = 512 - PIPELINE_MAX_TOKENS;
    const chunks = index.search(queryText(text.slice(0, cursor)), DEFAULT_RETRIEVAL.k, 'pkg/app.py', DEFAULT_RETRIEVAL.ranking);
    assert.ok(chunks.length > 0);
    assert.ok(chunks.every((c) => c.file !== 'pkg/app.py'), 'never a snippet of the file itself');
    const header = snippetHeader(chunks, 'python', (f) => f, Math.floor(budget * DEFAULT_RETRIEVAL.share), countTokens);
    assert.match(header, /^# path: pkg\/helpers\.py\n# def parse_header_value/);
    const prompt = buildPrompt(text.slice(0, cursor), cursor, { tokenBudget: budget, countTokens, header }).prompt;
    const all = [...r.example.contextIds, ...r.example.continuationIds];
    const decoded = tokenizer.decode(all);
    assert.ok(decoded.startsWith(prompt), 'the example starts with the prompt the pipeline builds');
    assert.equal(decoded, `${header}\n${text}`.slice(0, decoded.length), 'then the file runs on past the cursor');
    assert.ok(decoded.length > prompt.length, 'text after the cursor is trained on');

    // Context = the header's tokens; every file token is an L2 target, no header token is.
    assert.equal(r.headerTokens, r.example.contextIds.length);
    assert.equal(tokenizer.decode(r.example.contextIds), `${header}\n`.slice(0, tokenizer.decode(r.example.contextIds).length));
    assert.ok(r.example.contextIds.length >= countTokens(`${header}\n`) - 1);
    const batch = makeBatch([r.example], [0], { rows: 1, seqLen: 512 });
    assert.equal(batch.l2Targets, r.example.continuationIds.length);
    assert.ok(all.length <= 512);
    assert.equal(r.snippets, chunks.length);

    // Without the header: the same targets.
    const bare = withoutHeader(r.example);
    assert.deepEqual(bare.continuationIds, r.example.continuationIds);
    assert.equal(bare.contextIds.length, 1);

    // After the cursor only: the prompt (or the window alone) is the context, the rest of the file the targets.
    const pair = completionPair(r);
    // (The prompt's last line break merges with the next line's token: it goes with the targets.)
    const context = tokenizer.decode(pair.withHeader.contextIds);
    assert.ok(prompt.startsWith(context) && prompt.slice(context.length).trim() === '', JSON.stringify(prompt.slice(context.length)));
    assert.equal(tokenizer.decode(pair.bare.contextIds), context.slice(header.length + 1));
    assert.deepEqual(pair.bare.continuationIds, pair.withHeader.continuationIds);
    assert.ok(tokenizer.decode(pair.withHeader.continuationIds).trimStart().startsWith('print('));

    // The line after the cursor is in no snippet here; a cursor before a helper's line is.
    assert.deepEqual(snippetCoverage([r], tokenizer), { examples: 1, withSnippets: 1, nextLineInSnippets: 0, nextLineInWindow: 0 });
    const copyCursor = text.indexOf('    cleaned_parts = parse');
    const copy = retrievalExample({ index, file: 'pkg/app.py', text: text.replace('    cleaned_parts = parse', '    parts = raw_header.split(separator)\n    cleaned_parts = parse'), cursor: copyCursor, nPositions: 512, tokenizer });
    assert.equal(snippetCoverage([copy], tokenizer).nextLineInSnippets, 1);
  });

  it('gives a plain window when no other file is similar, and fills the context from the file', () => {
    const text = userFile(200);
    const index = sourceIndex([{ path: 'geometry.py', text: UNRELATED }, { path: 'app.py', text }]);
    const cursor = text.indexOf('value_150');
    const r = retrievalExample({ index, file: 'app.py', text, cursor, nPositions: 128, tokenizer });
    assert.equal(r.headerTokens, 0);
    assert.equal(r.snippets, 0);
    assert.equal(r.example.contextIds.length, 1);
    assert.equal(r.example.contextIds.length + r.example.continuationIds.length, 128);
    const decoded = tokenizer.decode([...r.example.contextIds, ...r.example.continuationIds]);
    assert.ok(text.includes(decoded));
    assert.ok(decoded.includes('value_150'), 'the window reaches past the cursor');
  });

  it('builds corpus windows from the training files of the same source only', () => {
    const files: { source: string; path: string; split: CorpusFile['split']; text: string }[] = [
      { source: 'web', path: 'helpers.py', split: 'train', text: HELPERS.replace(/header/g, 'cookie') },
      { source: 'mail', path: 'held.py', split: 'heldout', text: HELPERS.replace(/header/g, 'heldheader') },
      { source: 'mail', path: 'helpers.py', split: 'train', text: HELPERS },
      { source: 'mail', path: 'app.py', split: 'train', text: userFile(150) },
    ];
    const corpus = corpusOf(files);
    const T = 512;
    const stream = new SplitStream(corpus, 'train');
    assert.equal(stream.length, corpus.manifest.files.filter((f) => f.split === 'train').reduce((n, f) => n + f.tokens + 1, 0));
    // Windows whose cursor position falls in app.py.
    const app = corpus.manifest.files.find((f) => f.path === 'app.py')!;
    const windows = [];
    for (let w = 0; w * T < stream.length; w++) if (stream.at(w * T + T - PIPELINE_MAX_TOKENS).file === app) windows.push(w);
    assert.ok(windows.length > 0);
    const { examples, stats } = corpusRetrievalExamples({ corpus, split: 'train', windows, nPositions: T, tokenizer });
    assert.equal(stats.examples, windows.length);
    for (const w of windows) {
      const e = examples.get(w)!;
      const head = tokenizer.decode(e.contextIds);
      assert.ok(!head.includes('heldheader'), 'no held-out file in the snippets');
      assert.ok(!head.includes('cookie'), 'no other source in the snippets');
      if (e.contextIds.length > 1) assert.match(head, /^# path: helpers\.py\n/);
    }
    assert.ok(stats.withSnippets > 0);
  });

  it('chooses retrieval windows by a seeded hash at the requested share', () => {
    let n = 0;
    for (let p = 0; p < 4000; p++) if (isRetrievalWindow(1, p, 0.25)) n++;
    assert.ok(n > 900 && n < 1100, `${n} of 4000`);
    for (let p = 0; p < 100; p++) assert.equal(isRetrievalWindow(1, p, 0), false);
    assert.equal(isRetrievalWindow(1, 17, 0.25), isRetrievalWindow(1, 17, 0.25));
  });
});
