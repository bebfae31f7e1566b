import type { Amounts, Budget } from '../../budgets/budget.js';
import { settledUtilization } from '../../budgets/rules.js';
import type { BudgetLimits } from '../../types.js';

/** No thresholds crossed: shared, never changed. */
export const NONE_CROSSED: readonly number[] = Object.freeze([]);

/** One budget's thresholds crossed in its window. */
export interface Marks {
  windowStart: number;
  crossed: Set<number>;
  /**
   * Calendar windows: the lowest threshold not crossed yet (Infinity: all are). Spend in
   * a calendar window is never uncrossed, so a utilisation below this crosses nothing:
   * the common case, checked first.
   */
  next: number;
}

/** Where a budget's marks are kept: its record in the in-memory store (see `Account`). */
export interface MarksHolder {
  marks?: Marks | undefined;
}

/**
 * Thresholds newly crossed by `s`'s settled spend against `limit` (the limit in
 * effect: raised by hand, or the budget's), marked on `holder`, the budget's record,
 * so that each fires once per window; a rolling window's fire again once
 * utilisation drops below them. Allocates nothing when none is crossed (every call
 * runs it for every budget).
 */
export function crossThresholds(
  holder: MarksHolder,
  budget: Budget,
  limit: BudgetLimits,
  s: { spent: Amounts; windowStart: number },
): readonly number[] {
  const rolling = budget.window.kind === 'rolling';
  let m = holder.marks;
  if (m === undefined) {
    m = {
      windowStart: s.windowStart,
      crossed: new Set(),
      next: budget.thresholds[0] ?? Infinity,
    };
    holder.marks = m;
  } else if (m.windowStart !== s.windowStart) {
    // A rolling window moves every millisecond and keeps what it crossed.
    m.windowStart = s.windowStart;
    if (!rolling) {
      m.crossed = new Set();
      m.next = budget.thresholds[0] ?? Infinity;
    }
  }
  // Settled spend only: a threshold event or alert means money spent, and a
  // reservation is an upper bound that settles lower (or to nothing).
  const u = settledUtilization(limit, s.spent);
  if (!rolling && u < m.next) return NONE_CROSSED;
  let out: number[] | undefined;
  for (const threshold of budget.thresholds) {
    if (u >= threshold) {
      if (m.crossed.has(threshold)) continue;
      m.crossed.add(threshold);
      if (out === undefined) out = [];
      out.push(threshold);
    } else if (rolling && m.crossed.size > 0) m.crossed.delete(threshold);
  }
  if (!rolling) m.next = lowestNotCrossed(budget.thresholds, m.crossed);
  return out ?? NONE_CROSSED;
}

function lowestNotCrossed(thresholds: readonly number[], crossed: Set<number>): number {
  for (const t of thresholds) if (!crossed.has(t)) return t;
  return Number.POSITIVE_INFINITY;
}
