import { type Amounts, type Budget, windowLabel } from '../budgets/budget.js';
import { exhausted, raisedLimit, utilization } from '../budgets/rules.js';
import { type BudgetExceededDetails, BudgetExceededError } from '../errors/blocked-call-error.js';
import type { Admission } from './admission.js';
import type { BudgetState } from './fuse-store.js';

/**
 * The error a budget blocks a call with, from its state as the store decided:
 * the numbers of its most used limited unit, and when a retry can succeed.
 */
export function budgetExceeded(
  budget: Budget,
  s: BudgetState,
  reason: BudgetExceededDetails['reason'],
  now: number,
): BudgetExceededError {
  const fuse = s.fuse;
  const limits = raisedLimit(budget.limit, s.granted);
  const u = utilization(limits, s, true);
  const untilWindowEnd = s.windowEnd - now;
  let retryMs: number;
  if (reason === 'reserved' || reason === 'probing') retryMs = 1000;
  else if (reason === 'isolated') retryMs = budget.cooldownMs;
  else {
    // An open fuse lets probes through after its cool-down, if there is room
    // by then; a calendar window with its limit spent has none until it ends.
    const untilProbe =
      fuse.state === 'open' ? fuse.openedAt + budget.cooldownMs - now : budget.cooldownMs;
    const spentOut = exhausted(limits, s) !== undefined && budget.window.kind !== 'rolling';
    retryMs = spentOut ? untilWindowEnd : Math.min(untilWindowEnd, untilProbe);
  }
  retryMs = Math.max(1000, retryMs);
  return new BudgetExceededError({
    budget: budget.name,
    reason,
    window: windowLabel(budget.window),
    unit: u.unit,
    spent: s.spent[u.unit],
    reserved: s.reserved[u.unit],
    limit: limits[u.unit]!,
    retryAfterSeconds: Math.ceil(retryMs / 1000),
  });
}

/**
 * The error a stream is cut off with: for the first of the admission's
 * `cutOffStreams` budgets (whose `states` are given in order) that the stream
 * pushes over its limit, counting what it has produced so far (`running`)
 * against what everyone else has spent and reserved; undefined while none.
 */
export function streamCutOff(
  admission: Admission,
  running: Amounts,
  states: readonly BudgetState[],
  now: number,
): BudgetExceededError | undefined {
  for (const [i, budget] of admission.cutOff.entries()) {
    const reserved = admission.reserved[admission.budgets.indexOf(budget)];
    const s = states[i]!;
    for (const unit of ['tokens', 'usd'] as const) {
      const limit = raisedLimit(budget.limit, s.granted)[unit];
      if (limit === undefined) continue;
      const spent = s.spent[unit] + s.reserved[unit] - (reserved?.[unit] ?? 0) + running[unit];
      if (spent <= limit) continue;
      return new BudgetExceededError({
        budget: budget.name,
        reason: 'limit_reached',
        window: windowLabel(budget.window),
        unit,
        spent,
        reserved: 0,
        limit,
        retryAfterSeconds: Math.max(
          1,
          Math.ceil(Math.min(s.windowEnd - now, budget.cooldownMs) / 1000),
        ),
      });
    }
  }
  return undefined;
}
