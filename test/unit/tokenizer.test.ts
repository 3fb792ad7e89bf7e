import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import fc from 'fast-check';
import { decode as refDecode, encode as refEncode } from 'gpt-3-encoder';
import { EOT, IncrementalEncoder, getTokenizer } from '../../src/engine/tokenizer';
import { TokenStreamDecoder, Utf8StreamDecoder } from '../../src/engine/utf8Stream';

const tok = getTokenizer();
// String.prototype.toWellFormed is ES2024; our lib is ES2022. In u-mode \p{Cs} matches only lone surrogates.
const wellFormed = (s: string) => s.replace(/\p{Cs}/gu, '\ufffd');
const fullDecode = (bytes: Uint8Array) => new TextDecoder('utf-8', { ignoreBOM: true }).decode(bytes);

// Characters that stress the pre-tokenizer's edges: whitespace kinds, contractions, digits, marks.
const edgeChar = fc.constantFrom(
  ' ', ' ', '\n', '\n', '\t', '\r\n', '\u00a0', '\u2028', "'", "'s", "'ll", 'a', 'Z', 'é', 'e\u0301', '7', '٣',
  '.', '{', '}', '=>', '漢', '😀', '👩‍💻', '\ufeff', '<|endoftext|>',
);
const loneSurrogate = fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c));
const anyChar = fc.oneof(fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }), edgeChar);
const text = (maxLength = 60) => fc.string({ unit: anyChar, maxLength });

describe('tokenizer', () => {
  describe('matches gpt-3-encoder', () => {
    const samples = [
      '',
      'Hello, world!',
      "I'm sure they'll say it's theirs, we've heard you'd. DON'T 'S",
      'numbers 123 4567890 3.14159 1e-9 ٣٤٥ ²',
      '漢字とかな、한국어, русский, العربية, हिन्दी',
      'emoji 😀👍🏽 👩‍💻 🇫🇷',
      'line one\r\nline two\r\n\r\n\ttabbed\n    indented\n\n\n',
      `${' '.repeat(500)}x${'\t'.repeat(40)}\n${' '.repeat(17)}`,
      'trailing spaces   \n  \n',
      'nbsp\u00a0and\u2028separators\u3000wide',
      'e\u0301 combining, zero\u200bwidth',
      'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa',
      'x'.repeat(3000),
      'https://example.com/path?q=1&r=two#frag <a href="x">y</a> {"k": [1, 2]}',
    ];
    for (const s of samples) {
      it(JSON.stringify(s.length > 30 ? `${s.slice(0, 30)}…` : s), () => {
        assert.deepEqual(tok.encode(s), refEncode(s));
      });
    }

    const files = [
      require.resolve('gpt-3-encoder/Encoder.js'),
      require.resolve('typescript/lib/lib.es2015.core.d.ts'),
      require.resolve('mocha/lib/cli/run.js'),
      path.join(__dirname, '../../src/engine/tokenizer.ts'),
    ];
    for (const file of files) {
      it(`source file ${path.basename(file)}`, () => {
        const s = fs.readFileSync(file, 'utf8');
        assert.deepEqual(tok.encode(s), refEncode(s));
      });
    }

    it('random text (property)', () => {
      fc.assert(fc.property(text(), (s) => assert.deepEqual(tok.encode(s), refEncode(s))), { numRuns: 300 });
    });
  });

  describe('round trip', () => {
    const cases: Record<string, string> = {
      emoji: '😀 👍🏽 👩‍💻 family 👨‍👩‍👧‍👦 flags 🇯🇵',
      CJK: '漢字の読み方、中文字符，한국어',
      CRLF: 'a\r\nb\r\n\r\n',
      tabs: '\tif (x) {\n\t\treturn;\n\t}\n',
      '500 spaces': `${' '.repeat(500)}end`,
      'byte order mark': '\ufeffstarts with a BOM',
      controls: '\u0000\u0001\u007f\u0085',
    };
    for (const [name, s] of Object.entries(cases)) {
      it(name, () => assert.equal(tok.decode(tok.encode(s)), s));
    }

    it('lone surrogates come back as U+FFFD (they are not Unicode), without throwing', () => {
      assert.equal(tok.decode(tok.encode('a\ud800b\udc00')), 'a\ufffdb\ufffd');
      assert.equal(tok.decode(tok.encode('\ud83d')), '\ufffd');
    });

    it('any well-formed string (property)', () => {
      fc.assert(
        fc.property(fc.string({ unit: 'binary', maxLength: 200 }), (s) => assert.equal(tok.decode(tok.encode(s)), s)),
        { numRuns: 500 },
      );
      fc.assert(fc.property(text(200), (s) => assert.equal(tok.decode(tok.encode(s)), wellFormed(s))));
    });

    it('strings with lone surrogates decode to their well-formed version (property)', () => {
      const s = fc.string({ unit: fc.oneof(anyChar, loneSurrogate), maxLength: 40 });
      fc.assert(fc.property(s, (x) => assert.equal(tok.decode(tok.encode(x)), wellFormed(x))));
    });
  });

  describe('special token', () => {
    it('"<|endoftext|>" in text is ordinary text, never EOT', () => {
      const s = 'end<|endoftext|><|endoftext|> next';
      const ids = tok.encode(s);
      assert.ok(!ids.includes(EOT));
      assert.equal(tok.decode(ids), s);
    });

    it('decode drops EOT unless keepSpecial', () => {
      assert.equal(EOT, 50256);
      assert.equal(tok.decode([EOT]), '');
      const ids = [...tok.encode('a'), EOT, ...tok.encode('b')];
      assert.equal(tok.decode(ids), 'ab');
      assert.equal(tok.decode(ids, { keepSpecial: true }), 'a<|endoftext|>b');
      assert.equal(tok.tokenBytes(EOT).length, 0);
    });

    it('rejects ids outside the vocabulary', () => {
      for (const bad of [-1, 50257, 1.5, NaN]) assert.throws(() => tok.decode([bad]), RangeError);
    });
  });

  describe('bytes', () => {
    it('tokenBytes and decodeBytes give the UTF-8 of the text', () => {
      const s = 'héllo 漢 😀';
      const ids = tok.encode(s);
      assert.deepEqual(tok.decodeBytes(ids), new Uint8Array(Buffer.from(s, 'utf8')));
      const joined = Buffer.concat(ids.map((id) => tok.tokenBytes(id)));
      assert.deepEqual(new Uint8Array(joined), tok.decodeBytes(ids));
    });

    it('half a character decodes to U+FFFD, as in gpt-3-encoder', () => {
      const ids = tok.encode('漢');
      assert.equal(ids.length, 3);
      for (const id of ids) assert.equal(tok.decode([id]), refDecode([id]));
      assert.equal(tok.decode(ids.slice(0, 1)), '\ufffd');
    });
  });

  describe('scaling', () => {
    it('keeps its cache bounded', () => {
      const words = Array.from({ length: 60_000 }, (_, i) => `w${i.toString(36)}q`).join(' ');
      tok.encode(words);
      assert.ok(tok.cacheSize <= 40_000, `cache holds ${tok.cacheSize}`);
    });

    it('encodes a huge single pre-token quickly (no quadratic BPE)', () => {
      const s = 'abcdefghij'.repeat(20_000); // one 200 KB word
      const t = performance.now();
      assert.equal(tok.decode(tok.encode(s)), s);
      assert.ok(performance.now() - t < 2000);
    });
  });

  describe('IncrementalEncoder', () => {
    it('follows typing and equals encode', () => {
      const inc = new IncrementalEncoder(tok);
      let s = '';
      for (const ch of 'function f() {\n  return 1;\n}\n\nconst x = f();\n// done\n') {
        s += ch;
        assert.deepEqual(inc.encode(s), tok.encode(s));
      }
    });

    it('equals encode over random edit sequences (property)', () => {
      const lineChar = fc.oneof(edgeChar, fc.constantFrom('\n', '\n ', '\n\n', 'x', ' y', ';'));
      const edit = fc.record({
        at: fc.double({ min: 0, max: 1, noNaN: true }),
        remove: fc.nat(8),
        insert: fc.string({ unit: lineChar, maxLength: 6 }),
      });
      const start = fc.string({ unit: lineChar, maxLength: 80 });
      fc.assert(
        fc.property(start, fc.array(edit, { maxLength: 12 }), (s, edits) => {
          const inc = new IncrementalEncoder(tok);
          assert.deepEqual(inc.encode(s), tok.encode(s));
          for (const e of edits) {
            const at = Math.floor(e.at * s.length);
            s = s.slice(0, at) + e.insert + s.slice(at + e.remove);
            assert.deepEqual(inc.encode(s), tok.encode(s));
          }
        }),
        { numRuns: 300 },
      );
    });
  });

  describe('streaming decode', () => {
    it("emits '漢' only once its three tokens are in", () => {
      const ids = tok.encode('漢');
      const d = new TokenStreamDecoder(tok);
      assert.deepEqual(
        ids.map((id) => d.push(id)),
        ['', '', '漢'],
      );
      assert.equal(d.flush(), '');
    });

    it('EOT yields nothing; flush turns a dangling partial character into U+FFFD', () => {
      const d = new TokenStreamDecoder(tok);
      assert.equal(d.push(tok.encode('漢')[0]), '');
      assert.equal(d.push(EOT), '');
      assert.equal(d.flush(), '\ufffd');
    });

    it('bytes split anywhere decode as the whole (property)', () => {
      const splitBytes = fc.uint8Array({ maxLength: 60 }).chain((bytes) =>
        fc.tuple(fc.constant(bytes), fc.uniqueArray(fc.nat(bytes.length), { maxLength: 10 })),
      );
      fc.assert(
        fc.property(splitBytes, ([bytes, cuts]) => {
          const d = new Utf8StreamDecoder();
          let out = '';
          let from = 0;
          for (const cut of [...cuts].sort((a, b) => a - b)) {
            out += d.push(bytes.subarray(from, cut));
            from = cut;
          }
          out += d.push(bytes.subarray(from)) + d.flush();
          assert.equal(out, fullDecode(bytes));
        }),
        { numRuns: 500 },
      );
    });

    it('pushValid stops at the first malformed byte, wherever the bytes are split (property)', () => {
      // The reference: a fatal streaming decoder throws exactly at the first byte that breaks UTF-8.
      const firstMalformed = (bytes: Uint8Array): number => {
        for (let k = 1; k <= bytes.length; k++) {
          try {
            new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes.subarray(0, k), { stream: true });
          } catch {
            return k - 1;
          }
        }
        return -1;
      };
      const splitBytes = fc.uint8Array({ maxLength: 40 }).chain((bytes) =>
        fc.tuple(fc.constant(bytes), fc.uniqueArray(fc.nat(bytes.length), { maxLength: 8 })),
      );
      fc.assert(
        fc.property(splitBytes, ([bytes, cuts]) => {
          const d = new Utf8StreamDecoder();
          let out = '';
          let malformed = false;
          let from = 0;
          for (const cut of [...[...cuts].sort((a, b) => a - b), bytes.length]) {
            const r = d.pushValid(bytes.subarray(from, cut));
            out += r.text;
            from = cut;
            if (r.malformed) {
              malformed = true;
              break;
            }
          }
          const bad = firstMalformed(bytes);
          assert.equal(malformed, bad >= 0);
          const valid = bytes.subarray(0, bad >= 0 ? bad : bytes.length);
          // Whole characters of the valid bytes, without an unfinished last one.
          assert.equal(out, new TextDecoder('utf-8', { ignoreBOM: true }).decode(valid, { stream: true }));
          if (!bytes.includes(0xef)) assert.ok(!out.includes('\ufffd'), 'no U+FFFD unless the bytes spell it');
        }),
        { numRuns: 1000 },
      );
    });

    it('any token sequence streams to the same text as decode (property)', () => {
      const ids = fc.oneof(
        text().map((s) => tok.encode(s)),
        fc.array(fc.integer({ min: 0, max: EOT }), { maxLength: 20 }), // includes invalid UTF-8
      );
      fc.assert(
        fc.property(ids, (xs) => {
          const d = new TokenStreamDecoder(tok);
          const out = xs.map((id) => d.push(id)).join('') + d.flush();
          assert.equal(out, tok.decode(xs));
        }),
        { numRuns: 300 },
      );
    });
  });
});
