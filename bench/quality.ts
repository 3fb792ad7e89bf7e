/**
 * `npm run bench:quality`: completion quality (bench/QUALITY.md) of a model on the benchmark sets
 * (scripts/quality-sets.ts, fetched first if needed): for each set, the editor's completion
 * pipeline and the baselines on the same held-out cuts, as a markdown table, with the machine and
 * versions. The sets are real repositories none of whose files the embedded model trained on.
 *
 *   npx tsx bench/quality.ts [--model embedded|gpt2|DIR] [--adapter DIR] [--precision P] [--cuts N] [--seed S] [--sets rxjs,zod,...]
 *
 * --cuts defaults to 500: at the embedded model's ~40–240 ms per request on 2 cores, about two
 * minutes a set, well inside ten; the table says how many cuts were used.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describeRun, measureQuality } from '../src/cli/qualityCommand';
import { formatByKind, formatTable } from '../src/quality/report';
import { fetchQualitySets, QUALITY_SETS } from '../scripts/quality-sets';

const repo = path.resolve(__dirname, '..');

function arg(name: string): string | undefined {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 ? process.argv[at + 1] : undefined;
}

function packageVersion(name: string): string {
  try {
    return (JSON.parse(fs.readFileSync(path.join(repo, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

function commit(): string {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: repo, encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}

async function main(): Promise<void> {
  const cuts = Number(arg('cuts') ?? 500);
  const seed = Number(arg('seed') ?? 0);
  if (!Number.isInteger(cuts) || cuts < 1 || !Number.isInteger(seed) || seed < 0) throw new Error('--cuts must be an integer ≥ 1 and --seed an integer ≥ 0');
  const names = arg('sets')?.split(',') ?? QUALITY_SETS.map((s) => s.name);
  const modelFlags = { model: arg('model'), adapter: arg('adapter'), precision: arg('precision'), threads: arg('threads'), device: arg('device') };
  const sets = fetchQualitySets({ names, log: (l) => process.stderr.write(`${l}\n`) });

  const cpus = os.cpus();
  const out: string[] = [
    `## Completion quality, ${new Date().toISOString().slice(0, 10)}`,
    '',
    `Machine: ${cpus[0]?.model ?? 'unknown CPU'}, ${cpus.length} cores, ${Math.round(os.totalmem() / 2 ** 30)} GiB; ` +
      `node ${process.version}, onnxruntime-node ${packageVersion('onnxruntime-node')}, commit ${commit()}. ` +
      `Model flags: ${Object.entries(modelFlags).filter(([, v]) => v !== undefined).map(([k, v]) => `--${k} ${v}`).join(' ') || 'defaults (embedded)'}; ` +
      `${cuts} cuts asked per set, seed ${seed}.`,
  ];
  for (const { set, dir } of sets) {
    process.stderr.write(`${set.name}: measuring\n`);
    const started = performance.now();
    const run = await measureQuality({ folder: dir, cuts, seed, modelFlags });
    const minutes = (performance.now() - started) / 60_000;
    out.push(
      '',
      `### ${set.name} ${set.version} (${set.language}, ${set.licence}; ${set.source === 'npm' ? 'npm' : 'Debian'} \`${set.package}\`)`,
      '',
      `${run.model}; ${run.cuts.total} cuts; ${minutes.toFixed(1)} min for the set.`,
      '',
      describeRun(run, seed).replace(/^.*?: /, 'Split: ').replace('\n', '.\n\nCuts: ') + '.',
      '',
      formatTable(run.result.systems),
      '',
      'Exact match by kind of cut:',
      '',
      '```',
      formatByKind(run.result.systems),
      '```',
    );
  }
  process.stdout.write(out.join('\n') + '\n');
}

main().catch((e: unknown) => {
  process.stderr.write(`bench:quality: ${(e as Error).message}\n`);
  process.exitCode = 1;
});
