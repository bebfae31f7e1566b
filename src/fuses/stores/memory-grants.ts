/**
 * Raises by hand (`control(…, 'raise')`) in the in-memory store: per budget, room
 * added for the window it was raised in, and gone with that window.
 */
import { type Amounts, type Budget, ZERO } from '../../budgets/budget.js';
import { raisedLimit, windowAt } from '../../budgets/rules.js';
import type { BudgetState } from '../fuse-store.js';

export class MemoryGrants {
  private readonly grants = new Map<string, { windowStart: number; amounts: Amounts }>();

  /** Whether any budget was raised (the fast paths step aside while one is). */
  get any(): boolean {
    return this.grants.size > 0;
  }

  /** Adds `amounts` to what the budget was raised by in the window starting at `windowStart`. */
  add(budget: Budget, windowStart: number, amounts: Amounts | undefined): void {
    const held = this.grants.get(budget.name);
    const before = held?.windowStart === windowStart ? held.amounts : { ...ZERO };
    const add = amounts ?? ZERO;
    this.grants.set(budget.name, {
      windowStart,
      amounts: {
        tokens: before.tokens + add.tokens,
        usd: before.usd + add.usd,
        requests: before.requests + add.requests,
      },
    });
  }

  /** What was raised by hand in the budget's current window, if anything. */
  of(budget: Budget, now: number): Amounts | undefined {
    if (this.grants.size === 0) return undefined;
    const held = this.grants.get(budget.name);
    if (held === undefined) return undefined;
    if (held.windowStart === windowAt(budget, now).start) return held.amounts;
    this.grants.delete(budget.name);
    return undefined;
  }

  /** The budget with the limits in effect now (raised by hand in this window). */
  limited(budget: Budget, now: number): Budget {
    const granted = this.of(budget, now);
    return granted === undefined
      ? budget
      : { ...budget, limit: raisedLimit(budget.limit, granted) };
  }

  /** `state` with what was raised by hand in this window. */
  granted(budget: Budget, state: BudgetState, now: number): BudgetState {
    const granted = this.of(budget, now);
    return granted === undefined ? state : { ...state, granted: { ...granted } };
  }
}
