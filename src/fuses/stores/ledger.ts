import type { Amounts, Budget } from '../../budgets/budget.js';

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
 * Where one process keeps budget spend (the in-memory store's ledger). A fleet
 * shares spend through the Redis store instead (`ledger: { store: 'redis' }`),
 * which keeps the same numbers in Redis and changes them with Lua scripts.
 *
 * `reserve` is called once the call is admitted: the admission rule (every
 * budget has room: spent + reserved below each limit) is checked by the store.
 */
export interface Ledger {
  read(budget: Budget, now: number): AccountSnapshot;
  /** Adds the reservations; the caller has already decided the call is admitted. */
  reserve(entries: ReservationEntry[], now: number): void;
  /** Replaces each entry's reservation by the actual amounts. */
  settle(entries: ReservationEntry[], actual: Amounts, now: number): void;
}
