// A registry symbol, not a class check: an app can load tokenfuse twice (its CJS
// and ESM builds), and `instanceof` fails across the copies.
const TOKENFUSE_ERROR = Symbol.for('tokenfuse.error');

/**
 * The `code` of every error tokenfuse throws or rejects with: stable, snake_case,
 * listed in docs/troubleshooting.md, "Error codes". Tell the errors apart by it.
 */
export type TokenfuseErrorCode =
  | 'budget_exceeded'
  | 'model_not_allowed'
  | 'ledger_unavailable'
  | 'config_invalid'
  | 'not_running'
  | 'invalid_tags'
  | 'unknown_budget'
  | 'restore_not_configured'
  | 'restore_failed'
  | 'ledger_control_failed'
  | 'ledger_permission_denied'
  | 'invalid_raise';

/**
 * Base class of every error tokenfuse throws on purpose. Each subclass sets
 * `name`, a stable {@link TokenfuseErrorCode} `code`, and builds a message that
 * carries the values a reader needs.
 */
export abstract class TokenfuseError extends Error {
  readonly [TOKENFUSE_ERROR] = true;
  /** Stable, snake_case: what handlers and logs should match on, not the message. */
  abstract readonly code: TokenfuseErrorCode;

  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'TokenfuseError';
  }
}

/** True for any error tokenfuse throws or rejects with, across copies of tokenfuse. */
export function isTokenfuseError(err: unknown): err is TokenfuseError {
  return (
    typeof err === 'object' &&
    err !== null &&
    (err as { [TOKENFUSE_ERROR]?: unknown })[TOKENFUSE_ERROR] === true &&
    typeof (err as { code?: unknown }).code === 'string'
  );
}

/** @internal the guard of one subclass: a tokenfuse error with this code. */
export function hasTokenfuseCode(err: unknown, code: TokenfuseErrorCode): boolean {
  return isTokenfuseError(err) && err.code === code;
}
