import { diag } from '@opentelemetry/api';
import {
  type BlockedCallError,
  type BudgetExceededDetails,
  BudgetExceededError,
  ModelNotAllowedError,
} from '../errors/blocked-call-error.js';
import type { ApiAdapter } from '../instrumentation/api-adapters.js';
import type { AccountSnapshot, Ledger, ReservationEntry } from '../ledger/ledger.js';
import { MemoryLedger } from '../ledger/memory-ledger.js';
import type { PriceBook } from '../pricing/price-book.js';
import type { BudgetLimits, Tags } from '../types.js';
import { estimateCall, OutputAverages } from './admission-estimate.js';
import {
  type Amounts,
  type Budget,
  type Matcher,
  type ModelPolicy,
  UNITS,
  type Unit,
  windowLabel,
} from './budget.js';
import { EventSource, type Subscribe } from './events.js';
import { closedFuse, type FuseRecord, type FuseState } from './fuse.js';

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

/** What a call needs to be admitted. */
export interface CallDescription {
  tags: Tags;
  provider: string;
  model: string;
  adapter: ApiAdapter;
  body: unknown;
}

/** An admitted call's claim on its budgets, handed back at settlement. */
export interface Admission {
  entries: ReservationEntry[];
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
}

export type AdmissionResult =
  | { admitted: Admission }
  | { blocked: BlockedCallError; wouldBlock: string[] };

export interface FuseBoardOptions {
  budgets: Budget[];
  policies: ModelPolicy[];
  prices: PriceBook;
  ledger?: Ledger;
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

function limitedUnits(limit: BudgetLimits): Unit[] {
  return UNITS.filter((u) => limit[u] !== undefined);
}

/**
 * Every budget's fuse, and the admission and settlement of calls against them.
 * Deciding (has this budget run out?) is kept apart from the state machine
 * (closed → open → half-open → closed), and both from where spend is stored
 * (the {@link Ledger}).
 */
export class FuseBoard {
  private readonly budgets: Budget[];
  private readonly byName = new Map<string, Budget>();
  private readonly policies: ModelPolicy[];
  private readonly fuses = new Map<string, FuseRecord>();
  private readonly thresholdsSeen = new Map<
    string,
    { windowStart: number; crossed: Set<number> }
  >();
  private readonly outputs = new OutputAverages();
  private readonly ledger: Ledger;
  private readonly prices: PriceBook;
  private readonly now: () => number;
  private readonly wouldBlockCounts = new Map<string, number>();

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
  /** A budget crossed one of its thresholds (once per window per threshold). */
  readonly onThreshold: Subscribe<ThresholdEvent> = this.thresholdEvents.subscribe;
  /** A call was blocked (or, for monitor budgets, would have been). */
  readonly onBlocked: Subscribe<BlockedEvent> = this.blockedEvents.subscribe;

  constructor(options: FuseBoardOptions) {
    this.budgets = options.budgets;
    for (const b of options.budgets) {
      this.byName.set(b.name, b);
      this.fuses.set(b.name, closedFuse());
    }
    this.policies = options.policies;
    this.prices = options.prices;
    this.ledger = options.ledger ?? new MemoryLedger();
    // Read Date.now on each call (not a captured reference), so fake clocks apply.
    this.now = options.now ?? (() => Date.now());
  }

  /** Whether there is anything to enforce; when false the instrumentation skips admission. */
  get active(): boolean {
    return this.budgets.length > 0 || this.policies.length > 0;
  }

  /**
   * Decides whether a call may be sent, and reserves its estimated cost in every
   * budget it matches. Synchronous for the in-memory ledger.
   */
  admit(call: CallDescription): AdmissionResult {
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
    };
    if (matched.length === 0) return { admitted: admission };

    const estimate = estimateCall(call.adapter, call.body, model, this.outputs);
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

    // Phase 1: decide for every budget without changing anything.
    const decisions: Array<{ budget: Budget; snapshot: AccountSnapshot; decision: Decision }> = [];
    for (const budget of matched) {
      const snapshot = this.ledger.read(budget, now);
      this.rollFuse(budget, snapshot, now);
      // Tokenize only when the length bound does not fit in what is left.
      if (input === estimate.inputUpperBound && !fits(budget.limit, snapshot, amounts)) {
        input = estimate.exactInput();
        amounts = amountsFor(input);
      }
      decisions.push({ budget, snapshot, decision: this.decide(budget, snapshot, now) });
    }

    let blocked: BudgetExceededError | undefined;
    for (const { budget, snapshot, decision } of decisions) {
      if (decision.kind === 'block') {
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
          blocked = this.blockError(budget, snapshot, decision.reason, now);
        }
      }
    }
    // Tripping happens whatever the outcome: a limit reached is a fact.
    for (const { budget, snapshot, decision } of decisions) {
      if (decision.kind === 'block' && decision.trip) this.trip(budget, snapshot, now);
    }
    if (blocked !== undefined) {
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

    // Phase 2: admitted everywhere; take probes and reserve.
    for (const { budget, decision } of decisions) {
      if (decision.kind === 'probe') {
        const fuse = this.fuses.get(budget.name)!;
        fuse.probesLeft -= 1;
        fuse.probesInFlight += 1;
        admission.probes.push(budget.name);
      }
      if (budget.cutOffStreams && budget.action === 'block') admission.cutOff.push(budget);
      admission.entries.push({ budget, amounts: { ...amounts } });
    }
    admission.inputTokens = input;
    this.ledger.reserve(admission.entries, now);
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
      this.ledger.settle(
        admission.entries,
        { tokens: actual.tokens, usd: actual.usd, requests: 1 },
        now,
      );
      for (const entry of admission.entries) {
        const budget = entry.budget;
        const snapshot = this.ledger.read(budget, now);
        const fuse = this.fuses.get(budget.name)!;
        const probe = admission.probes.includes(budget.name);
        if (probe) fuse.probesInFlight = Math.max(0, fuse.probesInFlight - 1);
        this.crossThresholds(budget, snapshot, now);
        const over = exhausted(budget.limit, snapshot);
        if (over !== undefined) {
          if (fuse.state !== 'open') this.trip(budget, snapshot, now);
        } else if (probe && fuse.state === 'half_open' && fuse.probesInFlight === 0) {
          this.close(budget, 'room', now);
        }
      }
    } catch (err) {
      diag.error('tokenfuse: settling a call against its budgets failed', err);
    }
  }

  /**
   * For budgets with `cutOffStreams`: the first one a stream has pushed over its
   * limit, counting what the stream has produced so far against what everyone
   * else has spent and reserved. Only called for streams that matched such a budget.
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
    for (const budget of admission.cutOff) {
      const entry = admission.entries.find((e) => e.budget === budget);
      const s = this.ledger.read(budget, now);
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

  /** Every fuse, with its numbers. */
  list(): FuseSnapshot[] {
    return this.budgets.map((b) => this.snapshot(b));
  }

  /** One fuse; throws naming the known budgets when there is none of that name. */
  get(name: string): FuseSnapshot {
    return this.snapshot(this.budget(name));
  }

  /** Opens a fuse by hand: its calls are blocked until {@link reset}. */
  isolate(name: string): void {
    const budget = this.budget(name);
    const fuse = this.fuses.get(name)!;
    const now = this.now();
    fuse.isolated = true;
    if (fuse.state !== 'open') {
      const from = fuse.state;
      fuse.state = 'open';
      fuse.openedAt = now;
      fuse.openedInWindow = this.ledger.read(budget, now).windowStart;
      this.stateEvents.emit({ budget: name, from, to: 'open', at: new Date(now) });
    }
  }

  /** Closes a fuse by hand (also ends an isolation). Spend is kept: a fuse over its limit opens again at the next call. */
  reset(name: string): void {
    const budget = this.budget(name);
    const fuse = this.fuses.get(name)!;
    fuse.isolated = false;
    if (fuse.state !== 'closed') this.close(budget, 'manual', this.now());
  }

  /** @internal calls the monitor budgets would have blocked, per budget. */
  wouldBlockCount(name: string): number {
    return this.wouldBlockCounts.get(name) ?? 0;
  }

  /** @internal */
  budgetList(): readonly Budget[] {
    return this.budgets;
  }

  private budget(name: string): Budget {
    const budget = this.byName.get(name);
    if (budget === undefined) {
      const known = [...this.byName.keys()];
      throw new TypeError(
        `tokenfuse: no budget named ${JSON.stringify(name)}; budgets are ${known.length ? known.map((n) => JSON.stringify(n)).join(', ') : '(none configured)'}`,
      );
    }
    return budget;
  }

  private snapshot(budget: Budget): FuseSnapshot {
    const now = this.now();
    const s = this.ledger.read(budget, now);
    this.rollFuse(budget, s, now);
    const fuse = this.fuses.get(budget.name)!;
    return {
      budget: budget.name,
      state: fuse.state,
      isolated: fuse.isolated,
      action: budget.action,
      window: windowLabel(budget.window),
      windowStart: new Date(s.windowStart),
      windowEnd: Number.isFinite(s.windowEnd) ? new Date(s.windowEnd) : undefined,
      limit: { ...budget.limit },
      spent: s.spent,
      reserved: s.reserved,
      utilization: utilization(budget.limit, s).value,
      trips: fuse.trips,
      match: budget.match.spec,
    };
  }

  /** A new calendar window closes a fuse that opened in an earlier one (unless isolated). */
  private rollFuse(budget: Budget, snapshot: AccountSnapshot, now: number): void {
    const fuse = this.fuses.get(budget.name)!;
    if (
      fuse.state !== 'closed' &&
      !fuse.isolated &&
      budget.window.kind !== 'rolling' &&
      fuse.openedInWindow !== snapshot.windowStart
    ) {
      this.close(budget, 'window', now);
    }
  }

  private decide(budget: Budget, snapshot: AccountSnapshot, now: number): Decision {
    const fuse = this.fuses.get(budget.name)!;
    if (fuse.isolated) return { kind: 'block', reason: 'isolated' };
    if (fuse.state === 'open') {
      if (
        now - fuse.openedAt < budget.cooldownMs ||
        exhausted(budget.limit, snapshot) !== undefined
      ) {
        return { kind: 'block', reason: 'limit_reached' };
      }
      this.setState(budget, fuse, 'half_open', now);
      fuse.probesLeft = budget.probes;
      fuse.probesInFlight = 0;
    }
    if (fuse.state === 'half_open') {
      if (exhausted(budget.limit, snapshot) !== undefined)
        return { kind: 'block', reason: 'limit_reached', trip: true };
      if (fuse.probesLeft <= 0) return { kind: 'block', reason: 'probing' };
      return hasRoom(budget.limit, snapshot)
        ? { kind: 'probe' }
        : { kind: 'block', reason: 'reserved' };
    }
    if (hasRoom(budget.limit, snapshot)) return { kind: 'admit' };
    return exhausted(budget.limit, snapshot) !== undefined
      ? { kind: 'block', reason: 'limit_reached', trip: true }
      : { kind: 'block', reason: 'reserved' };
  }

  private blockError(
    budget: Budget,
    s: AccountSnapshot,
    reason: BudgetExceededDetails['reason'],
    now: number,
  ): BudgetExceededError {
    const fuse = this.fuses.get(budget.name)!;
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

  private trip(budget: Budget, snapshot: AccountSnapshot, now: number): void {
    const fuse = this.fuses.get(budget.name)!;
    if (fuse.state === 'open') return;
    fuse.trips += 1;
    fuse.openedAt = now;
    fuse.openedInWindow = snapshot.windowStart;
    fuse.probesLeft = 0;
    this.setState(budget, fuse, 'open', now);
    const u = utilization(budget.limit, snapshot);
    this.tripEvents.emit({
      budget: budget.name,
      window: windowLabel(budget.window),
      unit: u.unit,
      spent: snapshot.spent[u.unit],
      limit: budget.limit[u.unit]!,
      action: budget.action,
      at: new Date(now),
    });
  }

  private close(budget: Budget, cause: ResetEvent['cause'], now: number): void {
    const fuse = this.fuses.get(budget.name)!;
    fuse.probesLeft = 0;
    fuse.probesInFlight = 0;
    this.setState(budget, fuse, 'closed', now);
    this.resetEvents.emit({ budget: budget.name, cause, at: new Date(now) });
  }

  private setState(budget: Budget, fuse: FuseRecord, to: FuseState, now: number): void {
    const from = fuse.state;
    if (from === to) return;
    fuse.state = to;
    this.stateEvents.emit({ budget: budget.name, from, to, at: new Date(now) });
  }

  private crossThresholds(budget: Budget, s: AccountSnapshot, now: number): void {
    let seen = this.thresholdsSeen.get(budget.name);
    if (seen === undefined || seen.windowStart !== s.windowStart) {
      // Rolling windows have no start to reset on: a threshold fires again once
      // utilisation has dropped below it.
      seen = {
        windowStart: s.windowStart,
        crossed: budget.window.kind === 'rolling' && seen ? seen.crossed : new Set(),
      };
      this.thresholdsSeen.set(budget.name, seen);
    }
    const u = utilization(budget.limit, s);
    for (const threshold of budget.thresholds) {
      if (u.value >= threshold && !seen.crossed.has(threshold)) {
        seen.crossed.add(threshold);
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
      } else if (u.value < threshold && budget.window.kind === 'rolling') {
        seen.crossed.delete(threshold);
      }
    }
  }
}

type Decision =
  | { kind: 'admit' }
  | { kind: 'probe' }
  | { kind: 'block'; reason: BudgetExceededDetails['reason']; trip?: boolean };

/** The admission rule: every limited unit has spent + reserved below its limit. */
function hasRoom(limit: BudgetLimits, s: AccountSnapshot): boolean {
  for (const u of UNITS) {
    const l = limit[u];
    if (l !== undefined && s.spent[u] + s.reserved[u] >= l) return false;
  }
  return true;
}

/** Whether this call's reservation fits in what is left of every limit. */
function fits(limit: BudgetLimits, s: AccountSnapshot, amounts: Amounts): boolean {
  for (const u of UNITS) {
    const l = limit[u];
    if (l !== undefined && s.spent[u] + s.reserved[u] + amounts[u] > l) return false;
  }
  return true;
}

/** The first unit whose settled spend has reached its limit. */
function exhausted(limit: BudgetLimits, s: AccountSnapshot): Unit | undefined {
  for (const u of UNITS) {
    const l = limit[u];
    if (l !== undefined && s.spent[u] >= l) return u;
  }
  return undefined;
}

/** Highest utilisation over the limited units (with reservations, when asked). */
function utilization(
  limit: BudgetLimits,
  s: AccountSnapshot,
  withReserved = false,
): { value: number; unit: Unit } {
  let best: { value: number; unit: Unit } = { value: 0, unit: limitedUnits(limit)[0] ?? 'tokens' };
  for (const u of UNITS) {
    const l = limit[u];
    if (l === undefined) continue;
    const value = (s.spent[u] + (withReserved ? s.reserved[u] : 0)) / l;
    if (value > best.value) best = { value, unit: u };
  }
  return best;
}
