// A large generated workspace for indexing tests and benchmarks: seeded, so it is the same on every
// run, and every line unique (the worst case for the workspace lines index). Used by the host suite
// (workspaceContext.test.ts) and bench/indexMemory.ts; it must not import `vscode`.
import * as fs from 'node:fs';
import * as path from 'node:path';

/** A seeded stream of identifiers, so the generated workspace is the same on every run. */
function* words(seed: number): Generator<string> {
  let x = seed >>> 0;
  const syllables = ['ka', 'lo', 'mi', 'ran', 'te', 'vo', 'zu', 'pel', 'dor', 'qui', 'sna', 'fex'];
  for (;;) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    yield syllables[x % 12] + syllables[(x >>> 8) % 12] + syllables[(x >>> 16) % 12];
  }
}

/**
 * About `bytes` of plausible Python in files of ~20 KB under `dir`: statements of many shapes, as
 * people write them (a file of a few repeated line shapes is taken for generated code and skipped).
 * Returns the bytes written.
 */
export function writeLargeWorkspace(dir: string, bytes: number): number {
  const w = words(7);
  const next = (): string => w.next().value as string;
  let pick = 11;
  const choose = (n: number): number => (pick = (Math.imul(pick, 1103515245) + 12345) >>> 0) % n;
  const statements: (() => string)[] = [
    () => `${next()} = ${next()}.${next()}(${next()}, ${choose(9)})`,
    () => `if ${next()} is None:`,
    () => `    return ${next()}`,
    () => `for ${next()} in ${next()}.${next()}():`,
    () => `    ${next()}.append(${next()}[${choose(5)}])`,
    () => `${next()} += len(${next()})`,
    () => `try:`,
    () => `    ${next()} = int(${next()}.get("${next()}", ${choose(99)}))`,
    () => `except (ValueError, KeyError) as ${next()}:`,
    () => `    raise ${next()}Error(f"{${next()}} is not {${next()}}") from None`,
    () => `# ${next()} the ${next()} before ${next()} is ${next()}`,
    () => `${next()}: dict[str, list[int]] = {}`,
    () => `with open(${next()}, "rb") as ${next()}:`,
    () => `assert ${next()} > ${choose(7)}, "${next()} ${next()}"`,
    () => `while not ${next()}.${next()}:`,
    () => `${next()}, ${next()} = ${next()}(${next()}=${next()}, ${next()}=True)`,
    () => `yield from ${next()}(${next()}[${choose(3)}:])`,
    () => `print(${next()}, sep="${next()}")`,
  ];
  let total = 0;
  for (let f = 0; total < bytes; f++) {
    const lines: string[] = [`import ${next()}`, `from ${next()} import ${next()}, ${next()}`, ''];
    while (lines.join('\n').length < 20_000) {
      lines.push(`def ${next()}_${f}(${next()}, ${next()}=None):`, `    """Return the ${next()} of ${next()}."""`);
      for (let i = 0; i < 8; i++) lines.push(`    ${statements[choose(statements.length)]()}`);
      lines.push(`    return ${next()}`, '', '');
    }
    const text = lines.join('\n');
    fs.writeFileSync(path.join(dir, `module_${f}.py`), text);
    total += text.length;
  }
  return total;
}
