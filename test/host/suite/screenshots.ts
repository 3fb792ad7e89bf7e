// Screenshots for a reviewer: the suite asks the code-server launcher (which drives Chromium) with
// one log line and waits until the file is there. Under a launcher without screenshots
// (GPT2C_SCREENSHOT_DIR unset, e.g. test-electron) this does nothing.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { sleep } from './editorDriver';

export async function screenshot(name: string, timeoutMs = 15_000): Promise<string | undefined> {
  const dir = process.env.GPT2C_SCREENSHOT_DIR;
  if (!dir) return undefined;
  const file = path.join(dir, `${name}.png`);
  fs.rmSync(file, { force: true });
  console.log(`[gpt2c-screenshot] ${name}`);
  const deadline = Date.now() + timeoutMs;
  while (!fs.existsSync(file)) {
    if (Date.now() > deadline) {
      console.log(`host: screenshot ${name} did not arrive within ${timeoutMs} ms`);
      return undefined;
    }
    await sleep(50);
  }
  return file;
}
