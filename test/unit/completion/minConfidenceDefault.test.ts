// The setting's default that VS Code shows (package.json) is the one the code applies when the
// setting is unset and the one the CLI uses: both come from DEFAULT_MIN_CONFIDENCE.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DEFAULT_MIN_CONFIDENCE } from '../../../src/completion/minConfidence';

describe('minConfidence default', () => {
  it("package.json's default is DEFAULT_MIN_CONFIDENCE", () => {
    const manifest = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', '..', 'package.json'), 'utf8'));
    const sections = manifest.contributes.configuration as { properties: Record<string, { default?: unknown }> }[];
    const setting = sections.map((s) => s.properties['gpt2Complete.minConfidence']).find((p) => p !== undefined);
    assert.equal(setting?.default, DEFAULT_MIN_CONFIDENCE);
  });
});
