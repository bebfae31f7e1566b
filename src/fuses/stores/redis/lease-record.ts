/** A replica's lease of one budget, as its lease book keeps it (see leases.ts). */
import type { Amounts, Budget } from '../../../budgets/budget.js';
import type { BudgetState, Transition } from '../../fuse-store.js';

export type Triple = [number, number, number];

/** What one write of a lease answered (per lease), shared by the settlements waiting on it. */
export interface Written {
  state: BudgetState;
  /** Thresholds crossed: reported by the first settlement that takes them. */
  crossed: number[] | undefined;
  /** The write's transitions, reported once across its leases. */
  shared: { transitions: Transition[] | undefined };
}

/** One budget's lease in this replica. */
export interface Lease {
  budget: Budget;
  id: string;
  /** Room Redis holds for this replica. */
  held: Triple;
  /** Reservations of local calls not settled yet. */
  inflight: Triple;
  /** Spend settled locally and not yet written. */
  unflushed: Triple;
  /** Spend a write in flight is writing: in neither `unflushed` nor `seen` until it answers. */
  flushing: Triple;
  /** While a write is in flight: the most local calls may use (what it keeps at least). */
  cap: Triple | undefined;
  /** Headroom the last write granted (what `floor` keeps on the next). */
  slice: Triple;
  /** Last state Redis answered. */
  seen: BudgetState | undefined;
  demand: boolean;
  seq: number;
  /** A write whose reply was lost: sent again with the next. */
  prev: { w: number; spent: Triple } | undefined;
  writing: Promise<void> | undefined;
  waiters: Array<(w: Written | undefined) => void>;
  lastWrite: number;
  lastUse: number;
  /** Its budget was forgotten (a per-value value gone): given back, then dropped. */
  gone: boolean;
}

/** A call admitted from leases: what it took from each. */
export interface LeaseTicket {
  kind: 'lease';
  parts: Array<{ lease: Lease; amounts: Triple }>;
}

export const units = (a: Amounts): Triple => [a.tokens, a.usd, a.requests];
export const zero = (): Triple => [0, 0, 0];

/** A lease of `budget` holding nothing yet. */
export function newLease(budget: Budget, id: string): Lease {
  return {
    budget,
    id,
    held: zero(),
    inflight: zero(),
    unflushed: zero(),
    flushing: zero(),
    cap: undefined,
    slice: zero(),
    seen: undefined,
    demand: false,
    seq: 0,
    prev: undefined,
    writing: undefined,
    waiters: [],
    lastWrite: 0,
    lastUse: 0,
    gone: false,
  };
}
