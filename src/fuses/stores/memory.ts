import { type Amounts, type Budget, ZERO } from '../../budgets/budget.js';
import { exhausted, hasRoom, utilization } from '../../budgets/rules.js';
import { closedFuse, type FuseRecord, type FuseState } from '../fuse.js';
import type {
  AdmitOutcome,
  AdmitRequest,
  BudgetDecision,
  BudgetState,
  FuseStore,
  ReadOutcome,
  SettleOutcome,
  SettleRequest,
  StoreListener,
  Transition,
  TransitionCause,
} from '../fuse-store.js';
import type { ReservationEntry } from './ledger.js';
import { MemoryLedger } from './memory-ledger.js';

/** What an admission holds in the in-memory store. */
interface MemoryTicket {
  entries: ReservationEntry[];
  probes: boolean[];
}

type Decision = BudgetDecision & { trip?: boolean };

/**
 * The default store: every fuse and budget in this process's memory. Exact and
 * synchronous for one process; a fleet of replicas shares the Redis store, which
 * also falls back to one of these while Redis cannot be reached.
 *
 * The Lua scripts of the Redis store (src/fuses/stores/redis/lua.ts) implement the
 * same state machine; a change here needs the same change there.
 */
export class MemoryFuseStore implements FuseStore {
  readonly shared = false;
  private readonly ledger = new MemoryLedger();
  private readonly fuses = new Map<string, FuseRecord>();
  private readonly thresholdsSeen = new Map<
    string,
    { windowStart: number; crossed: Set<number> }
  >();

  admit(request: AdmitRequest): AdmitOutcome {
    const { now } = request;
    const transitions: Transition[] = [];
    const decisions: Decision[] = [];
    const snapshots = request.entries.map(({ budget }) => {
      const snapshot = this.ledger.read(budget, now);
      const fuse = this.fuse(budget);
      this.rollFuse(budget, fuse, snapshot.windowStart, now, transitions);
      decisions.push(this.decide(budget, fuse, snapshot, now, transitions));
      return snapshot;
    });
    const admitted = !decisions.some(
      (d, i) => d.kind === 'block' && request.entries[i]!.budget.action === 'block',
    );
    // Tripping happens whatever the outcome: a limit reached is a fact.
    decisions.forEach((d, i) => {
      const budget = request.entries[i]!.budget;
      if (d.kind === 'block' && d.trip)
        this.trip(budget, this.fuse(budget), snapshots[i]!.windowStart, now, transitions);
    });
    const states = snapshots.map((s, i) => ({
      ...s,
      fuse: { ...this.fuse(request.entries[i]!.budget) },
    }));
    const ticket: MemoryTicket = { entries: [], probes: [] };
    if (admitted) {
      request.entries.forEach(({ budget, amounts }, i) => {
        const probe = decisions[i]!.kind === 'probe';
        if (probe) {
          const fuse = this.fuse(budget);
          fuse.probesLeft -= 1;
          fuse.probesInFlight += 1;
        }
        ticket.entries.push({ budget, amounts: { ...amounts } });
        ticket.probes.push(probe);
      });
      this.ledger.reserve(ticket.entries, now);
    }
    return {
      kind: 'decided',
      admitted,
      decisions: decisions.map(({ trip: _, ...d }) => d),
      states,
      transitions,
      ticket,
    };
  }

  settle(request: SettleRequest): SettleOutcome {
    const { now } = request;
    const ticket = request.ticket as MemoryTicket;
    const transitions: Transition[] = [];
    this.ledger.settle(ticket.entries, request.actual, now);
    const states: BudgetState[] = [];
    const crossed: number[][] = [];
    ticket.entries.forEach(({ budget }, i) => {
      const snapshot = this.ledger.read(budget, now);
      const fuse = this.fuse(budget);
      const probe = ticket.probes[i] === true;
      if (probe) fuse.probesInFlight = Math.max(0, fuse.probesInFlight - 1);
      crossed.push(this.crossThresholds(budget, snapshot));
      if (exhausted(budget.limit, snapshot) !== undefined) {
        if (fuse.state !== 'open') this.trip(budget, fuse, snapshot.windowStart, now, transitions);
      } else if (probe && fuse.state === 'half_open' && fuse.probesInFlight === 0) {
        this.closeFuse(budget, fuse, 'room', transitions);
      }
      states.push({ ...snapshot, fuse: { ...fuse } });
    });
    return { states, crossed, transitions };
  }

  /** Adds spend that was not reserved here (a shared store's call settled while it was away). */
  addSpend(budgets: readonly Budget[], actual: Amounts, now: number): void {
    this.ledger.settle(
      budgets.map((budget) => ({ budget, amounts: { ...ZERO } })),
      actual,
      now,
    );
  }

  /** Starts a budget from numbers seen elsewhere (a shared store's last read). */
  seed(budget: Budget, state: BudgetState, now: number): void {
    this.ledger.seed(budget, now, state.spent, state.windowStart);
    if (!this.fuses.has(budget.name))
      this.fuses.set(budget.name, { ...state.fuse, probesInFlight: 0 });
  }

  /**
   * Raises a budget's spend this window to at least `floor` per unit (the fleet's,
   * read back from Prometheus) and opens its fuse at once if that exhausts it.
   * Thresholds the raised spend has passed are marked as crossed without firing:
   * the calls that passed them were made, and reported, before. Returns the
   * budget's state after, and `added` (undefined when `windowStart` has ended).
   */
  raise(
    budget: Budget,
    now: number,
    windowStart: number,
    floor: Amounts,
    timeline?: ReadonlyArray<{ at: number; amounts: Amounts }>,
  ): ReadOutcome & { added: Amounts | undefined } {
    const added = this.ledger.raise(budget, now, windowStart, floor, timeline);
    const transitions: Transition[] = [];
    const snapshot = this.ledger.read(budget, now);
    const fuse = this.fuse(budget);
    this.rollFuse(budget, fuse, snapshot.windowStart, now, transitions);
    this.crossThresholds(budget, snapshot);
    if (exhausted(budget.limit, snapshot) !== undefined && fuse.state !== 'open')
      this.trip(budget, fuse, snapshot.windowStart, now, transitions);
    return { states: [{ ...snapshot, fuse: { ...fuse } }], transitions, added };
  }

  read(budgets: readonly Budget[], now: number): ReadOutcome {
    return this.peek(budgets, now);
  }

  peek(budgets: readonly Budget[], now: number): ReadOutcome {
    const transitions: Transition[] = [];
    const states = budgets.map((budget) => {
      const snapshot = this.ledger.read(budget, now);
      const fuse = this.fuse(budget);
      this.rollFuse(budget, fuse, snapshot.windowStart, now, transitions);
      return { ...snapshot, fuse: { ...fuse } };
    });
    return { states, transitions };
  }

  control(budget: Budget, op: 'isolate' | 'reset', now: number): ReadOutcome {
    const fuse = this.fuse(budget);
    const transitions: Transition[] = [];
    if (op === 'isolate') {
      fuse.isolated = true;
      if (fuse.state !== 'open') {
        fuse.openedAt = now;
        fuse.openedInWindow = this.ledger.read(budget, now).windowStart;
        setState(budget, fuse, 'open', 'isolate', transitions);
      }
    } else {
      fuse.isolated = false;
      if (fuse.state !== 'closed') this.closeFuse(budget, fuse, 'manual', transitions);
    }
    const snapshot = this.ledger.read(budget, now);
    return { states: [{ ...snapshot, fuse: { ...fuse } }], transitions };
  }

  async close(): Promise<void> {}

  setListener(_listener: StoreListener): void {}

  private fuse(budget: Budget): FuseRecord {
    let fuse = this.fuses.get(budget.name);
    if (fuse === undefined) {
      fuse = closedFuse();
      this.fuses.set(budget.name, fuse);
    }
    return fuse;
  }

  /** A new calendar window closes a fuse that opened in an earlier one (unless isolated). */
  private rollFuse(
    budget: Budget,
    fuse: FuseRecord,
    windowStart: number,
    _now: number,
    transitions: Transition[],
  ): void {
    if (
      fuse.state !== 'closed' &&
      !fuse.isolated &&
      budget.window.kind !== 'rolling' &&
      fuse.openedInWindow !== windowStart
    ) {
      this.closeFuse(budget, fuse, 'window', transitions);
    }
  }

  private decide(
    budget: Budget,
    fuse: FuseRecord,
    snapshot: { spent: Amounts; reserved: Amounts },
    now: number,
    transitions: Transition[],
  ): Decision {
    if (fuse.isolated) return { kind: 'block', reason: 'isolated' };
    if (fuse.state === 'open') {
      if (
        now - fuse.openedAt < budget.cooldownMs ||
        exhausted(budget.limit, snapshot) !== undefined
      ) {
        return { kind: 'block', reason: 'limit_reached' };
      }
      setState(budget, fuse, 'half_open', 'cooldown', transitions);
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

  private trip(
    budget: Budget,
    fuse: FuseRecord,
    windowStart: number,
    now: number,
    transitions: Transition[],
  ): void {
    if (fuse.state === 'open') return;
    fuse.trips += 1;
    fuse.openedAt = now;
    fuse.openedInWindow = windowStart;
    fuse.probesLeft = 0;
    setState(budget, fuse, 'open', 'trip', transitions);
  }

  private closeFuse(
    budget: Budget,
    fuse: FuseRecord,
    cause: TransitionCause,
    transitions: Transition[],
  ): void {
    fuse.probesLeft = 0;
    fuse.probesInFlight = 0;
    setState(budget, fuse, 'closed', cause, transitions);
  }

  /** Thresholds newly crossed: once per window; a rolling window's fire again once utilisation drops below. */
  private crossThresholds(
    budget: Budget,
    s: { spent: Amounts; reserved: Amounts; windowStart: number },
  ): number[] {
    let seen = this.thresholdsSeen.get(budget.name);
    if (seen === undefined || seen.windowStart !== s.windowStart) {
      seen = {
        windowStart: s.windowStart,
        crossed: budget.window.kind === 'rolling' && seen ? seen.crossed : new Set(),
      };
      this.thresholdsSeen.set(budget.name, seen);
    }
    // Settled spend only: a threshold event or alert means money spent, and a
    // reservation is an upper bound that settles lower (or to nothing).
    const u = utilization(budget.limit, s);
    const out: number[] = [];
    for (const threshold of budget.thresholds) {
      if (u.value >= threshold && !seen.crossed.has(threshold)) {
        seen.crossed.add(threshold);
        out.push(threshold);
      } else if (u.value < threshold && budget.window.kind === 'rolling') {
        seen.crossed.delete(threshold);
      }
    }
    return out;
  }
}

function setState(
  budget: Budget,
  fuse: FuseRecord,
  to: FuseState,
  cause: TransitionCause,
  transitions: Transition[],
): void {
  const from = fuse.state;
  if (from === to) return;
  fuse.state = to;
  transitions.push({ budget: budget.name, from, to, cause });
}
