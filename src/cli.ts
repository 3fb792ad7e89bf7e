/**
 * The gpt2-complete command-line tool: the same engine as the extension, one command per file
 * under src/cli/. Errors meant for the user print one line and exit 1; anything else is a bug.
 */
import { isCancelled, UserError } from './engine/errors';
import { COMPLETE_HELP, completeCommand } from './cli/completeCommand';
import { INIT_HELP, initCommand } from './cli/initCommand';
import { SCORE_HELP, scoreCommand } from './cli/scoreCommand';
import { FINETUNE_HELP, finetuneCommand } from './cli/finetuneCommand';
import { EVAL_HELP, evalCommand } from './cli/evalCommand';
import { DATASET_HELP, datasetCommand } from './cli/datasetCommand';
import { LOSS_HELP, lossCommand } from './cli/lossCommand';
import { BENCH_HELP, benchCommand } from './cli/benchCommand';
import { QUALITY_HELP, qualityCommand } from './cli/qualityCommand';

interface Command {
  run(argv: string[]): Promise<void>;
  help: string;
}

const COMMANDS: Record<string, Command> = {
  complete: { run: completeCommand, help: COMPLETE_HELP },
  score: { run: scoreCommand, help: SCORE_HELP },
  init: { run: initCommand, help: INIT_HELP },
  finetune: { run: finetuneCommand, help: FINETUNE_HELP },
  eval: { run: evalCommand, help: EVAL_HELP },
  dataset: { run: datasetCommand, help: DATASET_HELP },
  loss: { run: lossCommand, help: LOSS_HELP },
  bench: { run: benchCommand, help: BENCH_HELP },
  quality: { run: (argv) => qualityCommand(argv), help: QUALITY_HELP },
};

const USAGE = `usage: gpt2-complete <command> [options]   (gpt2-complete <command> --help for its options)
commands: ${Object.keys(COMMANDS).join(', ')}`;

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h') {
    process.stdout.write(USAGE + '\n');
    return name ? 0 : 2;
  }
  const command = COMMANDS[name];
  if (!command) {
    process.stderr.write(`gpt2-complete: unknown command "${name}"\n${USAGE}\n`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(command.help + '\n');
    return 0;
  }
  await command.run(rest);
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    if (e instanceof UserError) process.stderr.write(`gpt2-complete: ${e.message}\n`);
    else if (isCancelled(e)) process.stderr.write('gpt2-complete: cancelled\n');
    else process.stderr.write(`gpt2-complete: internal error: ${(e as Error).stack ?? String(e)}\n`);
    process.exitCode = e instanceof UserError ? 1 : isCancelled(e) ? 130 : 70;
  },
);
