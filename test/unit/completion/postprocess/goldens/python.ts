import type { GoldenSuite } from './goldenCase';

export const pythonGoldens: GoldenSuite = {
  languageId: 'python',
  indentUnit: '    ',
  cases: [
    {
      name: 'single line: cut at the first line break',
      doc: 'result = █',
      completion: 'compute(data)\nprint(result)',
      expected: 'compute(data)',
    },
    {
      name: 'block open with ":": body, stop at the dedent',
      doc: 'def area(r):█',
      completion: '\n    return 3.14159 * r * r\nprint(area(2))',
      expected: '\n    return 3.14159 * r * r',
      multiline: true,
    },
    {
      name: 'block open: stop at the blank line',
      doc: 'total = 0\nfor i in range(10):█\n\nprint(total)\n',
      completion: '\n    total += i\n    print(i)\n\nprint(total)',
      expected: '\n    total += i\n    print(i)',
      multiline: true,
    },
    {
      name: 'fresh indented line under a class: nested block kept, dedent stops',
      doc: 'class Point:\n    █\n',
      completion:
        'def __init__(self, x, y):\n        self.x = x\n        self.y = y\nclass Other:\n    pass',
      expected: 'def __init__(self, x, y):\n        self.x = x\n        self.y = y',
      multiline: true,
    },
    {
      name: 'block whose next line is not deeper is empty: multi-line',
      doc: 'if debug:█\nrun()\n',
      completion: '\n    log("debug")\nrun()',
      expected: '\n    log("debug")',
      multiline: true,
    },
    {
      name: 'block that already has a body: single line',
      doc: 'if debug:█\n    log("x")\n',
      completion: ' # verbose\n    log("y")',
      expected: ' # verbose',
    },
    {
      name: 'duplicated closer dropped',
      doc: 'print(█)',
      completion: "'hello')",
      expected: "'hello'",
    },
    {
      name: 'suffix repetition inside a string keeps the trailing space',
      doc: 'name = input("█")',
      completion: 'Your name: ")\nprint(name)',
      expected: 'Your name: ',
    },
    {
      name: 'next-line repetition is dropped',
      doc: 'total = 0\n█\nfor x in xs:\n    total += x\n',
      completion: 'for x in xs:',
      expected: null,
    },
    {
      name: 'trailing whitespace trimmed',
      doc: 'x = █',
      completion: 'None   ',
      expected: 'None',
    },
    {
      name: 'trivial: only the bracket already there',
      doc: 'values = [1, 2█]',
      completion: ']',
      expected: null,
    },
    {
      name: 'end-of-text cuts the completion',
      doc: 'import █',
      completion: 'os<|endoftext|>import sys',
      expected: 'os',
    },
    {
      name: 'colon inside a comment does not open a block',
      doc: '# Note:█',
      completion: ' this runs once\n    more()',
      expected: ' this runs once',
    },
    {
      name: 'list open: items and the closing bracket',
      doc: 'names = [█',
      completion: '\n    "ada",\n    "grace",\n]\nprint(names)',
      expected: '\n    "ada",\n    "grace",\n]',
      multiline: true,
    },
  ],
};
