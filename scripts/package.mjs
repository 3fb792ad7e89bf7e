// `npm run package [-- <target>]`: builds dist/ and packages a platform-specific .vsix with vsce.
// onnxruntime-node ships its native libraries for every platform (~290 MB); a target's package
// needs only its own (linux-x64: ~45 MB), so the other platforms' folders are added to the
// .vscodeignore rules for this run and the package is marked with `--target`, which the
// Marketplace and `code --install-extension` use to pick the right one.
// The default target is this machine's (platform-arch).
// Only the packages the extension loads at run time ship (RUNTIME_PACKAGES); the rest of the
// production tree is what onnxruntime-node's install script needs (adm-zip, global-agent and their
// dependencies: it downloads optional CUDA files at install time), and is left out.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const binRoot = 'node_modules/onnxruntime-node/bin/napi-v6';
/** What dist/*.js require at run time (the bundles keep these external: scripts/build.mjs). */
const RUNTIME_PACKAGES = ['onnxruntime-node', 'onnxruntime-common', 'gpt-3-encoder'];

/** Production packages (npm's view, as vsce sees them) that nothing loads at run time. */
function installTimePackages() {
  const out = execFileSync('npm', ['ls', '--omit=dev', '--parseable', '--all'], { cwd: root, encoding: 'utf8' });
  const names = out
    .split('\n')
    .map((dir) => path.relative(root, dir.trim()).split(path.sep).join('/'))
    .filter((rel) => rel.startsWith('node_modules/'))
    .map((rel) => rel.slice('node_modules/'.length));
  return [...new Set(names)].filter((name) => !RUNTIME_PACKAGES.includes(name));
}

/** platform-arch pairs onnxruntime-node has binaries for, from its folders (e.g. linux/x64). */
function availableTargets() {
  const out = [];
  for (const platform of fs.readdirSync(path.join(root, binRoot))) {
    for (const arch of fs.readdirSync(path.join(root, binRoot, platform))) out.push(`${platform}-${arch}`);
  }
  return out;
}

const targets = availableTargets();
const target = process.argv[2] ?? `${process.platform}-${process.arch}`;
if (!targets.includes(target)) {
  console.error(`package: no onnxruntime-node binaries for ${target}; available: ${targets.join(', ')}`);
  process.exit(1);
}

const manifest = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
const ignoreRules = fs.readFileSync(path.join(root, '.vscodeignore'), 'utf8');
const others = targets.filter((t) => t !== target).map((t) => `${binRoot}/${t.replace('-', '/')}/**`);
const installOnly = installTimePackages().map((name) => `node_modules/${name}/**`);
const ignoreFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'gpt2c-package-')), '.vscodeignore');
fs.writeFileSync(
  ignoreFile,
  `${ignoreRules.trimEnd()}\n# Other platforms' onnxruntime binaries (scripts/package.mjs)\n${others.join('\n')}\n` +
    `# Install-time packages: nothing requires them at run time (scripts/package.mjs)\n${installOnly.join('\n')}\n`,
);

const out = `${manifest.name}-${manifest.version}-${target}.vsix`;
const run = (cmd, args) => execFileSync(cmd, args, { cwd: root, stdio: 'inherit' });
try {
  run(process.execPath, ['scripts/build.mjs']);
  // With dependencies (vsce's default): onnxruntime-node and gpt-3-encoder load from node_modules at run time.
  run(process.execPath, [
    path.join(root, 'node_modules/@vscode/vsce/vsce'),
    'package',
    '--target', target,
    '--ignoreFile', ignoreFile,
    '--out', out,
    // No public repository or LICENSE file yet: vsce would stop to ask, and could not turn the
    // README's relative links into absolute ones.
    '--allow-missing-repository',
    '--skip-license',
    '--no-rewrite-relative-links',
  ]);
} catch (err) {
  console.error(`package: ${err.message.split('\n')[0]}`);
  process.exitCode = 1;
} finally {
  fs.rmSync(path.dirname(ignoreFile), { recursive: true, force: true });
}
if (process.exitCode) process.exit();
const bytes = fs.statSync(path.join(root, out)).size;
console.log(`package: ${out} (${(bytes / 1e6).toFixed(1)} MB)`);
