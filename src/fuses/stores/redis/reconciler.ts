/**
 * The Redis store while Redis is away: calls decided locally, and what they leave
 * behind written back to Redis, exactly once, when it answers again.
 */
import { randomUUID } from 'node:crypto';
import { diag } from '@opentelemetry/api';
import type { Amounts, Budget } from '../../../budgets/budget.js';
import { LedgerUnavailableError } from '../../../errors/blocked-call-error.js';
import type {
  AdmitOutcome,
  AdmitRequest,
  BudgetState,
  LedgerFailure,
  LedgerOperation,
  SeenClosed,
  StoreListener,
} from '../../fuse-store.js';
import { MemoryFuseStore } from '../memory.js';
import { classify, type LedgerConnection, type RedisLedgerOptions } from './connection.js';
import type { InFlight, Ticket } from './in-flight.js';
import type { LedgerScripts } from './scripts.js';
import {
  LEASE_MS,
  list,
  parseState,
  parseTransitions,
  type ReconcileOp,
  type ReconcileReply,
} from './wire.js';

/** Reconciled batch ids are remembered this long (a retried batch is applied once). */
const BATCH_TTL_MS = 24 * 60 * 60_000;
/** How often, while Redis is away, reconnection and reconciliation are tried. */
export const RECOVER_EVERY_MS = 250;
/** A batch that fails with a script error this many times is dropped (logged). */
const MAX_SCRIPT_FAILURES = 5;
/**
 * Most budget updates one reconciliation script applies (an update of a call that
 * matched ten budgets counts ten). A batch must run well within `timeoutMs`
 * whatever the backlog, or recovery times out on its own writing and the store
 * never leaves degraded mode (what a stall under load used to do).
 */
export const MAX_BATCH_UPDATES = 64;
/**
 * Most batches written at once (pipelined, one round trip): under load each round trip
 * also waits for a turn of a busy event loop, so a backlog is written in few of them.
 */
const MAX_PIPELINED_BATCHES = 16;

/** How many of `ops`, from the start, make one batch (at least one). */
function batchLength(ops: readonly ReconcileOp[]): number {
  let weight = 0;
  for (let i = 0; i < ops.length; i++) {
    const op = ops[i]!;
    weight += op.op === 'cancel' ? 1 : Math.max(1, op.budgets.length);
    if (weight > MAX_BATCH_UPDATES) return Math.max(1, i);
  }
  return ops.length;
}

/** What the reconciler shares with the store it serves. */
export interface ReconcilerParts {
  connection: LedgerConnection;
  /** The scripts, on one Redis or split by slot on a cluster. */
  scripts: LedgerScripts;
  options: RedisLedgerOptions;
  /** Last state seen per budget (the store's). */
  cache: Map<string, BudgetState>;
  /** Every budget the store has seen, by name (the store's). */
  budgetsByName: Map<string, Budget>;
  listener(): StoreListener | undefined;
  /** Reads the shared numbers again, once Redis is back. */
  reread(budgets: Budget[], now: number): unknown;
}

/**
 * The Redis store's degraded mode: while Redis is away, calls are decided by a
 * local in-memory store seeded with the last shared numbers seen, and what they
 * and the failed round trips leave behind is queued; once Redis answers again the
 * queue is written to it (exactly once) and calls go back to Redis.
 */
export class Reconciler {
  /** Set while Redis is away: calls are decided locally. */
  degraded = false;
  lastFailure: LedgerFailure = 'connection';
  /** The local store while degraded. */
  local: MemoryFuseStore | undefined;
  private readonly parts: ReconcilerParts;
  private readonly pending: ReconcileOp[] = [];
  /**
   * The spend updates in `pending`, by budget window and bucket: a call decided
   * locally adds to them, so that the queue holds one update per budget however
   * many calls Redis misses (and recovery has nothing to fold or scan).
   */
  private readonly spends = new Map<string, Extract<ReconcileOp, { op: 'spend' }>>();
  /** Batches sent and not yet confirmed: each keeps its id until Redis applies it. */
  private batches: Array<{ id: string; ops: ReconcileOp[]; scriptFailures: number }> = [];
  private timer: NodeJS.Timeout | undefined;
  /** The delay `timer` was set with. */
  private timerDelay = 0;
  private recovering: Promise<void> | undefined;
  private closed = false;

  constructor(parts: ReconcilerParts) {
    this.parts = parts;
  }

  /** A connection is ready: flush what waits, if anything does. */
  ready(): void {
    if (this.degraded || this.pending.length > 0) this.kick(0);
  }

  /** Redis answered: leave degraded mode on the next good reply (a late one included), not after a pause. */
  heard(): void {
    if (this.degraded && this.recovering === undefined) this.kick(0);
  }

  /**
   * A round trip failed: counts and (once) says it, and enters degraded mode.
   * `maybeRan` is false when the command was never written to the socket.
   */
  failed(operation: LedgerOperation, err: unknown): { reason: LedgerFailure; maybeRan: boolean } {
    const { connection, options } = this.parts;
    const reason = classify(err);
    this.lastFailure = reason;
    const message = err instanceof Error ? err.message : String(err);
    // Not written to the socket: it cannot have run.
    const maybeRan = !/isn't writeable|not yet connected|Connection is closed before/i.test(
      message,
    );
    this.parts.listener()?.ledgerError(operation, reason);
    if (!this.degraded) {
      diag.warn(
        `tokenfuse: the budget ledger at ${connection.host} failed (${operation}, ${reason}: ${message}); ` +
          (options.onFailure === 'open'
            ? 'admitting calls locally and reconciling their spend when it is back'
            : 'refusing calls until it is back (ledger.onFailure: closed)'),
      );
    }
    this.degraded = true;
    this.kick(RECOVER_EVERY_MS);
    return { reason, maybeRan };
  }

  /**
   * `ledger.onFailure: 'closed'`: a call Redis could not decide is refused when a
   * block budget matches it; undefined when it is to be decided locally.
   */
  refusal(request: AdmitRequest, reason: LedgerFailure): AdmitOutcome | undefined {
    const enforced = request.entries.filter((e) => e.budget.action === 'block');
    if (this.parts.options.onFailure !== 'closed' || enforced.length === 0) return undefined;
    return {
      kind: 'unavailable',
      error: new LedgerUnavailableError({
        ledger: this.parts.connection.host,
        budgets: enforced.map((e) => e.budget.name),
        cause: reason,
      }),
    };
  }

  /** The failure policy (`ledger.onFailure`) for a call Redis could not decide. */
  fallbackAdmit(request: AdmitRequest, reason: LedgerFailure, inFlight: InFlight): AdmitOutcome {
    const refused = this.refusal(request, reason);
    if (refused !== undefined) return refused;
    const local = this.localStore(request.now);
    const outcome = local.admit(request);
    if (outcome.kind === 'decided') {
      const ticket: Ticket = { kind: 'local', store: local, inner: outcome.ticket };
      if (outcome.admitted) inFlight.admitted(ticket);
      outcome.ticket = ticket;
    }
    return outcome;
  }

  /** The local store's fast path (`admitClear`) while Redis is away with `onFailure: open`. */
  admitClear(
    budgets: readonly Budget[],
    amounts: Amounts,
    now: number,
    seen?: SeenClosed,
  ): Ticket | undefined {
    const local = this.local;
    if (!this.degraded || local === undefined || this.parts.options.onFailure !== 'open')
      return undefined;
    const inner = local.admitClear(budgets, amounts, now, seen);
    return inner === undefined ? undefined : { kind: 'local', store: local, inner };
  }

  /** The local store while Redis is away, started from the last shared numbers seen. */
  localStore(now: number): MemoryFuseStore {
    if (this.local === undefined) {
      this.local = new MemoryFuseStore();
      for (const [name, state] of this.parts.cache) {
        const budget = this.parts.budgetsByName.get(name);
        if (budget !== undefined) this.local.seed(budget, state, now);
      }
    }
    return this.local;
  }

  /** Queues an update for Redis and schedules its writing. */
  enqueue(op: ReconcileOp): void {
    if (op.op === 'spend') fold(op, this.pending, this.spends);
    else this.pending.push(op);
    this.kick(this.degraded ? RECOVER_EVERY_MS : 0);
  }

  /** Queues an update without scheduling: closing writes it itself. */
  hold(op: ReconcileOp): void {
    this.pending.push(op);
  }

  /** Something is still to be written to Redis. */
  unwritten(): boolean {
    return this.pending.length > 0 || this.batches.length > 0;
  }

  /** Schedules a recovery attempt (reconnected? flush what is pending); sooner replaces later. */
  private kick(delay: number): void {
    if (this.closed) return;
    if (this.timer !== undefined) {
      if (delay >= this.timerDelay) return;
      clearTimeout(this.timer);
    }
    this.timerDelay = delay;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.recover().then(() => {
        if (this.degraded || this.unwritten()) this.kick(RECOVER_EVERY_MS);
      });
    }, delay);
    this.timer.unref();
  }

  /**
   * Reconciles what was recorded while Redis was away, one batch at a time; a batch
   * keeps its id until Redis confirms it, so a retry after a lost reply is not
   * applied twice. Once nothing is pending and Redis answers, calls go back to it.
   */
  recover(): Promise<void> {
    this.recovering ??= this.recoverOnce().finally(() => {
      this.recovering = undefined;
    });
    return this.recovering;
  }

  private async recoverOnce(): Promise<void> {
    const { connection, budgetsByName } = this.parts;
    if (connection.status !== 'ready') return;
    // Under load, calls decided locally keep adding updates while batches are written:
    // waiting for an empty queue would keep the store degraded for as long as the load
    // lasts. So what was queued when recovery began is written, then calls go back to
    // Redis, and what came meanwhile (one round trip's worth) follows in the background.
    let backlog = this.pending.length;
    // Whether Redis answered in this attempt (a batch written): then no PING is needed.
    let answered = false;
    try {
      for (;;) {
        if (this.batches.length === 0) {
          if (this.pending.length === 0 || (this.degraded && backlog <= 0)) break;
          while (
            this.pending.length > 0 &&
            !(this.degraded && backlog <= 0) &&
            this.batches.length < MAX_PIPELINED_BATCHES
          ) {
            const ops = this.pending.splice(0, batchLength(this.pending));
            // What left the queue is no longer folded into: later spend starts new updates.
            this.spends.clear();
            backlog -= ops.length;
            this.batches.push({ id: randomUUID(), ops, scriptFailures: 0 });
          }
        }
        // Sent back to back, answered in one round trip: each batch is applied once (its
        // id), and no two updates name one reservation, so their order does not matter.
        const batches = this.batches;
        const now = Date.now();
        const results = await Promise.allSettled(
          batches.map((batch) =>
            this.parts.scripts.run('reconcile', {
              now,
              batch: batch.id,
              batchTtl: BATCH_TTL_MS,
              ops: batch.ops,
            }),
          ),
        );
        this.batches = [];
        let refused: unknown;
        results.forEach((result, i) => {
          const batch = batches[i]!;
          if (result.status === 'rejected') {
            refused ??= result.reason;
            this.batches.push(batch);
            return;
          }
          answered = true;
          this.written(JSON.parse(result.value) as ReconcileReply, now);
        });
        if (refused !== undefined) {
          const failure = this.failed('reconcile', refused);
          if (failure.reason === 'script') {
            this.batches = this.batches.filter((batch) => {
              if (++batch.scriptFailures < MAX_SCRIPT_FAILURES) return true;
              diag.error(
                `tokenfuse: dropping ${batch.ops.length} ledger updates the budget ledger at ${connection.host} keeps refusing`,
                refused,
              );
              return false;
            });
          }
          return;
        }
      }
      if (this.degraded) {
        // A batch answered just now says as much as a PING would: one round trip less.
        if (!answered) await connection.run(() => connection.redis.ping());
        this.degraded = false;
        this.local = undefined;
        diag.info(`tokenfuse: the budget ledger at ${connection.host} is back; spend reconciled`);
        // What list() reports: the shared numbers again.
        await this.parts.reread([...budgetsByName.values()], Date.now());
        if (this.pending.length > 0) this.kick(0);
      }
    } catch (err) {
      diag.debug('tokenfuse: ledger recovery attempt failed', err);
    }
  }

  /** A batch's reply: the states it answered are the last seen, its transitions reported. */
  private written(reply: ReconcileReply, now: number): void {
    const { budgetsByName } = this.parts;
    const states = new Map(
      list(reply.st).map((s) => [s.name, parseState(s, budgetsByName.get(s.name), now)]),
    );
    for (const [name, s] of states) this.parts.cache.set(name, s);
    const transitions = parseTransitions(reply.tr);
    if (transitions.length > 0) this.parts.listener()?.transitions(transitions, states);
  }

  /** No more attempts (closing is over). */
  stop(): void {
    this.closed = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /**
   * Says, with the amounts, what closing could not write to Redis (and the calls it
   * gave up waiting for); counts each as a failed reconciliation.
   */
  reportUnwritten(abandoned: number, bound: number): void {
    const ops = [...this.batches.flatMap((b) => b.ops), ...this.pending];
    if (ops.length === 0 && abandoned === 0) return;
    const spend = [0, 0, 0];
    let reservations = 0;
    for (const op of ops) {
      if (op.op !== 'spend') reservations++;
      if (op.op === 'cancel') continue;
      for (let i = 0; i < 3; i++) spend[i]! += op.actual[i] ?? 0;
    }
    const parts: string[] = [];
    if (ops.length > 0)
      parts.push(
        `${ops.length} update${ops.length === 1 ? '' : 's'} not written to it ` +
          `(spend of ${spend[0]} tokens, ${spend[1]} USD, ${spend[2]} requests; ` +
          `${reservations} reservation${reservations === 1 ? '' : 's'} left to expire with ${LEASE_MS / 60_000} min leases)`,
      );
    if (abandoned > 0)
      parts.push(
        `${abandoned} call${abandoned === 1 ? '' : 's'} still in flight, whose spend is not recorded`,
      );
    diag.warn(
      `tokenfuse: closed the budget ledger at ${this.parts.connection.host} after ${bound} ms (ledger.shutdownTimeoutMs) with ${parts.join(' and ')}`,
    );
    for (let i = 0; i < ops.length + abandoned; i++)
      this.parts.listener()?.ledgerError('reconcile', this.lastFailure);
  }
}

/**
 * Adds the spend of a call decided locally to `pending`: folded into the update of
 * each of its budget windows (and buckets) already queued (`spends` indexes them),
 * or queued as a new update of that one budget. Settlements and cancellations name a
 * reservation each and are queued as they are, in order.
 */
export function fold(
  op: Extract<ReconcileOp, { op: 'spend' }>,
  pending: ReconcileOp[],
  spends: Map<string, Extract<ReconcileOp, { op: 'spend' }>>,
): void {
  for (const b of op.budgets) {
    const key = b.rolling ? `${b.acct}\u0000${b.bucket}` : b.acct;
    const into = spends.get(key);
    if (into === undefined) {
      const single = { op: 'spend' as const, actual: [...op.actual], budgets: [b] };
      spends.set(key, single);
      pending.push(single);
    } else for (let i = 0; i < 3; i++) into.actual[i] = (into.actual[i] ?? 0) + (op.actual[i] ?? 0);
  }
}
