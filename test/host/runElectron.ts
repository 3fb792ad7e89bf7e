// Runs test/host/suite in desktop VS Code through @vscode/test-electron, for machines that can
// download VS Code (a developer's desktop, a CI with internet access). Same suite and contract as
// runCodeServer.ts, which is the launcher that works offline.
// On a Linux machine without a display, run it under xvfb-run.
//
// Environment:
//   GPT2C_VSCODE_VERSION  'stable' (default), 'insiders' or e.g. '1.90.0'
//   GPT2C_TEST_CACHE      where the downloaded VS Code is kept (default .test-cache/, under vscode-desktop/)
//   GPT2C_TEST_GREP, GPT2C_TEST_MODEL, ...: reach the extension host as they are.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { downloadAndUnzipVSCode, runTests } from '@vscode/test-electron';
import { assertExtensionBuilt, compileSuite, copyFixtureWorkspace, repoRoot, suiteOutDir } from './compileSuite';

const cacheDir = path.resolve(process.env.GPT2C_TEST_CACHE || path.join(repoRoot, '.test-cache'));

async function main(): Promise<number> {
  assertExtensionBuilt();
  await compileSuite();

  const version = process.env.GPT2C_VSCODE_VERSION || 'stable';
  let vscodeExecutablePath: string;
  try {
    // Downloaded separately from runTests so that a failure here is told apart from a test failure.
    vscodeExecutablePath = await downloadAndUnzipVSCode({
      version,
      cachePath: path.join(cacheDir, 'vscode-desktop'),
    });
  } catch (err) {
    console.error(
      `[electron] could not download VS Code '${version}': ${err instanceof Error ? err.message : String(err)}\n` +
        '[electron] this launcher needs access to the VS Code download site; where only the npm registry is ' +
        'reachable, run the same suite with `npm run test:host` (code-server, offline) instead.',
    );
    return 2;
  }

  const tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'gpt2c-electron-'));
  try {
    const workspace = copyFixtureWorkspace(tmpDir);
    const launchArgs = [
      workspace,
      '--disable-workspace-trust',
      '--skip-welcome',
      '--skip-release-notes',
      '--user-data-dir',
      path.join(tmpDir, 'ud'),
      '--extensions-dir',
      path.join(tmpDir, 'ext'),
    ];
    // Electron refuses to start as root without it (containers, CI).
    if (process.getuid?.() === 0) launchArgs.push('--no-sandbox');
    return await runTests({
      vscodeExecutablePath,
      extensionDevelopmentPath: repoRoot,
      extensionTestsPath: path.join(suiteOutDir, 'index'),
      launchArgs,
    });
  } finally {
    fs.rmSync(tmpDir, { recursive: true, force: true });
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    // runTests rejects with TestRunFailedError when the suite fails: that is a normal red run.
    console.error(`[electron] ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
