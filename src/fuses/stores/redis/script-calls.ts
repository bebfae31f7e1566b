/**
 * The Redis store's per-call scripts: ADMIT (one round trip per call the leases do
 * not decide) and SETTLE (a shared ticket's settlement, and observed spend), their
 * replies remembered as the last states seen, and what a failure leaves to the
 * reconciler (the local store, the queue of operations to retry).
 */
import { randomUUID } from 'node:crypto';
import { type Amounts, type Budget, UNITS } from '../../../budgets/budget.js';
import type {
  AdmitOutcome,
  AdmitRequest,
  BudgetState,
  LedgerFailure,
  ObserveRequest,
  SettleOutcome,
  SettleRequest,
} from '../../fuse-store.js';
import type { InFlight, Ticket } from './in-flight.js';
import type { LeaseBook } from './leases.js';
import type { Reconciler } from './reconciler.js';
import type { LedgerScripts } from './scripts.js';
import {
  type AdmitReply,
  LEASE_MS,
  OBSERVED_TTL_MS,
  parseCrossed,
  parseDecisions,
  parseState,
  parseTransitions,
  RESERVATION_TTL_MS,
  type ScriptBudget,
  type SettleReply,
} from './wire.js';

/** What the per-call scripts share with the store. */
export interface ScriptCallParts {
  scripts: LedgerScripts;
  reconciler: Reconciler;
  inFlight: InFlight;
  /** The store's leases (undefined when off). */
  leases: () => LeaseBook | undefined;
  /** Last state seen per budget (the store's). */
  cache: Map<string, BudgetState>;
  /** `budget` as the scripts take it (the store remembers it). */
  encode: (budget: Budget, now: number) => ScriptBudget;
}

/** A ticket of a call the ADMIT script admitted. */
type SharedTicket = Extract<Ticket, { kind: 'shared' }>;

export class ScriptCalls {
  constructor(private readonly parts: ScriptCallParts) {}

  /** The failure policy (`ledger.onFailure`) for a call Redis could not decide. */
  private fallback(request: AdmitRequest, reason: LedgerFailure): AdmitOutcome {
    return this.parts.reconciler.fallbackAdmit(request, reason, this.parts.inFlight);
  }

  /** One call decided by the ADMIT script: one round trip (or the failure policy while Redis is away). */
  admit(request: AdmitRequest): Promise<AdmitOutcome> | AdmitOutcome {
    if (this.parts.reconciler.degraded)
      return this.fallback(request, this.parts.reconciler.lastFailure);
    const rid = randomUUID();
    const budgets = request.entries.map((e) => this.parts.encode(e.budget, request.now));
    return this.parts.scripts
      .run('admit', {
        now: request.now,
        rid,
        lease: LEASE_MS,
        rsvTtl: RESERVATION_TTL_MS,
        budgets,
        amounts: request.entries.map((e) => UNITS.map((u) => e.amounts[u])),
      })
      .then(
        (raw) => {
          const reply = JSON.parse(raw) as AdmitReply;
          const states = reply.st.map((s, i) =>
            parseState(s, request.entries[i]!.budget, request.now),
          );
          const admitted = reply.a === 1;
          const ticket: Ticket = { kind: 'shared', rid, budgets };
          if (admitted) this.parts.inFlight.admitted(ticket);
          request.entries.forEach((e, i) => {
            const s = states[i]!;
            this.parts.leases()?.follow(e.budget, s);
            this.parts.cache.set(e.budget.name, {
              ...s,
              reserved: admitted ? add(s.reserved, e.amounts) : { ...s.reserved },
            });
          });
          return {
            kind: 'decided' as const,
            admitted,
            decisions: parseDecisions(reply.d),
            states,
            transitions: parseTransitions(reply.tr),
            ticket,
          };
        },
        (err: unknown) => {
          const failure = this.parts.reconciler.failed('admit', err);
          // The script may still run once Redis answers: release what it would reserve.
          if (failure.maybeRan) this.parts.reconciler.enqueue({ op: 'cancel', rid, budgets });
          return this.fallback(request, failure.reason);
        },
      );
  }

  /** Settles a call the ADMIT script admitted: one round trip, or queued while Redis is away. */
  settle(
    request: SettleRequest,
    ticket: SharedTicket,
    actual: number[],
  ): Promise<SettleOutcome | undefined> | undefined {
    const budgets = request.budgets.map((b) => this.parts.encode(b, request.now));
    if (this.parts.reconciler.degraded) {
      // Never sent: settle it for sure once Redis is back.
      this.parts.reconciler.enqueue({
        op: 'settle',
        rid: ticket.rid,
        cond: false,
        actual,
        budgets,
      });
      this.parts.reconciler.local?.addSpend(request.budgets, request.actual, request.now);
      return undefined;
    }
    const settled = this.parts.scripts
      .run('settle', { now: request.now, rid: ticket.rid, cond: false, actual, budgets })
      .then(
        (raw) => this.settled(JSON.parse(raw) as SettleReply, request.budgets, request.now),
        (err: unknown) => {
          const failure = this.parts.reconciler.failed('settle', err);
          this.parts.reconciler.enqueue({
            op: 'settle',
            rid: ticket.rid,
            cond: failure.maybeRan,
            actual,
            budgets,
          });
          this.parts.reconciler
            .localStore(request.now)
            .addSpend(request.budgets, request.actual, request.now);
          return undefined;
        },
      );
    return this.parts.inFlight.track(settled);
  }

  /**
   * SETTLE with no reservation behind it: the script claims `request.id` first, so
   * a retry after a lost reply (queued for reconciliation) adds the spend once.
   */
  observe(request: ObserveRequest): Promise<SettleOutcome | undefined> | SettleOutcome | undefined {
    const { now, budgets } = request;
    const op = {
      op: 'settle' as const,
      rid: request.id,
      cond: false,
      obs: OBSERVED_TTL_MS,
      actual: UNITS.map((u) => request.actual[u]),
      budgets: budgets.map((b) => this.parts.encode(b, now)),
    };
    if (this.parts.reconciler.degraded) {
      this.parts.reconciler.enqueue(op);
      return this.parts.reconciler.localStore(now).observe(request);
    }
    const settled = this.parts.scripts.run('settle', { now, ...op }).then(
      (raw) => this.settled(JSON.parse(raw) as SettleReply, budgets, now),
      (err: unknown) => {
        this.parts.reconciler.failed('settle', err);
        this.parts.reconciler.enqueue(op);
        this.parts.reconciler.localStore(now).observe(request);
        return undefined;
      },
    );
    return this.parts.inFlight.track(settled);
  }

  /** A SETTLE reply as an outcome; the states are remembered as last seen. */
  private settled(
    reply: SettleReply,
    budgets: readonly Budget[],
    now: number,
  ): SettleOutcome | undefined {
    if (reply.st === undefined) return undefined;
    const states = reply.st.map((s, i) => parseState(s, budgets[i], now));
    states.forEach((s, i) => {
      this.parts.cache.set(budgets[i]!.name, s);
      this.parts.leases()?.follow(budgets[i]!, s);
    });
    return { states, crossed: parseCrossed(reply.x), transitions: parseTransitions(reply.tr) };
  }
}

function add(a: Amounts, b: Amounts): Amounts {
  return { tokens: a.tokens + b.tokens, usd: a.usd + b.usd, requests: a.requests + b.requests };
}
