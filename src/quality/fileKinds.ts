/**
 * What kind of file a held-out file is: its VS Code language id (only code files get cuts) and
 * whether it is a test, so the cuts can be spread over both kinds.
 */
import * as path from 'path';

const LANGUAGE_BY_EXTENSION: Readonly<Record<string, string>> = {
  '.ts': 'typescript',
  '.mts': 'typescript',
  '.cts': 'typescript',
  '.tsx': 'typescriptreact',
  '.js': 'javascript',
  '.mjs': 'javascript',
  '.cjs': 'javascript',
  '.jsx': 'javascriptreact',
  '.py': 'python',
  '.pyi': 'python',
  '.go': 'go',
  '.rs': 'rust',
  '.java': 'java',
  '.kt': 'kotlin',
  '.c': 'c',
  '.h': 'c',
  '.cc': 'cpp',
  '.cpp': 'cpp',
  '.hpp': 'cpp',
  '.cs': 'csharp',
  '.rb': 'ruby',
  '.php': 'php',
  '.swift': 'swift',
  '.scala': 'scala',
  '.dart': 'dart',
  '.sh': 'shellscript',
};

/** The language id of a code file, or null for anything else (docs, data, configuration). */
export function codeLanguage(relPath: string): string | null {
  return LANGUAGE_BY_EXTENSION[path.posix.extname(relPath).toLowerCase()] ?? null;
}

/**
 * Test code by the usual conventions: a test/tests/__tests__/spec folder, or a name like
 * foo.test.ts, foo.spec.js, test_foo.py, foo_test.py / foo_test.go, conftest.py.
 */
export function isTestPath(relPath: string): boolean {
  const parts = relPath.toLowerCase().split('/');
  const name = parts[parts.length - 1];
  if (parts.slice(0, -1).some((d) => d === 'test' || d === 'tests' || d === '__tests__' || d === 'spec' || d === 'testing')) return true;
  return /\.(?:test|spec)\.[^.]+$/.test(name) || /^test_.*\.py$/.test(name) || /_test\.[^.]+$/.test(name) || name === 'conftest.py';
}
