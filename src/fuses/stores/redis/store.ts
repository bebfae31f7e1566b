import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import { diag } from '@opentelemetry/api';
import type { Redis, RedisOptions } from 'ioredis';
import { type Amounts, type Budget, UNITS, windowLabel, ZERO } from '../../../budgets/budget.js';
import { bucketSize, windowAt } from '../../../budgets/rules.js';
import type { ResolvedConfig } from '../../../config/resolved-config.js';
import { LedgerUnavailableError } from '../../../errors/blocked-call-error.js';
import { LedgerControlError } from '../../../errors/ledger-control-error.js';
import { freeTimeSignal } from '../../../free-time-signal.js';
import { closedFuse, type FuseRecord, type FuseState } from '../../fuse.js';
import type {
  AdmitOutcome,
  AdmitRequest,
  BudgetDecision,
  BudgetState,
  FuseStore,
  LedgerFailure,
  LedgerOperation,
  ReadOutcome,
  SettleOutcome,
  SettleRequest,
  StoreListener,
  Transition,
  TransitionCause,
} from '../../fuse-store.js';
import { MemoryFuseStore } from '../memory.js';
import { ADMIT_LUA, CONTROL_LUA, READ_LUA, RECONCILE_LUA, SETTLE_LUA } from './lua.js';

const SCRIPTS = [ADMIT_LUA, SETTLE_LUA, READ_LUA, CONTROL_LUA, RECONCILE_LUA];

/** Window keys outlive their window by this much (clock skew between replicas, late settlements). */
const KEY_MARGIN_MS = 10 * 60_000;
/** A reservation not settled within this long is released (its process most likely died). */
const LEASE_MS = 60 * 60_000;
/** A reservation record is kept this long, so a late settlement still finds it. */
const RESERVATION_TTL_MS = 2 * LEASE_MS;
/** Reconciled batch ids are remembered this long (a retried batch is applied once). */
const BATCH_TTL_MS = 24 * 60 * 60_000;
/** How often, while Redis is away, reconnection and reconciliation are tried. */
const RECOVER_EVERY_MS = 250;
/** A batch that fails with a script error this many times is dropped (logged). */
const MAX_SCRIPT_FAILURES = 5;
/** Reconnection backoff: 50 ms doubling up to 2 s; every 50 ms while closing. */
const RECONNECT_MAX_MS = 2000;
const RECONNECT_CLOSING_MS = 50;

type LedgerConfig = ResolvedConfig['ledger'];

/** What an admission holds with the Redis store. */
type Ticket =
  | { kind: 'shared'; rid: string }
  | { kind: 'local'; store: MemoryFuseStore; inner: unknown };

/** A budget as the scripts take it: the current window's keys and numbers (see redis-scripts.ts). */
interface ScriptBudget {
  name: string;
  acct: string;
  fuse: string;
  thr: string;
  rolling: boolean;
  ws: number;
  bms: number;
  bucket: number;
  exp: number;
  lim: [number, number, number];
  cool: number;
  probes: number;
  th: number[];
  mode: 'block' | 'monitor';
}

type ReconcileOp =
  | { op: 'cancel'; rid: string }
  | { op: 'spend'; actual: number[]; budgets: ScriptBudget[] }
  | { op: 'settle'; rid: string; cond: boolean; actual: number[]; budgets: ScriptBudget[] };

interface WireState {
  name: string;
  s: string[];
  r: string[];
  f: [FuseState, string, string, string, string, string, string];
}
type WireTransition = [string, FuseState, FuseState, TransitionCause];

interface LedgerCommands {
  tokenfuseAdmit(payload: string): Promise<string>;
  tokenfuseSettle(payload: string): Promise<string>;
  tokenfuseRead(payload: string): Promise<string>;
  tokenfuseControl(payload: string): Promise<string>;
  tokenfuseReconcile(payload: string): Promise<string>;
}

class LedgerTimeout extends Error {
  constructor(ms: number, what = 'no answer from Redis') {
    super(`${what} within ${ms} ms`);
  }
}

/** `host:port` of a Redis URL: what messages may name (never the credentials). */
export function ledgerHost(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname}:${u.port || '6379'}`;
  } catch {
    return '(invalid URL)';
  }
}

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
  private readonly redis: Redis & LedgerCommands;
  private readonly config: LedgerConfig;
  private readonly host: string;
  private listener: StoreListener | undefined;
  /** Last state seen per budget. */
  private readonly cache = new Map<string, BudgetState>();
  /** Set while Redis is away: calls are decided here. */
  private local: MemoryFuseStore | undefined;
  private degraded = false;
  private readonly pending: ReconcileOp[] = [];
  private batch: { id: string; ops: ReconcileOp[]; scriptFailures: number } | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** The delay `timer` was set with. */
  private timerDelay = 0;
  private recovering: Promise<void> | undefined;
  /** Until the first connection is ready and the scripts are loaded (or `connectTimeoutMs`). */
  private starting: Promise<void> | undefined;
  /** When the last bytes from Redis arrived (performance.now()). */
  private lastHeard = 0;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private reconnects = 0;
  /** Admitted calls not yet settled. */
  private readonly unsettled = new Set<Ticket>();
  /** Settlements sent to Redis, not yet answered. */
  private readonly settling = new Set<Promise<unknown>>();
  private closing: Promise<void> | undefined;
  private draining = false;
  private closed = false;

  constructor(config: LedgerConfig) {
    this.config = config;
    this.host = ledgerHost(config.url ?? '');
    const require = createRequire(import.meta.url);
    const { Redis: RedisClient } = require('ioredis') as typeof import('ioredis');
    const options: RedisOptions = {
      // Fail fast, never queue: a call must not wait on a Redis that is away. Round
      // trips are timed by run(), not by ioredis's commandTimeout, whose timer counts
      // the app's own event-loop lag as Redis being slow.
      enableOfflineQueue: false,
      autoResendUnfulfilledCommands: false,
      maxRetriesPerRequest: 0,
      // Only to give up on a TCP connection that hangs; the wait for a first connection
      // is bounded by start(), which does not count the app's own busy time.
      connectTimeout: Math.max(5000, 2 * config.connectTimeoutMs),
      // Reconnecting is ours (reconnect()): ioredis's timer would keep the app alive.
      retryStrategy: () => null,
      keyPrefix: '',
      lazyConnect: false,
    };
    if (config.username !== undefined) options.username = config.username;
    if (config.password !== undefined) options.password = config.password;
    if (config.tls !== undefined && config.tls !== false)
      options.tls = config.tls === true ? {} : (config.tls as RedisOptions['tls']);
    this.redis = new RedisClient(config.url ?? '', options) as Redis & LedgerCommands;
    this.redis.defineCommand('tokenfuseAdmit', { lua: ADMIT_LUA, numberOfKeys: 0 });
    this.redis.defineCommand('tokenfuseSettle', { lua: SETTLE_LUA, numberOfKeys: 0 });
    this.redis.defineCommand('tokenfuseRead', { lua: READ_LUA, numberOfKeys: 0 });
    this.redis.defineCommand('tokenfuseControl', { lua: CONTROL_LUA, numberOfKeys: 0 });
    this.redis.defineCommand('tokenfuseReconcile', { lua: RECONCILE_LUA, numberOfKeys: 0 });
    let lastLogged = 0;
    this.redis.on('error', (err: Error) => {
      // ioredis reports every failed reconnection; say it at most every 30 s.
      if (Date.now() - lastLogged < 30_000) return;
      lastLogged = Date.now();
      diag.warn(`tokenfuse: budget ledger at ${this.host}: ${err.message}`);
    });
    this.redis.on('connect', () => {
      const stream = this.redis.stream as
        | { unref?: () => void; on?: (event: 'data', fn: () => void) => void }
        | undefined;
      // The connection must not keep an app alive; calls in flight hold their own timers.
      stream?.unref?.();
      // A round trip is timed against when bytes arrive, not when a timer fires.
      stream?.on?.('data', () => this.heard());
    });
    this.redis.on('ready', () => {
      this.reconnects = 0;
      this.loadScripts();
      if (this.degraded || this.pending.length > 0) this.kick(0);
    });
    this.redis.on('end', () => this.reconnect());
    this.starting = this.start();
  }

  /**
   * Resolves once the first connection is ready, or when `connectTimeoutMs` has
   * passed: then (only then) the failure policy applies. Never rejects.
   *
   * The bound counts only time this process was free to read Redis's answer: an app
   * starting up loads its modules on the same thread (and a busy host starves it of
   * CPU), and a timer that fires before the socket is read would call a healthy
   * Redis absent. So it is bounded by {@link freeTimeSignal}, as the first restore is.
   */
  private start(): Promise<void> {
    const bound = this.config.connectTimeoutMs;
    let onReady: (() => void) | undefined;
    const ready = new Promise<true>((resolve) => {
      onReady = () => resolve(true);
      if (this.redis.status === 'ready') resolve(true);
      else this.redis.once('ready', onReady);
    });
    // Its clock is not referenced: an app that makes no call need not wait for Redis to exit.
    const expiry = freeTimeSignal(bound);
    const expired = new Promise<false>((resolve) => {
      expiry.signal.addEventListener('abort', () => resolve(false), { once: true });
    });
    return Promise.race([ready, expired]).then((connected) => {
      expiry.dispose();
      if (onReady !== undefined) this.redis.off('ready', onReady);
      this.starting = undefined;
      if (connected || this.closed) return;
      const status = this.redis.status;
      const err =
        status === 'connect'
          ? new LedgerTimeout(bound, 'no answer from Redis since startup')
          : new Error(`cannot connect since startup, within ${bound} ms (${status})`);
      this.failed('admit', err);
    });
  }

  /** Loads the scripts, so that an admission is one EVALSHA round trip. */
  private loadScripts(): void {
    // Sent before any command that waited for the connection, so they run first.
    // Best effort: a script that is not loaded is sent by EVAL.
    for (const lua of SCRIPTS) {
      this.redis.script('LOAD', lua).catch((err: unknown) => {
        diag.debug(`tokenfuse: loading a ledger script into ${this.host} failed`, err);
      });
    }
  }

  /** Runs `then` once the start is over; meanwhile holds the loop, as a call is waiting. */
  private afterStart<T>(then: () => T | Promise<T>): Promise<T> {
    const starting = this.starting ?? Promise.resolve();
    const hold = setInterval(() => {}, 60_000);
    return starting.finally(() => clearInterval(hold)).then(then);
  }

  /** Bytes arrived from Redis: it is answering. */
  private heard(): void {
    this.lastHeard = performance.now();
    // Leave degraded mode on the next good reply (a late one included), not after a pause.
    if (this.degraded && this.recovering === undefined) this.kick(0);
  }

  /** Reconnects after the connection ended, on an unreferenced timer (backoff). */
  private reconnect(): void {
    if (this.closed || this.reconnectTimer !== undefined) return;
    const delay = this.draining
      ? RECONNECT_CLOSING_MS
      : Math.min(50 * 2 ** Math.min(this.reconnects++, 6), RECONNECT_MAX_MS);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      if (this.closed || this.redis.status !== 'end') return;
      // A failure ends the connection again, which schedules the next attempt.
      this.redis.connect().catch(() => undefined);
    }, delay);
    // Waiting for Redis to come back must not keep an app alive.
    this.reconnectTimer.unref();
  }

  setListener(listener: StoreListener): void {
    this.listener = listener;
  }

  admit(request: AdmitRequest): Promise<AdmitOutcome> | AdmitOutcome {
    // A cold start is not a failure: wait for the first connection (bounded).
    if (this.starting !== undefined) return this.afterStart(() => this.admit(request));
    if (this.degraded) return this.fallbackAdmit(request, this.lastFailure);
    const rid = randomUUID();
    const budgets = request.entries.map((e) => this.scriptBudget(e.budget, request.now));
    const payload = JSON.stringify({
      prefix: this.config.keyPrefix,
      now: request.now,
      rid,
      lease: LEASE_MS,
      rsvTtl: RESERVATION_TTL_MS,
      budgets,
      amounts: request.entries.map((e) => UNITS.map((u) => e.amounts[u])),
    });
    return this.run(() => this.redis.tokenfuseAdmit(payload)).then(
      (raw) => {
        const reply = JSON.parse(raw) as {
          a: number;
          d: Array<[BudgetDecision['kind'], string]>;
          st: WireState[];
          tr: WireTransition[] | object;
        };
        const states = reply.st.map((s, i) =>
          parseState(s, request.entries[i]!.budget, request.now),
        );
        const admitted = reply.a === 1;
        const ticket: Ticket = { kind: 'shared', rid };
        if (admitted) this.unsettled.add(ticket);
        request.entries.forEach((e, i) => {
          const s = states[i]!;
          this.cache.set(e.budget.name, {
            ...s,
            reserved: admitted ? add(s.reserved, e.amounts) : { ...s.reserved },
          });
        });
        return {
          kind: 'decided' as const,
          admitted,
          decisions: reply.d.map(([kind, reason]) =>
            kind === 'block'
              ? { kind, reason: reason as Extract<BudgetDecision, { kind: 'block' }>['reason'] }
              : { kind },
          ),
          states,
          transitions: parseTransitions(reply.tr),
          ticket,
        };
      },
      (err: unknown) => {
        const failure = this.failed('admit', err);
        // The script may still run once Redis answers: release what it would reserve.
        if (failure.maybeRan) this.enqueue({ op: 'cancel', rid });
        return this.fallbackAdmit(request, failure.reason);
      },
    );
  }

  settle(request: SettleRequest): Promise<SettleOutcome | undefined> | SettleOutcome | undefined {
    const ticket = request.ticket as Ticket;
    // Closing gave up on it (its reservation was released, its spend reported unwritten).
    if (!this.unsettled.delete(ticket) && this.draining) {
      diag.debug('tokenfuse: a call settled after the budget ledger was closed; not recorded');
      return undefined;
    }
    const actual = UNITS.map((u) => request.actual[u]);
    if (ticket.kind === 'local') {
      const outcome = ticket.store.settle({ ...request, ticket: ticket.inner });
      this.enqueue({
        op: 'spend',
        actual,
        budgets: request.budgets.map((b) => this.scriptBudget(b, request.now)),
      });
      return outcome;
    }
    const budgets = request.budgets.map((b) => this.scriptBudget(b, request.now));
    if (this.degraded) {
      // Never sent: settle it for sure once Redis is back.
      this.enqueue({ op: 'settle', rid: ticket.rid, cond: false, actual, budgets });
      this.local?.addSpend(request.budgets, request.actual, request.now);
      return undefined;
    }
    const payload = JSON.stringify({
      prefix: this.config.keyPrefix,
      now: request.now,
      rid: ticket.rid,
      cond: false,
      actual,
      budgets,
    });
    const settled = this.run(() => this.redis.tokenfuseSettle(payload)).then(
      (raw) => {
        const reply = JSON.parse(raw) as {
          st?: WireState[];
          x?: Array<string[] | object>;
          tr?: WireTransition[] | object;
        };
        if (reply.st === undefined) return undefined;
        const states = reply.st.map((s, i) => parseState(s, request.budgets[i], request.now));
        states.forEach((s, i) => {
          this.cache.set(request.budgets[i]!.name, s);
        });
        return {
          states,
          crossed: (reply.x ?? []).map((x) => (Array.isArray(x) ? x.map(Number) : [])),
          transitions: parseTransitions(reply.tr),
        };
      },
      (err: unknown) => {
        const failure = this.failed('settle', err);
        this.enqueue({ op: 'settle', rid: ticket.rid, cond: failure.maybeRan, actual, budgets });
        this.localStore(request.now).addSpend(request.budgets, request.actual, request.now);
        return undefined;
      },
    );
    this.settling.add(settled);
    const done = () => this.settling.delete(settled);
    settled.then(done, done);
    return settled;
  }

  read(budgets: readonly Budget[], now: number): Promise<ReadOutcome> | ReadOutcome {
    if (this.starting !== undefined && budgets.length > 0)
      return this.afterStart(() => this.read(budgets, now));
    if (this.degraded || budgets.length === 0) return this.peek(budgets, now);
    const payload = JSON.stringify({
      prefix: this.config.keyPrefix,
      now,
      budgets: budgets.map((b) => this.scriptBudget(b, now)),
    });
    return this.run(() => this.redis.tokenfuseRead(payload)).then(
      (raw) => {
        const reply = JSON.parse(raw) as { st: WireState[]; tr: WireTransition[] | object };
        const states = reply.st.map((s, i) => parseState(s, budgets[i], now));
        states.forEach((s, i) => {
          this.cache.set(budgets[i]!.name, s);
        });
        return { states, transitions: parseTransitions(reply.tr) };
      },
      (err: unknown) => {
        diag.debug(`tokenfuse: reading budgets from the ledger at ${this.host} failed`, err);
        return this.peek(budgets, now);
      },
    );
  }

  peek(budgets: readonly Budget[], now: number): ReadOutcome {
    if (this.local !== undefined) return this.local.peek(budgets, now);
    return {
      states: budgets.map((budget) => this.cached(budget, now)),
      transitions: [],
    };
  }

  /** Raises nothing: Redis holds the fleet's spend itself (restoring is for the in-memory store). */
  raise(budget: Budget, now: number): ReadOutcome & { added: undefined } {
    return { ...this.peek([budget], now), added: undefined };
  }

  control(budget: Budget, op: 'isolate' | 'reset', now: number): Promise<ReadOutcome> {
    if (this.starting !== undefined) return this.afterStart(() => this.control(budget, op, now));
    const payload = JSON.stringify({
      prefix: this.config.keyPrefix,
      now,
      op,
      budget: this.scriptBudget(budget, now),
    });
    return this.run(() => this.redis.tokenfuseControl(payload)).then(
      (raw) => {
        const reply = JSON.parse(raw) as { st: WireState[]; tr: WireTransition[] | object };
        const states = reply.st.map((s) => parseState(s, budget, now));
        this.cache.set(budget.name, states[0]!);
        // While Redis was away the local store decides: it follows the operator too.
        this.local?.control(budget, op, now);
        return { states, transitions: parseTransitions(reply.tr) };
      },
      (err: unknown) => {
        throw new LedgerControlError(
          { budget: budget.name, operation: op, ledger: this.host, failure: classify(err) },
          { cause: err },
        );
      },
    );
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
    const bound = this.config.shutdownTimeoutMs;
    const deadline = performance.now() + bound;
    const left = () => deadline - performance.now();
    // Referenced: the app awaits its shutdown.
    const pause = (ms: number) =>
      new Promise((resolve) => setTimeout(resolve, Math.max(0, Math.min(ms, left()))));
    this.draining = true;
    if (this.starting !== undefined) await Promise.race([this.starting, pause(left())]);
    // Closing: reconnect at once, and often.
    if (this.reconnectTimer !== undefined) {
      clearTimeout(this.reconnectTimer);
      this.reconnectTimer = undefined;
      this.reconnect();
    }
    // Calls in flight settle first: into Redis, or queued for it.
    while ((this.unsettled.size > 0 || this.settling.size > 0) && left() > 0) await pause(10);
    const abandoned = [...this.unsettled];
    this.unsettled.clear();
    for (const ticket of abandoned) {
      // Its reservation would hold the budget until its lease ends.
      if (ticket.kind === 'shared') this.pending.push({ op: 'cancel', rid: ticket.rid });
    }
    // At least one attempt when Redis is there, even if the calls took all the time.
    const unwritten = () => this.pending.length > 0 || this.batch !== undefined;
    if (unwritten() && this.redis.status === 'ready') await this.recover();
    while (unwritten() && left() > 0) {
      await pause(25);
      if (this.redis.status === 'ready') await this.recover();
    }
    this.closed = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.reconnectTimer !== undefined) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    this.reportUnwritten([...(this.batch?.ops ?? []), ...this.pending], abandoned.length, bound);
    try {
      if (this.redis.status === 'ready')
        await this.withTimeout(this.redis.quit(), this.config.timeoutMs * 4);
      else this.redis.disconnect();
    } catch {
      this.redis.disconnect();
    }
  }

  /** Says, with the amounts, what closing could not write to Redis; counts each update. */
  private reportUnwritten(ops: ReconcileOp[], abandoned: number, bound: number): void {
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
      `tokenfuse: closed the budget ledger at ${this.host} after ${bound} ms (ledger.shutdownTimeoutMs) with ${parts.join(' and ')}`,
    );
    for (let i = 0; i < ops.length + abandoned; i++)
      this.listener?.ledgerError('reconcile', this.lastFailure);
  }

  // --- failure policy ---------------------------------------------------------

  private fallbackAdmit(request: AdmitRequest, reason: LedgerFailure): AdmitOutcome {
    const enforced = request.entries.filter((e) => e.budget.action === 'block');
    if (this.config.onFailure === 'closed' && enforced.length > 0) {
      return {
        kind: 'unavailable',
        error: new LedgerUnavailableError({
          ledger: this.host,
          budgets: enforced.map((e) => e.budget.name),
          cause: reason,
        }),
      };
    }
    const local = this.localStore(request.now);
    const outcome = local.admit(request);
    if (outcome.kind === 'decided') {
      const ticket: Ticket = { kind: 'local', store: local, inner: outcome.ticket };
      if (outcome.admitted) this.unsettled.add(ticket);
      outcome.ticket = ticket;
    }
    return outcome;
  }

  /** The local store while Redis is away, started from the last shared numbers seen. */
  private localStore(now: number): MemoryFuseStore {
    if (this.local === undefined) {
      this.local = new MemoryFuseStore();
      for (const [name, state] of this.cache) {
        const budget = this.budgetsByName.get(name);
        if (budget !== undefined) this.local.seed(budget, state, now);
      }
    }
    return this.local;
  }

  private readonly budgetsByName = new Map<string, Budget>();
  private lastFailure: LedgerFailure = 'connection';

  private failed(
    operation: LedgerOperation,
    err: unknown,
  ): { reason: LedgerFailure; maybeRan: boolean } {
    const reason = classify(err);
    this.lastFailure = reason;
    const message = err instanceof Error ? err.message : String(err);
    // Not written to the socket: it cannot have run.
    const maybeRan = !/isn't writeable|not yet connected|Connection is closed before/i.test(
      message,
    );
    this.listener?.ledgerError(operation, reason);
    if (!this.degraded) {
      diag.warn(
        `tokenfuse: the budget ledger at ${this.host} failed (${operation}, ${reason}: ${message}); ` +
          (this.config.onFailure === 'open'
            ? 'admitting calls locally and reconciling their spend when it is back'
            : 'refusing calls until it is back (ledger.onFailure: closed)'),
      );
    }
    this.degraded = true;
    this.kick(RECOVER_EVERY_MS);
    return { reason, maybeRan };
  }

  private enqueue(op: ReconcileOp): void {
    this.pending.push(op);
    this.kick(this.degraded ? RECOVER_EVERY_MS : 0);
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
        if (this.degraded || this.pending.length > 0 || this.batch !== undefined)
          this.kick(RECOVER_EVERY_MS);
      });
    }, delay);
    this.timer.unref();
  }

  /**
   * Reconciles what was recorded while Redis was away, one batch at a time; a batch
   * keeps its id until Redis confirms it, so a retry after a lost reply is not
   * applied twice. Once nothing is pending and Redis answers, calls go back to it.
   */
  private recover(): Promise<void> {
    this.recovering ??= this.recoverOnce().finally(() => {
      this.recovering = undefined;
    });
    return this.recovering;
  }

  private async recoverOnce(): Promise<void> {
    if (this.redis.status !== 'ready') return;
    try {
      for (;;) {
        if (this.batch === undefined) {
          if (this.pending.length === 0) break;
          this.batch = { id: randomUUID(), ops: this.pending.splice(0), scriptFailures: 0 };
        }
        const batch = this.batch;
        const now = Date.now();
        const payload = JSON.stringify({
          prefix: this.config.keyPrefix,
          now,
          batch: batch.id,
          batchTtl: BATCH_TTL_MS,
          ops: batch.ops,
        });
        try {
          const raw = await this.run(() => this.redis.tokenfuseReconcile(payload));
          const reply = JSON.parse(raw) as {
            st?: WireState[] | object;
            tr?: WireTransition[] | object;
          };
          this.batch = undefined;
          const states = new Map(
            list(reply.st).map((s) => [s.name, parseState(s, this.budgetsByName.get(s.name), now)]),
          );
          for (const [name, s] of states) this.cache.set(name, s);
          const transitions = parseTransitions(reply.tr);
          if (transitions.length > 0) this.listener?.transitions(transitions, states);
        } catch (err) {
          const failure = this.failed('reconcile', err);
          if (failure.reason === 'script' && ++batch.scriptFailures >= MAX_SCRIPT_FAILURES) {
            diag.error(
              `tokenfuse: dropping ${batch.ops.length} ledger updates the budget ledger at ${this.host} keeps refusing`,
              err,
            );
            this.batch = undefined;
          }
          return;
        }
      }
      if (this.degraded) {
        await this.run(() => this.redis.ping());
        this.degraded = false;
        this.local = undefined;
        diag.info(`tokenfuse: the budget ledger at ${this.host} is back; spend reconciled`);
        // What list() reports: the shared numbers again.
        await this.read([...this.budgetsByName.values()], Date.now());
      }
    } catch (err) {
      diag.debug('tokenfuse: ledger recovery attempt failed', err);
    }
  }

  // --- plumbing ---------------------------------------------------------------

  /** Runs a command on the ready connection within `timeoutMs` (see withTimeout). */
  private run<T>(command: () => Promise<T>): Promise<T> {
    const status = this.redis.status;
    if (status !== 'ready') return Promise.reject(new Error(`Redis not yet connected (${status})`));
    return this.withTimeout(command(), this.config.timeoutMs);
  }

  /**
   * Rejects when Redis has been silent for `ms` while the reply is awaited. A timer
   * in a busy event loop fires late, and the reply may be sitting unread in the
   * socket: so when it fires, the socket is read first (one turn of the loop), and
   * Redis counts as silent only if no byte arrived from it within the last `ms`
   * (replies come in order: bytes for earlier commands mean it is working through
   * them). Time spent blocked in the app is thus never counted against Redis.
   */
  private withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
    const sent = performance.now();
    return new Promise<T>((resolve, reject) => {
      let done = false;
      let timer: NodeJS.Timeout;
      const expire = () => {
        // setImmediate runs after the poll phase has read what the socket holds.
        setImmediate(() => {
          if (done) return;
          const silent = performance.now() - Math.max(sent, this.lastHeard);
          if (silent < ms) {
            timer = setTimeout(expire, ms - silent);
            return;
          }
          done = true;
          reject(new LedgerTimeout(ms));
        });
      };
      // Referenced: an app waiting for an admission must not exit under it.
      timer = setTimeout(expire, ms);
      promise.then(
        (v) => {
          if (done) return;
          done = true;
          clearTimeout(timer);
          resolve(v);
        },
        (e: unknown) => {
          if (done) return;
          done = true;
          clearTimeout(timer);
          reject(e);
        },
      );
    });
  }

  private scriptBudget(budget: Budget, now: number): ScriptBudget {
    this.budgetsByName.set(budget.name, budget);
    const rolling = budget.window.kind === 'rolling';
    const w = windowAt(budget, now);
    const label = windowLabel(budget.window);
    const p = this.config.keyPrefix;
    const bms = bucketSize(budget);
    const suffix = rolling ? `${budget.name}:${label}` : `${budget.name}:${label}:${w.start}`;
    return {
      name: budget.name,
      acct: `${p}a:${suffix}`,
      fuse: `${p}f:${budget.name}`,
      thr: `${p}t:${suffix}`,
      rolling,
      ws: w.start,
      bms,
      bucket: now - (now % bms),
      exp: (rolling ? now + windowLength(budget) : w.end) + KEY_MARGIN_MS,
      lim: [budget.limit.tokens ?? 0, budget.limit.usd ?? 0, budget.limit.requests ?? 0],
      cool: budget.cooldownMs,
      probes: budget.probes,
      th: budget.thresholds,
      mode: budget.action,
    };
  }

  /** The last state seen, rolled forward to `now` the way the scripts would. */
  private cached(budget: Budget, now: number): BudgetState {
    const w = windowAt(budget, now);
    const seen = this.cache.get(budget.name);
    if (seen === undefined)
      return {
        spent: { ...ZERO },
        reserved: { ...ZERO },
        windowStart: w.start,
        windowEnd: w.end,
        fuse: closedFuse(),
      };
    const rolling = budget.window.kind === 'rolling';
    if (rolling || seen.windowStart === w.start)
      return { ...seen, windowStart: w.start, windowEnd: w.end, fuse: { ...seen.fuse } };
    const fuse: FuseRecord = { ...seen.fuse };
    if (fuse.state !== 'closed' && !fuse.isolated) {
      fuse.state = 'closed';
      fuse.probesLeft = 0;
      fuse.probesInFlight = 0;
    }
    return {
      spent: { ...ZERO },
      reserved: { ...ZERO },
      windowStart: w.start,
      windowEnd: w.end,
      fuse,
    };
  }
}

function windowLength(budget: Budget): number {
  return budget.window.kind === 'rolling' ? budget.window.durationMs : 0;
}

function add(a: Amounts, b: Amounts): Amounts {
  return { tokens: a.tokens + b.tokens, usd: a.usd + b.usd, requests: a.requests + b.requests };
}

function amounts(values: string[]): Amounts {
  return { tokens: Number(values[0]), usd: Number(values[1]), requests: Number(values[2]) };
}

/** A state from a script; the window is the client's to know (time zones are resolved here). */
function parseState(s: WireState, budget: Budget | undefined, now: number): BudgetState {
  const [state, isolated, openedAt, openedInWindow, probesLeft, probesInFlight, trips] = s.f;
  const w = budget ? windowAt(budget, now) : { start: 0, end: 0 };
  return {
    spent: amounts(s.s),
    reserved: amounts(s.r),
    windowStart: w.start,
    windowEnd: w.end,
    fuse: {
      state,
      isolated: Number(isolated) === 1,
      openedAt: Number(openedAt),
      openedInWindow: Number(openedInWindow),
      probesLeft: Number(probesLeft),
      probesInFlight: Number(probesInFlight),
      trips: Number(trips),
    },
  };
}

/**
 * A list from a script's reply: cjson encodes an empty Lua table as `{}`, so an empty
 * list arrives as an object (a reconciliation of spend and cancellations only has no states).
 */
function list<T>(value: T[] | object | undefined): T[] {
  return Array.isArray(value) ? value : [];
}

function parseTransitions(tr: WireTransition[] | object | undefined): Transition[] {
  if (!Array.isArray(tr)) return [];
  return tr.map(([budget, from, to, cause]) => ({ budget, from, to, cause }));
}

/** The `reason` label of a failure. */
function classify(err: unknown): LedgerFailure {
  if (err instanceof LedgerTimeout) return 'timeout';
  const e = err as { name?: string; message?: string } | undefined;
  if (e?.name === 'ReplyError') return 'script';
  if (/timed out/i.test(e?.message ?? '')) return 'timeout';
  return 'connection';
}
