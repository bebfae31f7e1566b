import { hasTokenfuseCode, TokenfuseError } from './tokenfuse-error.js';

/**
 * Rejection of `fuses.isolate()` or `fuses.reset()` with the Redis ledger when the
 * ledger cannot be reached: the fuse was not changed. Not a blocked call (that is
 * `ledger_unavailable`); retry the operation once Redis is back.
 */
export class LedgerControlError extends TokenfuseError {
  readonly code = 'ledger_control_failed';
  readonly budget: string;
  readonly operation: 'isolate' | 'reset' | 'raise' | 'read';
  /** `host:port` of the ledger (never its credentials). */
  readonly ledger: string;
  /** How the ledger failed. */
  readonly failure: 'timeout' | 'connection' | 'script';

  constructor(
    details: {
      budget: string;
      operation: 'isolate' | 'reset' | 'raise' | 'read';
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

/**
 * Rejection of a manual action (or a read) on the Redis ledger that Redis refused
 * for want of permission (`NOPERM`): the ledger's ACL user may not do it, typically
 * a read-only user (a viewer, docs/operator-control.md) asked to reset, isolate or
 * raise. Nothing was changed.
 */
export class LedgerPermissionError extends TokenfuseError {
  readonly code = 'ledger_permission_denied';
  readonly budget: string;
  readonly operation: 'isolate' | 'reset' | 'raise' | 'read';
  /** The Redis ACL user (`default` when none was given). */
  readonly user: string;
  readonly ledger: string;

  constructor(
    details: {
      budget: string;
      operation: 'isolate' | 'reset' | 'raise' | 'read';
      user: string;
      ledger: string;
      /** The ledger's key prefix (`ledger.keyPrefix`). */
      prefix: string;
      /** What Redis said (its NOPERM line: no credentials in it). */
      redis: string;
    },
    options?: ErrorOptions,
  ) {
    const { budget, operation, user, ledger, prefix } = details;
    const need =
      operation === 'read'
        ? `read permission on the keys under "${prefix}" and to run scripts`
        : `write permission on the keys under "${prefix}"`;
    super(
      `tokenfuse: Redis user "${user}" may not ${operation} budget "${budget}" at ${ledger}: it needs ${need} (Redis: ${details.redis.replace(/\s+/g, ' ').slice(0, 200)})`,
      options,
    );
    this.name = 'LedgerPermissionError';
    this.budget = budget;
    this.operation = operation;
    this.user = user;
    this.ledger = ledger;
  }
}

/** True for a {@link LedgerPermissionError}, across copies of tokenfuse. */
export function isLedgerPermissionError(err: unknown): err is LedgerPermissionError {
  return hasTokenfuseCode(err, 'ledger_permission_denied');
}
