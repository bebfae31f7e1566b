/**
 * The values of per-value budgets (`per: customer`) this process has seen: each
 * value's concrete budget (`<budget>[<value>]`, src/budgets/per-value.ts), created
 * on its first call, and forgotten once its window has ended with nothing in
 * flight, so memory follows the values active in a window, not every value ever
 * seen (the Redis ledger holds the fleet's numbers; its keys expire on their own).
 *
 * It also keeps each value's utilisation as last seen, for the summaries the
 * metrics export instead of one series per value: the top N and counts by state.
 */
import { diag } from '@opentelemetry/api';
import type { Amounts, Budget } from '../budgets/budget.js';
import { instanceBudget, type PerValueCall, perValueKey } from '../budgets/per-value.js';
import { settledUtilization, windowAt } from '../budgets/rules.js';
import { PER_VALUE_NEAR, type PerValueState } from '../metrics/contract.js';
import type { BudgetState, FuseStore } from './fuse-store.js';

/** One value's budget and what the summaries need of it. */
interface ValueEntry {
  budget: Budget;
  /** When it may be forgotten: its calendar window's end, or a rolling window after its last call. */
  expires: number;
  /**
   * Its place in the template's order: {@link expires} when the value was last put at
   * the end. A rolling window's expiry moves on every call; the value moves to the end
   * only once its expiry is {@link REQUEUE_MS} past this, not on every call.
   */
  queued: number;
  /** End of the calendar window its numbers are of (Infinity for rolling windows). */
  windowEnd: number;
  /** Settled spend over limit, highest unit, as last seen. */
  utilization: number;
  /** Fuse open or half-open, as last seen. */
  open: boolean;
  /** The registry keeping it. */
  registry: PerValueBudgets;
}

declare module '../budgets/budget.js' {
  interface BudgetInstance {
    /**
     * The value's entry in the registry that created it, while the value is kept, so
     * that a store's answer is noted in it without a lookup.
     */
    entry?: ValueEntry | undefined;
  }
}

/** The entry of a value's budget, if it is `registry`'s and still kept. */
function keptEntry(budget: Budget, registry: PerValueBudgets): ValueEntry | undefined {
  const entry = budget.instance?.entry;
  return entry?.registry === registry ? entry : undefined;
}

/** A per-value budget and its values. */
interface Template {
  budget: Budget;
  /** In order of `queued` (see {@link ValueEntry.queued}). */
  values: Map<string, ValueEntry>;
  /** The calendar window values are being created in (rolling: unused). */
  window: { start: number; end: number };
  unkeyed: number;
  /**
   * No value expires before this: the first value's `queued` when last swept, lowered
   * by any value created since. Values are in order of `queued`, and a value's expiry
   * is never before it, so a call before it has nothing to sweep.
   */
  quietUntil: number;
}

/** What the registry asks of the board. */
export interface PerValueHooks {
  /** A value's budget was created: the board can now name it. */
  created(budget: Budget): void;
  /** Values' budgets were forgotten: the board and its store let go of them. */
  forgotten(budgets: readonly Budget[]): void;
  /** A value's state as the store last knows it (no I/O). */
  peek(budget: Budget, now: number): BudgetState;
}

/** One per-value budget's summary: the top values by utilisation and counts by state. */
export interface PerValueSummary {
  budget: Budget;
  top: Array<{ key: string; utilization: number }>;
  counts: Record<PerValueState, number>;
  /** Calls it matched that had no value for its tag. */
  unkeyed: number;
}

/**
 * How far a value's expiry may run ahead of its place in the order before it is moved
 * to the end: a rolling window's value may be forgotten up to this late, and moves at
 * most once per this long, not on every call.
 */
const REQUEUE_MS = 1_000;

/** Expired values looked at per call (amortised eviction: a call never waits for a full sweep). */
const SWEEP_PER_CALL = 32;
/** …and per metrics collection. */
const SWEEP_PER_COLLECTION = 10_000;

/** Every per-value budget's values, for one board. */
export class PerValueBudgets {
  private readonly templates = new Map<string, Template>();

  constructor(
    budgets: readonly Budget[],
    private readonly hooks: PerValueHooks,
  ) {
    for (const budget of budgets) {
      if (budget.per !== undefined)
        this.templates.set(budget.name, {
          budget,
          values: new Map(),
          window: { start: 0, end: 0 },
          unkeyed: 0,
          quietUntil: Number.POSITIVE_INFINITY,
        });
    }
  }

  /** The registry of a board: values' budgets named in `byName`, kept in `store`. */
  static forBoard(
    budgets: readonly Budget[],
    byName: Map<string, Budget>,
    store: FuseStore,
  ): PerValueBudgets {
    return new PerValueBudgets(budgets, {
      created: (budget) => byName.set(budget.name, budget),
      forgotten: (gone) => {
        for (const b of gone) byName.delete(b.name);
        store.forget?.(gone);
      },
      peek: (budget, now) => store.peek([budget], now).states[0]!,
    });
  }

  /** Whether any budget is per-value. */
  get any(): boolean {
    return this.templates.size > 0;
  }

  /**
   * `matched` with each per-value budget replaced by the budget of the call's value
   * (created on first sight), or left out when the call has no value for its tag.
   */
  expand(matched: readonly Budget[], call: PerValueCall, now: number): readonly Budget[] {
    if (this.templates.size === 0 || !anyPerValue(matched)) return matched;
    const out: Budget[] = [];
    for (const budget of matched) {
      const t = budget.per === undefined ? undefined : this.templates.get(budget.name);
      if (t === undefined) {
        out.push(budget);
        continue;
      }
      this.sweep(t, now, SWEEP_PER_CALL);
      const key = perValueKey(budget.per!, call);
      if (key === undefined) {
        if (t.unkeyed++ === 0)
          diag.warn(
            `tokenfuse: budget "${budget.name}" applies to each ${budget.per!.tags.join(', ')}; calls with no value for it are not counted against it (tokenfuse_budget_unkeyed_total{budget="${budget.name}"}). Add a budget without "per" to cover them.`,
          );
        continue;
      }
      out.push(this.touch(t, key, now).budget);
    }
    return out;
  }

  /** Notes the states a store answered with, for the values' utilisation and fuse. */
  seen(budgets: readonly Budget[], states: readonly BudgetState[]): void {
    if (this.templates.size === 0) return;
    budgets.forEach((budget, i) => {
      const s = states[i];
      if (budget.instance !== undefined && s !== undefined)
        this.note(budget, s.spent, s.fuse.state !== 'closed', s.windowEnd);
    });
  }

  /**
   * What {@link seen} notes of a value whose fuse is closed, from a store's fast path
   * (`SeenClosed`): bound once, so a call hands it over without a closure of its own.
   */
  readonly seenClosed = (budget: Budget, spent: Readonly<Amounts>, windowEnd: number): void => {
    this.note(budget, spent, false, windowEnd);
  };

  private note(budget: Budget, spent: Readonly<Amounts>, open: boolean, windowEnd: number): void {
    // Only a value still kept (not one forgotten since, nor another board's).
    const entry = keptEntry(budget, this);
    if (entry === undefined) return;
    entry.utilization = settledUtilization(budget.limit, spent);
    entry.open = open;
    if (budget.window.kind !== 'rolling') entry.windowEnd = windowEnd;
  }

  /** Each per-value budget's top `n` values by utilisation and counts by state, now. */
  summaries(n: number, now: number): PerValueSummary[] {
    return [...this.templates.values()].map((t) => {
      this.sweep(t, now, SWEEP_PER_COLLECTION);
      const counts: Record<PerValueState, number> = { tracked: 0, near: 0, over: 0, open: 0 };
      const top: Array<{ key: string; utilization: number }> = [];
      for (const [key, entry] of t.values) {
        // A calendar window that has ended holds nothing of the new one yet.
        const current = now < entry.windowEnd;
        const u = current ? entry.utilization : 0;
        counts.tracked++;
        if (u >= PER_VALUE_NEAR) counts.near++;
        if (u >= 1) counts.over++;
        if (current && entry.open) counts.open++;
        insertTop(top, n, key, u);
      }
      return { budget: t.budget, top, counts, unkeyed: t.unkeyed };
    });
  }

  /** The per-value budgets (templates), as configured. */
  list(): Budget[] {
    return [...this.templates.values()].map((t) => t.budget);
  }

  /** A value's entry, created on first sight; its expiry moved on, and its place when that is far. */
  private touch(t: Template, key: string, now: number): ValueEntry {
    const expires = this.expiry(t, now);
    let entry = t.values.get(key);
    if (entry === undefined) {
      entry = {
        budget: instanceBudget(t.budget, key),
        expires,
        queued: expires,
        windowEnd: t.budget.window.kind === 'rolling' ? Number.POSITIVE_INFINITY : t.window.end,
        utilization: 0,
        open: false,
        registry: this,
      };
      t.values.set(key, entry);
      entry.budget.instance!.entry = entry;
      if (expires < t.quietUntil) t.quietUntil = expires;
      this.hooks.created(entry.budget);
    } else if (entry.expires !== expires) {
      entry.expires = expires;
      if (expires - entry.queued > REQUEUE_MS || expires < entry.queued) {
        entry.queued = expires;
        t.values.delete(key);
        t.values.set(key, entry);
      }
    }
    return entry;
  }

  private expiry(t: Template, now: number): number {
    const w = t.budget.window;
    if (w.kind === 'rolling') return now + w.durationMs;
    if (now >= t.window.end || now < t.window.start) t.window = windowAt(t.budget, now);
    return t.window.end;
  }

  /**
   * Forgets up to `limit` values whose window has ended. A value with a call in
   * flight, or a fuse isolated by hand, is kept another window.
   */
  private sweep(t: Template, now: number, limit: number): void {
    if (now < t.quietUntil) return;
    const gone: Budget[] = [];
    let looked = 0;
    let next = Number.POSITIVE_INFINITY;
    for (const [key, entry] of t.values) {
      if (entry.queued > now) {
        next = entry.queued;
        break;
      }
      if (looked++ >= limit) {
        // More to sweep: the next call goes on.
        next = now;
        break;
      }
      if (entry.expires > now) {
        // Used since it was queued, and not yet moved (less than REQUEUE_MS since): the
        // values behind it wait for it, at most that long.
        next = entry.expires;
        break;
      }
      const s = this.hooks.peek(entry.budget, now);
      const busy = s.reserved.tokens > 0 || s.reserved.usd > 0 || s.reserved.requests > 0;
      if (busy || s.fuse.isolated) {
        // Kept another window: to the end, past which this loop stops.
        entry.expires = Math.max(now + 1, this.expiry(t, now));
        entry.queued = entry.expires;
        t.values.delete(key);
        t.values.set(key, entry);
        continue;
      }
      t.values.delete(key);
      entry.budget.instance!.entry = undefined;
      gone.push(entry.budget);
    }
    t.quietUntil = next;
    if (gone.length > 0) this.hooks.forgotten(gone);
  }
}

/** Whether any of `budgets` is per-value (a loop: no closure per call). */
function anyPerValue(budgets: readonly Budget[]): boolean {
  for (const b of budgets) if (b.per !== undefined) return true;
  return false;
}

/** Inserts into `top` (highest first, then by key), keeping at most `n`. */
function insertTop(
  top: Array<{ key: string; utilization: number }>,
  n: number,
  key: string,
  utilization: number,
): void {
  let i = top.length;
  while (
    i > 0 &&
    (top[i - 1]!.utilization < utilization ||
      (top[i - 1]!.utilization === utilization && top[i - 1]!.key > key))
  )
    i--;
  if (i >= n) return;
  top.splice(i, 0, { key, utilization });
  if (top.length > n) top.pop();
}
