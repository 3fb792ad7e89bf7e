import type { GoldenSuite } from './goldenCase';

export const goGoldens: GoldenSuite = {
  languageId: 'go',
  indentUnit: '\t',
  cases: [
    {
      name: 'single line: cut at the first line break',
      doc: 'package main\n\nvar answer = █',
      completion: '42\nvar other = 1',
      expected: '42',
    },
    {
      name: 'function block closed below: body only',
      doc: 'func main() {█\n}\n',
      completion: '\n\tfmt.Println("hello")\n}\n',
      expected: '\n\tfmt.Println("hello")',
      multiline: true,
    },
    {
      name: 'nested if closed below: dedent stops at the closer',
      doc: 'func load() error {\n\terr := read()\n\tif err != nil {█\n\t}\n\treturn nil\n}\n',
      completion: '\n\t\treturn err\n\t}\n\treturn nil\n}',
      expected: '\n\t\treturn err',
      multiline: true,
    },
    {
      name: 'function at end of file: body and closing brace, stop at the blank line',
      doc: 'func double(x int) int {█',
      completion: '\n\ty := x * 2\n\treturn y\n}\n\nfunc triple(x int) int {',
      expected: '\n\ty := x * 2\n\treturn y\n}',
      multiline: true,
    },
    {
      name: 'duplicated closer dropped',
      doc: 'fmt.Println(█)',
      completion: '"done")',
      expected: '"done"',
    },
    {
      name: 'suffix repetition: stop before the closing brace already there',
      doc: 'counts := map[string]int{█}',
      completion: '"a": 1}',
      expected: '"a": 1',
    },
    {
      name: 'next-line repetition is dropped',
      doc: 'func f() int {\n\tx := 1\n\t█\n\treturn x\n}',
      completion: 'return x',
      expected: null,
    },
    {
      name: 'trailing whitespace trimmed',
      doc: 'x := █',
      completion: 'len(items) \t ',
      expected: 'len(items)',
    },
    {
      name: 'trivial: only the closer already there',
      doc: 'run(ctx█)',
      completion: ')',
      expected: null,
    },
    {
      name: 'end-of-text cuts the completion',
      doc: 'import "█"',
      completion: 'strings"<|endoftext|>package other',
      expected: 'strings',
    },
    {
      name: 'raw string: brackets inside backticks are text',
      doc: 'pattern := █',
      completion: '`^(a|b]$`\nfmt.Println(pattern)',
      expected: '`^(a|b]$`',
    },
  ],
};
