/**
 * Public options of budgets and what they act through: model policies, the webhooks
 * told about thresholds and trips, and the ledger where spend and fuse state live.
 * Re-exported by `types.ts`, where `TokenfuseOptions` gathers every section.
 */

/** Which calls a budget or policy applies to. Every field given must match; omitted fields match anything. */
export interface BudgetMatch {
  department?: string;
  project?: string;
  environment?: string;
  /** Model the call asks for; `*` is a wildcard (`gpt-4.1*`, `deepseek-*`). */
  model?: string;
  /** Provider id (`openai`, `azure`, a declared relay, …). */
  provider?: string;
}

/**
 * A budget's window. Calendar windows (`minute`, `hour`, `day`, `month`) start
 * at the top of the minute/hour/day or the first of the month in the budget's
 * `timeZone`; `{ rolling: '1h' }` is a sliding window of that length.
 */
export type BudgetWindow = 'minute' | 'hour' | 'day' | 'month' | { rolling: string };

/** Limits of a budget per window; any combination. The fuse opens when any is reached. */
export interface BudgetLimits {
  /** Total tokens (input, cached and output). */
  tokens?: number;
  /** US dollars, as priced by tokenfuse. */
  usd?: number;
  /** Number of calls. */
  requests?: number;
}

/** A spending limit on the calls it matches, enforced by a fuse (per process, or fleet-wide with the Redis ledger). */
export interface BudgetOptions {
  /** Unique name; it is the `budget` label and appears in errors and alerts. `[a-zA-Z0-9_.:-]` */
  name: string;
  /** Which calls count against this budget. @default {} (every call) */
  match?: BudgetMatch;
  window: BudgetWindow;
  limit: BudgetLimits;
  /**
   * Utilisation fractions at which `onThreshold` fires (once per window each).
   * @default [0.5, 0.75, 0.9, 1.0]
   */
  thresholds?: number[];
  /**
   * `block` stops calls before they are sent once the limit is reached;
   * `monitor` never blocks and records what would have been blocked.
   * @default 'block'
   */
  action?: 'block' | 'monitor';
  /** IANA time zone of calendar windows. @default 'UTC' */
  timeZone?: string;
  /** How long an open fuse stays open before letting probe calls through, e.g. `5m`. @default '5m' */
  cooldown?: string;
  /** Calls let through while half-open. @default 3 */
  probes?: number;
  /** Cut off a stream whose running output pushes this budget over its limit. @default false */
  cutOffStreams?: boolean;
  /**
   * What this budget does with calls it could not admit: calls seen only in other
   * instrumentations' GenAI spans (a client tokenfuse does not wrap). `count` adds
   * their spend (they move thresholds and trip the fuse, so the next call through a
   * wrapped client is blocked); `ignore` leaves them out.
   * @default 'count'
   */
  observedSpend?: 'count' | 'ignore';
  /**
   * Applies the budget to each value of a tag (or of a combination of tags) on its
   * own: every distinct user, customer, API key, … gets its own window, limit,
   * thresholds and fuse, created on first sight and named `<name>[<value>]`
   * (several tags: values joined by `,`). A call with no value for the tag is not
   * counted against this budget (counted in `tokenfuse_budget_unkeyed_total`).
   * See docs/per-value-budgets.md.
   * @default undefined (one budget for every call it matches)
   */
  per?: PerValueTag | PerValueTag[];
  /**
   * Limits of single values of a per-value budget, by value (`"cust-42"`; several
   * tags: `"eng,alice"`); each unit given replaces the budget's `limit` of that unit.
   */
  overrides?: Record<string, BudgetLimits>;
}

/** A tag a budget can apply to each value of (`per`); `apiKey` is the id of the SDK client's key. */
export type PerValueTag =
  | 'user'
  | 'feature'
  | 'customer'
  | 'apiKey'
  | 'department'
  | 'project'
  | 'environment';

/**
 * How calls are attributed to the API key of their SDK client: `tokenfuse.api_key.id`,
 * an HMAC-SHA256 of the key under `secret` (never the key itself), and the owners
 * of shared service keys. See docs/per-value-budgets.md, "API keys".
 */
export interface ApiKeyOptions {
  /**
   * Per-install secret of the key ids (at least 16 characters). Every process of a
   * fleet must share it for ids (and per-`apiKey` budgets) to match across processes.
   * When absent, a random one is generated at start and said once in the log.
   * Env: `TOKENFUSE_API_KEY_SECRET`.
   */
  secret?: string;
  /**
   * Owners of keys, by key id (`tokenfuse.api_key.id`): the tags (a team's
   * `department`, `project`, …) calls made with that key are attributed to, under
   * the context's and the call's headers (which win), over the config defaults;
   * `name` names the key on spans (`tokenfuse.api_key.name`).
   */
  owners?: Record<string, ApiKeyOwner>;
}

/** The owner of one API key (see {@link ApiKeyOptions.owners}). */
export interface ApiKeyOwner {
  /** A name for the key, on spans as `tokenfuse.api_key.name`. */
  name?: string;
  department?: string;
  project?: string;
  environment?: string;
  feature?: string;
  customer?: string;
  user?: string;
}

/** Which models the calls a policy matches may use. A denied call fails before it is sent. */
export interface ModelPolicyOptions {
  /** Unique name; appears in errors and as the `budget` label of blocked calls. */
  name: string;
  match?: Omit<BudgetMatch, 'model'>;
  /** Only these models (globs) are allowed. */
  allowModels?: string[];
  /** These models (globs) are denied; wins over `allowModels`. */
  denyModels?: string[];
}

/** Built-in notifier for teams without Alertmanager: posts threshold crossings and fuse trips. */
export interface WebhookOptions {
  url: string;
  /** Body shape. @default 'json' */
  format?: 'json' | 'slack' | 'discord';
}

/**
 * How webhook messages are delivered. All of them go through one queue, so a slow
 * or failing endpoint cannot take the app's sockets or keep it alive; what is given
 * up is counted in `tokenfuse_webhook_dropped_total{reason}`.
 */
export interface WebhookDeliveryOptions {
  /** Requests in flight at most, over all webhooks. @default 4 */
  concurrency?: number;
  /**
   * Messages waiting at most (a newer event of the same budget and kind replaces a
   * waiting one instead of queueing). Past it new messages are dropped. @default 100
   */
  maxQueue?: number;
  /** Retries of a message after a 5xx, 429, 408, timeout or network error, with exponential backoff. @default 3 */
  retries?: number;
  /** Time for one request, from sending to the end of the answer, in ms. @default 5000 */
  timeoutMs?: number;
}

/**
 * Where budget spend and fuse state live. `memory` (the default) keeps them in
 * this process: exact, but each replica of a fleet enforces its own copy of every
 * budget. `redis` shares them through one Redis, so a fleet enforces ONE budget:
 * each call costs one Redis round trip to admit and one to settle.
 */
export interface LedgerOptions {
  /**
   * `memory` or `redis`.
   * @default 'memory'
   */
  store?: 'memory' | 'redis';
  /**
   * Redis URL, `redis://[user:password@]host:port[/db]` or `rediss://…` (TLS).
   * Required for `store: redis`. Credentials may be given here or in `username`/`password`;
   * messages name only the host.
   * Env: `TOKENFUSE_LEDGER_URL` (wins over the file, which keeps secrets out of it).
   */
  url?: string;
  /**
   * Prefix of every Redis key tokenfuse writes. Replicas enforcing the same budgets
   * share a prefix; unrelated fleets on one Redis use different ones.
   * @default 'tokenfuse:'
   */
  keyPrefix?: string;
  /**
   * How long Redis may stay silent while a call waits for it, in milliseconds, before
   * the failure policy applies. Measured against when Redis's bytes arrive, so time the
   * app's own event loop spends blocked does not count against Redis.
   * @default 50
   */
  timeoutMs?: number;
  /**
   * When Redis does not answer within `timeoutMs` or cannot be reached:
   * `open` admits calls against a local copy of the budgets (seeded with the
   * last shared numbers seen) and adds what they spend to Redis when it answers
   * again; `closed` refuses calls matched by a `block` budget with `LedgerUnavailableError`.
   * @default 'open'
   */
  onFailure?: 'open' | 'closed';
  /**
   * How long, from startup, calls matched by a budget wait for the first connection
   * to Redis (and its scripts loaded), in milliseconds. A cold start is not a failure:
   * only when Redis has not answered by then does `onFailure` apply.
   * @default 2000
   */
  connectTimeoutMs?: number;
  /**
   * How long `shutdown()` (or `fuses.close()`) waits, in milliseconds, for calls in
   * flight to settle, for their reservations to be released and for spend recorded
   * while Redis was away to be written to it. What is still not written by then is
   * logged with its amounts and counted in `tokenfuse_ledger_errors_total{operation="reconcile"}`.
   * @default 5000
   */
  shutdownTimeoutMs?: number;
  /**
   * TLS: `true`, or options passed to Node's `tls.connect()` (`ca`, `cert`, `key`,
   * `servername`, `rejectUnauthorized`, …). A `rediss://` URL turns TLS on by itself.
   * @default false
   */
  tls?: boolean | Record<string, unknown>;
  /** Redis ACL user name (wins over the URL's). */
  username?: string;
  /** Redis password (wins over the URL's). */
  password?: string;
  /**
   * Seed nodes of a Redis Cluster or Valkey cluster (`redis://host:port` each), given
   * instead of `url`. Every key of a budget carries the hash tag `{keyPrefix + budget}`,
   * so that each script touches one slot. See docs/fleet-scale.md.
   */
  cluster?: string[];
  /**
   * Leases: each replica reserves a slice of each budget's room in Redis and admits
   * calls from it locally, with no round trip on the call path in the steady state;
   * spend is written back and unused room returned in the background. `true` turns
   * them on with the defaults. See docs/fleet-scale.md.
   * @default false
   */
  leases?: boolean | LeaseOptions;
  /**
   * With the in-memory store only: read this window's spend of every budget back
   * from Prometheus at startup (and every `intervalSeconds`), so that a restarted
   * process, or a new replica, starts from what the fleet has already spent
   * instead of from zero. Not allowed with `store: redis`, which persists spend itself.
   */
  restore?: RestoreOptions;
}

/** `ledger.leases`: slices of each budget's room, leased by each replica. */
export interface LeaseOptions {
  /** @default true (when `leases` is given as an object) */
  enabled?: boolean;
  /**
   * The smallest slice a replica leases, as a fraction of each limit. Slices are
   * `max(minSlice × limit, room left / (4 × replicas holding a lease))`.
   * @default 0.001
   */
  minSlice?: number;
  /**
   * A lease not renewed for this long (its replica died) is given back to the budget.
   * Live replicas renew theirs in the background several times per TTL.
   * @default 10000
   */
  ttlMs?: number;
}

/**
 * Where and how often spend is read back from Prometheus (`ledger.restore`). Every
 * budget's spend this window is summed from the `tokenfuse_cost_usd_total`,
 * `tokenfuse_tokens_total` and `tokenfuse_requests_total` series Prometheus has
 * scraped from the fleet, and this process's ledger is raised to it.
 */
export interface RestoreOptions {
  /**
   * Base URL of the Prometheus HTTP API (`http://prometheus:9090`; a path prefix is kept).
   * Credentials in the URL are sent as basic auth and never logged.
   * Env: `TOKENFUSE_RESTORE_PROMETHEUS` (wins over the file).
   */
  prometheus: string;
  /**
   * Read again every this many seconds, so that this process also sees what the
   * rest of the fleet spends while it runs; 0 reads once, at startup.
   * @default 0
   */
  intervalSeconds?: number;
  /**
   * Longest a restore may take, in milliseconds, all budgets together. Calls that
   * match a budget wait for the first restore at startup, at most this long. Only
   * time the process was free to read Prometheus's answer counts: a startup that
   * keeps the event loop busy (loading modules, a host short of CPU) does not use it up.
   * @default 5000
   */
  timeoutMs?: number;
}
