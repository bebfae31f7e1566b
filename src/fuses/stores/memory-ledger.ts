import { type Amounts, type Budget, UNITS, ZERO } from '../../budgets/budget.js';
import { bucketSize } from '../../budgets/rules.js';
import { calendarWindow } from '../../budgets/window.js';
import type { FuseRecord } from '../fuse.js';
import type { AccountSnapshot, Ledger, ReservationEntry } from './ledger.js';
import type { MarksHolder } from './threshold-marks.js';

interface Bucket {
  start: number;
  amounts: Amounts;
}

/**
 * One budget's record in the in-memory store: its window's numbers, and beside them
 * its fuse and threshold marks (kept here by the store), so that a call finds all
 * of a budget with one lookup, and a settlement, holding the record since the
 * admission, with none.
 */
export interface Account extends MarksHolder {
  windowStart: number;
  windowEnd: number;
  spent: Amounts;
  reserved: Amounts;
  /** Rolling windows only. */
  buckets?: Bucket[] | undefined;
  /** Rolling windows: when the first bucket leaves the window (Infinity: no bucket), read instead of it. */
  drops: number;
  /** The ledger keeping it. */
  ledger: MemoryLedger;
  /** The budget's fuse (the store's; undefined until the store first needs one). */
  fuse?: FuseRecord | undefined;
  /**
   * Set when the ledger lets go of the account ({@link MemoryLedger.forget}): one held
   * since an admission is then no longer the budget's (see {@link MemoryLedger.held}).
   */
  gone?: true;
}

/**
 * A value's budget's `instance` (src/budgets/per-value.ts), holding the value's record
 * in the ledger that last looked it up: a value's budget is its board's own, and a
 * board has one store.
 */
declare module '../../budgets/budget.js' {
  interface BudgetInstance {
    /** A value's account in the ledger that last held it (see {@link MemoryLedger.record}). */
    account?: Account | undefined;
  }
}

// Unrolled: it runs for every budget of every call.
function add(target: Amounts, amounts: Amounts, sign = 1): void {
  target.tokens += sign * amounts.tokens;
  target.usd += sign * amounts.usd;
  target.requests += sign * amounts.requests;
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

  /**
   * The budget's account in its current window, live (rolled to `now`): for the
   * store's checks within one step, never to be kept or handed out.
   */
  live(budget: Budget, now: number): Readonly<Account> {
    return this.account(budget, now);
  }

  reserve(entries: ReservationEntry[], now: number): void {
    for (const entry of entries)
      entry.windowStart = this.reserveIn(entry.budget, entry.amounts, now);
  }

  /** Adds a reservation to the budget; returns the window it was taken in. */
  reserveIn(budget: Budget, amounts: Amounts, now: number): number {
    return this.reserveLive(this.account(budget, now), amounts);
  }

  /** Adds a reservation to an account just read {@link live} at the same `now`; returns its window. */
  reserveLive(a: Account, amounts: Amounts): number {
    add(a.reserved, amounts);
    return a.windowStart;
  }

  /**
   * The budget's account, from one read {@link live} earlier (an admission's), rolled
   * to `now`: the same object while the ledger keeps the budget, so a settlement
   * need not look it up again; looked up afresh once it has been let go of.
   */
  held(a: Account | undefined, budget: Budget, now: number): Account {
    if (a === undefined || a.gone === true) return this.account(budget, now);
    return this.roll(a, budget, now);
  }

  settle(entries: ReservationEntry[], actual: Amounts, now: number): void {
    for (const entry of entries)
      this.settleIn(entry.budget, entry.amounts, entry.windowStart, actual, now);
  }

  /**
   * Replaces a reservation taken in `windowStart` (undefined: none was) by the
   * actual amounts; returns the live account after (see {@link live}).
   */
  settleIn(
    budget: Budget,
    reserved: Amounts,
    windowStart: number | undefined,
    actual: Amounts,
    now: number,
    account?: Account,
  ): Readonly<Account> {
    const a = this.held(account, budget, now);
    // A reservation taken in a window that has since rolled over went with it.
    if (budget.window.kind === 'rolling' || windowStart === a.windowStart) {
      add(a.reserved, reserved, -1);
      const r = a.reserved;
      if (r.tokens < 1e-9) r.tokens = 0;
      if (r.usd < 1e-9) r.usd = 0;
      if (r.requests < 1e-9) r.requests = 0;
    }
    add(a.spent, actual);
    if (a.buckets) {
      const bucketMs = bucketSize(budget);
      const start = now - (now % bucketMs);
      let last = a.buckets.at(-1);
      if (last === undefined || last.start !== start) {
        last = { start, amounts: { ...ZERO } };
        a.buckets.push(last);
        if (a.drops === Number.POSITIVE_INFINITY) a.drops = start + bucketMs;
      }
      add(last.amounts, actual);
    }
    return a;
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
    if (a.buckets) {
      a.buckets.push({ start: now - (now % bucketSize(budget)), amounts: { ...spent } });
      firstDrop(a, budget);
    }
  }

  /**
   * Raises this window's settled spend to at least `floor` per unit (spend seen
   * elsewhere: the fleet's, read back from Prometheus), adding only what is
   * missing, and returns what was added; undefined when `windowStart` is no longer
   * the current calendar window (the figures are for one that has ended).
   *
   * A rolling window's addition is spread over its buckets the way `timeline` (the
   * same spend, by the time it was made) spreads it, so that it leaves the window
   * about when the calls that made it do; without a timeline it goes into the
   * current bucket.
   */
  raise(
    budget: Budget,
    now: number,
    windowStart: number,
    floor: Amounts,
    timeline?: ReadonlyArray<{ at: number; amounts: Amounts }>,
  ): Amounts | undefined {
    const a = this.account(budget, now);
    if (budget.window.kind !== 'rolling' && a.windowStart !== windowStart) return undefined;
    const added = { ...ZERO };
    for (const unit of UNITS) added[unit] = Math.max(0, floor[unit] - a.spent[unit]);
    add(a.spent, added);
    const buckets = a.buckets;
    if (buckets === undefined) return added;
    const bucketMs = bucketSize(budget);
    const place = (at: number, amounts: Amounts) => {
      const t = Math.min(now, Math.max(a.windowStart, at));
      const start = t - (t % bucketMs);
      let i = buckets.length;
      while (i > 0 && buckets[i - 1]!.start > start) i--;
      const before = buckets[i - 1];
      if (before !== undefined && before.start === start) add(before.amounts, amounts);
      else buckets.splice(i, 0, { start, amounts: { ...amounts } });
    };
    const entries = timeline ?? [];
    const totals = { ...ZERO };
    for (const entry of entries) add(totals, entry.amounts);
    // Per unit: shares of the addition in proportion to the timeline, the last
    // share taking the rounding; a unit the timeline has nothing of goes in now.
    const placed = { ...ZERO };
    const atNow = { ...ZERO };
    for (const unit of UNITS) if (totals[unit] <= 0) atNow[unit] = added[unit];
    entries.forEach((entry, i) => {
      const share = { ...ZERO };
      for (const unit of UNITS) {
        if (totals[unit] <= 0) continue;
        share[unit] =
          i === entries.length - 1
            ? Math.max(0, added[unit] - placed[unit])
            : (added[unit] * entry.amounts[unit]) / totals[unit];
        placed[unit] += share[unit];
      }
      if (UNITS.some((u) => share[u] > 0)) place(entry.at, share);
    });
    if (UNITS.some((u) => atNow[u] > 0)) place(now, atNow);
    firstDrop(a, budget);
    return added;
  }

  /** Drops a budget's account (a value of a per-value budget whose window has ended). */
  forget(budget: Budget): void {
    const a = this.accounts.get(budget.name);
    if (a !== undefined) a.gone = true;
    this.accounts.delete(budget.name);
  }

  /**
   * The budget's record as it is, not rolled to any time (created with bounds the
   * next read replaces): for what the store keeps beside the numbers, its fuse.
   */
  record(budget: Budget): Account {
    // A value's budget holds its record: no lookup among the values'.
    const instance = budget.instance;
    if (instance !== undefined) {
      const held = instance.account;
      if (held !== undefined && held.ledger === this && held.gone !== true) return held;
    }
    let a = this.accounts.get(budget.name);
    if (a === undefined) {
      const rolling = budget.window.kind === 'rolling';
      // Bounds that `roll` replaces at once.
      a = {
        windowStart: 0,
        windowEnd: rolling ? Number.POSITIVE_INFINITY : 0,
        spent: { ...ZERO },
        reserved: { ...ZERO },
        buckets: rolling ? [] : undefined,
        drops: Number.POSITIVE_INFINITY,
        fuse: undefined,
        marks: undefined,
        ledger: this,
      };
      this.accounts.set(budget.name, a);
    }
    if (instance !== undefined) instance.account = a;
    return a;
  }

  private account(budget: Budget, now: number): Account {
    return this.roll(this.record(budget), budget, now);
  }

  /** The account brought to the window containing `now`, in place (it stays the budget's). */
  private roll(a: Account, budget: Budget, now: number): Account {
    if (budget.window.kind === 'rolling') {
      a.windowStart = now - budget.window.durationMs;
      // Most calls: no bucket has left the window, and the buckets are not read.
      if (a.windowStart < a.drops) return a;
      const buckets = a.buckets!;
      while (buckets.length > 0 && buckets[0]!.start + bucketSize(budget) <= a.windowStart) {
        add(a.spent, buckets.shift()!.amounts, -1);
      }
      firstDrop(a, budget);
      const spent = a.spent;
      if (spent.tokens < 1e-9) spent.tokens = 0;
      if (spent.usd < 1e-9) spent.usd = 0;
      if (spent.requests < 1e-9) spent.requests = 0;
      return a;
    }
    if (now >= a.windowEnd || now < a.windowStart) {
      const bounds = calendarWindow(budget.window, now);
      // Reservations of calls still in flight belong to the old window and are dropped with it.
      a.windowStart = bounds.start;
      a.windowEnd = bounds.end;
      a.spent = { ...ZERO };
      a.reserved = { ...ZERO };
    }
    return a;
  }
}

/** Sets a rolling window's {@link Account.drops} from its buckets. */
function firstDrop(a: Account, budget: Budget): void {
  const first = a.buckets?.[0];
  a.drops = first === undefined ? Number.POSITIVE_INFINITY : first.start + bucketSize(budget);
}
