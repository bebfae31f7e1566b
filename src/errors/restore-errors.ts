import { hasTokenfuseCode, TokenfuseError } from './tokenfuse-error.js';

/**
 * Why reading from Prometheus failed (the `reason` label of
 * `tokenfuse_ledger_errors_total{operation="restore"}`).
 */
export type RestoreFailureReason = 'timeout' | 'connection' | 'response';

/**
 * A failure to read a budget's spend from Prometheus. Never thrown to the app:
 * `fuses.restore()` reports it per budget (`error: { reason, message }`) and the
 * budget keeps this process's own figures.
 */
export class RestoreError extends TokenfuseError {
  readonly code = 'restore_failed';
  readonly reason: RestoreFailureReason;

  constructor(reason: RestoreFailureReason, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'RestoreError';
    this.reason = reason;
  }
}

/** Why restoring is not available: what {@link RestoreNotConfiguredError} names. */
export type RestoreNotConfiguredReason =
  /** `ledger.restore` is not set. */
  | 'not_configured'
  /** The Redis ledger is shared already; restoring is for the in-memory one. */
  | 'shared_ledger';

/**
 * Rejection of `fuses.restore()` when restoring spend from Prometheus is not
 * configured: it needs `ledger.restore` with the in-memory ledger.
 */
export class RestoreNotConfiguredError extends TokenfuseError {
  readonly code = 'restore_not_configured';
  readonly reason: RestoreNotConfiguredReason;

  constructor(reason: RestoreNotConfiguredReason) {
    super(
      reason === 'shared_ledger'
        ? 'tokenfuse: restoring spend from Prometheus is for the in-memory ledger'
        : 'tokenfuse: fuses.restore() needs ledger.restore (the URL of a Prometheus that scrapes the fleet) with the in-memory ledger',
    );
    this.name = 'RestoreNotConfiguredError';
    this.reason = reason;
  }
}

/** True for a {@link RestoreNotConfiguredError}, across copies of tokenfuse. */
export function isRestoreNotConfiguredError(err: unknown): err is RestoreNotConfiguredError {
  return hasTokenfuseCode(err, 'restore_not_configured');
}

/** True for a {@link RestoreError}, across copies of tokenfuse. */
export function isRestoreError(err: unknown): err is RestoreError {
  return hasTokenfuseCode(err, 'restore_failed');
}
