/**
 * Secrets in a file's text and in its name, so that none reaches fine-tuning data (a model can
 * repeat what it was trained on, in a suggestion, to anyone the adapter is shared with).
 *
 *   scanSecrets(text)        → [{rule, line}]: every line (1-based) that holds a secret, and which rule found it
 *   secretPathRule(relPath)  → the name rule a path matches (.env files, key stores, Terraform state,
 *                              kubeconfig, secrets.*), or null; such files are never read
 *
 * What the content rules catch: private-key blocks (every line of the block); GitHub, GitLab, npm,
 * Slack, Stripe tokens and AWS access key ids by their published formats; AWS secret keys, Google
 * service-account JSON and JWTs; `password|passwd|secret|token|api_key|access_key… = value`
 * assignments (`=`, `:`, `:=`, `=>`, quoted or not: ini, YAML, .env, shell and code); and
 * high-entropy strings assigned to anything (random base62/base64 of 24+ characters, ≥ 4.2 bits a
 * character, not base64 of text). Values that read as code (a call, an index, a variable, a member
 * access, a type) or as a placeholder are not secrets. False positives on ordinary code, measured with
 * bench/secretScan.ts: 0 of the 928 .ts files in node_modules, 1 of 636 .py files of Python 3.11's
 * standard library (a password in a urllib docstring example).
 *
 * Own rules rather than secretlint's recommended preset (it is in node_modules, under vsce): the
 * preset with @secretlint/core bundles to 342 KB minified, more than this whole CLI, and runs
 * asynchronously through its own message pipeline; and on the tests' planted workspace it missed
 * the docker-compose and ini passwords, the GitLab and Stripe keys, the JWT and the random signing
 * key, which the assignment and entropy rules here catch. Lines are what drop-lines needs, too.
 *
 * No rule's source text is itself a secret: the patterns spell key headers with `-{5}` and never
 * contain a whole token, so this file passes its own scan.
 */
import * as path from 'path';

/** Content rules: stable ids (reports, tests) with a label. */
export const SECRET_RULES = {
  'private-key': 'a private key block',
  'github-token': 'a GitHub token',
  'gitlab-token': 'a GitLab token',
  'npm-token': 'an npm token',
  'slack-token': 'a Slack token or webhook',
  'stripe-key': 'a Stripe live key',
  'aws-access-key-id': 'an AWS access key id',
  'aws-secret-key': 'an AWS secret access key',
  'google-service-account': 'a Google service-account key',
  jwt: 'a JSON Web Token',
  'password-assignment': 'a password, secret, token or API key assigned a value',
  'high-entropy-string': 'a random-looking string assigned a value',
} as const;

export type SecretRule = keyof typeof SECRET_RULES;

/** Name rules: stable ids with a label. */
export const SECRET_PATH_RULES = {
  'env-file': '.env files (.env, .env.*, *.env, *.env.*)',
  'key-file': 'private keys, certificates and key stores (*.pem, *.key, *.p8, *.p12, *.pfx, *.jks, *.keystore, id_rsa…)',
  'credentials-file': 'credential files (.npmrc, .netrc, .pgpass, credentials.*…)',
  'secrets-file': 'secrets.* files',
  'terraform-state': 'Terraform state and variables (*.tfstate, *.tfstate.backup, *.tfvars)',
  kubeconfig: 'Kubernetes client configuration (kubeconfig, .kube/config)',
} as const;

export type SecretPathRule = keyof typeof SECRET_PATH_RULES;

export interface SecretFinding {
  readonly rule: SecretRule;
  /** 1-based line number. */
  readonly line: number;
}

// ---- names ----

const CREDENTIAL_NAMES = new Set([
  '.npmrc', '.pypirc', '.netrc', '_netrc', '.git-credentials', '.htpasswd', '.dockercfg', '.pgpass', '.s3cfg',
  'credentials', 'credentials.json', 'credentials.yml', 'credentials.yaml', 'service-account.json',
]);
const KEY_EXTENSIONS = new Set(['.pem', '.key', '.p8', '.p12', '.pfx', '.jks', '.keystore', '.ppk', '.kdbx', '.asc', '.gpg']);
/** `x.env.ts` is a module about the environment, not an environment file. */
const CODE_EXTENSIONS = new Set(['.ts', '.tsx', '.mts', '.cts', '.js', '.jsx', '.mjs', '.cjs', '.py', '.go', '.rs', '.java', '.kt', '.rb', '.php', '.cs', '.swift', '.dart', '.md']);

/** The name rule `relPath` (relative, `/`-separated) matches, or null. */
export function secretPathRule(relPath: string): SecretPathRule | null {
  const parts = relPath.toLowerCase().split('/');
  const name = parts[parts.length - 1];
  const ext = path.posix.extname(name);
  // .env, .env.local, production.env, app.env.staging (templates too: they too often hold a real value).
  if (name.startsWith('.env') || name.endsWith('.env') || (name.includes('.env.') && !CODE_EXTENSIONS.has(ext))) return 'env-file';
  if (/^id_(?:rsa|dsa|ecdsa|ed25519)/.test(name) || KEY_EXTENSIONS.has(ext)) return 'key-file';
  if (CREDENTIAL_NAMES.has(name)) return 'credentials-file';
  if (name.startsWith('secrets.')) return 'secrets-file';
  if (name.endsWith('.tfstate') || name.endsWith('.tfstate.backup') || ext === '.tfvars') return 'terraform-state';
  if (name === 'kubeconfig' || name.startsWith('kubeconfig.') || (name === 'config' && parts[parts.length - 2] === '.kube')) return 'kubeconfig';
  return null;
}

// ---- content ----

/** Token formats: each anywhere in a line. */
const TOKEN_PATTERNS: readonly [SecretRule, RegExp][] = [
  ['github-token', /\bgh[pousr]_[A-Za-z0-9]{36,255}\b|\bgithub_pat_[A-Za-z0-9_]{50,255}\b/],
  ['gitlab-token', /\bglpat-[A-Za-z0-9_-]{20,}/],
  ['npm-token', /\bnpm_[A-Za-z0-9]{36}\b/],
  ['slack-token', /\bxox[abposre]-[A-Za-z0-9-]{10,}|hooks\.slack\.com\/services\/T[A-Z0-9]+\/B[A-Z0-9]+\/[A-Za-z0-9]+/],
  ['stripe-key', /\b[sr]k_live_[A-Za-z0-9]{20,}\b/],
  // AWS's documentation examples end in EXAMPLE and are published on purpose.
  ['aws-access-key-id', /\b(?:AKIA|ASIA|ABIA|ACCA)(?![A-Z0-9]*EXAMPLE)[A-Z0-9]{16}\b/],
  ['aws-secret-key', /aws.?secret.?(?:access.?)?key["']?\s*(?:[:=]|:=|=>)\s*["']?(?![A-Za-z0-9/+]*EXAMPLE)[A-Za-z0-9/+]{30,}/i],
  ['google-service-account', /"type"\s*:\s*"service_account"|"private_key(?:_id)?"\s*:\s*"[^"]{16,}/],
  ['jwt', /\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/],
];

const KEY_BEGIN = /-{5}BEGIN[ A-Z0-9]*PRIVATE KEY(?: BLOCK)?-{5}/;
const KEY_END = /-{5}END[ A-Z0-9]*PRIVATE KEY(?: BLOCK)?-{5}/;

/**
 * `<name> <op> <value>`: the name ends in a secret word (DB_PASSWORD, clientSecret, "api-key",
 * github_token), then `=`, `:`, `:=` or `=>`, then a quoted or bare value.
 */
const SECRET_ASSIGNMENT =
  /(?:^|[^A-Za-z0-9_$])(?<sigil>\$?)["']?[A-Za-z0-9_.-]*?(?:password|passwd|pwd|secret|token|api[_-]?key|apikey|access[_-]?key|secret[_-]?key|private[_-]?key|auth[_-]?key|client[_-]?secret|credentials?)["']?\s*(?::=|=>|=|:)\s*(?<value>"[^"]*"|'[^']*'|`[^`]*`|[^\s,;]+)/gi;

/** Any assignment of a quoted string: candidates for the entropy rule. */
const QUOTED_ASSIGNMENT = /[A-Za-z0-9_\]"'-]\s*(?::=|=>|=|:)\s*(?<value>"[^"\n]*"|'[^'\n]*'|`[^`\n]*`)/g;

/** Values that stand for a secret without being one. */
const PLACEHOLDER =
  /^(?:[*x.#•-]+|<[^>]*>|\[[^\]]*\]|\$\{?.*|\{\{.*\}\}|%\(?\w+\)?s?%?|your[_-]?\w*|my[_-]?\w*|change[_-]?me\w*|example\w*|placeholder|dummy\w*|fake\w*|test\w*|sample\w*|redacted|hidden|none|null|nil|undefined|true|false|password\d*|secret\d*|token|xxx+|todo|fixme)$/i;

/**
 * A name: words with digits only at their ends, joined by `.`, `_` or `-` (process.env.API_KEY,
 * get_password, token2, api_key_v2, "github-token"); a password mixes digits into a word (hunter2hunter).
 */
const NAME_SHAPE = /^[A-Za-z_]+\d*(?:[._-][A-Za-z_]*\d*)*$/;

/**
 * Whether `value` reads as a name: that shape, with its letters mostly in words of 3+ (getAccessToken,
 * API_KEY, SIGN_IN_V2_SUBMIT_PASSWORD). `strict` (a quoted value, which code rarely holds a name in)
 * also allows at most one piece shorter than 3 (api_key_v2 yes; AbCdEfGh, MUlfFsAem95 no).
 */
function isNameLike(value: string, strict: boolean): boolean {
  if (!NAME_SHAPE.test(value)) return false;
  const pieces = value.match(/[A-Z]?[a-z]+|[A-Z]+(?![a-z])/g) ?? [];
  const letters = pieces.reduce((n, p) => n + p.length, 0);
  const inWords = pieces.reduce((n, p) => n + (p.length >= 3 ? p.length : 0), 0);
  const short = pieces.filter((p) => p.length < 3).length;
  return letters === 0 || (inWords / letters >= 0.6 && (!strict || short <= 1));
}

/** A bare value that is code: a call, index, member access, variable, type, number or keyword. */
function looksLikeCode(value: string): boolean {
  if (/[()[\]{}$%<>]|^[@&*!?]|\\|\?\.|\?\?|\|\||&&/.test(value)) return true;
  if (/^[+-]?\d+(?:\.\d+)?$/.test(value)) return true;
  return isNameLike(value, false);
}

/** Shannon entropy in bits per character. */
export function shannonEntropy(s: string): number {
  const counts = new Map<string, number>();
  for (const c of s) counts.set(c, (counts.get(c) ?? 0) + 1);
  let h = 0;
  for (const n of counts.values()) {
    const p = n / s.length;
    h -= p * Math.log2(p);
  }
  return h;
}

/** The entropy rule's bar: 24–512 characters of base62/base64/url-safe alphabet, all three character classes, ≥ 4.2 bits each. */
export const MIN_ENTROPY_BITS = 4.2;
const MIN_ENTROPY_LENGTH = 24;

function isHighEntropy(value: string): boolean {
  if (value.length < MIN_ENTROPY_LENGTH || value.length > 512) return false;
  if (!/^[A-Za-z0-9+/=_-]+$/.test(value)) return false;
  if (!/[a-z]/.test(value) || !/[A-Z]/.test(value) || !/\d/.test(value)) return false;
  // A name (camelCase, snake_case or a path of them) is words, not noise: most of it in runs of 3+ letters.
  const letterRuns = value.match(/[A-Za-z][a-z]{2,}/g)?.join('').length ?? 0;
  if (letterRuns / value.length > 0.5) return false;
  if (shannonEntropy(value) < MIN_ENTROPY_BITS) return false;
  // An alphabet or a counting sequence ("ABC…xyz0123456789") steps by one code point; noise rarely does.
  let steps = 0;
  for (let i = 1; i < value.length; i++) if (value.charCodeAt(i) - value.charCodeAt(i - 1) === 1) steps++;
  if (steps / (value.length - 1) > 0.25) return false;
  return !isEncodedText(value);
}

/** Base64 of text (a JWT header constant, an encoded message) decodes to printable characters; a key decodes to noise. */
function isEncodedText(value: string): boolean {
  if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(value)) return false;
  const bytes = Buffer.from(value.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
  if (bytes.length < 12) return false;
  let printable = 0;
  for (const b of bytes) if ((b >= 0x20 && b < 0x7f) || b === 0x0a || b === 0x0d || b === 0x09) printable++;
  return printable / bytes.length > 0.95;
}

function unquote(raw: string): { value: string; quoted: boolean } {
  const q = raw[0];
  if ((q === '"' || q === "'" || q === '`') && raw.length >= 2 && raw.endsWith(q)) return { value: raw.slice(1, -1), quoted: true };
  return { value: raw, quoted: false };
}

/** Whether an assignment to a secret-named key carries a real-looking value. */
function isSecretValue(raw: string): boolean {
  const { value, quoted } = unquote(raw);
  if (value.length < 8 || /\s/.test(value) || PLACEHOLDER.test(value)) return false;
  if (quoted) {
    if (/^\$\{|\{\{|^%|^</.test(value)) return false;
    // a path or a URL (one with a password in it is another matter: user:pass@host)
    if (/^(?:\.{0,2}\/|[a-z][a-z0-9+.-]*:\/\/)/i.test(value) && !/:\/\/[^/@\s]+:[^/@\s]+@/.test(value)) return false;
    // a key name or an environment variable's name, not its value: "API_KEY", "github-token", "auth.token"
    if (isNameLike(value, true)) return false;
    return true;
  }
  return !looksLikeCode(value);
}

const COMMENT_LINE = /^\s*(?:\/\/|\/?\*|#|--|;|<!--)/;

function scanLine(line: string): SecretRule[] {
  const rules: SecretRule[] = [];
  for (const [rule, pattern] of TOKEN_PATTERNS) if (pattern.test(line)) rules.push(rule);
  if (rules.length > 0) return rules;
  for (const m of line.matchAll(SECRET_ASSIGNMENT)) {
    // `$token = Get-Token` (shell, PowerShell, PHP, Perl): a bare value after a variable is a command or an expression.
    const bareAfterVariable = m.groups!.sigil === '$' && !/^["'`]/.test(m.groups!.value);
    if (!bareAfterVariable && isSecretValue(m.groups!.value)) return ['password-assignment'];
  }
  // Random-looking strings in comments are examples (a sample response, a hash); a commented-out secret is caught above.
  if (COMMENT_LINE.test(line)) return [];
  for (const m of line.matchAll(QUOTED_ASSIGNMENT)) {
    if (isHighEntropy(unquote(m.groups!.value).value)) return ['high-entropy-string'];
  }
  return [];
}

/** A line of a key's body: base64 (PEM) with no spaces. */
const KEY_BODY_LINE = /^\s*[A-Za-z0-9+/=]{16,}\s*$/;
/** Key material between a BEGIN and an END on one line (a JSON-escaped PEM): a long base64 run. */
const KEY_BODY_INLINE = /[A-Za-z0-9+/=]{40,}/;
/** How far a key block may run before its END (a 16384-bit RSA key is ~200 lines). */
const MAX_KEY_LINES = 400;

/**
 * The lines (0-based, inclusive) of the private-key block that begins on line `i`, or null when the
 * header is only mentioned (docs: "should contain -----BEGIN … KEY----- … -----END … KEY-----").
 */
function keyBlock(lines: readonly string[], i: number): { first: number; last: number } | null {
  const line = lines[i];
  const afterBegin = line.slice(line.search(KEY_BEGIN) + 5);
  const endOnLine = afterBegin.search(KEY_END);
  if (endOnLine >= 0) return KEY_BODY_INLINE.test(afterBegin.slice(0, endOnLine)) ? { first: i, last: i } : null;
  // An escaped key running to the end of the line (the END on a later line) counts too.
  let body = KEY_BODY_INLINE.test(afterBegin);
  for (let j = i + 1; j < lines.length && j <= i + MAX_KEY_LINES; j++) {
    if (KEY_END.test(lines[j])) return body ? { first: i, last: j } : null;
    if (KEY_BODY_LINE.test(lines[j]) || KEY_BODY_INLINE.test(lines[j])) body = true;
  }
  // No END: a truncated key is still a key.
  return body ? { first: i, last: Math.min(lines.length - 1, i + MAX_KEY_LINES) } : null;
}

/** Lines longer than this are data, not something a person typed with a secret in it; they are scanned only for key blocks. */
const MAX_SCANNED_LINE = 4096;

/** Every line of `text` that holds a secret, with the rule that found it (the first, when several do), in line order. */
export function scanSecrets(text: string): SecretFinding[] {
  const findings: SecretFinding[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (KEY_BEGIN.test(line)) {
      const block = keyBlock(lines, i);
      if (block !== null) {
        for (let j = block.first; j <= block.last; j++) findings.push({ rule: 'private-key', line: j + 1 });
        i = block.last;
        continue;
      }
    }
    if (line.length > MAX_SCANNED_LINE) continue;
    const rules = scanLine(line);
    if (rules.length > 0) findings.push({ rule: rules[0], line: i + 1 });
  }
  return findings;
}

/** How a file with a secret in its text is treated: left out whole (default), or used without the secret's lines. */
export type SecretsMode = 'skip-file' | 'drop-lines';

export const SECRETS_MODES: readonly SecretsMode[] = ['skip-file', 'drop-lines'];

/** `text` without the lines `findings` name (line breaks of the other lines kept as they were). */
export function dropLines(text: string, findings: readonly SecretFinding[]): string {
  const drop = new Set(findings.map((f) => f.line));
  return text
    .split('\n')
    .filter((_, i) => !drop.has(i + 1))
    .join('\n');
}

/** The distinct rules of `findings`, in SECRET_RULES order. */
export function rulesOf(findings: readonly SecretFinding[]): SecretRule[] {
  const found = new Set(findings.map((f) => f.rule));
  return (Object.keys(SECRET_RULES) as SecretRule[]).filter((r) => found.has(r));
}
