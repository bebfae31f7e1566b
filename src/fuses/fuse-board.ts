import { diag } from '@opentelemetry/api';
import {
  type Amounts,
  type Budget,
  type Matcher,
  type ModelPolicy,
  type Unit,
  windowLabel,
} from '../budgets/budget.js';
import { exhausted, fits, utilization } from '../budgets/rules.js';
import {
  type BlockedCallError,
  type BudgetExceededDetails,
  BudgetExceededError,
  ModelNotAllowedError,
} from '../errors/blocked-call-error.js';
import { isRestoreError, RestoreNotConfiguredError } from '../errors/restore-errors.js';
import { UnknownBudgetError } from '../errors/usage-errors.js';
import { freeTimeSignal } from '../free-time-signal.js';
import type { PriceBook } from '../pricing/price-book.js';
import type { RestoreFailure, SpendSource } from '../restore/prometheus-restore.js';
import type { BudgetLimits, Tags } from '../types.js';
import { estimateCall, OutputAverages, type RequestEstimate } from './admission-estimate.js';
import { EventSource, type Subscribe } from './events.js';
import type { FuseState } from './fuse.js';
import {
  type AdmitOutcome,
  type BudgetState,
  type FuseStore,
  isPromise,
  type LedgerErrorOperation,
  type LedgerErrorReason,
  type MaybePromise,
  type ReadOutcome,
  type SettleOutcome,
  type Transition,
} from './fuse-store.js';
import { MemoryFuseStore } from './stores/memory.js';

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

export interface TripEvent {
  budget: string;
  window: string;
  unit: Unit;
  spent: number;
  limit: number;
  action: 'block' | 'monitor';
  at: Date;
}
export interface ResetEvent {
  budget: string;
  /** `window` when a new window began, `room` when probes found room, `manual` for `reset()`. */
  cause: 'window' | 'room' | 'manual';
  at: Date;
}
export interface StateChangeEvent {
  budget: string;
  from: FuseState;
  to: FuseState;
  at: Date;
}
export interface ThresholdEvent {
  budget: string;
  /** The threshold crossed (0.5, 0.75, …). */
  threshold: number;
  utilization: number;
  unit: Unit;
  spent: number;
  limit: number;
  window: string;
  match: Budget['match']['spec'];
  at: Date;
}
export interface BlockedEvent {
  budget: string;
  reason: BlockedCallError['reason'];
  model: string;
  tags: Tags;
  /** Monitor budgets report what they would have blocked; the call went ahead. */
  enforced: boolean;
  at: Date;
}

/** One budget's restore: what the fleet had spent this window, and what this process counts now. */
export interface BudgetRestore {
  budget: string;
  window: string;
  windowStart: Date;
  /**
   * The fleet's spend this window, as Prometheus has it; undefined when it could not
   * be read (see `error`), or was for a calendar window that ended before it arrived.
   */
  fleet: Amounts | undefined;
  /** The instant the fleet's figures run to (its newest samples are at most a scrape interval older). */
  until: Date | undefined;
  /** What this process had counted itself, just before. */
  local: Amounts;
  /** This process's spend after the restore: the larger of `local` and `fleet`, per unit. */
  spent: Amounts;
  state: FuseState;
  /** Why the fleet's spend could not be read (the budget kept `local`). */
  error?: { reason: RestoreFailure; message: string };
}

/** How a board restores spend (`ledger.restore`). */
export interface RestoreSettings {
  /** 0: once, at startup. */
  intervalSeconds: number;
  /**
   * Bound of one restore, all budgets together, in time the process was free to read
   * the answer; calls wait at most this long for the first.
   */
  timeoutMs: number;
}

/** What a call needs to be admitted: its attribution and its request in numbers. */
export interface CallDescription extends RequestEstimate {
  tags: Tags;
  provider: string;
  model: string;
}

/** An admitted call's claim on its budgets, handed back at settlement. */
export interface Admission {
  /** Each matched budget with the amounts reserved in it. */
  entries: Array<{ budget: Budget; amounts: Amounts }>;
  /** Budgets this call is a half-open probe of. */
  probes: string[];
  /** Monitor budgets that would have blocked this call. */
  wouldBlock: string[];
  model: string;
  provider: string;
  outputBounded: boolean;
  /** Budgets whose streams are cut off when they go over. */
  cutOff: Budget[];
  /** Input tokens reserved (the length bound or the exact count). */
  inputTokens: number;
  /** The store's claim (opaque here). */
  ticket: unknown;
}

export type AdmissionResult =
  | { admitted: Admission }
  | { blocked: BlockedCallError; wouldBlock: string[] };

export interface FuseBoardOptions {
  budgets: Budget[];
  policies: ModelPolicy[];
  prices: PriceBook;
  /** Where fuses and spend live. @default a new in-memory store */
  store?: FuseStore;
  /** Clock, for tests with fake timers. @default Date.now */
  now?: () => number;
}

function matches(m: Matcher, tags: Tags, provider: string, model: string): boolean {
  return (
    (m.department === undefined || m.department === tags.department) &&
    (m.project === undefined || m.project === tags.project) &&
    (m.environment === undefined || m.environment === tags.environment) &&
    (m.provider === undefined || m.provider === provider) &&
    (m.model === undefined || m.model.test(model))
  );
}

/** Per (operation, reason): failures of a shared store, and of restoring from Prometheus. */
export type LedgerErrorCounts = ReadonlyMap<`${LedgerErrorOperation}:${LedgerErrorReason}`, number>;

/**
 * Every budget's fuse, and the admission and settlement of calls against them.
 * Matching, estimating, errors and events are here; the fuse state machine and
 * the spend live in a {@link FuseStore}: in this process's memory (the default,
 * synchronous), or in Redis shared by a fleet (`ledger: { store: 'redis' }`),
 * where admission and settlement answer with promises.
 *
 * Events fire in the process that observed the transition; with the Redis store,
 * a threshold crossing fires once fleet-wide per window.
 */
export class FuseBoard {
  private readonly budgets: Budget[];
  private readonly byName = new Map<string, Budget>();
  private readonly policies: ModelPolicy[];
  private readonly outputs = new OutputAverages();
  private readonly store: FuseStore;
  private readonly prices: PriceBook;
  private readonly now: () => number;
  private readonly wouldBlockCounts = new Map<string, number>();
  private readonly ledgerErrorCounts = new Map<
    `${LedgerErrorOperation}:${LedgerErrorReason}`,
    number
  >();
  private restoreSource: { source: SpendSource; settings: RestoreSettings } | undefined;
  /** Set from startup until the first restore has answered (or timed out): admissions wait for it. */
  private restoreGate: Promise<void> | undefined;
  private restoreInFlight: Promise<BudgetRestore[]> | undefined;
  private restoreTimer: NodeJS.Timeout | undefined;
  private readonly restoreStop = new AbortController();
  private restoreFailing = false;

  private readonly tripEvents = new EventSource<TripEvent>();
  private readonly resetEvents = new EventSource<ResetEvent>();
  private readonly stateEvents = new EventSource<StateChangeEvent>();
  private readonly thresholdEvents = new EventSource<ThresholdEvent>();
  private readonly blockedEvents = new EventSource<BlockedEvent>();

  /** A fuse opened. */
  readonly onTrip: Subscribe<TripEvent> = this.tripEvents.subscribe;
  /** A fuse closed again. */
  readonly onReset: Subscribe<ResetEvent> = this.resetEvents.subscribe;
  /** Any state change. */
  readonly onStateChange: Subscribe<StateChangeEvent> = this.stateEvents.subscribe;
  /** A budget crossed one of its thresholds (once per window per threshold; fleet-wide with the Redis ledger). */
  readonly onThreshold: Subscribe<ThresholdEvent> = this.thresholdEvents.subscribe;
  /** A call was blocked (or, for monitor budgets, would have been). */
  readonly onBlocked: Subscribe<BlockedEvent> = this.blockedEvents.subscribe;

  constructor(options: FuseBoardOptions) {
    this.budgets = options.budgets;
    for (const b of options.budgets) this.byName.set(b.name, b);
    this.policies = options.policies;
    this.prices = options.prices;
    this.store = options.store ?? new MemoryFuseStore();
    // Read Date.now on each call (not a captured reference), so fake clocks apply.
    this.now = options.now ?? (() => Date.now());
    this.store.setListener({
      transitions: (transitions, states) =>
        this.emitTransitions(transitions, (name) => states.get(name), this.now()),
      ledgerError: (operation, reason) => {
        const key = `${operation}:${reason}` as const;
        this.ledgerErrorCounts.set(key, (this.ledgerErrorCounts.get(key) ?? 0) + 1);
      },
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
   * budget it matches. Synchronous with the in-memory store; a promise (one Redis
   * round trip) with the Redis store. Never rejects: a refusal is a `blocked` result.
   */
  admit(call: CallDescription): MaybePromise<AdmissionResult> {
    const now = this.now();
    const { tags, provider, model } = call;

    for (const policy of this.policies) {
      if (!matches(policy.match, tags, provider, model)) continue;
      const denied =
        policy.deny.some((re) => re.test(model)) ||
        (policy.allow !== undefined && !policy.allow.some((re) => re.test(model)));
      if (denied) {
        this.blockedEvents.emit({
          budget: policy.name,
          reason: 'model_not_allowed',
          model,
          tags,
          enforced: true,
          at: new Date(now),
        });
        return {
          blocked: new ModelNotAllowedError(
            policy.name,
            model,
            policy.allow?.map((re) =>
              re.source.slice(1, -1).replaceAll('.*', '*').replaceAll('\\', ''),
            ),
          ),
          wouldBlock: [],
        };
      }
    }

    const matched = this.budgets.filter((b) => matches(b.match, tags, provider, model));
    const admission: Admission = {
      entries: [],
      probes: [],
      wouldBlock: [],
      model,
      provider,
      outputBounded: true,
      cutOff: [],
      inputTokens: 0,
      ticket: undefined,
    };
    if (matched.length === 0) return { admitted: admission };
    // Until the first restore has answered, the budgets hold only this process's spend.
    if (this.restoreGate !== undefined) return this.restoreGate.then(() => this.admit(call));

    const estimate = estimateCall(call, model, this.outputs, (m) =>
      this.prices.contextWindow(provider, m),
    );
    admission.outputBounded = estimate.outputBounded;
    let input = estimate.inputUpperBound;
    const amountsFor = (inputTokens: number): Amounts => ({
      tokens: inputTokens + estimate.output,
      usd: this.prices.price(provider, model, {
        input: inputTokens,
        cacheRead: 0,
        cacheWrite: 0,
        output: estimate.output,
        reasoning: 0,
      }).usd,
      requests: 1,
    });
    let amounts = amountsFor(input);
    // Tokenize only when the length bound does not fit in what is left (as last seen,
    // for a shared store: the reservation is never below the real count either way).
    const seen = this.store.peek(matched, now);
    this.emitTransitions(seen.transitions, stateOf(matched, seen.states), now);
    if (seen.states.some((s, i) => !fits(matched[i]!.limit, s, amounts))) {
      input = estimate.exactInput();
      amounts = amountsFor(input);
    }
    admission.inputTokens = input;
    // A call the body does not bound holds every limited unit's remaining room.
    const perBudget = matched.map((budget, i) =>
      estimate.takesRoom ? withRoom(budget, seen.states[i]!, amounts) : amounts,
    );

    const outcome = this.store.admit({
      now,
      entries: matched.map((budget, i) => ({ budget, amounts: perBudget[i]! })),
    });
    const decide = (o: AdmitOutcome) =>
      this.afterAdmit(call, matched, perBudget, admission, o, now);
    return isPromise(outcome) ? outcome.then(decide) : decide(outcome);
  }

  private afterAdmit(
    call: CallDescription,
    matched: Budget[],
    amounts: Amounts[],
    admission: Admission,
    outcome: AdmitOutcome,
    now: number,
  ): AdmissionResult {
    const { tags, model } = call;
    if (outcome.kind === 'unavailable') {
      this.blockedEvents.emit({
        budget: outcome.error.budget,
        reason: outcome.error.reason,
        model,
        tags,
        enforced: true,
        at: new Date(now),
      });
      return { blocked: outcome.error, wouldBlock: [] };
    }
    this.emitTransitions(outcome.transitions, stateOf(matched, outcome.states), now);

    let blocked: BudgetExceededError | undefined;
    outcome.decisions.forEach((decision, i) => {
      if (decision.kind !== 'block') return;
      const budget = matched[i]!;
      if (budget.action === 'monitor') {
        admission.wouldBlock.push(budget.name);
        this.wouldBlockCounts.set(budget.name, (this.wouldBlockCounts.get(budget.name) ?? 0) + 1);
        this.blockedEvents.emit({
          budget: budget.name,
          reason: decision.reason,
          model,
          tags,
          enforced: false,
          at: new Date(now),
        });
      } else if (blocked === undefined) {
        blocked = this.blockError(budget, outcome.states[i]!, decision.reason, now);
      }
    });
    if (blocked !== undefined || !outcome.admitted) {
      // A store refuses only when a block budget blocks; the second test is a safeguard.
      blocked ??= this.blockError(matched[0]!, outcome.states[0]!, 'reserved', now);
      this.blockedEvents.emit({
        budget: blocked.budget,
        reason: blocked.reason,
        model,
        tags,
        enforced: true,
        at: new Date(now),
      });
      return { blocked, wouldBlock: admission.wouldBlock };
    }

    outcome.decisions.forEach((decision, i) => {
      const budget = matched[i]!;
      if (decision.kind === 'probe') admission.probes.push(budget.name);
      if (budget.cutOffStreams && budget.action === 'block') admission.cutOff.push(budget);
      admission.entries.push({ budget, amounts: { ...amounts[i]! } });
    });
    admission.ticket = outcome.ticket;
    return { admitted: admission };
  }

  /** Replaces an admitted call's reservation by what it actually used. Never throws. */
  settle(
    admission: Admission,
    actual: { tokens: number; usd: number; outputTokens?: number; estimated?: boolean },
  ): void {
    try {
      const now = this.now();
      if (actual.outputTokens !== undefined && !actual.estimated)
        this.outputs.observe(admission.model, actual.outputTokens);
      if (admission.entries.length === 0) return;
      const budgets = admission.entries.map((e) => e.budget);
      const outcome = this.store.settle({
        now,
        budgets,
        ticket: admission.ticket,
        actual: { tokens: actual.tokens, usd: actual.usd, requests: 1 },
      });
      if (isPromise(outcome)) {
        outcome.then(
          (o) => this.afterSettle(budgets, o, this.now()),
          (err: unknown) =>
            diag.error('tokenfuse: settling a call against its budgets failed', err),
        );
      } else this.afterSettle(budgets, outcome, now);
    } catch (err) {
      diag.error('tokenfuse: settling a call against its budgets failed', err);
    }
  }

  private afterSettle(budgets: Budget[], outcome: SettleOutcome | undefined, now: number): void {
    if (outcome === undefined) return;
    try {
      // Thresholds first, then the fuse: a settlement that reaches the limit reports
      // the crossing before the trip, as an operator reads them.
      budgets.forEach((budget, i) => {
        const s = outcome.states[i]!;
        const u = utilization(budget.limit, s);
        for (const threshold of outcome.crossed[i] ?? []) {
          this.thresholdEvents.emit({
            budget: budget.name,
            threshold,
            utilization: u.value,
            unit: u.unit,
            spent: s.spent[u.unit],
            limit: budget.limit[u.unit]!,
            window: windowLabel(budget.window),
            match: budget.match.spec,
            at: new Date(now),
          });
        }
      });
      this.emitTransitions(outcome.transitions, stateOf(budgets, outcome.states), now);
    } catch (err) {
      diag.error('tokenfuse: reporting a settlement failed', err);
    }
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
    const running: Amounts = {
      tokens: admission.inputTokens + streamedOutputTokens,
      usd: this.prices.price(admission.provider, admission.model, {
        input: admission.inputTokens,
        cacheRead: 0,
        cacheWrite: 0,
        output: streamedOutputTokens,
        reasoning: 0,
      }).usd,
      requests: 0,
    };
    const seen = this.store.peek(admission.cutOff, now);
    for (const [i, budget] of admission.cutOff.entries()) {
      const entry = admission.entries.find((e) => e.budget === budget);
      const s = seen.states[i]!;
      for (const u of ['tokens', 'usd'] as const) {
        const l = budget.limit[u];
        if (l === undefined) continue;
        const others = s.spent[u] + s.reserved[u] - (entry?.amounts[u] ?? 0);
        if (others + running[u] > l) {
          return new BudgetExceededError({
            budget: budget.name,
            reason: 'limit_reached',
            window: windowLabel(budget.window),
            unit: u,
            spent: others + running[u],
            reserved: 0,
            limit: l,
            retryAfterSeconds: Math.max(
              1,
              Math.ceil(Math.min(s.windowEnd - now, budget.cooldownMs) / 1000),
            ),
          });
        }
      }
    }
    return undefined;
  }

  /**
   * Every fuse, with its numbers. With the Redis ledger these are the shared numbers
   * as this process last read them (every call and every metrics collection refreshes
   * them); `await snapshot()` reads them afresh.
   */
  list(): FuseSnapshot[] {
    return this.snapshots(this.budgets, this.store.peek(this.budgets, this.now()));
  }

  /** One fuse (see {@link list}); throws naming the known budgets when there is none of that name. */
  get(name: string): FuseSnapshot {
    const budget = this.budget(name);
    return this.snapshots([budget], this.store.peek([budget], this.now()))[0]!;
  }

  /** Every fuse, read from where the fuses live (Redis, for the shared ledger). */
  snapshot(): Promise<FuseSnapshot[]> {
    return this.readFresh(this.budgets);
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
    if (!this.store.shared || this.budgets.length === 0) return undefined;
    return this.readFresh(this.budgets).then(
      () => undefined,
      () => undefined,
    );
  }

  /**
   * Opens a fuse by hand: its calls are blocked until {@link reset}. Takes effect at
   * once with the in-memory store; with the Redis ledger, once the promise resolves
   * (it rejects when Redis cannot be reached). Throws at once for an unknown name.
   */
  isolate(name: string): Promise<void> {
    return this.control(this.budget(name), 'isolate');
  }

  /**
   * Closes a fuse by hand (also ends an isolation). Spend is kept: a fuse over its
   * limit opens again at the next call. Timing as for {@link isolate}.
   */
  reset(name: string): Promise<void> {
    return this.control(this.budget(name), 'reset');
  }

  private control(budget: Budget, op: 'isolate' | 'reset'): Promise<void> {
    const now = this.now();
    const done = (o: ReadOutcome) => {
      this.emitTransitions(o.transitions, stateOf([budget], o.states), now);
    };
    const outcome = this.store.control(budget, op, now);
    if (isPromise(outcome)) return outcome.then(done);
    done(outcome);
    return Promise.resolve();
  }

  /**
   * Drains the shared ledger within `ledger.shutdownTimeoutMs` (calls in flight settle,
   * reservations of those that do not are released, spend recorded while Redis was
   * unreachable is written), then lets go of its connection; stops restoring from Prometheus.
   */
  close(): Promise<void> {
    clearInterval(this.restoreTimer);
    this.restoreTimer = undefined;
    this.restoreStop.abort();
    return this.store.close();
  }

  /** Whether spend is restored from Prometheus (`ledger.restore`). */
  get restores(): boolean {
    return this.restoreSource !== undefined;
  }

  /**
   * @internal Restores spend from `source` now, and every `intervalSeconds` after.
   * Calls that match a budget wait for the first restore, at most `timeoutMs`.
   *
   * Why they wait rather than start from zero: a process restarted mid-window must
   * not let through, in its first moments, calls for a department whose budget the
   * fleet has already spent. A job runner or a queue consumer sends its first calls
   * right at startup, and a process in a crash loop would be nothing but first
   * moments: each incarnation would spend afresh. Waiting costs those first calls
   * one restore (a few Prometheus queries, typically milliseconds), bounded by
   * `timeoutMs` of time the process was free to read the answer; startup itself is not delayed, nor are calls that match no budget,
   * and later restores (`intervalSeconds`) never hold calls up.
   */
  enableRestore(source: SpendSource, settings: RestoreSettings): void {
    if (this.store.shared) throw new RestoreNotConfiguredError('shared_ledger');
    if (this.restoreSource !== undefined) return;
    this.restoreSource = { source, settings };
    if (this.budgets.length === 0) return;
    // Never rejects: a failure is logged, and the gate opens whatever happens.
    const run = () =>
      this.restore().then(
        () => undefined,
        (err: unknown) => diag.error('tokenfuse: restoring budget spend failed', err),
      );
    this.restoreGate = run().then(() => {
      this.restoreGate = undefined;
    });
    if (settings.intervalSeconds > 0) {
      this.restoreTimer = setInterval(() => void run(), settings.intervalSeconds * 1000);
      this.restoreTimer.unref();
    }
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
    const configured = this.restoreSource;
    if (configured === undefined) {
      return Promise.reject(new RestoreNotConfiguredError('not_configured'));
    }
    this.restoreInFlight ??= this.runRestore(configured.source, configured.settings).finally(() => {
      this.restoreInFlight = undefined;
    });
    return this.restoreInFlight;
  }

  private async runRestore(
    source: SpendSource,
    settings: RestoreSettings,
  ): Promise<BudgetRestore[]> {
    const now = this.now();
    // Bounded by time this process was free to read the answer, not by the wall clock:
    // the first restore starts while the app is still loading its modules on this
    // thread, and a wall-clock timer would fire before the request was even sent on a
    // busy host, calling a healthy Prometheus silent and letting the first calls
    // through unrestored (see freeTimeSignal).
    const bound = freeTimeSignal(settings.timeoutMs);
    const signal = AbortSignal.any([bound.signal, this.restoreStop.signal]);
    const results = await Promise.all(
      this.budgets.map(async (budget) => {
        try {
          return { budget, fleet: await source.fleetSpend(budget, now, signal) };
        } catch (err) {
          const reason: RestoreFailure = isRestoreError(err) ? err.reason : 'response';
          return { budget, error: { reason, message: (err as Error)?.message ?? String(err) } };
        }
      }),
    ).finally(() => bound.dispose());
    const at = this.now();
    const failed: string[] = [];
    const out = results.map((r): BudgetRestore => {
      const { budget } = r;
      const before = this.store.peek([budget], at);
      this.emitTransitions(before.transitions, stateOf([budget], before.states), at);
      const local = { ...before.states[0]!.spent };
      const fleet = 'fleet' in r ? r.fleet : undefined;
      // Spent becomes max(local, fleet) per unit, never local + fleet: the fleet's
      // figure already holds this process's own spend as far as Prometheus has
      // scraped it (its series are among the fleet's, its earlier lives' too), so a
      // sum would count that twice. Local is the larger only by this process's spend
      // since its last scrape, while it may lack the others': the max is a lower bound
      // of the truth (which would need to know which series are this process's), and
      // at startup, where local is 0, it is the fleet's figure exactly.
      const raised =
        fleet !== undefined && this.store instanceof MemoryFuseStore
          ? this.store.raise(budget, at, fleet.windowStart, fleet.amounts, fleet.timeline)
          : undefined;
      if (raised !== undefined)
        this.emitTransitions(raised.transitions, stateOf([budget], raised.states), at);
      const s = (raised ?? before).states[0]!;
      const error = 'error' in r ? r.error : undefined;
      if (error !== undefined) {
        failed.push(`"${budget.name}" (${error.reason}: ${error.message})`);
        const key = `restore:${error.reason}` as const;
        this.ledgerErrorCounts.set(key, (this.ledgerErrorCounts.get(key) ?? 0) + 1);
      }
      return {
        budget: budget.name,
        window: windowLabel(budget.window),
        windowStart: new Date(s.windowStart),
        // Figures for a calendar window that ended before they arrived were not applied.
        fleet: raised?.added !== undefined ? { ...fleet!.amounts } : undefined,
        until: raised?.added !== undefined ? new Date(fleet!.until) : undefined,
        local,
        spent: { ...s.spent },
        state: s.fuse.state,
        ...(error !== undefined ? { error } : {}),
      };
    });
    if (failed.length > 0) {
      // Once per run of failures: a Prometheus that stays away is not logged every interval.
      const message =
        `tokenfuse: cannot restore budget spend from Prometheus at ${source.location}: ` +
        `budget ${failed.join(', budget ')}; ${failed.length === 1 ? 'it keeps' : 'they keep'} this process's own figures` +
        (settings.intervalSeconds > 0 ? `, retried in ${settings.intervalSeconds}s` : '');
      if (this.restoreFailing) diag.debug(message);
      else diag.warn(message);
      this.restoreFailing = true;
    } else if (this.restoreFailing) {
      diag.info(`tokenfuse: restored budget spend from Prometheus at ${source.location} again`);
      this.restoreFailing = false;
    }
    return out;
  }

  /** @internal calls the monitor budgets would have blocked, per budget. */
  wouldBlockCount(name: string): number {
    return this.wouldBlockCounts.get(name) ?? 0;
  }

  /** @internal failures of the shared ledger, by operation and reason. */
  ledgerErrors(): LedgerErrorCounts {
    return this.ledgerErrorCounts;
  }

  /** @internal */
  budgetList(): readonly Budget[] {
    return this.budgets;
  }

  private budget(name: string): Budget {
    const budget = this.byName.get(name);
    if (budget === undefined) throw new UnknownBudgetError(name, [...this.byName.keys()]);
    return budget;
  }

  private snapshots(budgets: readonly Budget[], read: ReadOutcome): FuseSnapshot[] {
    const now = this.now();
    this.emitTransitions(read.transitions, stateOf(budgets, read.states), now);
    return budgets.map((budget, i) => {
      const s = read.states[i]!;
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
    });
  }

  private blockError(
    budget: Budget,
    s: BudgetState,
    reason: BudgetExceededDetails['reason'],
    now: number,
  ): BudgetExceededError {
    const fuse = s.fuse;
    const u = utilization(budget.limit, s, true);
    const untilWindowEnd = s.windowEnd - now;
    let retryMs: number;
    if (reason === 'reserved' || reason === 'probing') retryMs = 1000;
    else if (reason === 'isolated') retryMs = budget.cooldownMs;
    else {
      // An open fuse lets probes through after its cool-down, if there is room
      // by then; a calendar window with its limit spent has none until it ends.
      const untilProbe =
        fuse.state === 'open' ? fuse.openedAt + budget.cooldownMs - now : budget.cooldownMs;
      const spentOut = exhausted(budget.limit, s) !== undefined && budget.window.kind !== 'rolling';
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
      limit: budget.limit[u.unit]!,
      retryAfterSeconds: Math.ceil(retryMs / 1000),
    });
  }

  /** Turns a store's transitions into events, in the order they happened. */
  private emitTransitions(
    transitions: readonly Transition[],
    stateOfBudget: (name: string) => BudgetState | undefined,
    now: number,
  ): void {
    for (const t of transitions) {
      const at = new Date(now);
      this.stateEvents.emit({ budget: t.budget, from: t.from, to: t.to, at });
      if (t.to === 'closed' && (t.cause === 'window' || t.cause === 'room' || t.cause === 'manual'))
        this.resetEvents.emit({ budget: t.budget, cause: t.cause, at });
      const budget = this.byName.get(t.budget);
      const s = stateOfBudget(t.budget);
      if (t.cause === 'trip' && budget !== undefined && s !== undefined) {
        const u = utilization(budget.limit, s);
        this.tripEvents.emit({
          budget: budget.name,
          window: windowLabel(budget.window),
          unit: u.unit,
          spent: s.spent[u.unit],
          limit: budget.limit[u.unit]!,
          action: budget.action,
          at,
        });
      }
    }
  }
}

/** `amounts`, raised to what is left of the token and USD limits (a call is one request, whatever its body). */
function withRoom(budget: Budget, s: BudgetState, amounts: Amounts): Amounts {
  const out = { ...amounts };
  for (const u of ['tokens', 'usd'] as const) {
    const l = budget.limit[u];
    if (l !== undefined) out[u] = Math.max(out[u], l - s.spent[u] - s.reserved[u]);
  }
  return out;
}

function stateOf(
  budgets: readonly Budget[],
  states: readonly BudgetState[],
): (name: string) => BudgetState | undefined {
  return (name) => {
    const i = budgets.findIndex((b) => b.name === name);
    return i < 0 ? undefined : states[i];
  };
}
