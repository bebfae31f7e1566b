import { type Amounts, type Budget, ZERO } from '../../budgets/budget.js';
import { exhausted, fits, hasRoom, raisedLimit } from '../../budgets/rules.js';
import { closedFuse, type FuseRecord } from '../fuse.js';
import { admitCall, type FuseEvent, stepFuse } from '../fuse-machine.js';
import type {
  AdmitOutcome,
  AdmitRequest,
  BudgetState,
  FuseStore,
  ManualAction,
  ObserveRequest,
  ReadOutcome,
  SeenClosed,
  SettleOutcome,
  SettleRequest,
  StoreListener,
  Transition,
} from '../fuse-store.js';
import { MemoryGrants } from './memory-grants.js';
import { type Account, MemoryLedger } from './memory-ledger.js';
import { crossThresholds, NONE_CROSSED } from './threshold-marks.js';

/** What an admission holds in the in-memory store. */
interface MemoryTicket {
  budgets: readonly Budget[];
  /** Per budget, what is reserved in it (the fast path: empty, and {@link each}). */
  amounts: readonly Amounts[];
  /** What is reserved in every budget, when it is the same in all (the fast path). */
  each?: Amounts;
  /** Per budget, the window the reservation was taken in (undefined: nothing reserved). */
  windowStarts: ReadonlyArray<number | undefined>;
  /** Per budget, whether the call holds a probe slot (undefined: none). */
  probes: readonly boolean[] | undefined;
  /** Per budget, its account as the fast path reserved in it, for the settlement (see `MemoryLedger.held`). */
  accounts?: readonly Account[];
}

/** A fast-path ticket's `amounts`: see `each`. */
const NO_AMOUNTS: readonly Amounts[] = Object.freeze([]);

/**
 * The default store: every fuse and budget in this process's memory. Exact and
 * synchronous for one process; a fleet of replicas shares the Redis store, which
 * also falls back to one of these while Redis cannot be reached.
 *
 * Fuse transitions come from the pure machine (../fuse-machine.ts); this store keeps
 * the records, the ledger and the thresholds. The Lua scripts of the Redis store
 * restate the machine; the shared case table holds all three to the same transitions.
 */
export class MemoryFuseStore implements FuseStore {
  readonly shared = false;
  readonly notesPerValue = true;
  /** Each budget's record: its numbers, fuse and threshold marks in one (see `Account`). */
  private readonly ledger = new MemoryLedger();
  /** Raises by hand (`control(…, 'raise')`), per budget, for the window they were made in. */
  private readonly grants = new MemoryGrants();

  admit(request: AdmitRequest): AdmitOutcome {
    const { now } = request;
    const snapshots = request.entries.map(({ budget }) => this.ledger.read(budget, now));
    const call = admitCall(
      request.entries.map(({ budget }, i) => ({
        budget: this.grants.limited(budget, now),
        fuse: this.fuse(budget),
        account: snapshots[i]!,
        windowStart: snapshots[i]!.windowStart,
      })),
      now,
    );
    request.entries.forEach(({ budget }, i) => {
      this.ledger.record(budget).fuse = call.fuses[i]!;
    });
    const states = snapshots.map((s, i) =>
      this.grants.granted(request.entries[i]!.budget, { ...s, fuse: { ...call.decided[i]! } }, now),
    );
    const budgets = request.entries.map((e) => e.budget);
    const amounts = request.entries.map((e) => ({ ...e.amounts }));
    const windowStarts: number[] = [];
    if (call.admitted)
      budgets.forEach((budget, i) => {
        windowStarts.push(this.ledger.reserveIn(budget, amounts[i]!, now));
      });
    const ticket: MemoryTicket = { budgets, amounts, windowStarts, probes: call.probes };
    return {
      kind: 'decided',
      admitted: call.admitted,
      decisions: call.decisions,
      states,
      transitions: call.transitions,
      ticket,
    };
  }

  /**
   * The fast path of an admission, for a board that has sized the reservation
   * itself (one `amounts` for every budget): when no limit was raised by hand and
   * every budget's fuse is closed (not isolated) with room for `amounts`, which is
   * exactly when {@link admit} would admit with no transition and no probe, it
   * reserves `amounts` in every budget and returns the ticket; otherwise it changes
   * nothing and returns undefined (the caller takes the full path).
   */
  admitClear(
    budgets: readonly Budget[],
    amounts: Amounts,
    now: number,
    seen?: SeenClosed,
  ): unknown {
    if (this.grants.any) return undefined;
    const n = budgets.length;
    const accounts = new Array<Account>(n);
    // Whether a budget has no fuse record yet (first call): one is kept from now on.
    let unseen = false;
    for (let i = 0; i < n; i++) {
      const budget = budgets[i]!;
      const a = this.ledger.live(budget, now);
      const fuse = a.fuse;
      if (fuse === undefined) unseen = true;
      else if (fuse.state !== 'closed' || fuse.isolated) return undefined;
      if (!hasRoom(budget.limit, a) || !fits(budget.limit, a, amounts)) return undefined;
      accounts[i] = a;
    }
    const windowStarts = new Array<number>(n);
    for (let i = 0; i < n; i++) {
      const budget = budgets[i]!;
      const a = accounts[i]!;
      if (unseen && a.fuse === undefined) a.fuse = closedFuse();
      // What the full path's answer reports: the numbers before this call's reservation.
      if (seen !== undefined && budget.instance !== undefined) seen(budget, a.spent, a.windowEnd);
      windowStarts[i] = this.ledger.reserveLive(a, amounts);
    }
    const ticket: MemoryTicket = {
      budgets,
      amounts: NO_AMOUNTS,
      each: amounts,
      windowStarts,
      probes: undefined,
      accounts,
    };
    return ticket;
  }

  settle(request: SettleRequest & { quiet?: false }): SettleOutcome;
  settle(request: SettleRequest): SettleOutcome | undefined;
  settle(request: SettleRequest): SettleOutcome | undefined {
    const { now, actual } = request;
    const ticket = request.ticket as MemoryTicket;
    const { budgets } = ticket;
    // Per budget the ledger, then its thresholds (a budget's account is its own, so
    // this reads what settling every budget first would); then the fuses.
    let quiet = request.quiet === true && !this.grants.any;
    const { seen } = request;
    let crossed: number[][] | undefined = quiet ? undefined : [];
    for (let i = 0; i < budgets.length; i++) {
      const budget = budgets[i]!;
      const account = this.ledger.settleIn(
        budget,
        ticket.each ?? ticket.amounts[i]!,
        ticket.windowStarts[i],
        actual,
        now,
        ticket.accounts?.[i],
      );
      const c = this.cross(account, budget, account, now);
      if (quiet) {
        const fuse = account.fuse;
        const instance = budget.instance !== undefined;
        // Nothing to report, and a settle step that changes nothing.
        quiet =
          c.length === 0 &&
          (!instance || seen !== undefined) &&
          ticket.probes?.[i] !== true &&
          fuse !== undefined &&
          fuse.state === 'closed' &&
          exhausted(budget.limit, account) === undefined;
        // What the full path would report of a value (if it is taken after all, it reports the same).
        if (quiet && instance) seen!(budget, account.spent, account.windowEnd);
        // Every budget before this one crossed nothing.
        if (!quiet) crossed = new Array<number[]>(i).fill(NONE_CROSSED as number[]);
      }
      crossed?.push(c as number[]);
    }
    if (quiet || crossed === undefined) return undefined;
    const transitions: Transition[] = [];
    const states: BudgetState[] = [];
    for (let i = 0; i < budgets.length; i++) {
      const budget = budgets[i]!;
      const snapshot = this.ledger.read(budget, now);
      const fuse = this.step(
        budget,
        {
          type: 'settle',
          account: snapshot,
          windowStart: snapshot.windowStart,
          probe: ticket.probes?.[i] === true,
        },
        now,
        transitions,
      );
      states.push(this.grants.granted(budget, { ...snapshot, fuse: { ...fuse } }, now));
      if (crossed[i] === NONE_CROSSED) crossed[i] = [];
    }
    return { states, crossed, transitions };
  }

  /** A settlement with nothing reserved and no probe slot held. */
  observe(request: ObserveRequest & { quiet?: false }): SettleOutcome;
  observe(request: ObserveRequest): SettleOutcome | undefined;
  observe(request: ObserveRequest): SettleOutcome | undefined {
    const { now, budgets, actual } = request;
    const ticket: MemoryTicket = {
      budgets,
      amounts: budgets.map(() => ZERO),
      windowStarts: [],
      probes: undefined,
    };
    return this.settle({ now, budgets, actual, ticket, quiet: request.quiet, seen: request.seen });
  }

  /** Adds spend that was not reserved here (a shared store's call settled while it was away). */
  addSpend(budgets: readonly Budget[], actual: Amounts, now: number): void {
    for (const budget of budgets) this.ledger.settleIn(budget, ZERO, undefined, actual, now);
  }

  /** Starts a budget from numbers seen elsewhere (a shared store's last read). */
  seed(budget: Budget, state: BudgetState, now: number): void {
    this.ledger.seed(budget, now, state.spent, state.windowStart);
    const record = this.ledger.record(budget);
    if (record.fuse === undefined) record.fuse = { ...state.fuse, probesInFlight: 0 };
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
    const current = snapshot.windowStart;
    this.step(budget, { type: 'roll', windowStart: current }, now, transitions);
    this.cross(this.ledger.live(budget, now), budget, snapshot, now);
    // Spend recorded without a call of this process: it trips, it frees no probe.
    const fuse = this.step(
      budget,
      { type: 'settle', account: snapshot, windowStart: current, probe: false },
      now,
      transitions,
    );
    return {
      states: [this.grants.granted(budget, { ...snapshot, fuse: { ...fuse } }, now)],
      transitions,
      added,
    };
  }

  read(budgets: readonly Budget[], now: number): ReadOutcome {
    return this.peek(budgets, now);
  }

  peek(budgets: readonly Budget[], now: number): ReadOutcome {
    const transitions: Transition[] = [];
    const states = budgets.map((budget) => {
      const snapshot = this.ledger.read(budget, now);
      const windowStart = snapshot.windowStart;
      const fuse = this.step(budget, { type: 'roll', windowStart }, now, transitions);
      return this.grants.granted(budget, { ...snapshot, fuse: { ...fuse } }, now);
    });
    return { states, transitions };
  }

  control(
    budget: Budget,
    op: ManualAction['op'],
    now: number,
    detail?: { amounts?: Amounts },
  ): ReadOutcome {
    const transitions: Transition[] = [];
    const snapshot = this.ledger.read(budget, now);
    if (op === 'raise') {
      const windowStart = snapshot.windowStart;
      this.grants.add(budget, windowStart, detail?.amounts);
      // The fuse follows its machine: an open one probes after its cool-down, now with room.
      const fuse = this.step(budget, { type: 'roll', windowStart }, now, transitions);
      return {
        states: [this.grants.granted(budget, { ...snapshot, fuse: { ...fuse } }, now)],
        transitions,
      };
    }
    const event: FuseEvent =
      op === 'isolate' ? { type: 'isolate', windowStart: snapshot.windowStart } : { type: 'reset' };
    const fuse = this.step(budget, event, now, transitions);
    return {
      states: [this.grants.granted(budget, { ...snapshot, fuse: { ...fuse } }, now)],
      transitions,
    };
  }

  forget(budgets: readonly Budget[]): void {
    for (const budget of budgets) this.ledger.forget(budget);
  }

  async close(): Promise<void> {}

  setListener(_listener: StoreListener): void {}

  private fuse(budget: Budget): FuseRecord {
    const record = this.ledger.record(budget);
    if (record.fuse === undefined) record.fuse = closedFuse();
    return record.fuse;
  }

  /** Applies a machine event to the budget's fuse, keeps the result and returns it. */
  private step(
    budget: Budget,
    event: FuseEvent,
    now: number,
    transitions: Transition[],
  ): FuseRecord {
    const record = this.ledger.record(budget);
    const next = stepFuse(
      record.fuse ?? closedFuse(),
      event,
      this.grants.limited(budget, now),
      now,
    );
    record.fuse = next.fuse;
    transitions.push(...next.transitions);
    return next.fuse;
  }

  /** Thresholds newly crossed (see {@link crossThresholds}), against the limit in effect now. */
  private cross(
    record: Account,
    budget: Budget,
    s: { spent: Amounts; windowStart: number },
    now: number,
  ): readonly number[] {
    return crossThresholds(
      record,
      budget,
      raisedLimit(budget.limit, this.grants.of(budget, now)),
      s,
    );
  }
}
