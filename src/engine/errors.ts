/**
 * An error meant for the user: its message is one line that says what is wrong and what to do.
 * Front ends (CLI, extension) print `message` as is; anything else is a bug and gets a stack.
 */
export class UserError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UserError';
  }
}

/** Thrown when a caller's AbortSignal fires; front ends treat it as a quiet outcome, not a failure. */
export class CancelledError extends Error {
  constructor(message = 'cancelled') {
    super(message);
    this.name = 'CancelledError';
  }
}

export function isCancelled(e: unknown): e is CancelledError {
  return e instanceof CancelledError;
}
