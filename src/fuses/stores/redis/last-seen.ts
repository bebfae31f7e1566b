import { type Budget, ZERO } from '../../../budgets/budget.js';
import { windowAt } from '../../../budgets/rules.js';
import { closedFuse, type FuseRecord } from '../../fuse.js';
import type { BudgetState } from '../../fuse-store.js';

/**
 * A budget's last state seen in Redis (`seen`, undefined when never read), rolled
 * forward to `now` the way the scripts would: a fixed window that has ended gives
 * way to an empty one, whose fuse closes unless it is isolated.
 */
export function rolledForward(
  budget: Budget,
  seen: BudgetState | undefined,
  now: number,
): BudgetState {
  const w = windowAt(budget, now);
  if (seen === undefined)
    return {
      spent: { ...ZERO },
      reserved: { ...ZERO },
      windowStart: w.start,
      windowEnd: w.end,
      fuse: closedFuse(),
    };
  const rolling = budget.window.kind === 'rolling';
  if (rolling || seen.windowStart === w.start)
    return { ...seen, windowStart: w.start, windowEnd: w.end, fuse: { ...seen.fuse } };
  const fuse: FuseRecord = { ...seen.fuse };
  if (fuse.state !== 'closed' && !fuse.isolated) {
    fuse.state = 'closed';
    fuse.probesLeft = 0;
    fuse.probesInFlight = 0;
  }
  return {
    spent: { ...ZERO },
    reserved: { ...ZERO },
    windowStart: w.start,
    windowEnd: w.end,
    fuse,
  };
}
