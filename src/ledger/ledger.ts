import type { Amounts, Budget } from '../fuses/budget.js';

/** What a ledger knows of one budget's current window. */
export interface AccountSnapshot {
  /** Settled spend in the window. */
  spent: Amounts;
  /** Reservations of calls in flight. */
  reserved: Amounts;
  /** Window bounds (epoch ms); for rolling windows, `now - duration` and `Infinity`. */
  windowStart: number;
  windowEnd: number;
}

/** One budget's share of a call's reservation. */
export interface ReservationEntry {
  budget: Budget;
  amounts: Amounts;
  /** Window the reservation was taken in (set by the ledger). */
  windowStart?: number;
}

/**
 * Where budget spend lives. The in-memory ledger answers synchronously; a shared
 * ledger (Redis) answers with promises, which the instrumentation supports by
 * passing the SDK a promise of its request options.
 *
 * `reserve` is all-or-nothing across the entries of one call, and the check it
 * does is the admission rule: every budget must have room (spent + reserved below
 * each limit) before the call's own reservation is added.
 */
export interface Ledger {
  read(budget: Budget, now: number): AccountSnapshot;
  /** Adds the reservations; the caller has already decided the call is admitted. */
  reserve(entries: ReservationEntry[], now: number): void;
  /** Replaces each entry's reservation by the actual amounts. */
  settle(entries: ReservationEntry[], actual: Amounts, now: number): void;
}
