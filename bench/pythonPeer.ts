/**
 * How bench/peer.ts and bench/training.ts start their PyTorch peers: which python, and OpenMP's wait
 * policy. Debian's torch lives under /usr/bin/python3 (a pyenv shim named python3 may lack it).
 */
import * as fs from 'node:fs';

/** `given` (the --python flag), else /usr/bin/python3, else python3. */
export function pythonPath(given: string): string {
  if (given) return given;
  return fs.existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
}

/**
 * OpenMP's wait policy for the peer: PASSIVE unless the environment says otherwise. With the default
 * (spinning) policy, torch's 2 threads on a machine whose cores are busy with other work wait on each
 * other and its figures collapse 2-4x (bench/RESULTS.md, "PyTorch peer"): a load artefact, not a speed.
 */
export function peerWaitPolicy(): string {
  return process.env.OMP_WAIT_POLICY ?? 'PASSIVE';
}
