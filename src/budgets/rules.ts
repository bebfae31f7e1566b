import type { BudgetLimits } from '../types.js';
import { type Amounts, type Budget, UNITS, type Unit } from './budget.js';
import { calendarWindow } from './window.js';

/**
 * The admission rules, shared by every store. The Redis store's Lua scripts
 * (src/fuses/stores/redis/lua-prelude.ts) restate `hasRoom`, `exhausted` and `utilization`
 * word for word; keep them in step.
 */

/** Spend and reservations of one budget's current window. */
export interface Account {
  spent: Amounts;
  reserved: Amounts;
}

/** A rolling window keeps spend in this many buckets; older buckets fall out whole. */
export const ROLLING_BUCKETS = 60;

/** Length of one bucket of a rolling window (1 ms for calendar windows, which have one). */
export function bucketSize(budget: Budget): number {
  return budget.window.kind === 'rolling'
    ? Math.max(1, Math.floor(budget.window.durationMs / ROLLING_BUCKETS))
    : 1;
}

/** Each budget's current calendar window, while it lasts (keyed by the window it was computed for). */
const calendarWindows = new WeakMap<
  Budget,
  { readonly window: Budget['window']; readonly start: number; readonly end: number }
>();

/**
 * Bounds of the window containing `now`: a rolling window is `[now - duration, ∞)`. A
 * calendar window is remembered per budget while `now` stays in it: in a time zone it
 * costs several `Intl` calls, and the shared ledger asks for it for every budget of every
 * admission, settlement and reply.
 */
export function windowAt(budget: Budget, now: number): { start: number; end: number } {
  if (budget.window.kind === 'rolling')
    return { start: now - budget.window.durationMs, end: Number.POSITIVE_INFINITY };
  const known = calendarWindows.get(budget);
  if (
    known !== undefined &&
    known.window === budget.window &&
    now >= known.start &&
    now < known.end
  )
    return known;
  const { start, end } = calendarWindow(budget.window, now);
  const w = { window: budget.window, start, end };
  calendarWindows.set(budget, w);
  return w;
}

export function limitedUnits(limit: BudgetLimits): Unit[] {
  return UNITS.filter((u) => limit[u] !== undefined);
}

// The three rules below run for every budget of every call: unrolled over the
// units (a loop over UNITS reads each field by a computed key, several times slower),
// and written as the negation of the loop's test so that they answer alike for any number.

/** The admission rule: every limited unit has spent + reserved below its limit. */
export function hasRoom(limit: BudgetLimits, s: Account): boolean {
  const { spent, reserved } = s;
  return (
    (limit.tokens === undefined || !(spent.tokens + reserved.tokens >= limit.tokens)) &&
    (limit.usd === undefined || !(spent.usd + reserved.usd >= limit.usd)) &&
    (limit.requests === undefined || !(spent.requests + reserved.requests >= limit.requests))
  );
}

/** Whether a call's reservation fits in what is left of every limit. */
export function fits(limit: BudgetLimits, s: Account, amounts: Amounts): boolean {
  const { spent, reserved } = s;
  return (
    (limit.tokens === undefined ||
      !(spent.tokens + reserved.tokens + amounts.tokens > limit.tokens)) &&
    (limit.usd === undefined || !(spent.usd + reserved.usd + amounts.usd > limit.usd)) &&
    (limit.requests === undefined ||
      !(spent.requests + reserved.requests + amounts.requests > limit.requests))
  );
}

/** The first unit whose settled spend has reached its limit. */
export function exhausted(limit: BudgetLimits, s: Account): Unit | undefined {
  const { spent } = s;
  if (limit.tokens !== undefined && spent.tokens >= limit.tokens) return 'tokens';
  if (limit.usd !== undefined && spent.usd >= limit.usd) return 'usd';
  if (limit.requests !== undefined && spent.requests >= limit.requests) return 'requests';
  return undefined;
}

/** Highest utilisation over the limited units (with reservations, when asked). */
export function utilization(
  limit: BudgetLimits,
  s: Account,
  withReserved = false,
): { value: number; unit: Unit } {
  let best: { value: number; unit: Unit } = { value: 0, unit: limitedUnits(limit)[0] ?? 'tokens' };
  for (const u of UNITS) {
    const l = limit[u];
    if (l === undefined) continue;
    const value = (s.spent[u] + (withReserved ? s.reserved[u] : 0)) / l;
    if (value > best.value) best = { value, unit: u };
  }
  return best;
}

/** `utilization(limit, s).value` of settled spend, without its record (it runs per budget per call). */
export function settledUtilization(limit: BudgetLimits, spent: Readonly<Amounts>): number {
  let value = 0;
  if (limit.tokens !== undefined && spent.tokens / limit.tokens > value)
    value = spent.tokens / limit.tokens;
  if (limit.usd !== undefined && spent.usd / limit.usd > value) value = spent.usd / limit.usd;
  if (limit.requests !== undefined && spent.requests / limit.requests > value)
    value = spent.requests / limit.requests;
  return value;
}

/**
 * The limit in effect in a window where operators granted `granted` more (a raise,
 * `tokenfuse fuses raise`): only units the budget limits are raised.
 */
export function raisedLimit(limit: BudgetLimits, granted: Amounts | undefined): BudgetLimits {
  if (granted === undefined) return limit;
  const out: BudgetLimits = { ...limit };
  for (const u of UNITS) {
    const l = limit[u];
    if (l !== undefined && granted[u] !== 0) out[u] = l + granted[u];
  }
  return out;
}
