import { TokenfuseError } from './tokenfuse-error.js';

// A registry symbol, not a class check: an app can load tokenfuse twice (its CJS
// and ESM builds), and `instanceof` fails across the copies.
const BLOCKED = Symbol.for('tokenfuse.blocked-call');

/**
 * LangChain's retry mark (`stampRetryable` / `getRetryable` in `@langchain/core`), read as
 * an own property. Its `AsyncCaller` (every chat model call, `maxRetries` 6 by default)
 * retries a 429 whose message hints a retry within a minute, and a 503, up to 6 times:
 * each retry would be blocked again, counted again, and wait a backoff for nothing.
 */
const LANGCHAIN_RETRYABLE = Symbol.for('langchain.errors.retryable');

/** Why a call was stopped before it was sent. */
export type BlockReason =
  /** The budget's limit is reached (the fuse is open). */
  | 'limit_reached'
  /** Calls in flight have reserved what is left of the budget. */
  | 'reserved'
  /** The fuse was opened by hand (`isolate()`). */
  | 'isolated'
  /** Half-open, and its probe calls are already in flight. */
  | 'probing'
  /** A model policy denies the model. */
  | 'model_not_allowed'
  /** The shared budget ledger (Redis) could not be reached and `ledger.onFailure` is `closed`. */
  | 'ledger_unavailable';

/** Base of the errors a deliberately blocked call rejects with. */
export abstract class BlockedCallError extends TokenfuseError {
  readonly [BLOCKED] = true;
  /** HTTP-like status, so retry logic written for provider errors treats it alike. */
  abstract readonly status: number;
  abstract override readonly code: 'budget_exceeded' | 'model_not_allowed' | 'ledger_unavailable';
  /** Budget or policy that blocked the call. */
  abstract readonly budget: string;
  abstract readonly reason: BlockReason;

  constructor(message: string) {
    super(message);
    // Not retryable, for LangChain. Non-enumerable so it shows in no log or `toEqual`;
    // non-writable and non-configurable because `@langchain/openai` and
    // `@langchain/anthropic` re-stamp every 429 as retryable (`stampRetryable(e, true)`,
    // which swallows the TypeError a frozen property raises): the fuse's word is final.
    Object.defineProperty(this, LANGCHAIN_RETRYABLE, { value: false });
  }
}

/** The numbers behind a {@link BudgetExceededError}. */
export interface BudgetExceededDetails {
  budget: string;
  reason: Exclude<BlockReason, 'model_not_allowed' | 'ledger_unavailable'>;
  /** `hour`, `month`, `rolling_1h`, … */
  window: string;
  /** The limited unit that ran out. */
  unit: 'tokens' | 'usd' | 'requests';
  /** Spent in the current window (settled calls). */
  spent: number;
  /** Reserved by calls in flight. */
  reserved: number;
  limit: number;
  /** Seconds until a retry can succeed: the fuse's cool-down or the window's end, whichever is first. */
  retryAfterSeconds: number;
}

const UNIT_TEXT = { tokens: 'tokens', usd: 'USD', requests: 'requests' } as const;

function amount(value: number, unit: BudgetExceededDetails['unit']): string {
  return unit === 'usd'
    ? `$${value.toFixed(value < 1 ? 4 : 2)}`
    : Math.round(value).toLocaleString('en-US');
}

/**
 * Thrown (as the rejection of the SDK call) when a budget's fuse stops a call.
 * No request was sent. Like a provider's 429: `status` 429, `code`
 * `budget_exceeded`, with `retryAfterSeconds`.
 *
 * @example
 * try {
 *   await openai.chat.completions.create({ model: 'gpt-4.1', messages });
 * } catch (err) {
 *   if (!isBudgetExceededError(err)) throw err;
 *   await openai.chat.completions.create({ model: 'gpt-4.1-mini', messages }); // cheaper fallback
 * }
 */
export class BudgetExceededError extends BlockedCallError implements BudgetExceededDetails {
  readonly status = 429;
  readonly code = 'budget_exceeded';
  readonly budget: string;
  readonly reason: BudgetExceededDetails['reason'];
  readonly window: string;
  readonly unit: BudgetExceededDetails['unit'];
  readonly spent: number;
  readonly reserved: number;
  readonly limit: number;
  readonly retryAfterSeconds: number;

  constructor(details: BudgetExceededDetails) {
    const { budget, reason, window, unit, spent, reserved, limit, retryAfterSeconds } = details;
    const why =
      reason === 'isolated'
        ? 'its fuse was opened by hand (isolate)'
        : reason === 'probing'
          ? 'its fuse is half-open and its probe calls are in flight'
          : reason === 'reserved'
            ? `calls in flight have reserved the rest (${amount(spent, unit)} spent + ${amount(reserved, unit)} reserved of ${amount(limit, unit)} ${UNIT_TEXT[unit]})`
            : `${amount(spent, unit)} of ${amount(limit, unit)} ${UNIT_TEXT[unit]} spent this ${window.replace('_', ' ')}`;
    super(
      `tokenfuse: budget "${budget}" blocked this call before it was sent: ${why}; retry after ${retryAfterSeconds}s`,
    );
    this.name = 'BudgetExceededError';
    this.budget = budget;
    this.reason = reason;
    this.window = window;
    this.unit = unit;
    this.spent = spent;
    this.reserved = reserved;
    this.limit = limit;
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

/** Thrown when a model policy denies the model a call asks for. No request was sent. */
export class ModelNotAllowedError extends BlockedCallError {
  readonly status = 403;
  readonly code = 'model_not_allowed';
  readonly reason = 'model_not_allowed' as const;
  readonly budget: string;
  readonly model: string;
  /** The allowlist, when the policy has one. */
  readonly allowed: readonly string[] | undefined;

  constructor(policy: string, model: string, allowed: readonly string[] | undefined) {
    super(
      `tokenfuse: policy "${policy}" does not allow model "${model}"` +
        (allowed ? `; allowed: ${allowed.join(', ')}` : '') +
        '; the call was not sent',
    );
    this.name = 'ModelNotAllowedError';
    this.budget = policy;
    this.model = model;
    this.allowed = allowed;
  }
}

/** The details of a {@link LedgerUnavailableError}. */
export interface LedgerUnavailableDetails {
  /** `host:port` of the ledger (never its credentials). */
  ledger: string;
  /** The `block` budgets the call matched, which could not be checked. */
  budgets: readonly string[];
  /** How the ledger failed. */
  cause: 'timeout' | 'connection' | 'script';
}

/**
 * Thrown (as the rejection of the SDK call) when the shared budget ledger (Redis)
 * did not answer in time or could not be reached, and `ledger.onFailure` is
 * `closed`: budgets that cannot be checked refuse calls. No request was sent.
 * Like a provider's 503: `status` 503, `code` `ledger_unavailable`.
 */
export class LedgerUnavailableError extends BlockedCallError {
  readonly status = 503;
  readonly code = 'ledger_unavailable';
  readonly reason = 'ledger_unavailable' as const;
  /** The first budget that could not be checked (see {@link budgets}). */
  readonly budget: string;
  readonly budgets: readonly string[];
  readonly ledger: string;
  readonly failure: LedgerUnavailableDetails['cause'];

  constructor(details: LedgerUnavailableDetails) {
    const { ledger, budgets, cause } = details;
    const names = budgets.map((b) => `"${b}"`).join(', ');
    const what =
      cause === 'timeout'
        ? 'did not answer in time'
        : cause === 'script'
          ? 'refused the budget check'
          : 'cannot be reached';
    super(
      `tokenfuse: the budget ledger at ${ledger} ${what}, so budget${budgets.length === 1 ? '' : 's'} ${names} could not be checked and this call was not sent (ledger.onFailure: closed)`,
    );
    this.name = 'LedgerUnavailableError';
    this.budget = budgets[0] ?? '';
    this.budgets = [...budgets];
    this.ledger = ledger;
    this.failure = cause;
  }
}

/** True for any call tokenfuse blocked on purpose (budget, policy or unavailable ledger), across copies of tokenfuse. */
export function isBlockedCallError(err: unknown): err is BlockedCallError {
  return (
    typeof err === 'object' && err !== null && (err as { [BLOCKED]?: unknown })[BLOCKED] === true
  );
}

/** True for a {@link BudgetExceededError}, across copies of tokenfuse. */
export function isBudgetExceededError(err: unknown): err is BudgetExceededError {
  return isBlockedCallError(err) && err.code === 'budget_exceeded';
}

/** True for a {@link ModelNotAllowedError}, across copies of tokenfuse. */
export function isModelNotAllowedError(err: unknown): err is ModelNotAllowedError {
  return isBlockedCallError(err) && err.code === 'model_not_allowed';
}

/** True for a {@link LedgerUnavailableError}, across copies of tokenfuse. */
export function isLedgerUnavailableError(err: unknown): err is LedgerUnavailableError {
  return isBlockedCallError(err) && err.code === 'ledger_unavailable';
}
