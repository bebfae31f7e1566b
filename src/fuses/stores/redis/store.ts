import { diag } from '@opentelemetry/api';
import type { Redis } from 'ioredis';
import { type Amounts, type Budget, UNITS } from '../../../budgets/budget.js';
import type {
  AdmitOutcome,
  AdmitRequest,
  BudgetState,
  FuseStore,
  ManualAction,
  ManualNote,
  ObserveRequest,
  ReadOutcome,
  SeenClosed,
  SettleOutcome,
  SettleRequest,
  StoreListener,
} from '../../fuse-store.js';
import { LedgerConnection, type RedisLedgerOptions } from './connection.js';
import { drainLedger } from './drain.js';
import { InFlight, type Ticket } from './in-flight.js';
import { JournalFollower } from './journal.js';
import { rolledForward } from './last-seen.js';
import { leaseParts } from './lease-parts.js';
import { LeaseBook } from './leases.js';
import { control, inspect, type OperatorParts } from './operator.js';
import { Reconciler } from './reconciler.js';
import { ScriptCalls } from './script-calls.js';
import { budgetPrefix, journalKey, LedgerScripts } from './scripts.js';
import { type ScriptBudget, scriptBudget } from './wire.js';

/**
 * The shared ledger: fuses and budget spend in Redis, changed by Lua scripts so
 * that a fleet of replicas enforces one budget. One round trip to admit a call
 * (against all its budgets), one to settle it.
 *
 * When Redis does not answer within `timeoutMs` (or cannot be reached), calls are
 * admitted by a local in-memory store seeded with the last shared numbers seen
 * (`onFailure: 'open'`), and what they spend is reconciled into Redis once it
 * answers again; or refused with {@link LedgerUnavailableError} (`'closed'`).
 *
 * It connects and loads its scripts at construction; until then (at most
 * `connectTimeoutMs`) calls wait rather than start from an empty local copy.
 * Nothing of it keeps an app alive: the socket and every timer are unreferenced,
 * except the ones a waiting call holds.
 */
export class RedisFuseStore implements FuseStore {
  readonly shared = true;
  /** Its fast path (leases, or the local store while Redis is away) notes each value as its full path would. */
  readonly notesPerValue = true;
  private readonly options: RedisLedgerOptions;
  private readonly connection: LedgerConnection;
  /** The connection's client (its `status` is what suites watch). */
  private readonly redis: Redis;
  /** Degraded mode while Redis is away, and the reconciliation after it. */
  private readonly reconciler: Reconciler;
  private listener: StoreListener | undefined;
  /** Last state seen per budget. */
  private readonly cache = new Map<string, BudgetState>();
  /** Every budget seen, by name (to roll and seed their states). */
  private readonly budgetsByName = new Map<string, Budget>();
  /** Admitted calls not yet settled, and writes not yet answered. */
  private readonly inFlight = new InFlight();
  /** Manual actions of other processes, reported at each read. */
  private readonly journal: JournalFollower;
  private closing: Promise<void> | undefined;
  private draining = false;
  /** The scripts, run on one Redis or split by slot on a cluster. */
  private readonly scripts: LedgerScripts;
  /** Closing is over: the connection is gone. */
  private closed = false;
  /** This replica's leased slices (`ledger.leases`); undefined when off. */
  private readonly leases: LeaseBook | undefined;
  /** What reads for operators and manual actions use. */
  private readonly operator: OperatorParts;
  /** The per-call scripts (ADMIT, SETTLE) and their replies. */
  private readonly calls: ScriptCalls;

  /** @param options the `ledger` section of the resolved configuration. */
  constructor(options: RedisLedgerOptions) {
    this.options = options;
    this.connection = new LedgerConnection(options, {
      ready: () => this.reconciler.ready(),
      heard: () => this.reconciler.heard(),
      startFailed: (err) => this.reconciler.failed('admit', err),
    });
    this.redis = this.connection.redis;
    this.scripts = new LedgerScripts(this.connection, options);
    this.journal = new JournalFollower(journalKey(options), Date.now());
    this.operator = {
      options,
      connection: this.connection,
      scripts: this.scripts,
      cache: this.cache,
      encode: (b, now) => this.encode(b, now),
      local: () => this.reconciler.local,
      origin: this.journal.origin,
    };
    this.reconciler = new Reconciler({
      connection: this.connection,
      scripts: this.scripts,
      options,
      cache: this.cache,
      budgetsByName: this.budgetsByName,
      listener: () => this.listener,
      reread: (budgets, now) => this.read(budgets, now),
    });
    this.calls = new ScriptCalls({
      scripts: this.scripts,
      reconciler: this.reconciler,
      inFlight: this.inFlight,
      leases: () => this.leases,
      cache: this.cache,
      encode: (b, now) => this.encode(b, now),
    });
    if (options.leases !== undefined)
      this.leases = new LeaseBook(
        leaseParts(
          options,
          options.leases,
          this.scripts,
          {
            encode: (b, now) => this.encode(b, now),
            failed: (err) => this.reconciler.failed('settle', err),
            seen: (b, st) => this.cache.set(b.name, st),
            // Its lease's last write noted it again: forgotten once more, unless in use since.
            dropped: (b) => {
              if (this.budgetsByName.get(b.name) !== b) return;
              this.cache.delete(b.name);
              this.budgetsByName.delete(b.name);
            },
          },
          (name) => this.budgetsByName.get(name),
        ),
      );
  }

  /** Whether calls are decided locally because Redis did not answer (see `ledger.onFailure`). */
  get degraded(): boolean {
    return this.reconciler.degraded;
  }

  /** `ledger.keyPrefix`: every key of this store starts with it. */
  get keyPrefix(): string {
    return this.options.keyPrefix;
  }

  setListener(listener: StoreListener): void {
    this.listener = listener;
  }

  admit(request: AdmitRequest): Promise<AdmitOutcome> | AdmitOutcome {
    // A cold start is not a failure: wait for the first connection (bounded).
    if (this.connection.starting !== undefined)
      return this.connection.afterStart(() => this.admit(request));
    if (this.leases !== undefined)
      return this.leases.admit(request, this.inFlight, !this.reconciler.degraded, (r) =>
        this.calls.admit(r),
      );
    return this.calls.admit(request);
  }

  /**
   * The board's synchronous fast path: from this replica's leases, or while Redis is away
   * by the local store's, as {@link admit} would decide; undefined: {@link admit} decides.
   */
  admitClear(
    budgets: readonly Budget[],
    amounts: Amounts,
    now: number,
    seen?: SeenClosed,
  ): unknown {
    if (this.connection.starting !== undefined) return undefined;
    const ticket: Ticket | undefined =
      this.leases?.admitClear(budgets, amounts, now, seen) ??
      this.reconciler.admitClear(budgets, amounts, now, seen);
    if (ticket !== undefined) this.inFlight.admitted(ticket);
    return ticket;
  }

  settle(request: SettleRequest): Promise<SettleOutcome | undefined> | SettleOutcome | undefined {
    const ticket = request.ticket as Ticket;
    // Closing gave up on it (its reservation was released, its spend reported unwritten).
    if (!this.inFlight.settled(ticket) && this.draining) {
      diag.debug('tokenfuse: a call settled after the budget ledger was closed; not recorded');
      return undefined;
    }
    if (ticket.kind === 'lease') {
      const settled = this.leases!.settle(
        ticket,
        request.actual,
        request.quiet === true,
        request.seen,
      );
      return settled === undefined ? undefined : this.inFlight.track(settled);
    }
    const actual = UNITS.map((u) => request.actual[u]);
    if (ticket.kind === 'local') {
      const outcome = ticket.store.settle({ ...request, ticket: ticket.inner });
      this.reconciler.enqueue({
        op: 'spend',
        actual,
        budgets: request.budgets.map((b) => this.encode(b, request.now)),
      });
      return outcome;
    }
    return this.calls.settle(request, ticket, actual);
  }

  /**
   * SETTLE with no reservation behind it: the script claims `request.id` first, so
   * a retry after a lost reply (queued for reconciliation) adds the spend once.
   */
  observe(request: ObserveRequest): Promise<SettleOutcome | undefined> | SettleOutcome | undefined {
    // Closing waits for it, whether it waits for the first connection or for Redis.
    if (this.connection.starting !== undefined)
      return this.inFlight.track(this.connection.afterStart(() => this.observe(request)));
    if (this.closed) {
      diag.debug('tokenfuse: spend observed after the budget ledger was closed; not recorded');
      return undefined;
    }
    return this.calls.observe(request);
  }

  read(budgets: readonly Budget[], now: number): Promise<ReadOutcome> | ReadOutcome {
    if (this.connection.starting !== undefined && budgets.length > 0)
      return this.connection.afterStart(() => this.read(budgets, now));
    if (this.reconciler.degraded || budgets.length === 0) return this.peek(budgets, now);
    return Promise.all([
      this.inspect(budgets, now),
      this.journal.follow(this.connection, () => this.listener),
    ])
      .then(([outcome]) => outcome)
      .catch((err: unknown) => {
        diag.debug(
          `tokenfuse: reading budgets from the ledger at ${this.connection.host} failed`,
          err,
        );
        return this.peek(budgets, now);
      });
  }

  /** The budgets' state read from Redis, for operators (`tokenfuse fuses`): see {@link inspect}. */
  inspect(budgets: readonly Budget[], now: number): Promise<ReadOutcome> {
    return inspect(this.operator, budgets, now);
  }

  peek(budgets: readonly Budget[], now: number): ReadOutcome {
    const local = this.reconciler.local;
    if (local !== undefined) return local.peek(budgets, now);
    return {
      states: budgets.map((budget) => rolledForward(budget, this.cache.get(budget.name), now)),
      transitions: [],
    };
  }

  /** Raises nothing: Redis holds the fleet's spend itself (restoring is for the in-memory store). */
  raise(budget: Budget, now: number): ReadOutcome & { added: undefined } {
    return { ...this.peek([budget], now), added: undefined };
  }

  control(
    budget: Budget,
    op: ManualAction['op'],
    now: number,
    detail: { amounts?: Amounts; note?: ManualNote } = {},
  ): Promise<ReadOutcome> {
    return control(this.operator, budget, op, now, detail);
  }

  /**
   * Forgets the last-seen numbers of budgets whose window ended; their keys expire in
   * Redis, and their leases give back their room and leave this replica's book.
   */
  forget(budgets: readonly Budget[]): void {
    this.leases?.forget(budgets);
    for (const budget of budgets) {
      this.cache.delete(budget.name);
      this.budgetsByName.delete(budget.name);
    }
    this.reconciler.local?.forget(budgets);
  }

  /**
   * Drains, within `shutdownTimeoutMs`: waits for calls in flight to settle,
   * releases the reservations of those that do not, writes what was recorded while
   * Redis was away (reconnecting if need be), then lets go of the connection. What
   * could not be written is logged with its amounts and counted as failed reconciliations.
   */
  close(): Promise<void> {
    this.closing ??= this.drain();
    return this.closing;
  }

  private async drain(): Promise<void> {
    this.draining = true;
    await drainLedger({
      options: this.options,
      connection: this.connection,
      reconciler: this.reconciler,
      inFlight: this.inFlight,
      leases: this.leases,
    });
    this.closed = true;
    await this.connection.quit();
  }

  /** `budget` as the scripts take it; remembered, to roll and seed its state later. */
  private encode(budget: Budget, now: number): ScriptBudget {
    this.budgetsByName.set(budget.name, budget);
    return scriptBudget(budget, now, budgetPrefix(this.options, budget.name));
  }
}
