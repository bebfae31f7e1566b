/**
 * Public configuration of tokenfuse: what a user writes in `tokenfuse.config.yaml`
 * or passes to `start()` / `new TokenfuseInstrumentation()`. Every field is optional;
 * the JSDoc of each gives its default and the environment variable that sets it.
 *
 * Environment variables win over the config file, which wins over the defaults.
 */

import type {
  ApiKeyOptions,
  BudgetOptions,
  LedgerOptions,
  ModelPolicyOptions,
  WebhookDeliveryOptions,
  WebhookOptions,
} from './budget-options.js';
import type { MetricLabel, TagName } from './metrics/contract.js';

/** Options of budgets, policies, webhooks and the ledger, in their own module. */
export type {
  ApiKeyOptions,
  ApiKeyOwner,
  BudgetLimits,
  BudgetMatch,
  BudgetOptions,
  BudgetWindow,
  LedgerOptions,
  ModelPolicyOptions,
  PerValueTag,
  RestoreOptions,
  WebhookDeliveryOptions,
  WebhookOptions,
} from './budget-options.js';

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
   * `OTEL_METRICS_EXPORTER`, when set, decides instead (docs/opentelemetry.md).
   * Env: `TOKENFUSE_METRICS_EXPORTER`.
   * @default 'prometheus'
   */
  exporter?: 'prometheus' | 'none';
  /**
   * Interface the Prometheus endpoint binds to: loopback by default, `0.0.0.0` for a
   * Prometheus on another host or pod (docs/security.md).
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
  /**
   * Most attribute sets (series) the OpenTelemetry SDK keeps per tokenfuse per-call
   * instrument before folding the rest into one `otel_metric_overflow="true"` series,
   * on the meter provider `tokenfuse/register` (or `start()`) builds. By default it is
   * sized from `maxSeries` so that no label set tokenfuse keeps is ever folded; set it
   * lower only to bound memory harder. Folding is counted in
   * `tokenfuse_series_overflow_total{instrument}`. With your own NodeSDK, pass
   * `views: tokenfuseMetricViews(config)` to it instead (see docs/cardinality-and-scrape.md).
   * @default sized from maxSeries (e.g. 12007 for tokenfuse_tokens_total at maxSeries 2000)
   */
  cardinalityLimit?: number;
  /**
   * Per-value budgets (`per:`) export no series per value: only the N values of each
   * with the highest utilisation (`tokenfuse_budget_top_utilization{budget,key}`)
   * and counts by state (`tokenfuse_budget_values`). This is N.
   * @default 10
   */
  perValueTop?: number;
  /**
   * Leave the `otel_scope_name` and `otel_scope_version` labels off every line of the
   * Prometheus endpoint, as the OpenTelemetry Prometheus exporter's option of the same
   * name does. tokenfuse's recording rules and dashboards aggregate them away, so nothing
   * of its own depends on them; at 10,000 label sets they are about a fifth of a scrape's
   * bytes. Off by default: the text stays the exporter's default text.
   * @default false
   */
  withoutScopeInfo?: boolean;
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
  /** API-key ids (`tokenfuse.api_key.id`) and the owners of shared keys. */
  apiKeys?: ApiKeyOptions;
  /** The admin endpoint (`tokenfuse fuses --admin`): off unless `port` is set. */
  admin?: AdminOptions;
}

/**
 * The admin endpoint: this process's fuses over HTTP for `tokenfuse fuses --admin`
 * (list, show, reset, isolate, raise), for the in-memory ledger. Off by default;
 * loopback only; every request must carry the token.
 */
export interface AdminOptions {
  /** Port to serve it on; unset: no endpoint. Env: `TOKENFUSE_ADMIN_PORT`. */
  port?: number;
  /** Loopback address to bind (`127.0.0.1`, `::1` or `localhost`); any other is a config error. @default '127.0.0.1' */
  host?: string;
  /** Bearer token every request must carry, at least 16 characters; required with `port`. Env: `TOKENFUSE_ADMIN_TOKEN`. */
  token?: string;
}
