/**
 * What an operator's action on the Redis ledger is rejected with: Redis refused it
 * for want of ACL permission (a read-only user, `NOPERM`), or could not be reached.
 */
import { LedgerControlError, LedgerPermissionError } from '../../../errors/ledger-control-error.js';
import { classify, type RedisLedgerOptions } from './connection.js';

/** The ACL user the ledger connects as: `ledger.username`, the URL's, or Redis's `default`. */
export function ledgerUser(options: RedisLedgerOptions): string {
  if (options.username !== undefined) return options.username;
  try {
    const user = decodeURIComponent(new URL(options.url ?? '').username);
    return user === '' ? 'default' : user;
  } catch {
    return 'default';
  }
}

/** The error a failed manual action (or operator's read) of `budget` rejects with. */
export function controlFailure(
  err: unknown,
  budget: string,
  operation: 'isolate' | 'reset' | 'raise' | 'read',
  options: RedisLedgerOptions,
  ledger: string,
): Error {
  const message = (err as { message?: unknown } | undefined)?.message;
  // A command refused outright says NOPERM; one refused inside a script (ours all are)
  // says "The user executing the script can't …" (Redis 7), then the script's digest.
  const noperm =
    typeof message === 'string'
      ? /NOPERM[^\n]*|The user executing the script can't [^:\n]*/
          .exec(message)?.[0]
          ?.replace(/ script$/, '')
      : undefined;
  if (noperm !== undefined) {
    return new LedgerPermissionError(
      {
        budget,
        operation,
        user: ledgerUser(options),
        ledger,
        // What the keys start with: on a cluster, the hash tag's brace first.
        prefix: options.cluster === undefined ? options.keyPrefix : `{${options.keyPrefix}`,
        redis: noperm,
      },
      { cause: err },
    );
  }
  return new LedgerControlError(
    { budget, operation, ledger, failure: classify(err) },
    { cause: err },
  );
}
