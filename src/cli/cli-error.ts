import { isTokenfuseError } from '../errors/index.js';

/**
 * A failure a command reports as one line on stderr and a non-zero exit: a bad
 * argument, an unreachable server, no data. `exitCode` 2 is a usage error (bad
 * flag value), 1 everything else.
 */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: 1 | 2 = 1,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

/** The one line printed for a failure: our own messages as they are, others with their type. */
export function messageOf(err: unknown): string {
  if (err instanceof CliError) return err.message;
  // main prints its own `tokenfuse: ` before the line.
  if (isTokenfuseError(err)) return err.message.replace(/^tokenfuse: /, '');
  if (err instanceof Error) return `${err.name}: ${err.message}`;
  return String(err);
}

/** 2 for usage errors, 1 for the rest. */
export function exitCodeOf(err: unknown): number {
  return err instanceof CliError ? err.exitCode : 1;
}
