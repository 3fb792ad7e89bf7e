// Shared by both launchers: transpiles test/host/suite/*.ts one file per file (no bundling) into
// test/host/out/, so the suite's index can find the compiled *.test.js files beside it and `vscode`
// / `mocha` are resolved at run time (vscode by the extension host, mocha from node_modules).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { build } from 'esbuild';

export const repoRoot = path.resolve(__dirname, '..', '..');
export const suiteSrcDir = path.join(__dirname, 'suite');
/** Folder holding the compiled index.js: what extensionTestsPath points at. */
export const suiteOutDir = path.join(__dirname, 'out');

export async function compileSuite(): Promise<void> {
  const entryPoints = fs
    .readdirSync(suiteSrcDir)
    .filter((f) => f.endsWith('.ts'))
    .map((f) => path.join(suiteSrcDir, f));
  // Start clean so a deleted or renamed test never runs from a stale .js.
  fs.rmSync(suiteOutDir, { recursive: true, force: true });
  await build({
    entryPoints,
    outdir: suiteOutDir,
    bundle: false,
    platform: 'node',
    format: 'cjs',
    target: 'node20', // desktop VS Code's Electron; code-server's host runs Node 24
    // For debuggers. The extension host installs its own Error.prepareStackTrace, so failure stacks
    // still name the compiled test/host/out/*.js lines.
    sourcemap: 'inline',
    logLevel: 'warning',
  });
}

/** The built extension must exist before a host starts; building it is `npm run build`'s job. */
export function assertExtensionBuilt(): void {
  const main = path.join(repoRoot, 'dist', 'extension.js');
  if (!fs.existsSync(main)) {
    throw new Error(`${path.relative(process.cwd(), main)} is missing: run \`npm run build\` first`);
  }
}

/** A fresh copy of the fixture workspace, so tests may edit or save files freely. */
export function copyFixtureWorkspace(into: string): string {
  const dest = path.join(into, 'workspace');
  fs.cpSync(path.join(__dirname, 'fixtures', 'workspace'), dest, { recursive: true });
  return dest;
}
