/**
 * A workspace with secrets planted in ordinary-looking files and in files named like secrets: fake
 * but format-valid values, assembled here at run time from pieces and random characters, so this
 * repository holds no string a scanner would take for a real secret.
 */
import { Rng } from '../../../../src/engine/random';
import { syntheticSource, writeFiles } from './fixtures';

const UPPER = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';
const LOWER = 'abcdefghijklmnopqrstuvwxyz';
const DIGITS = '0123456789';
const ALNUM = UPPER + LOWER + DIGITS;

function draw(rng: Rng, alphabet: string, n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) s += alphabet[Math.floor(rng.next() * alphabet.length)];
  return s;
}

const dashes = '-'.repeat(5);
/** A PEM block of `kind` ('RSA PRIVATE', 'PRIVATE', 'EC PRIVATE') with random base64 lines. */
function pem(rng: Rng, kind: string, lines: number): string[] {
  const body = Array.from({ length: lines }, () => draw(rng, ALNUM + '+/', 64));
  return [`${dashes}BEGIN ${kind} ${'KEY'}${dashes}`, ...body, `${dashes}END ${kind} ${'KEY'}${dashes}`];
}

export interface PlantedWorkspace {
  /** Every secret value planted: none may appear in any mined example or in the report. */
  secrets: string[];
  /** Files with a secret in their text, and the rules that must name it. */
  byContent: Record<string, string[]>;
  /** Files with a secret-looking name, and the name rule. */
  byName: Record<string, string>;
  /** Ordinary files, used as they are. */
  clean: string[];
}

/** Writes the planted workspace into `root`. */
export function writePlantedWorkspace(root: string, seed = 7): PlantedWorkspace {
  const rng = new Rng(seed);
  const github = ['gh', 'p_'].join('') + draw(rng, ALNUM, 36);
  const gitlab = ['gl', 'pat-'].join('') + draw(rng, ALNUM, 20);
  const npm = ['np', 'm_'].join('') + draw(rng, ALNUM, 36);
  const slack = ['xo', 'xb-'].join('') + `${draw(rng, DIGITS, 12)}-${draw(rng, DIGITS, 13)}-${draw(rng, ALNUM, 24)}`;
  const stripe = ['sk', '_live_'].join('') + draw(rng, ALNUM, 24);
  const awsId = ['AK', 'IA'].join('') + draw(rng, UPPER + DIGITS, 16);
  const awsSecret = draw(rng, ALNUM + '+/', 40);
  const awsSecret2 = draw(rng, ALNUM + '+/', 40);
  const b64url = (s: string) => Buffer.from(s).toString('base64url');
  const jwt = `${b64url('{"alg":"HS256","typ":"JWT"}')}.${b64url(`{"sub":"${draw(rng, DIGITS, 10)}","name":"user"}`)}.${draw(rng, ALNUM + '-_', 43)}`;
  const rsa = pem(rng, 'RSA PRIVATE', 12);
  const serviceKey = pem(rng, 'PRIVATE', 16);
  const composePassword = draw(rng, ALNUM, 6) + draw(rng, DIGITS, 3) + draw(rng, ALNUM, 7);
  const iniPassword = draw(rng, LOWER, 5) + draw(rng, DIGITS, 2) + '!' + draw(rng, ALNUM, 6);
  const tsPassword = draw(rng, ALNUM, 10) + draw(rng, DIGITS, 4);
  const signingKey = draw(rng, ALNUM, 40);
  const privateKeyId = draw(rng, '0123456789abcdef', 40);
  const p8 = pem(rng, 'PRIVATE', 4);
  const envSecret = draw(rng, ALNUM, 32);
  const tfPassword = draw(rng, ALNUM, 20);
  const tomlToken = draw(rng, ALNUM, 32);
  const kubeToken = draw(rng, ALNUM, 48);

  const code = (seedOffset: number) => syntheticSource(500 + seedOffset, 3);
  writeFiles(root, {
    // A Python module with an inline GitHub token and an RSA key block among ordinary code.
    'app/client.py': [
      'import requests',
      '',
      'def fetch(url):',
      `    headers = {"Authorization": "token ${github}"}`,
      '    return requests.get(url, headers=headers).json()',
      '',
      `SIGNING_KEY_PEM = """`,
      ...rsa,
      '"""',
      '',
      'def total(items):',
      '    return sum(item.price for item in items)',
      '',
    ].join('\n'),
    'config/settings.ini': ['[default]', 'region = eu-west-1', `aws_access_key_id = ${awsId}`, `AWS_SECRET_ACCESS_KEY=${awsSecret}`, '', '[database]', 'host = db.internal', `password = ${iniPassword}`, ''].join('\n'),
    'deploy/deploy.sh': ['#!/bin/sh', 'set -eu', `export AWS_SECRET_ACCESS_KEY=${awsSecret2}`, 'aws s3 sync ./dist s3://bucket/site', 'echo deployed', ''].join('\n'),
    'docker-compose.yml': ['services:', '  db:', '    image: postgres:16', '    environment:', '      POSTGRES_USER: app', `      POSTGRES_PASSWORD: ${composePassword}`, '    ports:', '      - "5432:5432"', ''].join('\n'),
    'serviceAccountKey.json': JSON.stringify(
      {
        type: 'service_account',
        project_id: 'demo-project',
        private_key_id: privateKeyId,
        private_key: serviceKey.join('\n') + '\n',
        client_email: 'svc@demo-project.iam.gserviceaccount.com',
      },
      null,
      2,
    ),
    'src/tokens.ts': [
      code(1),
      `const gitlabToken = '${gitlab}';`,
      `export const registry = { token: "${npm}" };`,
      `const slackHook = '${slack}';`,
      `const billing = "${stripe}";`,
      `const session = '${jwt}';`,
      `const dbPassword = "${tsPassword}";`,
      `const signing = "${signingKey}";`,
      code(2),
    ].join('\n'),
    // Named like secrets: never read.
    'keys/AuthKey_AB12CD34EF.p8': p8.join('\n') + '\n',
    'production.env': `DATABASE_URL=postgres://app@db/app\nSECRET_KEY=${envSecret}\n`,
    'infra/terraform.tfstate': JSON.stringify({ version: 4, resources: [{ type: 'aws_db_instance', instances: [{ attributes: { password: tfPassword } }] }] }, null, 2),
    'secrets.toml': `[api]\ntoken = "${tomlToken}"\n`,
    'kubeconfig': ['apiVersion: v1', 'kind: Config', 'users:', '- name: admin', '  user:', `    token: ${kubeToken}`, ''].join('\n'),
    // Ordinary code that talks about secrets without holding one.
    'src/auth.ts': [
      code(3),
      'export function login(password: string, token = readToken()): boolean {',
      '  const apiKey = process.env.API_KEY;',
      '  const secret = config.secret ?? "";',
      "  const header = { Authorization: `Bearer ${token}` };",
      '  return check(password, apiKey, secret, header);',
      '}',
      code(4),
    ].join('\n'),
    'src/main.ts': code(5),
    'src/util.ts': code(6),
  });
  return {
    secrets: [github, gitlab, npm, slack, stripe, awsId, awsSecret, awsSecret2, jwt, ...rsa.slice(1, -1), ...serviceKey.slice(1, -1), composePassword, iniPassword, tsPassword, signingKey, privateKeyId, ...p8.slice(1, -1), envSecret, tfPassword, tomlToken, kubeToken],
    byContent: {
      'app/client.py': ['private-key', 'github-token'],
      'config/settings.ini': ['aws-access-key-id', 'aws-secret-key', 'password-assignment'],
      'deploy/deploy.sh': ['aws-secret-key'],
      'docker-compose.yml': ['password-assignment'],
      'serviceAccountKey.json': ['private-key', 'google-service-account'],
      'src/tokens.ts': ['gitlab-token', 'npm-token', 'slack-token', 'stripe-key', 'jwt', 'password-assignment', 'high-entropy-string'],
    },
    byName: {
      'infra/terraform.tfstate': 'terraform-state',
      'keys/AuthKey_AB12CD34EF.p8': 'key-file',
      kubeconfig: 'kubeconfig',
      'production.env': 'env-file',
      'secrets.toml': 'secrets-file',
    },
    clean: ['src/auth.ts', 'src/main.ts', 'src/util.ts'],
  };
}
