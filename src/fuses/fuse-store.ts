import type { Amounts, Budget } from '../budgets/budget.js';
import type { BlockedCallError, BudgetExceededDetails } from '../errors/blocked-call-error.js';
import type { FuseRecord, FuseState } from './fuse.js';

/** A value now, or later. The in-memory store answers now; the Redis store later. */
export type MaybePromise<T> = T | Promise<T>;

/** One budget as a store sees it: its current window's numbers and its fuse. */
export interface BudgetState {
  /** Settled spend in the window. */
  spent: Amounts;
  /** Reservations of calls in flight. */
  reserved: Amounts;
  /** Window bounds (epoch ms); for rolling windows, `now - duration` and `Infinity`. */
  windowStart: number;
  windowEnd: number;
  fuse: FuseRecord;
  /** What operators added to the limits for this window (`raise`); absent: nothing. */
  granted?: Amounts;
}

/** What an operator did to a fuse by hand (`tokenfuse fuses …`, or the board's methods). */
export type ManualAction =
  | { op: 'isolate' }
  | { op: 'reset' }
  /** Adds `amounts` to the limits for the rest of the current (calendar) window. */
  | { op: 'raise'; amounts: Amounts };

/** Who did a manual action and why, as the operator said (`--by`, `--reason`). */
export interface ManualNote {
  by?: string | undefined;
  reason?: string | undefined;
}

/** Why a fuse changed state. */
export type TransitionCause = 'trip' | 'cooldown' | 'window' | 'room' | 'manual' | 'isolate';

/** A state change a store made; the board turns it into events in the process that saw it. */
export interface Transition {
  budget: string;
  from: FuseState;
  to: FuseState;
  cause: TransitionCause;
}

/** One budget's verdict on a call. */
export type BudgetDecision =
  | { kind: 'admit' }
  | { kind: 'probe' }
  | { kind: 'block'; reason: BudgetExceededDetails['reason'] };

export interface AdmitRequest {
  now: number;
  /** The budgets the call matches, each with the reservation to take if admitted. */
  entries: ReadonlyArray<{ budget: Budget; amounts: Amounts }>;
}

/**
 * The answer to an admission, all-or-nothing across the entries: admitted when no
 * `block` budget blocks, and then the reservation is taken in every entry.
 */
export type AdmitOutcome =
  | {
      kind: 'decided';
      admitted: boolean;
      /** Per entry, in request order. */
      decisions: BudgetDecision[];
      /** Per entry: the numbers before this call's reservation, the fuse after the decision. */
      states: BudgetState[];
      transitions: Transition[];
      /** The store's claim, handed back to `settle` (opaque to the board). */
      ticket: unknown;
    }
  /** The store could not decide and its failure policy is to refuse the call. */
  | { kind: 'unavailable'; error: BlockedCallError };

export interface SettleRequest {
  now: number;
  /** The admitted entries' budgets, in admission order. */
  budgets: readonly Budget[];
  ticket: unknown;
  /** What the call used (`requests` is 1). */
  actual: Amounts;
  /**
   * The caller reports nothing but thresholds crossed and transitions: a store may
   * answer undefined when the settlement made neither (and touched no per-value
   * budget, whose states the board keeps, unless {@link seen} is given), instead of
   * every budget's state.
   */
  quiet?: boolean;
  /** With {@link quiet}: where a store that answers undefined hands each per-value budget's state. */
  seen?: SeenClosed;
}

/**
 * A per-value budget's (an instance's) numbers now, its fuse closed: what the board
 * keeps of each value for its summaries, handed over by a store's fast path
 * instead of a state to report. `spent` is live: read it, do not keep it.
 */
export type SeenClosed = (budget: Budget, spent: Readonly<Amounts>, windowEnd: number) => void;

/** Spend no admission reserved: a call seen only in another instrumentation's span. */
export interface ObserveRequest {
  now: number;
  /** The budgets the call matches that count observed spend. */
  budgets: readonly Budget[];
  /** Names this spend, so that a retried write to a shared store counts it once. */
  id: string;
  /** What the call used (`requests` is 1). */
  actual: Amounts;
  /** As for {@link SettleRequest.quiet}. */
  quiet?: boolean;
  /** As for {@link SettleRequest.seen}. */
  seen?: SeenClosed;
}

export interface SettleOutcome {
  /** Per budget, after the settlement. */
  states: BudgetState[];
  /** Per budget, the thresholds this settlement crossed (fired once per window, fleet-wide for shared stores). */
  crossed: number[][];
  transitions: Transition[];
}

export interface ReadOutcome {
  states: BudgetState[];
  transitions: Transition[];
}

/** A raised budget's state, and what the raise added (undefined when it added nothing it could: see {@link FuseStore.raise}). */
export type RaiseOutcome = ReadOutcome & { added: Amounts | undefined };

/** Operations of a shared store that can fail (the `operation` label of `tokenfuse_ledger_errors_total`). */
export type LedgerOperation = 'admit' | 'settle' | 'reconcile';
/** Why they failed (the `reason` label). */
export type LedgerFailure = 'timeout' | 'connection' | 'script';
/**
 * Every `operation` of `tokenfuse_ledger_errors_total`: the shared store's, and
 * `restore`, the reading back of spend from Prometheus into the in-memory store.
 */
export type LedgerErrorOperation = LedgerOperation | 'restore';
/** Every `reason`: the shared store's, and `response` (Prometheus answered with an error, or with something unreadable). */
export type LedgerErrorReason = LedgerFailure | 'response';
/** One series of `tokenfuse_ledger_errors_total`: `operation:reason`. */
export type LedgerErrorKey = `${LedgerErrorOperation}:${LedgerErrorReason}`;
/** Per series: failures of a shared store, and of restoring from Prometheus. */
export type LedgerErrorCounts = ReadonlyMap<LedgerErrorKey, number>;

/** A manual action another process made, read from a shared store's journal. */
export interface ManualEntry {
  budget: string;
  action: ManualAction['op'];
  from: FuseState;
  to: FuseState;
  by?: string;
  reason?: string;
}

/** What a store reports on its own, outside any call (a reconciliation's transitions, failures). */
export interface StoreListener {
  transitions(transitions: Transition[], states: Map<string, BudgetState>): void;
  /** Manual actions other processes made (a shared store's journal), oldest first. */
  manual?(entries: ManualEntry[]): void;
  ledgerError(operation: LedgerOperation, reason: LedgerFailure): void;
}

/**
 * Where fuses and budget spend live, and the atomic steps on them. The
 * {@link FuseBoard} decides what is matched, estimates, builds errors and emits
 * events; a store applies the state machine (closed → open → half-open → closed)
 * and the ledger, atomically per call:
 *
 * - the in-memory store (one process) answers synchronously;
 * - the Redis store (a fleet) answers with promises, one round trip per step.
 */
export interface FuseStore {
  /** Whether the state is shared with other processes. */
  readonly shared: boolean;
  /** Decides a call against all its budgets and, if admitted, reserves in all of them. */
  admit(request: AdmitRequest): MaybePromise<AdmitOutcome>;
  /**
   * Whether {@link admitClear} hands per-value budgets' states to its `seen`: only then
   * may a call that matches per-value budgets take it (the board keeps each value's
   * state for its summaries). Absent: per-value calls take {@link admit}.
   */
  readonly notesPerValue?: boolean;
  /**
   * A synchronous store's fast path of {@link admit}, when the caller has sized one
   * reservation (`amounts`) for every budget: if the store would admit in every
   * budget with no transition and no probe (every fuse closed, nothing raised by
   * hand, room for `amounts` in each), it reserves and returns the ticket;
   * otherwise it changes nothing and returns undefined, and the caller takes
   * {@link admit}. When it admits, it hands each per-value budget's state to `seen`
   * (what {@link admit}'s answer would have told the board).
   */
  admitClear?(
    budgets: readonly Budget[],
    amounts: Amounts,
    now: number,
    seen?: SeenClosed,
  ): unknown;
  /** Replaces an admitted call's reservation by what it used; trips and closes fuses. Never rejects. */
  settle(request: SettleRequest): MaybePromise<SettleOutcome | undefined>;
  /**
   * Adds spend no admission reserved (the call was already sent): crosses thresholds
   * and trips as a settlement holding no probe slot does. Never rejects.
   */
  observe(request: ObserveRequest): MaybePromise<SettleOutcome | undefined>;
  /** The budgets' current state, read from where it lives. Never rejects. */
  read(budgets: readonly Budget[], now: number): MaybePromise<ReadOutcome>;
  /** The budgets' state as last known here, without I/O. */
  peek(budgets: readonly Budget[], now: number): ReadOutcome;
  /**
   * Raises a budget's spend this window to at least `floor` per unit (the fleet's,
   * read back from Prometheus: `ledger.restore`), spreading what it adds to a rolling
   * window over `timeline`, and opens its fuse at once if that exhausts it.
   * Thresholds passed are marked crossed without firing. `added` is undefined when
   * `windowStart`'s window has ended, and from a shared store, which holds the
   * fleet's spend itself and raises nothing.
   */
  raise(
    budget: Budget,
    now: number,
    windowStart: number,
    floor: Amounts,
    timeline?: ReadonlyArray<{ at: number; amounts: Amounts }>,
  ): RaiseOutcome;
  /**
   * Opens (`isolate`) or closes (`reset`) a fuse by hand, or raises its limits for the
   * rest of the window (`raise`). A shared store records `note` in its journal of
   * manual actions. Rejects when a shared store cannot be reached.
   */
  control(
    budget: Budget,
    op: ManualAction['op'],
    now: number,
    detail?: { amounts?: Amounts; note?: ManualNote },
  ): MaybePromise<ReadOutcome>;
  /**
   * Lets go of what this process keeps of budgets whose window has ended (values of a
   * per-value budget no call has used since). A shared store's keys expire on their own.
   */
  forget?(budgets: readonly Budget[]): void;
  /** Flushes what can be flushed and lets go of connections. */
  close(): Promise<void>;
  setListener(listener: StoreListener): void;
}

export function isPromise<T>(value: MaybePromise<T>): value is Promise<T> {
  return typeof (value as { then?: unknown } | null)?.then === 'function';
}
