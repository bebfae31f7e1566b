import { type Amounts, type Budget, UNITS, ZERO } from '../fuses/budget.js';
import { bucketSize } from '../fuses/rules.js';
import { calendarWindow } from '../fuses/window.js';
import type { AccountSnapshot, Ledger, ReservationEntry } from './ledger.js';

interface Bucket {
  start: number;
  amounts: Amounts;
}

interface Account {
  windowStart: number;
  windowEnd: number;
  spent: Amounts;
  reserved: Amounts;
  /** Rolling windows only. */
  buckets?: Bucket[];
}

function add(target: Amounts, amounts: Amounts, sign = 1): void {
  for (const unit of UNITS) target[unit] += sign * amounts[unit];
}

/**
 * The default ledger: budgets' spend in this process's memory. Fast and exact for
 * one process; a fleet of replicas needs the shared Redis ledger.
 */
export class MemoryLedger implements Ledger {
  private readonly accounts = new Map<string, Account>();

  read(budget: Budget, now: number): AccountSnapshot {
    const a = this.account(budget, now);
    return {
      spent: { ...a.spent },
      reserved: { ...a.reserved },
      windowStart: a.windowStart,
      windowEnd: a.windowEnd,
    };
  }

  reserve(entries: ReservationEntry[], now: number): void {
    for (const entry of entries) {
      const a = this.account(entry.budget, now);
      add(a.reserved, entry.amounts);
      entry.windowStart = a.windowStart;
    }
  }

  settle(entries: ReservationEntry[], actual: Amounts, now: number): void {
    for (const entry of entries) {
      const a = this.account(entry.budget, now);
      // A reservation taken in a window that has since rolled over went with it.
      if (entry.budget.window.kind === 'rolling' || entry.windowStart === a.windowStart) {
        add(a.reserved, entry.amounts, -1);
        for (const unit of UNITS) if (a.reserved[unit] < 1e-9) a.reserved[unit] = 0;
      }
      add(a.spent, actual);
      if (a.buckets) {
        const bucketMs = bucketSize(entry.budget);
        const start = now - (now % bucketMs);
        let last = a.buckets.at(-1);
        if (last === undefined || last.start !== start) {
          last = { start, amounts: { ...ZERO } };
          a.buckets.push(last);
        }
        add(last.amounts, actual);
      }
    }
  }

  /**
   * Starts this window's account at `spent` unless it has one already: a local
   * stand-in for a shared ledger begins where the shared numbers were last seen.
   */
  seed(budget: Budget, now: number, spent: Amounts, windowStart: number): void {
    if (this.accounts.has(budget.name)) return;
    const a = this.account(budget, now);
    if (budget.window.kind !== 'rolling' && a.windowStart !== windowStart) return;
    add(a.spent, spent);
    if (a.buckets)
      a.buckets.push({ start: now - (now % bucketSize(budget)), amounts: { ...spent } });
  }

  private account(budget: Budget, now: number): Account {
    let a = this.accounts.get(budget.name);
    if (budget.window.kind === 'rolling') {
      if (a === undefined) {
        a = {
          windowStart: now - budget.window.durationMs,
          windowEnd: Number.POSITIVE_INFINITY,
          spent: { ...ZERO },
          reserved: { ...ZERO },
          buckets: [],
        };
        this.accounts.set(budget.name, a);
      }
      a.windowStart = now - budget.window.durationMs;
      const buckets = a.buckets!;
      while (buckets.length > 0 && buckets[0]!.start + bucketSize(budget) <= a.windowStart) {
        add(a.spent, buckets.shift()!.amounts, -1);
      }
      for (const unit of UNITS) if (a.spent[unit] < 1e-9) a.spent[unit] = 0;
      return a;
    }
    if (a === undefined || now >= a.windowEnd || now < a.windowStart) {
      const bounds = calendarWindow(budget.window, now);
      // Reservations of calls still in flight belong to the old window and are dropped with it.
      a = {
        windowStart: bounds.start,
        windowEnd: bounds.end,
        spent: { ...ZERO },
        reserved: { ...ZERO },
      };
      this.accounts.set(budget.name, a);
    }
    return a;
  }
}
