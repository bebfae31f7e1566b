import { hasTokenfuseCode, TokenfuseError } from './tokenfuse-error.js';

/**
 * Rejection of `fuses.isolate()` or `fuses.reset()` with the Redis ledger when the
 * ledger cannot be reached: the fuse was not changed. Not a blocked call (that is
 * `ledger_unavailable`); retry the operation once Redis is back.
 */
export class LedgerControlError extends TokenfuseError {
  readonly code = 'ledger_control_failed';
  readonly budget: string;
  readonly operation: 'isolate' | 'reset';
  /** `host:port` of the ledger (never its credentials). */
  readonly ledger: string;
  /** How the ledger failed. */
  readonly failure: 'timeout' | 'connection' | 'script';

  constructor(
    details: {
      budget: string;
      operation: 'isolate' | 'reset';
      ledger: string;
      failure: 'timeout' | 'connection' | 'script';
    },
    options?: ErrorOptions,
  ) {
    const { budget, operation, ledger, failure } = details;
    super(
      `tokenfuse: cannot ${operation} budget "${budget}": the budget ledger at ${ledger} is unavailable (${failure})`,
      options,
    );
    this.name = 'LedgerControlError';
    this.budget = budget;
    this.operation = operation;
    this.ledger = ledger;
    this.failure = failure;
  }
}

/** True for a {@link LedgerControlError}, across copies of tokenfuse. */
export function isLedgerControlError(err: unknown): err is LedgerControlError {
  return hasTokenfuseCode(err, 'ledger_control_failed');
}
