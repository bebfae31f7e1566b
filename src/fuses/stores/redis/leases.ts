/**
 * Leases (`ledger.leases`): this replica's slices of each budget's room, held in
 * Redis and spent locally, so that a call is admitted and settled with no round
 * trip while its budgets' slices have room. Spend is written back, and slices
 * renewed and resized, in the background (LEASE in lease-lua.ts).
 */
import { randomUUID } from 'node:crypto';
import { diag } from '@opentelemetry/api';
import type { Amounts, Budget } from '../../../budgets/budget.js';
import type {
  AdmitOutcome,
  AdmitRequest,
  BudgetState,
  MaybePromise,
  SeenClosed,
  SettleOutcome,
  Transition,
} from '../../fuse-store.js';
import type { InFlight } from './in-flight.js';
import type { LeaseParts } from './lease-parts.js';
import {
  type Lease,
  type LeaseTicket,
  newLease,
  type Triple,
  units,
  type Written,
  zero,
} from './lease-record.js';
import { IDLE_TTLS, writeLeases } from './lease-write.js';

/** How often leases with spend to write, or due for renewal, are written. */
export const WRITE_EVERY_MS = 100;
/** Slices are `(limit − spent) / (SHARE_K × holders)`: a quarter of a fair share each. */
export const SHARE_K = 4;

/**
 * A lease's own spend that `seen` does not hold yet, in unit `u`: settled and not written,
 * being written, and written by a write whose reply was lost (`prev`, sent again). Without
 * the last two, the view drops a write's spend from when it is sent until it answers.
 */
function unwritten(lease: Lease, u: 0 | 1 | 2): number {
  return lease.unflushed[u]! + lease.flushing[u]! + (lease.prev?.spent[u] ?? 0);
}

/** The lease's spend as this replica sees it: `seen`'s plus its own unwritten, into `out`. */
function spentNow(lease: Lease, seen: BudgetState, out: Amounts): Amounts {
  out.tokens = seen.spent.tokens + unwritten(lease, 0);
  out.usd = seen.spent.usd + unwritten(lease, 1);
  out.requests = seen.spent.requests + unwritten(lease, 2);
  return out;
}

/** This replica's leases, one per budget. */
export class LeaseBook {
  /** Names this replica in Redis (its leases and the count of holders). */
  readonly holder = randomUUID();
  private readonly leases = new Map<string, Lease>();
  /** What {@link admitClear} hands a value's `seen` (read there, never kept). */
  private readonly spentView: Amounts = { tokens: 0, usd: 0, requests: 0 };
  private readonly parts: LeaseParts;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(parts: LeaseParts) {
    this.parts = parts;
    this.timer = setInterval(() => this.tick(), WRITE_EVERY_MS);
    // Writing leases in the background must not keep an app alive.
    this.timer.unref();
  }

  private lease(budget: Budget): Lease {
    let lease = this.leases.get(budget.name);
    if (lease === undefined) {
      lease = newLease(budget, `L:${this.holder}:${budget.name}`);
      this.leases.set(budget.name, lease);
    }
    lease.budget = budget;
    lease.gone = false;
    return lease;
  }

  /**
   * Budgets forgotten by the store (per-value values whose window ended): their
   * leases give their room back at the next write and are dropped once nothing of
   * theirs is in flight or unwritten, so a book of many values stays bounded.
   */
  forget(budgets: readonly Budget[]): void {
    for (const budget of budgets) {
      const lease = this.leases.get(budget.name);
      if (lease !== undefined && lease.budget === budget) lease.gone = true;
    }
  }

  /**
   * Admits a call: from this replica's leases when they have room (no round trip);
   * else, when Redis answers (`ask`), after asking it for room; else, or when a fuse
   * is not closed, by `exact` (the per-call script, or the failure policy).
   */
  admit(
    request: AdmitRequest,
    inFlight: InFlight,
    ask: boolean,
    exact: (request: AdmitRequest) => MaybePromise<AdmitOutcome>,
  ): MaybePromise<AdmitOutcome> {
    const local = this.tryAdmit(request);
    if (local.kind === 'admitted') {
      inFlight.admitted(local.ticket);
      return local.outcome;
    }
    if (local.kind === 'exact' || !ask) return exact(request);
    return this.request(local.need, request).then(() => {
      const again = this.tryAdmit(request);
      if (again.kind !== 'admitted') return exact(request);
      inFlight.admitted(again.ticket);
      return again.outcome;
    });
  }

  /**
   * Admits a call from its budgets' leases when every one has room: `admitted`;
   * `room` lists the leases to ask Redis for room; `exact` when a budget's fuse is
   * not closed (the per-call script decides: cool-down, probes, blocks).
   */
  private tryAdmit(
    request: AdmitRequest,
  ):
    | { kind: 'admitted'; outcome: AdmitOutcome; ticket: LeaseTicket }
    | { kind: 'room'; need: Budget[] }
    | { kind: 'exact' } {
    const need: Budget[] = [];
    const parts: LeaseTicket['parts'] = [];
    for (const { budget, amounts } of request.entries) {
      const lease = this.lease(budget);
      const a = units(amounts);
      // Room leased in a window that has ended is not room in this one.
      if (lease.seen === undefined || request.now >= lease.seen.windowEnd) need.push(budget);
      else if (lease.seen.fuse.state !== 'closed' || lease.seen.fuse.isolated)
        return { kind: 'exact' };
      else if (!this.fits(lease, a)) need.push(budget);
      parts.push({ lease, amounts: a });
    }
    if (need.length > 0) return { kind: 'room', need };
    const states: BudgetState[] = [];
    for (const { lease, amounts } of parts) {
      states.push(this.view(lease));
      for (let u = 0; u < 3; u++) lease.inflight[u]! += amounts[u]!;
      lease.lastUse = request.now;
    }
    const ticket: LeaseTicket = { kind: 'lease', parts };
    return {
      kind: 'admitted',
      ticket,
      outcome: {
        kind: 'decided',
        admitted: true,
        decisions: parts.map(() => ({ kind: 'admit' as const })),
        states,
        transitions: [],
        ticket,
      },
    };
  }

  /**
   * The board's fast path (`FuseStore.admitClear`): one reservation, `amounts`, in
   * every budget, taken from the leases when each is fresh, its fuse closed and its
   * room enough, exactly when {@link admit} would admit locally; otherwise nothing
   * changes and undefined sends the call to the full path. No state is copied here:
   * an admission from a lease has nothing new to report but, to `seen`, each
   * per-value budget's numbers as the full path's answer has them ({@link view}).
   */
  admitClear(
    budgets: readonly Budget[],
    amounts: Amounts,
    now: number,
    seen?: SeenClosed,
  ): LeaseTicket | undefined {
    const a = units(amounts);
    const parts: LeaseTicket['parts'] = new Array(budgets.length);
    for (let i = 0; i < budgets.length; i++) {
      const budget = budgets[i]!;
      const lease = this.leases.get(budget.name);
      // A budget seen for the first time, or replaced by a reload: the full path.
      if (lease === undefined || lease.budget !== budget) return undefined;
      const seen = lease.seen;
      if (seen === undefined || now >= seen.windowEnd) return undefined;
      if (seen.fuse.state !== 'closed' || seen.fuse.isolated) return undefined;
      if (!this.fits(lease, a)) return undefined;
      parts[i] = { lease, amounts: a };
    }
    for (const { lease } of parts) {
      if (seen !== undefined && lease.budget.instance !== undefined) this.note(lease, seen);
      for (let u = 0; u < 3; u++) lease.inflight[u]! += a[u]!;
      lease.lastUse = now;
    }
    return { kind: 'lease', parts };
  }

  /** Hands `seen` a value's numbers as {@link view} has them, while its fuse is seen closed. */
  private note(lease: Lease, seen: SeenClosed): void {
    const s = lease.seen;
    if (s === undefined || s.fuse.state !== 'closed' || s.fuse.isolated) return;
    seen(lease.budget, spentNow(lease, s, this.spentView), s.windowEnd);
  }

  /** Whether `a` fits in the lease (only units a `block` budget limits are leased). */
  private fits(lease: Lease, a: Triple): boolean {
    const { budget } = lease;
    if (budget.action !== 'block') return true;
    const lim = [budget.limit.tokens ?? 0, budget.limit.usd ?? 0, budget.limit.requests ?? 0];
    for (let u = 0; u < 3; u++) {
      if (lim[u]! <= 0) continue;
      const room = Math.min(lease.held[u]!, lease.cap?.[u] ?? Number.POSITIVE_INFINITY);
      if (lease.inflight[u]! + lease.unflushed[u]! + a[u]! > room + 1e-9) return false;
    }
    return true;
  }

  /** The budget as this replica sees it: the last shared numbers plus its own unwritten spend. */
  private view(lease: Lease): BudgetState {
    const s = lease.seen!;
    return {
      ...s,
      spent: spentNow(lease, s, { tokens: 0, usd: 0, requests: 0 }),
      reserved: { ...s.reserved },
      fuse: { ...s.fuse },
    };
  }

  /**
   * Asks Redis for room in `budgets` for a call of `request` (one round trip). Writes
   * of one lease never overlap: each keeps what the one before left (`floor`), so a
   * request waits for a write in flight, and asks only if that did not bring the room.
   */
  async request(budgets: Budget[], request: AdmitRequest): Promise<void> {
    const wants = new Map<Lease, Triple>();
    for (const budget of budgets) {
      const entry = request.entries.find((e) => e.budget.name === budget.name)!;
      wants.set(this.lease(budget), units(entry.amounts));
    }
    const leases = [...wants.keys()];
    for (;;) {
      const busy = leases.filter((l) => l.writing !== undefined);
      if (busy.length === 0) break;
      await Promise.all(busy.map((l) => l.writing));
    }
    const fresh = (l: Lease) => l.seen !== undefined && request.now < l.seen.windowEnd;
    if (leases.every((l) => fresh(l) && this.fits(l, wants.get(l)!))) return;
    await writeLeases(this.parts, leases, request.now, wants);
  }

  /**
   * An admitted call settles: its reservation leaves the leases, its spend waits to be
   * written. What a write answers (thresholds crossed, transitions, states) is told
   * to the first settlement since the write before it, per lease: when `quiet`, the
   * others have nothing to report and answer undefined at once, without waiting.
   */
  settle(
    ticket: LeaseTicket,
    actual: Amounts,
    quiet = false,
    seen?: SeenClosed,
  ): Promise<SettleOutcome | undefined> | undefined {
    const a = units(actual);
    let reports = !quiet;
    for (const { lease, amounts } of ticket.parts) {
      for (let u = 0; u < 3; u++) {
        lease.inflight[u] = Math.max(0, lease.inflight[u]! - amounts[u]!);
        lease.unflushed[u]! += a[u]!;
      }
      if (lease.waiters.length === 0) reports = true;
      // A value's numbers now (as an admission from the lease would see them), fuse closed.
      if (seen !== undefined && lease.budget.instance !== undefined) this.note(lease, seen);
    }
    if (!reports) return undefined;
    const next = ticket.parts.map(
      ({ lease }) => new Promise<Written | undefined>((resolve) => lease.waiters.push(resolve)),
    );
    return Promise.all(next).then((written) => {
      if (written.some((w) => w === undefined)) return undefined;
      const transitions: Transition[] = [];
      let news = false;
      const crossed = written.map((w) => {
        const c = w!.crossed ?? [];
        w!.crossed = undefined;
        if (w!.shared.transitions !== undefined) transitions.push(...w!.shared.transitions);
        w!.shared.transitions = undefined;
        if (c.length > 0) news = true;
        return c;
      });
      if (quiet && !news && transitions.length === 0) return undefined;
      return { states: written.map((w) => w!.state), crossed, transitions };
    });
  }

  /** The fuse a per-call script answered: a lease follows it (closed again: leasing resumes). */
  follow(budget: Budget, state: BudgetState): void {
    this.lease(budget).seen = state;
  }

  /**
   * The leases due for a write: spend to write, renewal, an idle or forgotten lease to
   * give back. Leases that hold nothing, have nothing in flight or to write, and are
   * idle or forgotten, are dropped (a later call leases again, with one round trip).
   */
  private tick(): void {
    if (this.closed) return;
    const now = Date.now();
    const due: Lease[] = [];
    const idleMs = IDLE_TTLS * this.parts.ttlMs;
    for (const [name, l] of this.leases) {
      if (l.writing !== undefined) continue;
      const holds = l.held.some((v) => v > 0);
      if (
        l.unflushed.some((v) => v > 0) ||
        l.prev !== undefined ||
        l.waiters.length > 0 ||
        (holds && (l.gone || l.demand || now - l.lastWrite >= this.parts.ttlMs / 4))
      )
        due.push(l);
      else if (!holds && l.inflight.every((v) => v === 0) && (l.gone || now - l.lastUse > idleMs)) {
        this.leases.delete(name);
        if (l.gone) this.parts.dropped(l.budget);
      }
    }
    if (due.length > 0) void writeLeases(this.parts, due, now).catch(() => undefined);
  }

  /**
   * Closing: writes what is left and gives every lease back (when Redis is there).
   * Spend it could not write is said once with its amounts; the leased room comes
   * back when the leases expire (`ttlMs`).
   */
  async close(reachable: boolean): Promise<void> {
    this.closed = true;
    if (this.timer !== undefined) clearInterval(this.timer);
    const all = [...this.leases.values()];
    await Promise.all(all.map((l) => l.writing));
    // Calls still in flight were given up on: their room goes back too.
    for (const lease of all) lease.inflight = zero();
    const held = all.filter(
      (l) => l.held.some((v) => v > 0) || l.unflushed.some((v) => v > 0) || l.prev !== undefined,
    );
    if (held.length === 0) return;
    if (reachable) await writeLeases(this.parts, held, Date.now(), undefined, true);
    const lost = zero();
    for (const l of held) {
      for (let u = 0; u < 3; u++) lost[u]! += l.unflushed[u]! + (l.prev?.spent[u] ?? 0);
    }
    if (lost.some((v) => v > 0))
      diag.warn(
        `tokenfuse: closed the budget ledger with spend settled here not written to it (${lost[0]} tokens, ${lost[1]} USD, ${lost[2]} requests); its leased room comes back when the leases expire (ledger.leases.ttlMs)`,
      );
  }
}
