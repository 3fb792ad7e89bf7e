import * as os from 'os';
import { benchmarkEngine } from '../engine/benchmark';
import { parameterCount } from '../engine/config';
import { intFlag, parseCommandArgs } from './args';
import { loadFromFlags, MODEL_FLAGS, MODEL_FLAGS_HELP } from './modelFlags';

export const BENCH_HELP = `gpt2-complete bench [--model M] [options]
  Measures the model on this machine: load, cold prefill of 256/512/1024 tokens, decode tokens/s at
  context 64 and 1000 (one model run per token, and with prompt-lookup drafts), a one-token edit with
  a warm cache, resident memory. Lengths beyond the model's context are left out. Medians.
${MODEL_FLAGS_HELP}
  --reps N      repetitions per measurement (default 5)
  --json        print {"model","device","threads","precision","load_ms","prefill_ms","decode_tokens_per_s","edit_ms","rss_mib"}`;

export async function benchCommand(argv: string[]): Promise<void> {
  const { values } = parseCommandArgs('bench', argv, { ...MODEL_FLAGS, reps: { type: 'string' }, json: { type: 'boolean' } });
  const reps = intFlag('reps', values.reps, 1, 5);
  const { engine, loadMs, checkpointDir } = await loadFromFlags('bench', values);
  try {
    const r = await benchmarkEngine(engine, { reps });
    const { model } = engine;
    const precision = model.precision;
    const rssMiB = process.memoryUsage().rss / 2 ** 20;
    const ms = (x: number) => Math.round(x * 10) / 10;
    if (values.json) {
      process.stdout.write(JSON.stringify({
        model: checkpointDir,
        device: model.device.provider,
        threads: model.device.threads,
        precision,
        load_ms: ms(loadMs),
        prefill_ms: Object.fromEntries(Object.entries(r.prefillMs).map(([n, t]) => [n, ms(t)])),
        decode_tokens_per_s: Object.fromEntries(Object.entries(r.decode).map(([c, d]) => [c, { plain: ms(d.plainTokensPerSec), drafted: ms(d.draftedTokensPerSec) }])),
        edit_ms: ms(r.editMs),
        rss_mib: Math.round(rssMiB),
      }) + '\n');
      return;
    }
    const rows: [string, string][] = [
      ['model', `${checkpointDir} (${(parameterCount(model.config) / 1e6).toFixed(1)}M parameters)`],
      ['device', `${model.device.provider}, ${model.device.threads} threads, ${precision} weights; ${os.cpus()[0]?.model ?? 'unknown CPU'}`],
      ['load', `${ms(loadMs)} ms`],
      ...Object.entries(r.prefillMs).map(([n, t]): [string, string] => [`cold prefill, ${n} tokens`, `${ms(t)} ms`]),
      ...Object.entries(r.decode).map(([c, d]): [string, string] => [`decode at context ${c}`, `${ms(d.plainTokensPerSec)} tokens/s (${ms(d.draftedTokensPerSec)} with prompt-lookup drafts)`]),
      [`one-token edit at the end of ${r.editPromptTokens} tokens (the rest cached), to its first new token`, `${ms(r.editMs)} ms`],
      ['resident memory of this process', `${Math.round(rssMiB)} MiB`],
    ];
    const width = Math.max(...rows.map(([k]) => k.length));
    process.stdout.write(rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n') + '\n');
  } finally {
    await engine.model.dispose();
  }
}
