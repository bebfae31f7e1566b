import { type Amounts, type Budget, windowLabel } from '../budgets/budget.js';
import { utilization } from '../budgets/rules.js';
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
  limit: BudgetLimits;
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
  return {
    budget: budget.name,
    state: s.fuse.state,
    isolated: s.fuse.isolated,
    action: budget.action,
    window: windowLabel(budget.window),
    windowStart: new Date(s.windowStart),
    windowEnd: Number.isFinite(s.windowEnd) ? new Date(s.windowEnd) : undefined,
    limit: { ...budget.limit },
    spent: { ...s.spent },
    reserved: { ...s.reserved },
    utilization: utilization(budget.limit, s).value,
    trips: s.fuse.trips,
    match: budget.match.spec,
  };
}
