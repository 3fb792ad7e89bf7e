import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { secretsFlag } from '../../../../src/cli/datasetCommand';
import { UserError } from '../../../../src/engine/errors';
import { Rng } from '../../../../src/engine/random';
import { formatReport, mineDataset, type MinedDataset } from '../../../../src/training/data/dataset';
import { dropLines, scanSecrets, secretPathRule, shannonEntropy } from '../../../../src/training/data/secretScan';
import { removeDir, tempDir } from './fixtures';
import { writePlantedWorkspace, type PlantedWorkspace } from './plantedSecrets';

const REPO = path.resolve(__dirname, '../../../..');

function rng36(seed: number, n: number, alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789'): string {
  const rng = new Rng(seed);
  return Array.from({ length: n }, () => alphabet[Math.floor(rng.next() * alphabet.length)]).join('');
}

function rulesIn(text: string): string[] {
  return [...new Set(scanSecrets(text).map((f) => f.rule))];
}

/** Every string of the mined data a model would see or a person would read. */
function minedText(mined: MinedDataset): string {
  return [...mined.train, ...mined.heldOut].map((e) => `${e.context}\u0000${e.continuation}`).join('\n');
}

function assertNoSecretIn(text: string, secrets: readonly string[], where: string): void {
  for (const s of secrets) assert.ok(!text.includes(s), `a planted secret (${s.slice(0, 4)}…) reached ${where}`);
}

describe('secret scanning', () => {
  describe('scanSecrets', () => {
    it('finds each token format, naming the line and the rule', () => {
      const cases: [string, string][] = [
        [`token = "${'gh' + 'o_' + rng36(1, 36)}"`, 'github-token'],
        [`pat: ${'github' + '_pat_' + rng36(2, 82, 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_')}`, 'github-token'],
        [`url = f"https://oauth2:${'gl' + 'pat-' + rng36(3, 20)}@gitlab.com"`, 'gitlab-token'],
        [`//registry.npmjs.org/:_authToken=${'np' + 'm_' + rng36(4, 36)}`, 'npm-token'],
        [`SLACK=${'xo' + 'xp-' + rng36(5, 30)}`, 'slack-token'],
        [`hook = "https://hooks.slack.com/services/T${rng36(6, 8).toUpperCase()}/B${rng36(7, 8).toUpperCase()}/${rng36(8, 24)}"`, 'slack-token'],
        [`stripe.api_key = '${'rk' + '_live_' + rng36(9, 24)}'`, 'stripe-key'],
        [`id: ${'AS' + 'IA' + rng36(10, 16, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567')}`, 'aws-access-key-id'],
        [`aws_secret_access_key = ${rng36(11, 40, 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/')}`, 'aws-secret-key'],
        [`  "type": "service${'_account'}",`, 'google-service-account'],
        [`Authorization: Bearer ${Buffer.from('{"alg":"RS256"}').toString('base64url')}.${Buffer.from('{"sub":"42"}').toString('base64url')}.${rng36(12, 40)}`, 'jwt'],
      ];
      for (const [line, rule] of cases) {
        const text = `first line\n${line}\nlast line\n`;
        assert.deepEqual(scanSecrets(text), [{ rule, line: 2 }], line);
      }
    });

    it('finds password, secret, token and API key assignments in ini, YAML, .env, shell and code', () => {
      const v = `${rng36(20, 6)}9${rng36(21, 5)}`;
      for (const line of [
        `password = ${v}`,
        `DB_PASSWORD=${v}`,
        `export API_TOKEN="${v}"`,
        `  POSTGRES_PASSWORD: ${v}`,
        `client_secret: '${v}'`,
        `const apiKey = "${v}";`,
        `self.access_key = '${v}'`,
        `"auth-token": "${v}",`,
        `$password = "${v}";`,
        `:secret_key => "${v}"`,
        `passwd := "${v}"`,
      ]) {
        assert.deepEqual(rulesIn(line), ['password-assignment'], line);
      }
    });

    it('leaves code that only talks about secrets alone', () => {
      for (const line of [
        'function login(password: string, token = readToken()): boolean {',
        'const apiKey = process.env.API_KEY;',
        'secret = os.environ["APP_SECRET"]',
        'token = tokens[i]',
        'password = get_password()',
        'idToken: cacheRecord.idToken?.secret || "",',
        'password: ${{ secrets.DB_PASSWORD }}',
        'export PASSWORD=$DB_PASSWORD',
        'const TOKEN_TYPE = "access_token";',
        'api_key = "your-api-key-here"',
        'password: "********"',
        'token = "<token>"',
        'password = "Enter your password"',
        'const SIGNIN_TOKEN = "/oauth2/v2.0/token";',
        '$token = Get-AzAccessToken @params',
        'max_tokens = 512',
        'tokenizer = "gpt2"',
        'const secret = "";',
        'token: Item[],',
        '"integrity": "sha512-' + 'a'.repeat(20) + '"',
        'const sha = "3f786850e387550fdab836ed7e6dc881de23001b";',
        'const id = "123e4567-e89b-12d3-a456-426614174000";',
        'const header = "eyJhbGciOiJkaXIiLCJlbmMiOiJBMjU2R0NNIn0";',
        'name = "ThisIsAVeryLongCamelCaseIdentifierName2"',
        `// the key must contain ${'-'.repeat(5)}BEGIN PRIVATE KEY${'-'.repeat(5)} ... ${'-'.repeat(5)}END PRIVATE KEY${'-'.repeat(5)}`,
        'const ex = "AKIAIOSFODNN7EXAMPLE";',
      ]) {
        assert.deepEqual(scanSecrets(line), [], line);
      }
    });

    it('flags every line of a private-key block, a JSON-escaped key, and a random string assigned to anything', () => {
      const d = '-'.repeat(5);
      const body = Array.from({ length: 5 }, (_, i) => rng36(30 + i, 64));
      const text = ['x = 1', `${d}BEGIN OPENSSH PRIVATE ${'KEY'}${d}`, ...body, `${d}END OPENSSH PRIVATE ${'KEY'}${d}`, 'y = 2'].join('\n');
      assert.deepEqual(scanSecrets(text).map((f) => f.line), [2, 3, 4, 5, 6, 7, 8]);
      assert.ok(scanSecrets(text).every((f) => f.rule === 'private-key'));
      const escaped = `  "key": "${d}BEGIN EC PRIVATE ${'KEY'}${d}\\n${body.join('\\n')}\\n${d}END EC PRIVATE ${'KEY'}${d}\\n",`;
      assert.deepEqual(scanSecrets(escaped), [{ rule: 'private-key', line: 1 }]);
      assert.deepEqual(rulesIn(`const signing = "${rng36(40, 40)}";`), ['high-entropy-string']);
      assert.ok(shannonEntropy(rng36(40, 40)) > 4.2 && shannonEntropy('aaaa') === 0);
    });

    it('dropLines removes exactly the named lines', () => {
      assert.equal(dropLines('a\nb\r\nc\nd', [{ rule: 'jwt', line: 2 }, { rule: 'jwt', line: 4 }]), 'a\nc');
    });

    it('has no false positive in ordinary code: every .ts file of node_modules and of this repository', function () {
      const files: string[] = [];
      const walk = (dir: string): void => {
        for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
          const p = path.join(dir, e.name);
          if (e.isDirectory()) walk(p);
          else if (e.isFile() && p.endsWith('.ts') && !p.endsWith('.d.ts')) files.push(p);
        }
      };
      walk(path.join(REPO, 'node_modules'));
      const moduleFiles = files.length;
      if (moduleFiles < 200) {
        console.log(`    (skipped: only ${moduleFiles} .ts files in node_modules; run npm ci)`);
        this.skip();
      }
      walk(path.join(REPO, 'src'));
      walk(path.join(REPO, 'test', 'unit', 'training'));
      const flagged = files.filter((f) => scanSecrets(fs.readFileSync(f, 'utf8')).length > 0).map((f) => path.relative(REPO, f));
      assert.deepEqual(flagged, [], `false positives among ${files.length} files`);
    });
  });

  it('--secrets takes skip-file or drop-lines, and says so in one line otherwise', () => {
    assert.equal(secretsFlag('dataset', undefined), undefined);
    assert.equal(secretsFlag('finetune', 'drop-lines'), 'drop-lines');
    assert.throws(() => secretsFlag('dataset', 'drop'), (e: unknown) => e instanceof UserError && e.message === 'dataset: --secrets must be skip-file or drop-lines (got "drop")');
  });

  it('secretPathRule names the files never to read', () => {
    const expected: Record<string, string | null> = {
      '.env': 'env-file',
      'app/.env.local': 'env-file',
      'production.env': 'env-file',
      'config/app.env.staging': 'env-file',
      'src/vite.env.ts': null,
      'infra/terraform.tfstate': 'terraform-state',
      'infra/terraform.tfstate.backup': 'terraform-state',
      'prod.tfvars': 'terraform-state',
      'keys/AuthKey_AB12.p8': 'key-file',
      'cert.p12': 'key-file',
      'cert.pfx': 'key-file',
      'release.keystore': 'key-file',
      'android/app.jks': 'key-file',
      '.ssh/id_ed25519': 'key-file',
      kubeconfig: 'kubeconfig',
      'home/.kube/config': 'kubeconfig',
      'secrets.toml': 'secrets-file',
      'secrets.yaml': 'secrets-file',
      '.npmrc': 'credentials-file',
      'app/secrets.py': 'secrets-file',
      'src/secretsManager.ts': null,
      'src/config.ts': null,
      'README.md': null,
    };
    for (const [p, rule] of Object.entries(expected)) assert.equal(secretPathRule(p), rule, p);
  });

  describe('a planted workspace', () => {
    let root: string;
    let planted: PlantedWorkspace;
    before(() => {
      root = tempDir('secrets');
      planted = writePlantedWorkspace(root);
    });
    after(() => removeDir(root));

    it('skip-file (default): every file with a secret is skipped and named with its rule; no secret reaches an example or the report', async () => {
      const mined = await mineDataset(root, { seed: 1, contextTokens: 512 });
      const { report } = mined;
      assert.equal(report.secretsMode, 'skip-file');
      const secretSkips = Object.fromEntries(report.skipped.filter((s) => s.reason === 'secret').map((s) => [s.path, s.rules]));
      const expected = { ...planted.byContent, ...Object.fromEntries(Object.entries(planted.byName).map(([p, r]) => [p, [r]])) };
      assert.deepEqual(secretSkips, expected);
      assert.deepEqual(report.used.map((u) => u.path).sort(), planted.clean);
      assert.ok(mined.train.length + mined.heldOut.length > 0);
      assertNoSecretIn(minedText(mined), planted.secrets, 'a mined example');
      const text = formatReport(report);
      assertNoSecretIn(text + JSON.stringify(report), planted.secrets, 'the data report');
      for (const [file, rules] of Object.entries(expected)) {
        assert.match(text, new RegExp(`^ {2}${file.replace(/\./g, '\\.')} +file skipped +${rules.join(', ')}$`, 'm'), file);
      }
      assert.match(text, /Secrets \(11 files skipped; never used as data, values not shown\):/);
    });

    it('drop-lines: files with a secret in their text are used without those lines; files named like secrets stay out', async () => {
      const mined = await mineDataset(root, { seed: 1, contextTokens: 512, secrets: 'drop-lines' });
      const { report } = mined;
      const secretSkips = report.skipped.filter((s) => s.reason === 'secret').map((s) => s.path);
      assert.deepEqual(secretSkips, Object.keys(planted.byName).sort());
      const dropped = Object.fromEntries(report.used.filter((u) => u.secretLinesDropped).map((u) => [u.path, u.secretRules]));
      assert.deepEqual(dropped, planted.byContent);
      const fromSecretFiles = [...mined.train, ...mined.heldOut].filter((e) => e.file in planted.byContent);
      assert.ok(fromSecretFiles.length > 0, 'the cleaned files were mined');
      assertNoSecretIn(minedText(mined), planted.secrets, 'a mined example');
      const text = formatReport(report);
      assertNoSecretIn(text + JSON.stringify(report), planted.secrets, 'the data report');
      const client = report.used.find((u) => u.path === 'app/client.py')!;
      assert.equal(client.secretLinesDropped, 15); // the token line and the 14 lines of the key block
      assert.match(text, /^ {2}app\/client\.py +15 lines dropped +private-key, github-token$/m);
      assert.match(text, /^ {2}production\.env +file skipped +env-file$/m);
    });
  });
});
