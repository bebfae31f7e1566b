import type { Amounts, Budget, ModelPolicy } from '../budgets/budget.js';
import { MatchCache } from '../budgets/match-cache.js';
import type { BudgetExceededError } from '../errors/blocked-call-error.js';
import { RestoreNotConfiguredError } from '../errors/restore-errors.js';
import { UnknownBudgetError } from '../errors/usage-errors.js';
import type { PriceBook } from '../pricing/price-book.js';
import type { Tags } from '../types.js';
import {
  type Admission,
  type AdmissionResult,
  type CallDescription,
  reservedUsd,
} from './admission.js';
import { OutputAverages } from './admission-estimate.js';
import { streamCutOff } from './block-errors.js';
import { BoardAdmission } from './board-admission.js';
import type { Subscribe } from './events.js';
import {
  type BlockedEvent,
  FuseEvents,
  type ResetEvent,
  type StateChangeEvent,
  type ThresholdEvent,
  type TripEvent,
} from './fuse-events.js';
import { type FuseSnapshot, fuseSnapshot } from './fuse-snapshot.js';
import type {
  FuseStore,
  LedgerErrorCounts,
  LedgerErrorKey,
  LedgerErrorOperation,
  LedgerErrorReason,
  ManualNote,
  MaybePromise,
  ReadOutcome,
} from './fuse-store.js';
import { ManualControl } from './manual-control.js';
import { PerValueBudgets, type PerValueSummary } from './per-value-budgets.js';
import { Settlement } from './settlement.js';
import type { BudgetRestore, RestoreTarget, SpendRestorer } from './spend-restorer.js';
import { MemoryFuseStore } from './stores/memory.js';

// Where the instrumentation has always imported them from.
export type { Admission, AdmissionResult, CallDescription } from './admission.js';

export interface FuseBoardOptions {
  budgets: Budget[];
  policies: ModelPolicy[];
  prices: PriceBook;
  /** Where fuses and spend live. @default a new in-memory store */
  store?: FuseStore;
  /** Clock, for tests with fake timers. @default Date.now */
  now?: () => number;
}

/**
 * Every budget's fuse, and the admission and settlement of calls against them:
 * matching, estimating, blocking and cutting off streams. The fuse state machine
 * and the spend live in a {@link FuseStore}: in this process's memory (the default,
 * synchronous), or in Redis shared by a fleet (`ledger: { store: 'redis' }`),
 * where admission and settlement answer with promises when they need Redis (with
 * leases, a call that fits the replica's slices is decided synchronously).
 *
 * Events fire in the process that observed the transition; with the Redis store,
 * a threshold crossing fires once fleet-wide per window.
 */
export class FuseBoard {
  private readonly budgets: Budget[];
  /** The budgets that are not per-value: listed, exported and restored as themselves. */
  private readonly plain: Budget[];
  private readonly perValue: PerValueBudgets;
  private readonly byName = new Map<string, Budget>();
  private readonly matching: MatchCache;
  private readonly policies: ModelPolicy[];
  private readonly outputs = new OutputAverages();
  private readonly store: FuseStore;
  private readonly prices: PriceBook;
  private readonly now: () => number;
  private readonly wouldBlockCounts = new Map<string, number>();
  private readonly ledgerErrorCounts = new Map<LedgerErrorKey, number>();
  private readonly events = new FuseEvents(this.byName, (budgets, states) =>
    this.perValue.seen(budgets, states),
  );
  private readonly settlement: Settlement;
  private readonly admission: BoardAdmission;
  private readonly manual: ManualControl;
  /** Set by `ledger.restore` (src/restore/): calls wait for its first restore. */
  private restorer: SpendRestorer | undefined;

  /** A fuse opened. */
  readonly onTrip: Subscribe<TripEvent> = this.events.onTrip;
  /** A fuse closed again. */
  readonly onReset: Subscribe<ResetEvent> = this.events.onReset;
  /** Any state change. */
  readonly onStateChange: Subscribe<StateChangeEvent> = this.events.onStateChange;
  /** A budget crossed one of its thresholds (once per window per threshold; fleet-wide with the Redis ledger). */
  readonly onThreshold: Subscribe<ThresholdEvent> = this.events.onThreshold;
  /** A call was blocked (or, for monitor budgets, would have been). */
  readonly onBlocked: Subscribe<BlockedEvent> = this.events.onBlocked;

  constructor(options: FuseBoardOptions) {
    this.budgets = options.budgets;
    for (const b of options.budgets) this.byName.set(b.name, b);
    this.plain = options.budgets.filter((b) => b.per === undefined);
    this.matching = new MatchCache(options.budgets);
    this.policies = options.policies;
    this.prices = options.prices;
    this.store = options.store ?? new MemoryFuseStore();
    // Read Date.now on each call (not a captured reference), so fake clocks apply.
    this.now = options.now ?? (() => Date.now());
    this.perValue = PerValueBudgets.forBoard(options.budgets, this.byName, this.store);
    this.store.setListener({
      transitions: (transitions, states) =>
        this.events.transitions(transitions, (name) => states.get(name), this.now()),
      ledgerError: (operation, reason) => this.countLedgerError(operation, reason),
      manual: (entries) => {
        for (const e of entries) {
          const budget = this.byName.get(e.budget);
          if (budget !== undefined)
            this.manual.seen(budget, e, this.store.peek([budget], this.now()));
        }
      },
    });
    this.manual = new ManualControl(this.store, this.events, () => this.now());
    this.admission = new BoardAdmission({
      policies: this.policies,
      matching: this.matching,
      perValue: this.perValue,
      store: this.store,
      events: this.events,
      outputs: this.outputs,
      prices: this.prices,
      now: () => this.now(),
      restoring: () => this.restorer?.firstRestore,
      wouldBlock: (name) =>
        this.wouldBlockCounts.set(name, (this.wouldBlockCounts.get(name) ?? 0) + 1),
    });
    this.settlement = new Settlement({
      budgets: this.budgets,
      store: this.store,
      events: this.events,
      outputs: this.outputs,
      now: () => this.now(),
      expand: (budgets, call, now) => this.perValue.expand(budgets, call, now),
      seen: this.perValue.seenClosed,
    });
  }

  /** Whether there is anything to enforce; when false the instrumentation skips admission. */
  get active(): boolean {
    return this.budgets.length > 0 || this.policies.length > 0;
  }

  /** Whether fuses and spend are shared with other processes (the Redis ledger). */
  get shared(): boolean {
    return this.store.shared;
  }

  /**
   * Decides whether a call may be sent, and reserves its estimated cost in every
   * budget it matches. Synchronous with the in-memory store, and with Redis leases
   * while the call fits this replica's slices; otherwise a promise (one Redis round
   * trip) with the Redis store. Never rejects: a refusal is a `blocked` result.
   */
  admit(call: CallDescription): MaybePromise<AdmissionResult> {
    return this.admission.admit(call);
  }

  /** Replaces an admitted call's reservation by what it actually used. Never throws. */
  settle(
    admission: Admission,
    actual: { tokens: number; usd: number; outputTokens?: number; estimated?: boolean },
  ): void {
    this.settlement.settle(admission, actual);
  }

  /**
   * Records a call no admission saw (seen only in another instrumentation's span: it
   * was sent, it cannot be blocked) in every budget it matches that counts observed
   * spend (`observedSpend: 'count'`, the default): its thresholds, trips and the next
   * admission see it. Never throws.
   */
  observe(
    call: { tags: Tags; provider: string; model: string },
    actual: { tokens: number; usd: number },
  ): void {
    this.settlement.observe(call, actual);
  }

  /**
   * For budgets with `cutOffStreams`: the first one a stream has pushed over its
   * limit, counting what the stream has produced so far against what everyone
   * else has spent and reserved (as last seen, with the Redis store). Only called
   * for streams that matched such a budget.
   */
  streamOverLimit(
    admission: Admission,
    streamedOutputTokens: number,
  ): BudgetExceededError | undefined {
    const now = this.now();
    const { provider, model, inputTokens } = admission;
    const running: Amounts = {
      tokens: inputTokens + streamedOutputTokens,
      usd: reservedUsd(this.prices, provider, model, inputTokens, streamedOutputTokens),
      requests: 0,
    };
    return streamCutOff(admission, running, this.store.peek(admission.cutOff, now).states, now);
  }

  /**
   * Every fuse, with its numbers. With the Redis ledger these are the shared numbers
   * as this process last read them (every call and every metrics collection refreshes
   * them); `await snapshot()` reads them afresh.
   */
  list(): FuseSnapshot[] {
    return this.snapshots(this.plain, this.store.peek(this.plain, this.now()));
  }

  /** One fuse (see {@link list}); throws naming the known budgets when there is none of that name. */
  get(name: string): FuseSnapshot {
    const budget = this.budget(name);
    return this.snapshots([budget], this.store.peek([budget], this.now()))[0]!;
  }

  /** Every fuse, read from where the fuses live (Redis, for the shared ledger). */
  snapshot(): Promise<FuseSnapshot[]> {
    return this.readFresh(this.plain);
  }

  /** One fuse, read from where the fuses live; rejects naming the known budgets when there is none of that name. */
  async read(name: string): Promise<FuseSnapshot> {
    return (await this.readFresh([this.budget(name)]))[0]!;
  }

  private async readFresh(budgets: Budget[]): Promise<FuseSnapshot[]> {
    const now = this.now();
    return this.snapshots(budgets, await this.store.read(budgets, now));
  }

  /**
   * @internal Refreshes what {@link list} reports from a shared store; undefined when
   * there is nothing to refresh (the in-memory store is always current).
   */
  refresh(): Promise<void> | undefined {
    if (!this.store.shared || this.plain.length === 0) return undefined;
    return this.readFresh(this.plain).then(
      () => undefined,
      () => undefined,
    );
  }

  /**
   * Opens a fuse by hand: its calls are blocked until {@link reset}. Takes effect at
   * once with the in-memory store; with the Redis ledger, once the promise resolves
   * (it rejects when Redis cannot be reached). Throws at once for an unknown name.
   * Like every manual action, it fires `onStateChange` with `cause: 'manual'` and
   * `note`'s who and why, is logged and counted (`tokenfuse_manual_actions_total`).
   * Resolves with the fuse after.
   */
  isolate(name: string, note?: ManualNote): Promise<FuseSnapshot> {
    return this.manual.apply(this.budget(name), 'isolate', note);
  }

  /**
   * Closes a fuse by hand (also ends an isolation). Spend is kept: a fuse over its
   * limit opens again at the next call. Timing as for {@link isolate}.
   */
  reset(name: string, note?: ManualNote): Promise<FuseSnapshot> {
    return this.manual.apply(this.budget(name), 'reset', note);
  }

  /**
   * Raises a budget's limits by `amounts` for the rest of its current calendar window
   * (fleet-wide with the Redis ledger); the next window has the configured limits
   * again. An open fuse still waits for its cool-down, then probes with the new room
   * (or {@link reset} it to let calls through at once). Rejects with
   * `InvalidRaiseError` for a rolling window, a unit the budget does not limit, or an
   * amount that is not a positive number. Timing as for {@link isolate}.
   */
  raise(name: string, amounts: Partial<Amounts>, note?: ManualNote): Promise<FuseSnapshot> {
    return this.manual.apply(this.budget(name), 'raise', note, amounts);
  }

  /** @internal manual actions made through this board, per action. */
  manualActionCount(action: 'isolate' | 'reset' | 'raise'): number {
    return this.manual.count(action);
  }

  /**
   * Drains the shared ledger within `ledger.shutdownTimeoutMs` (calls in flight settle,
   * reservations of those that do not are released, spend recorded while Redis was
   * unreachable is written), then lets go of its connection; stops restoring from Prometheus.
   */
  close(): Promise<void> {
    this.restorer?.stop();
    return this.store.close();
  }

  /** Whether spend is restored from Prometheus (`ledger.restore`). */
  get restores(): boolean {
    return this.restorer !== undefined;
  }

  /**
   * Reads every budget's spend this window back from Prometheus (`ledger.restore`)
   * and raises this process's to it: spent becomes, per unit, the larger of what this
   * process has counted and the fleet's figure. A budget that is exhausted by it
   * opens its fuse at once. Resolves, per budget, with the amounts (and, for a
   * budget that could not be read, the error: it keeps its own figures); never
   * rejects once restoring is configured. Rejects when it is not.
   */
  restore(): Promise<BudgetRestore[]> {
    if (this.restorer === undefined)
      return Promise.reject(new RestoreNotConfiguredError('not_configured'));
    return this.restorer.restore();
  }

  /**
   * @internal Gives the board its restorer (`enableRestore` in src/restore/), built
   * by `connect` from what the board lets it do; calls that match a budget wait for
   * its first restore, and {@link restore} and {@link close} go to it.
   */
  attachRestorer(connect: (target: RestoreTarget) => SpendRestorer): void {
    this.restorer = connect({
      // Per-value budgets have no series per value to restore from.
      budgets: this.plain,
      now: () => this.now(),
      peek: (budget, at) => this.events.report([budget], this.store.peek([budget], at), at),
      raise: (budget, at, windowStart, floor, timeline) =>
        this.events.report(
          [budget],
          this.store.raise(budget, at, windowStart, floor, timeline),
          at,
        ),
      failed: (reason) => this.countLedgerError('restore', reason),
    });
  }

  /** @internal calls the monitor budgets would have blocked, per budget. */
  wouldBlockCount(name: string): number {
    return this.wouldBlockCounts.get(name) ?? 0;
  }

  /** @internal failures of the shared ledger, by operation and reason. */
  ledgerErrors(): LedgerErrorCounts {
    return this.ledgerErrorCounts;
  }

  /** @internal the budgets {@link list} reports (per-value budgets: {@link perValueSummaries}). */
  budgetList(): readonly Budget[] {
    return this.plain;
  }

  /** @internal per-value budgets: each one's top `n` values by utilisation, and counts by state. */
  perValueSummaries(n: number): PerValueSummary[] {
    return this.perValue.summaries(n, this.now());
  }

  private countLedgerError(operation: LedgerErrorOperation, reason: LedgerErrorReason): void {
    const key = `${operation}:${reason}` as const;
    this.ledgerErrorCounts.set(key, (this.ledgerErrorCounts.get(key) ?? 0) + 1);
  }

  private budget(name: string): Budget {
    const budget = this.byName.get(name);
    if (budget === undefined) throw new UnknownBudgetError(name, [...this.byName.keys()]);
    return budget;
  }

  private snapshots(budgets: readonly Budget[], read: ReadOutcome): FuseSnapshot[] {
    this.events.report(budgets, read, this.now());
    return budgets.map((budget, i) => fuseSnapshot(budget, read.states[i]!));
  }
}
