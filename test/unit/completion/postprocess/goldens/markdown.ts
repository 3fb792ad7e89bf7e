import type { GoldenSuite } from './goldenCase';

export const markdownGoldens: GoldenSuite = {
  languageId: 'markdown',
  indentUnit: '  ',
  cases: [
    {
      name: 'single line: cut at the first line break',
      doc: '# Tool\n\nThis project █',
      completion: 'turns notes into slides.\n\n## Install',
      expected: 'turns notes into slides.',
    },
    {
      name: 'a line ending with ":" is not a block opener in prose',
      doc: 'Steps:█',
      completion: ' install, build, run.\n1. Install',
      expected: ' install, build, run.',
    },
    {
      name: 'link: the closing paren already there is not repeated',
      doc: 'See [the docs](█)',
      completion: 'https://example.com/docs)',
      expected: 'https://example.com/docs',
    },
    {
      name: 'suffix repetition: bold markers already there',
      doc: 'This is **very█**',
      completion: ' important**.',
      expected: ' important',
    },
    {
      name: 'apostrophes are not quotes; trailing whitespace trimmed',
      doc: "Don't █",
      completion: "panic, it's fine.  ",
      expected: "panic, it's fine.",
    },
    {
      name: 'next-line repetition is dropped',
      doc: '- one\n█\n- two\n',
      completion: '- two',
      expected: null,
    },
    {
      name: 'trivial: only the closer already there',
      doc: '(see above█)',
      completion: ')',
      expected: null,
    },
    {
      name: 'end-of-text cuts the completion',
      doc: 'Licensed under █',
      completion: 'the MIT license.<|endoftext|>Copyright',
      expected: 'the MIT license.',
    },
    {
      name: 'decoding loop in a list is collapsed',
      doc: 'Options: (█',
      completion: '\n  - fast\n  - fast\n  - fast\n)',
      expected: '\n  - fast',
      multiline: true,
    },
  ],
};
