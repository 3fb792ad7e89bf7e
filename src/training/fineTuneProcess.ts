/**
 * The fine-tuning child process (its entry is src/fineTuneChild.ts, bundled to
 * dist/fineTuneProcess.js and started by fineTuneClient.ts with child_process.fork): training never
 * runs in the extension host or the CLI's own process. The parent sends {type: 'start', job} then
 * maybe {type: 'cancel'}; the child answers with ChildMessages and exits 0 after 'done',
 * 'dryRunDone' or 'cancelled', 1 after 'error'.
 */
import { CancelledError, UserError } from '../engine/errors';
import { runFineTune, type FineTuneDeps } from './fineTune';
import type { ChildMessage, FineTuneJob, ParentMessage } from './fineTuneProtocol';
import { latestCheckpoint } from './checkpointStore';

const controller = new AbortController();
let started = false;
let deps: FineTuneDeps = {};

/** Resolves when the last message sent so far is written: messages go out in order. */
let delivered: Promise<void> = Promise.resolve();

function send(m: ChildMessage): Promise<void> {
  delivered = new Promise((resolve) => {
    if (!process.send || !process.connected) return resolve();
    process.send(m, undefined, {}, () => resolve());
  });
  return delivered;
}

/** The last checkpoint of `out`, if one can be read (for the 'cancelled' message). */
function lastCheckpoint(out: string): string | undefined {
  try {
    return latestCheckpoint(out)?.dir;
  } catch {
    return undefined;
  }
}

async function run(job: FineTuneJob): Promise<number> {
  try {
    await runFineTune(job, (m) => void send(m), controller.signal, deps);
    return 0;
  } catch (e) {
    if (e instanceof CancelledError) {
      await send({ type: 'cancelled', checkpoint: lastCheckpoint(job.out) });
      return 0;
    }
    if (e instanceof UserError) {
      await send({ type: 'error', message: e.message, user: true });
    } else {
      const err = e instanceof Error ? e : new Error(String(e));
      await send({ type: 'error', message: err.message, user: false, detail: err.stack });
    }
    return 1;
  }
}

/** Serves one job from the parent; `withDeps` brings what lives above training (the quality judge). */
export function serveFineTune(withDeps: FineTuneDeps = {}): void {
  deps = withDeps;
  if (!process.send) {
    process.stderr.write('fineTuneProcess: start me with child_process.fork (fineTuneClient.ts), not directly\n');
    process.exit(2);
  }

  process.on('message', (m: ParentMessage) => {
    if (m.type === 'cancel') {
      controller.abort();
    } else if (m.type === 'start' && !started) {
      started = true;
      void run(m.job).then(async (code) => {
        await delivered;
        process.exit(code);
      });
    }
  });
  // The parent went away (the editor closed): stop at the next step boundary, keeping the checkpoint.
  process.on('disconnect', () => controller.abort());
  // Ctrl+C in a terminal reaches the whole process group; the parent decides, and sends 'cancel'.
  process.on('SIGINT', () => undefined);
}
