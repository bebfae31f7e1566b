/**
 * The Redis ledger's connection: the ioredis client with the scripts as commands,
 * its timeouts, its reconnection, and `ledgerHost` (what messages may name).
 */
import { createRequire } from 'node:module';
import { diag } from '@opentelemetry/api';
import type { Redis, RedisOptions } from 'ioredis';
import { freeTimeSignal } from '../../../free-time-signal.js';
import type { LedgerOptions } from '../../../types.js';
import type { LedgerFailure } from '../../fuse-store.js';
import { LEASE_LUA } from './lease-lua.js';
import { ADMIT_LUA, CONTROL_LUA, READ_LUA, RECONCILE_LUA, SETTLE_LUA } from './lua.js';

/**
 * What the Redis ledger needs to know: the public `ledger` options, resolved (the
 * composition passes in the resolved config's section; this folder never reads config).
 */
export type RedisLedgerOptions = Required<
  Pick<
    LedgerOptions,
    'keyPrefix' | 'timeoutMs' | 'onFailure' | 'connectTimeoutMs' | 'shutdownTimeoutMs'
  >
> &
  Pick<LedgerOptions, 'url' | 'tls' | 'username' | 'password'> & {
    /** Leased slices (`ledger.leases`, resolved); undefined when off. */
    leases?: { minSlice: number; ttlMs: number } | undefined;
    /** Seed nodes of a Redis Cluster (`ledger.cluster`), instead of `url`. */
    cluster?: string[] | undefined;
  };

/** Reconnection backoff: 50 ms doubling up to 2 s; every 50 ms while closing. */
const RECONNECT_MAX_MS = 2000;
const RECONNECT_CLOSING_MS = 50;

const SCRIPTS = [ADMIT_LUA, SETTLE_LUA, READ_LUA, CONTROL_LUA, RECONCILE_LUA, LEASE_LUA];

/**
 * The scripts, as commands of the client. Each takes one key, which only routes it
 * (on a cluster: to the slot of the budget it touches; the scripts build their keys),
 * and one JSON payload; the `Keyless` ones, for one Redis, only the payload.
 */
export interface LedgerCommands {
  tokenfuseAdmit(route: string, payload: string): Promise<string>;
  tokenfuseSettle(route: string, payload: string): Promise<string>;
  tokenfuseRead(route: string, payload: string): Promise<string>;
  tokenfuseControl(route: string, payload: string): Promise<string>;
  tokenfuseReconcile(route: string, payload: string): Promise<string>;
  tokenfuseLease(route: string, payload: string): Promise<string>;
  tokenfuseAdmitKeyless(payload: string): Promise<string>;
  tokenfuseSettleKeyless(payload: string): Promise<string>;
  tokenfuseReadKeyless(payload: string): Promise<string>;
  tokenfuseControlKeyless(payload: string): Promise<string>;
  tokenfuseReconcileKeyless(payload: string): Promise<string>;
  tokenfuseLeaseKeyless(payload: string): Promise<string>;
}

/** The scripts by command name (each also defined as `<name>Keyless`). */
const SCRIPT_COMMANDS = {
  tokenfuseAdmit: ADMIT_LUA,
  tokenfuseSettle: SETTLE_LUA,
  tokenfuseRead: READ_LUA,
  tokenfuseControl: CONTROL_LUA,
  tokenfuseReconcile: RECONCILE_LUA,
  tokenfuseLease: LEASE_LUA,
} as const;

/** Redis stayed silent too long (an internal cause, never thrown to the app). */
export class LedgerTimeout extends Error {
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

/** The `reason` label of a failure. */
export function classify(err: unknown): LedgerFailure {
  if (err instanceof LedgerTimeout) return 'timeout';
  const e = err as { name?: string; message?: string } | undefined;
  if (e?.name === 'ReplyError') return 'script';
  if (/timed out/i.test(e?.message ?? '')) return 'timeout';
  return 'connection';
}

/**
 * An ioredis client for the ledger's Redis, with the credentials and TLS of
 * `options` over `base`. Its errors are said at most every 30 s (ioredis reports
 * every failed reconnection), naming `what` and the host; its socket never keeps
 * an app alive.
 */
export function openClient(options: RedisLedgerOptions, base: RedisOptions, what: string): Redis {
  const require = createRequire(import.meta.url);
  const { Redis: RedisClient } = require('ioredis') as typeof import('ioredis');
  const settings: RedisOptions = { ...base };
  if (options.username !== undefined) settings.username = options.username;
  if (options.password !== undefined) settings.password = options.password;
  if (options.tls !== undefined && options.tls !== false)
    settings.tls = options.tls === true ? {} : (options.tls as RedisOptions['tls']);
  const redis =
    options.cluster === undefined
      ? new RedisClient(options.url ?? '', settings)
      : openCluster(options.cluster, settings);
  const host = ledgerHost(options.url ?? options.cluster?.[0] ?? '');
  let lastLogged = 0;
  redis.on('error', (err: Error) => {
    if (Date.now() - lastLogged < 30_000) return;
    lastLogged = Date.now();
    diag.warn(`tokenfuse: ${what} at ${host}: ${err.message}`);
  });
  // The connection must not keep an app alive; calls in flight hold their own timers.
  redis.on('connect', () => (redis.stream as { unref?: () => void } | undefined)?.unref?.());
  return redis;
}

/**
 * A Redis Cluster client from seed node URLs, with the same settings for each node.
 * Typed as the single-node client: the store uses only what both have (commands,
 * status and its events, connect, quit); the per-socket timing of replies is the
 * single node's only (on a cluster a round trip is timed from when it was sent).
 */
function openCluster(urls: string[], settings: RedisOptions): Redis {
  const require = createRequire(import.meta.url);
  const { Cluster } = require('ioredis') as typeof import('ioredis');
  const nodes = urls.map((url) => {
    const u = new URL(url);
    return { host: u.hostname, port: Number(u.port || '6379') };
  });
  const first = new URL(urls[0]!);
  const redisOptions: RedisOptions = { ...settings };
  if (redisOptions.username === undefined && first.username)
    redisOptions.username = decodeURIComponent(first.username);
  if (redisOptions.password === undefined && first.password)
    redisOptions.password = decodeURIComponent(first.password);
  if (first.protocol === 'rediss:' && redisOptions.tls === undefined) redisOptions.tls = {};
  const cluster = new Cluster(nodes, {
    redisOptions,
    // On: the client's own ready check (CLUSTER INFO to a random node, sent as soon as the
    // slot map arrives) would otherwise be refused by a node whose connection is still in
    // its handshake ("Connection is closed"), and the client would end instead of becoming
    // ready: a race any start can lose, the likelier the busier the host. It queues nothing
    // of the store's: run() sends only while the client is ready, and each reply is timed.
    enableOfflineQueue: true,
    // Reconnecting is the store's (as for one Redis): its timer does not hold the app.
    clusterRetryStrategy: () => null,
    lazyConnect: false,
    keyPrefix: '',
  });
  // No node's socket may keep an app alive.
  cluster.on('+node', (node: Redis) => {
    node.on('connect', () => (node.stream as { unref?: () => void } | undefined)?.unref?.());
  });
  return cluster as unknown as Redis;
}

/** What the store hears from its connection. */
export interface ConnectionEvents {
  /** A connection is ready (the first, or after a reconnection); scripts are being loaded. */
  ready(): void;
  /** Bytes arrived from Redis: it is answering. */
  heard(): void;
  /** No connection within `connectTimeoutMs` of startup: the failure policy applies now. */
  startFailed(err: Error): void;
}

/**
 * The store's connection to Redis: fails fast rather than queueing, times each
 * round trip against when Redis's bytes arrive (not against the app's own busy
 * time), and reconnects on unreferenced timers of its own.
 */
export class LedgerConnection {
  readonly host: string;
  readonly redis: Redis & LedgerCommands;
  /** Until the first connection is ready and the scripts are loaded (or `connectTimeoutMs`). */
  starting: Promise<void> | undefined;
  private readonly options: RedisLedgerOptions;
  private readonly events: ConnectionEvents;
  /** When the last bytes from Redis arrived (performance.now()). */
  private lastHeard = 0;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private reconnects = 0;
  private draining = false;
  private closed = false;

  constructor(options: RedisLedgerOptions, events: ConnectionEvents) {
    this.options = options;
    this.events = events;
    this.host = ledgerHost(options.url ?? options.cluster?.[0] ?? '');
    const redis = openClient(
      options,
      {
        // Fail fast, never queue: a call must not wait on a Redis that is away. Round
        // trips are timed by run(), not by ioredis's commandTimeout, whose timer counts
        // the app's own event-loop lag as Redis being slow.
        enableOfflineQueue: false,
        autoResendUnfulfilledCommands: false,
        maxRetriesPerRequest: 0,
        // Only to give up on a TCP connection that hangs; the wait for a first connection
        // is bounded by start(), which does not count the app's own busy time.
        connectTimeout: Math.max(5000, 2 * options.connectTimeoutMs),
        // Reconnecting is ours (reconnect()): ioredis's timer would keep the app alive.
        retryStrategy: () => null,
        keyPrefix: '',
        lazyConnect: false,
      },
      'budget ledger',
    );
    this.redis = redis as Redis & LedgerCommands;
    for (const [name, lua] of Object.entries(SCRIPT_COMMANDS)) {
      // On a cluster one declared key (the budget's hash tag) routes the script to its slot.
      // On one Redis none is declared: Redis checks a key declared to EVALSHA for write
      // access, which would refuse a read-only ACL user even the read script; undeclared,
      // each command inside the script is checked against the user's key permissions.
      redis.defineCommand(name, { lua, numberOfKeys: 1 });
      redis.defineCommand(`${name}Keyless`, { lua, numberOfKeys: 0 });
    }
    redis.on('connect', () => {
      const stream = redis.stream as { on?: (event: 'data', fn: () => void) => void } | undefined;
      // A round trip is timed against when bytes arrive, not when a timer fires.
      stream?.on?.('data', () => {
        this.lastHeard = performance.now();
        this.events.heard();
      });
    });
    redis.on('ready', () => {
      this.reconnects = 0;
      this.loadScripts();
      this.events.ready();
    });
    redis.on('end', () => this.reconnect());
    this.starting = this.start();
  }

  get status(): string {
    return this.redis.status;
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
    const bound = this.options.connectTimeoutMs;
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
      this.events.startFailed(err);
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
  afterStart<T>(then: () => T | Promise<T>): Promise<T> {
    const starting = this.starting ?? Promise.resolve();
    const hold = setInterval(() => {}, 60_000);
    return starting.finally(() => clearInterval(hold)).then(then);
  }

  /** Reconnects after the connection ended, on an unreferenced timer (backoff). */
  private reconnect(): void {
    if (this.closed || this.reconnectTimer !== undefined) return;
    const delay = this.draining
      ? RECONNECT_CLOSING_MS
      : Math.min(50 * 2 ** Math.min(this.reconnects++, 6), RECONNECT_MAX_MS);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      // A Cluster client can end and then say `close` (its node connections closing late),
      // with no `end` to follow: both mean nothing will reconnect it but this.
      const status = this.redis.status;
      if (this.closed || (status !== 'end' && status !== 'close')) return;
      // A failure ends the connection again, which schedules the next attempt.
      this.redis.connect().catch(() => undefined);
    }, delay);
    // Waiting for Redis to come back must not keep an app alive.
    this.reconnectTimer.unref();
  }

  /** The store is closing: reconnect often from now on. */
  drain(): void {
    this.draining = true;
  }

  /** Closing: a reconnection waiting on its backoff is tried at once. */
  reconnectNow(): void {
    if (this.reconnectTimer === undefined) return;
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    this.reconnect();
  }

  /** No more reconnections nor start failures. */
  stop(): void {
    this.closed = true;
    if (this.reconnectTimer !== undefined) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
  }

  /** Lets go of the connection: QUIT when Redis is there, else just the socket. */
  async quit(): Promise<void> {
    try {
      if (this.redis.status === 'ready')
        await this.withTimeout(this.redis.quit(), this.options.timeoutMs * 4);
      else this.redis.disconnect();
    } catch {
      this.redis.disconnect();
    }
  }

  /** Runs a command on the ready connection within `timeoutMs` (see withTimeout). */
  run<T>(command: () => Promise<T>): Promise<T> {
    const status = this.redis.status;
    if (status !== 'ready') return Promise.reject(new Error(`Redis not yet connected (${status})`));
    return this.withTimeout(command(), this.options.timeoutMs);
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
}
