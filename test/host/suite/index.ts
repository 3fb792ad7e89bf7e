// Entry point that VS Code's extension host loads through extensionTestsPath, under both launchers
// (code-server in headless Chromium, and desktop VS Code through @vscode/test-electron): run()
// resolves when every test passed and rejects otherwise, which the host turns into the exit code.
import * as fs from 'node:fs';
import * as path from 'node:path';
import Mocha from 'mocha';

export function run(): Promise<void> {
  const mocha = new Mocha({
    ui: 'tdd',
    color: false, // the output is relayed through the workbench log, not a terminal
    reporter: 'spec',
    timeout: 60_000, // the first test may wait for a model to load
    // GPT2C_TEST_GREP, given to the launcher, reaches this process and narrows the run.
    grep: process.env.GPT2C_TEST_GREP || undefined,
  });
  const files = fs
    .readdirSync(__dirname)
    .filter((f) => f.endsWith('.test.js'))
    .sort();
  for (const f of files) mocha.addFile(path.join(__dirname, f));

  // A second start in the same run means the extension host died and was restarted mid-suite.
  const marker = process.env.GPT2C_SUITE_STARTED_MARKER;
  if (marker) {
    if (fs.existsSync(marker)) {
      console.log('host: the extension host restarted during the suite (it crashed); failing the run');
      return Promise.reject(new Error('the extension host restarted during the suite'));
    }
    fs.writeFileSync(marker, String(process.pid));
  }

  return new Promise((resolve, reject) => {
    try {
      const runner = mocha.run((failures) => {
        const stats = runner.stats;
        const passed = stats?.passes ?? 0;
        const skipped = stats?.pending ?? 0;
        // The plain closing line that CI reads as a test count.
        console.log(`host: ${passed} passed, ${failures} failed, ${skipped} skipped`);
        if (failures > 0) reject(new Error(`${failures} extension-host test(s) failed`));
        else if (passed === 0) reject(new Error(`no extension-host test ran (files: ${files.join(', ') || 'none'})`));
        else resolve();
      });
    } catch (err) {
      reject(err);
    }
  });
}
