/**
 * Public configuration of tokenfuse: what a user writes in `tokenfuse.config.yaml`
 * or passes to `start()` / `new TokenfuseInstrumentation()`. Every field is optional;
 * the JSDoc of each gives its default and the environment variable that sets it.
 *
 * Environment variables win over the config file, which wins over the defaults.
 */

import type { MetricLabel, TagName } from './metrics/contract.js';

/** The tags a call is attributed to, and the labels tokenfuse metrics may carry (the metrics contract). */
export type { MetricLabel, TagName };

/** Tag values; any subset. */
export type Tags = Partial<Record<TagName, string>>;

export interface AttributionOptions {
  /**
   * Tags applied to every call unless the context or the call's headers say otherwise.
   * Env: `TOKENFUSE_DEPARTMENT`, `TOKENFUSE_PROJECT`, `TOKENFUSE_ENVIRONMENT`,
   * `TOKENFUSE_USER`, `TOKENFUSE_FEATURE`; `environment` also falls back to
   * `deployment.environment.name` in `OTEL_RESOURCE_ATTRIBUTES`.
   * @default {}
   */
  defaults?: Tags;
  /**
   * Read `X-Department`, `X-Project`, `X-Environment`, `X-User`, `X-Feature` from the
   * request options' `headers` of each SDK call.
   * @default true
   */
  headers?: boolean;
  /**
   * Remove those attribution headers from the request before it leaves the process,
   * so internal team names are not sent to the LLM provider.
   * @default true
   */
  stripHeaders?: boolean;
  /**
   * Read tags from W3C baggage entries `tokenfuse.department`, `tokenfuse.project`, …
   * (set by `withAttribution()` here or by an upstream service).
   * @default true
   */
  baggage?: boolean;
}

export interface MetricsOptions {
  /**
   * How `tokenfuse/register` exposes metrics. `prometheus` serves them over HTTP;
   * `none` starts no server (use `registerTokenfuseMetrics()` on your own prom-client
   * registry, or pass your own readers to `start({ metricReaders })`).
   * Env: `TOKENFUSE_METRICS_EXPORTER`.
   * @default 'prometheus'
   */
  exporter?: 'prometheus' | 'none';
  /**
   * Interface the Prometheus endpoint binds to: loopback by default, `0.0.0.0` for a
   * Prometheus on another host or pod (README, Security).
   * Env: `OTEL_EXPORTER_PROMETHEUS_HOST`.
   * @default '127.0.0.1'
   */
  host?: string;
  /**
   * Port of the Prometheus endpoint.
   * Env: `OTEL_EXPORTER_PROMETHEUS_PORT`.
   * @default 9464
   */
  port?: number;
  /**
   * Path of the Prometheus endpoint.
   * @default '/metrics'
   */
  endpoint?: string;
  /**
   * Allowlist of labels on tokenfuse metrics. Labels not listed are dropped from
   * metrics (they stay on spans).
   * @default ['department', 'project', 'environment', 'provider', 'model']
   */
  labels?: MetricLabel[];
  /**
   * Distinct values kept per label; values seen after the cap is reached are
   * reported as `other`, so a runaway tag cannot explode the series count.
   * @default 100
   */
  maxValuesPerLabel?: number;
  /**
   * Longest label value, in characters (at least 16). A longer value (a tag, a model
   * name, a foreign span's attribute) is cut to its first `maxLabelValueLength - 9`
   * characters plus `~` and 8 hex digits of its SHA-256, so two long values that
   * share a prefix stay apart. Counted in `tokenfuse_series_dropped_total{reason="value_too_long"}`.
   * @default 128
   */
  maxLabelValueLength?: number;
  /**
   * Most label sets tokenfuse keeps (each a combination of label values, operation and
   * provider name; each exports a few counter series and histogram buckets). Calls of
   * a new label set past it are counted in one overflow label set whose values are all
   * `other`, and in `tokenfuse_series_dropped_total{reason="max_series"}`.
   * @default 2000
   */
  maxSeries?: number;
}

/**
 * A price that wins over the catalog. Prices are USD per million tokens, named as
 * in `@pydantic/genai-prices`. A field left out falls back to `input_mtok` for
 * the cache fields and to 0 otherwise.
 */
export interface PriceOverride {
  /**
   * Model name; `*` is a wildcard (`gpt-4.1*`). Matched against the model the
   * response names and against the requested one, the response's first.
   */
  model: string;
  /** Restrict the override to one provider id (built in, or declared under `providers`). */
  provider?: string;
  /** USD per million uncached input tokens. */
  input_mtok?: number;
  /** USD per million output tokens (reasoning tokens included). */
  output_mtok?: number;
  /** USD per million cached input tokens read. @default input_mtok */
  cache_read_mtok?: number;
  /** USD per million input tokens written to the cache. @default input_mtok */
  cache_write_mtok?: number;
}

export interface PricingOptions {
  /** Price overrides, matched first to last; the first that matches wins. @default [] */
  overrides?: PriceOverride[];
  /**
   * Price factor per service tier, applied to the standard price (catalog or
   * override) of a call that ran on that tier: the tier the response reports
   * (`service_tier`), else the one the request asked for. `batch` is the factor
   * of Batch API results. `default`, `auto` and no tier are 1 unless set here; a
   * tier with no factor is priced at 1, said once in the log and counted in
   * `tokenfuse_pricing_issues_total{reason="tier_unknown"}`. Keys are merged
   * over the defaults.
   * @default { flex: 0.5, batch: 0.5 }
   */
  serviceTiers?: Record<string, number>;
  /**
   * Where catalog prices come from: `bundled` (the data of the installed
   * `@pydantic/genai-prices`), a file path (relative to the working directory), or an
   * http(s) URL of a catalog JSON in genai-prices' own format (its `data.json` v2: an
   * array of providers). A file is read at start; a URL is fetched in the background
   * (calls before it arrives use the bundled prices). A failed load keeps the prices
   * in use. @default 'bundled'
   */
  catalog?: string;
  /**
   * Which figure metrics and budgets use when a response carries the provider's own
   * cost (OpenRouter's `usage.cost`): `catalog` (the catalog's or an override's price)
   * or `provider` (the provider's figure). Both are recorded on the span and in
   * `tokenfuse_cost_provider_usd_total` / `tokenfuse_cost_provider_catalog_usd_total`.
   * @default 'catalog'
   */
  prefer?: 'catalog' | 'provider';
  /**
   * Re-read `catalog` (a file or URL) this often, e.g. `1h`; off when unset. Never
   * on the call path; new prices apply from the next call.
   */
  refresh?: string;
}

/**
 * An OpenAI-compatible endpoint the built-in host table does not know: a relay,
 * a gateway, a self-hosted model server. Calls to a client whose base URL has
 * one of these hosts are labelled `provider=<id>` and priced with overrides for
 * that provider first.
 */
export interface ProviderDeclaration {
  /** Provider id used in the `provider` label and in price overrides. Lowercase, `[a-z0-9_.-]`. */
  id: string;
  /** Hostnames (optionally `host:port`) of the client's base URL that mean this provider. */
  hosts: string[];
  /**
   * Catalog provider whose prices apply when no override matches
   * (e.g. `openai` for a relay that passes OpenAI prices through).
   * Omit to price by model name alone.
   */
  pricesFrom?: string;
}

export interface ContentOptions {
  /**
   * Record prompts and completions on spans (`gen_ai.input.messages`,
   * `gen_ai.output.messages`). Off by default: content can hold personal data.
   * Env: `OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true`.
   * @default false
   */
  capture?: boolean;
}

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
   * With the in-memory store only: read this window's spend of every budget back
   * from Prometheus at startup (and every `intervalSeconds`), so that a restarted
   * process, or a new replica, starts from what the fleet has already spent
   * instead of from zero. Not allowed with `store: redis`, which persists spend itself.
   */
  restore?: RestoreOptions;
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

/** The whole configuration. */
export interface TokenfuseOptions {
  /**
   * Master switch. When false, `register` installs nothing and SDK calls run untouched.
   * Env: `TOKENFUSE_DISABLED=true` turns it off.
   * @default true
   */
  enabled?: boolean;
  /**
   * `service.name` of the OpenTelemetry resource when `register` starts the SDK.
   * Env: `OTEL_SERVICE_NAME`.
   * @default the OpenTelemetry SDK's default, `unknown_service:node`
   */
  serviceName?: string;
  attribution?: AttributionOptions;
  metrics?: MetricsOptions;
  pricing?: PricingOptions;
  /** Extra OpenAI-compatible endpoints. @default [] */
  providers?: ProviderDeclaration[];
  content?: ContentOptions;
  /** Budgets enforced by fuses. @default [] */
  budgets?: BudgetOptions[];
  /** Model allow/deny lists. @default [] */
  policies?: ModelPolicyOptions[];
  /** Webhooks told about threshold crossings and fuse trips. @default [] */
  webhooks?: WebhookOptions[];
  /** Limits of webhook delivery: concurrency, queue length, retries, timeout. */
  webhookDelivery?: WebhookDeliveryOptions;
  /** Where budgets' spend and fuses live: this process, or Redis shared by a fleet. */
  ledger?: LedgerOptions;
}
