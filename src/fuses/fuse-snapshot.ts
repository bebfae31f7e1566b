import { type Amounts, type Budget, windowLabel } from '../budgets/budget.js';
import { raisedLimit, utilization } from '../budgets/rules.js';
import type { BudgetLimits } from '../types.js';
import type { FuseState } from './fuse.js';
import type { BudgetState } from './fuse-store.js';

/** A fuse as seen from outside: state and the numbers behind it. */
export interface FuseSnapshot {
  budget: string;
  state: FuseState;
  isolated: boolean;
  action: 'block' | 'monitor';
  window: string;
  windowStart: Date;
  /** Undefined for rolling windows. */
  windowEnd: Date | undefined;
  /** The limits in effect: the configured ones plus what was raised by hand this window. */
  limit: BudgetLimits;
  /** What operators raised the limits by this window (`raise`); zero when nothing. */
  raised: Amounts;
  spent: Amounts;
  reserved: Amounts;
  /** Highest spent/limit over the limited units. */
  utilization: number;
  trips: number;
  /** The budget's match, as configured. */
  match: Budget['match']['spec'];
}

/** A budget's fuse as `list()`, `get()` and `snapshot()` report it, from its state in a store. */
export function fuseSnapshot(budget: Budget, s: BudgetState): FuseSnapshot {
  const limit = raisedLimit(budget.limit, s.granted);
  return {
    budget: budget.name,
    state: s.fuse.state,
    isolated: s.fuse.isolated,
    action: budget.action,
    window: windowLabel(budget.window),
    windowStart: new Date(s.windowStart),
    windowEnd: Number.isFinite(s.windowEnd) ? new Date(s.windowEnd) : undefined,
    limit: { ...limit },
    raised: { tokens: 0, usd: 0, requests: 0, ...s.granted },
    spent: { ...s.spent },
    reserved: { ...s.reserved },
    utilization: utilization(limit, s).value,
    trips: s.fuse.trips,
    match: budget.match.spec,
  };
}

/** A fuse as JSON (`tokenfuse fuses --json`, the admin endpoint): dates as ISO strings, a rolling window's end as null. */
export function fuseSnapshotJson(f: FuseSnapshot): Record<string, unknown> {
  return {
    budget: f.budget,
    window: f.window,
    windowStart: f.windowStart.toISOString(),
    windowEnd: f.windowEnd?.toISOString() ?? null,
    state: f.state,
    isolated: f.isolated,
    action: f.action,
    limit: f.limit,
    raised: f.raised,
    spent: f.spent,
    reserved: f.reserved,
    utilization: f.utilization,
    trips: f.trips,
    match: f.match,
  };
}
