/**
 * The metrics contract: the one list of tag names, metric label names, label values
 * with a fixed set (token types, outcomes) and every metric's OpenTelemetry name,
 * Prometheus name, type and help. Code, the Prometheus restore, the alert rules and
 * the dashboards read their names from here, so a rename is one edit (docs/metrics.md,
 * generated from this file by `npm run docs`, documents the same contract for users).
 *
 * Bottom layer: this file imports nothing, so any layer may read it.
 */

/** The tags a call is attributed to, in a fixed order. */
export const TAG_NAMES = [
  'department',
  'project',
  'environment',
  'user',
  'feature',
  'customer',
] as const;
/** A tag a call is attributed to. */
export type TagName = (typeof TAG_NAMES)[number];

/** Labels that may appear on tokenfuse metrics, in the order config messages list them. */
export const METRIC_LABELS = [
  'department',
  'project',
  'environment',
  'provider',
  'model',
  'user',
  'feature',
  'customer',
] as const;
/** A label that may appear on tokenfuse metrics. */
export type MetricLabel = (typeof METRIC_LABELS)[number];

/** The labels on by default (`metrics.labels`); `user`, `feature` and `customer` are off for cardinality. */
export const DEFAULT_METRIC_LABELS = Object.freeze([
  'department',
  'project',
  'environment',
  'provider',
  'model',
] as const satisfies readonly MetricLabel[]);

/**
 * The GenAI semantic-convention attributes on the `gen_ai.client.*` histograms besides the
 * allowlisted tags (the `semconv` group of their labels): what operation, which provider
 * (its `gen_ai.provider.name` well-known value) and the requested model.
 */
export const SEMCONV_METRIC_ATTRIBUTES = [
  'gen_ai.operation.name',
  'gen_ai.provider.name',
  'gen_ai.request.model',
] as const;

/**
 * The labels a budget's `match` may name, which its series carry and the Prometheus
 * restore selects by.
 */
export const BUDGET_LABELS = [
  'department',
  'project',
  'environment',
  'provider',
  'model',
] as const satisfies readonly MetricLabel[];

/**
 * Token types of `tokenfuse_tokens_total{type}`: one per kind the catalog prices
 * apart, each token in exactly one, so a sum over `type` counts every token once.
 * `input` is uncached text input and `output` text output (reasoning included),
 * as before audio had types of its own.
 */
export const TOKEN_TYPES = [
  'input',
  'cache_read',
  'cache_write',
  'output',
  'input_audio',
  'output_audio',
] as const;
/** A value of the `type` label of `tokenfuse_tokens_total`. */
export type TokenType = (typeof TOKEN_TYPES)[number];

/**
 * How a call ended: the `outcome` label of `tokenfuse_requests_total`. `ok`, `error`
 * and `blocked` are calls tokenfuse admitted (or refused); `observed` is a call that
 * completed and was seen only in another instrumentation's GenAI span, which
 * tokenfuse could count but never block (its failures are `error`).
 */
export const OUTCOMES = ['ok', 'error', 'blocked', 'observed'] as const;
/** How a call ended. */
export type Outcome = (typeof OUTCOMES)[number];

/** Instrument names of the per-call metrics. */
export const METRIC = {
  tokenUsage: 'gen_ai.client.token.usage',
  operationDuration: 'gen_ai.client.operation.duration',
  timeToFirstChunk: 'gen_ai.client.operation.time_to_first_chunk',
  tokens: 'tokenfuse.tokens',
  cost: 'tokenfuse.cost.usd',
  requests: 'tokenfuse.requests',
  unpriced: 'tokenfuse.unpriced',
  usageInvalid: 'tokenfuse.usage.invalid',
  seriesDropped: 'tokenfuse.series.dropped',
  estimateBounded: 'tokenfuse.estimate.bounded',
} as const;

/** Instrument names of budgets and fuses. */
export const FUSE_METRIC = {
  limit: 'tokenfuse.budget.limit',
  spent: 'tokenfuse.budget.spent',
  utilization: 'tokenfuse.budget.utilization',
  state: 'tokenfuse.fuse.state',
  trips: 'tokenfuse.fuse.trips',
  wouldBlock: 'tokenfuse.fuse.would_block',
  ledgerErrors: 'tokenfuse.ledger.errors',
  webhookDropped: 'tokenfuse.webhook.dropped',
  topUtilization: 'tokenfuse.budget.top_utilization',
  values: 'tokenfuse.budget.values',
  unkeyed: 'tokenfuse.budget.unkeyed',
  manualActions: 'tokenfuse.manual.actions',
} as const;

/**
 * States counted by `tokenfuse_budget_values{budget,state}` for a per-value budget
 * (`per:`): `tracked` values held this window, `near` at 90% of their limit or more,
 * `over` at or over it, `open` with their fuse open or half-open.
 */
export const PER_VALUE_STATES = ['tracked', 'near', 'over', 'open'] as const;
/** A value of the `state` label of `tokenfuse_budget_values`. */
export type PerValueState = (typeof PER_VALUE_STATES)[number];
/** Utilisation from which a value counts as `near` its limit. */
export const PER_VALUE_NEAR = 0.9;
/** Label of `tokenfuse_budget_top_utilization` naming the value (a user, customer, API key id, …). */
export const PER_VALUE_KEY_LABEL = 'key';

/** Instrument names of the price data's health. */
export const PRICING_METRIC = {
  // The OTel Prometheus exporter adds no unit suffix, so the unit is in the name.
  catalogAge: 'tokenfuse.price.catalog.age_seconds',
  catalogErrors: 'tokenfuse.price.catalog.errors',
  providerCost: 'tokenfuse.cost.provider.usd',
  providerCatalogCost: 'tokenfuse.cost.provider.catalog_usd',
} as const;

/**
 * Why a figure was priced or attributed on a fallback: the `reason` label of
 * `tokenfuse_pricing_issues_total`.
 * - `tier_unknown`: a call ran on a service tier with no configured factor (priced at the standard rate);
 * - `batch_metadata_full`: a batch's metadata had no room for tokenfuse's attribution keys;
 * - `batch_not_found`: batch results were read but their batch (and so its attribution) was not found;
 * - `batch_output_unreadable`: batch results could not be read (not JSONL, or the body failed);
 * - `batch_once_unavailable`: the shared ledger could not say whether another process already counted a result file;
 * - `span_without_usage`: another instrumentation's GenAI span ended with neither token usage nor an error status: nothing to price, not counted;
 * - `provider_by_class_name`: an Anthropic Bedrock or Vertex client no longer names its platform (`_instrumentationScope`), so the call's provider was told by the client's class name.
 */
export const PRICING_ISSUE_REASONS = [
  'tier_unknown',
  'batch_metadata_full',
  'batch_not_found',
  'batch_output_unreadable',
  'batch_once_unavailable',
  'span_without_usage',
  'provider_by_class_name',
] as const;
/** A value of the `reason` label of `tokenfuse_pricing_issues_total`. */
export type PricingIssue = (typeof PRICING_ISSUE_REASONS)[number];

/** `tokenfuse_pricing_issues_total{reason}`: its names, type, help and label. */
export const PRICING_ISSUES_METRIC = {
  otel: 'tokenfuse.pricing.issues',
  name: 'tokenfuse_pricing_issues_total',
  type: 'counter',
  help: 'Calls or batch results priced or attributed on a fallback (see the reason label)',
  labels: ['reason'],
} as const;

/**
 * Where tokenfuse failed inside itself, a bug or an object it could not read: the `component`
 * label of `tokenfuse_internal_errors_total`. The user's call goes on in every case.
 * - `instrumentation`: reading a call's request, response, stream or span, or wrapping its SDK;
 * - `accounting`: pricing or counting a call (its figures are missing from the metrics);
 * - `settlement`: settling a call's spend against its budgets (they did not see it);
 * - `span_processor`: reading another instrumentation's GenAI span;
 * - `listener`: tokenfuse's own price-catalog or webhook listener (a user's fuse-event listener
 *   that throws is the user's, logged by events.ts and not counted here).
 */
export const INTERNAL_ERROR_COMPONENTS = [
  'instrumentation',
  'accounting',
  'settlement',
  'span_processor',
  'listener',
] as const;
/** A value of the `component` label of `tokenfuse_internal_errors_total`. */
export type InternalErrorComponent = (typeof INTERNAL_ERROR_COMPONENTS)[number];

/** `tokenfuse_internal_errors_total{component}`: its names, type, help and label. */
export const INTERNAL_ERRORS_METRIC = {
  otel: 'tokenfuse.internal.errors',
  name: 'tokenfuse_internal_errors_total',
  type: 'counter',
  help: "Failures inside tokenfuse, by component (the user's call went on; each kind is logged once)",
  labels: ['component'],
} as const;

/**
 * Instrument names of what tokenfuse instruments: `tokenfuse_instrumentation_info{sdk,
 * version,supported}` is 1 for every SDK module the process loaded, `supported`
 * "false" for a version whose calls are not instrumented.
 */
export const INSTRUMENTATION_METRIC = {
  info: 'tokenfuse.instrumentation.info',
  /**
   * `tokenfuse_instrumentation_replaced{sdk,method}`: 1 for a method tokenfuse patched
   * and found replaced by another instrumentation's wrapper (its calls are no longer
   * admitted, only counted from that instrumentation's spans).
   */
  replaced: 'tokenfuse.instrumentation.replaced',
} as const;

/** Labels of `tokenfuse_instrumentation_replaced`. */
export const INSTRUMENTATION_REPLACED_LABELS = ['sdk', 'method'] as const;

/** Labels of `tokenfuse_instrumentation_info`. */
export const INSTRUMENTATION_INFO_LABELS = ['sdk', 'version', 'supported'] as const;

/**
 * `tokenfuse_series_overflow_total{instrument}`: collections of tokenfuse's endpoint that
 * found an instrument's `otel_metric_overflow="true"` series (the meter provider's
 * cardinality limit folded some of its attribute sets together).
 */
export const SERIES_OVERFLOW_METRIC = {
  otel: 'tokenfuse.series.overflow',
  name: 'tokenfuse_series_overflow_total',
  labels: ['instrument'],
} as const;

/** An OpenTelemetry instrument name of the contract. */
export type OtelMetricName =
  | (typeof METRIC)[keyof typeof METRIC]
  | (typeof FUSE_METRIC)[keyof typeof FUSE_METRIC]
  | (typeof PRICING_METRIC)[keyof typeof PRICING_METRIC]
  | (typeof INSTRUMENTATION_METRIC)[keyof typeof INSTRUMENTATION_METRIC]
  | typeof PRICING_ISSUES_METRIC.otel
  | typeof INTERNAL_ERRORS_METRIC.otel
  | typeof SERIES_OVERFLOW_METRIC.otel;

/** Prometheus type of a contract metric. */
export type MetricType = 'counter' | 'gauge' | 'histogram';

/** One metric of the contract, as Prometheus and prom-client see it. */
export interface ContractMetric {
  /** Prometheus name, as the OpenTelemetry Prometheus exporter writes it. */
  name: string;
  /** `# HELP` text (the instrument's description). */
  help: string;
  type: MetricType;
}

/**
 * Every instrument: its type and its description (Prometheus `# HELP`). The order
 * is the order of {@link CONTRACT_METRICS}.
 */
const INSTRUMENTS: ReadonlyArray<readonly [OtelMetricName, MetricType, string]> = [
  [METRIC.tokenUsage, 'histogram', 'Number of input and output tokens used per GenAI operation'],
  [METRIC.operationDuration, 'histogram', 'Duration of GenAI client operations'],
  [
    METRIC.timeToFirstChunk,
    'histogram',
    'Time from the start of a streaming GenAI operation to its first chunk',
  ],
  [
    METRIC.tokens,
    'counter',
    'Tokens used by LLM calls, by type: input (uncached), cache_read, cache_write, output (reasoning included)',
  ],
  [METRIC.cost, 'counter', 'Cost of LLM calls in US dollars'],
  [
    METRIC.requests,
    'counter',
    "LLM calls by outcome: ok, error, blocked, observed (seen only in another instrumentation's span: counted, never blocked)",
  ],
  [
    METRIC.unpriced,
    'counter',
    'LLM calls whose model and provider have no known price (counted at $0)',
  ],
  [
    METRIC.usageInvalid,
    'counter',
    'Usage fields a provider reported that were not token counts (not a whole number from 0 to 1e9); each counted as 0',
  ],
  [
    METRIC.seriesDropped,
    'counter',
    'LLM calls not recorded under their own label set, by reason: value_too_long (a value cut to metrics.maxLabelValueLength), max_values_per_label (a value reported as other), max_series (the overflow label set)',
  ],
  [
    METRIC.estimateBounded,
    'counter',
    'Token estimates made from a bound instead of the call body, by reason: max_tokens_invalid (an output limit that is no token limit; the call reserved the model context window or its budgets room), text_past_tokenize_bound (a text too long to tokenize on the call path; counted 3 tokens per character)',
  ],
  [FUSE_METRIC.limit, 'gauge', 'Limit of a budget per window, by unit (tokens, usd, requests)'],
  [FUSE_METRIC.spent, 'gauge', 'Spent in the current window of a budget, by unit'],
  [
    FUSE_METRIC.utilization,
    'gauge',
    'Spent divided by limit in the current window of a budget, by unit',
  ],
  [FUSE_METRIC.state, 'gauge', 'State of a budget fuse: 0 closed, 1 half-open, 2 open'],
  [FUSE_METRIC.trips, 'counter', 'Times a budget fuse opened'],
  [FUSE_METRIC.wouldBlock, 'counter', 'Calls a monitor-mode budget would have blocked'],
  [
    FUSE_METRIC.ledgerErrors,
    'counter',
    'Failures of the budget ledger, by operation (admit, settle, reconcile of the shared Redis ledger; restore from Prometheus) and reason (timeout, connection, script; response)',
  ],
  [
    FUSE_METRIC.webhookDropped,
    'counter',
    'Webhook messages given up, by reason (queue_full, coalesced, timeout, failed, rejected)',
  ],
  [
    FUSE_METRIC.topUtilization,
    'gauge',
    'Per-value budgets: utilisation (settled spend over limit, highest unit) of the top N values by utilisation, by budget and key (metrics.perValueTop)',
  ],
  [
    FUSE_METRIC.values,
    'gauge',
    'Per-value budgets: values held this window, by state (tracked, near = 90% or more, over = limit reached, open = fuse open or half-open)',
  ],
  [
    FUSE_METRIC.unkeyed,
    'counter',
    'Calls a per-value budget matched but did not count, having no value for its tag (per:)',
  ],
  [
    FUSE_METRIC.manualActions,
    'counter',
    'Manual actions on fuses (isolate, reset, raise) made through this process (its API or admin endpoint) or, with the Redis ledger, read from its journal, by action',
  ],
  [
    PRICING_METRIC.catalogAge,
    'gauge',
    'Seconds since the price data in use was loaded (bundled: since start; a file or URL: since its last successful read)',
  ],
  [
    PRICING_METRIC.catalogErrors,
    'counter',
    'Failed loads and refreshes of pricing.catalog (the prices in use were kept)',
  ],
  [
    PRICING_METRIC.providerCost,
    'counter',
    'Cost of LLM calls in US dollars as the provider reported it, over the calls whose response carried a cost',
  ],
  [
    PRICING_METRIC.providerCatalogCost,
    'counter',
    'Cost of the same calls in US dollars by the catalog (or an override), to compare with tokenfuse_cost_provider_usd_total',
  ],
  [PRICING_ISSUES_METRIC.otel, PRICING_ISSUES_METRIC.type, PRICING_ISSUES_METRIC.help],
  [INTERNAL_ERRORS_METRIC.otel, INTERNAL_ERRORS_METRIC.type, INTERNAL_ERRORS_METRIC.help],
  [
    INSTRUMENTATION_METRIC.info,
    'gauge',
    '1 for each SDK module the process loaded, by sdk, version and supported (false: a version tokenfuse does not instrument)',
  ],
  [
    INSTRUMENTATION_METRIC.replaced,
    'gauge',
    "Per method tokenfuse wrapped: 1 when another instrumentation's wrapper replaced tokenfuse's (its calls are counted from that instrumentation's spans and cannot be blocked), else 0",
  ],
  [
    SERIES_OVERFLOW_METRIC.otel,
    'counter',
    "Collections that found an instrument's otel_metric_overflow series: the meter provider's cardinality limit folded some of its label sets together, so its sums are wrong",
  ],
];

/** Prometheus metric name as the OpenTelemetry Prometheus exporter writes it. */
export function prometheusName(otelName: string, monotonicCounter: boolean): string {
  let name = otelName.replace(/[^a-zA-Z0-9_:]/g, '_').replace(/_+/g, '_');
  if (/^[0-9]/.test(name)) name = `_${name}`;
  if (monotonicCounter && !name.endsWith('_total')) name += '_total';
  return name;
}

/** Description (Prometheus `# HELP`) of each instrument. */
export const METRIC_HELP: Readonly<Record<OtelMetricName, string>> = Object.fromEntries(
  INSTRUMENTS.map(([otel, , help]) => [otel, help]),
) as Record<OtelMetricName, string>;

/** Prometheus type of each instrument. */
export const METRIC_TYPE: Readonly<Record<OtelMetricName, MetricType>> = Object.fromEntries(
  INSTRUMENTS.map(([otel, type]) => [otel, type]),
) as Record<OtelMetricName, MetricType>;

/** Prometheus name of each instrument (`_total` on counters). */
export const PROMETHEUS_NAME: Readonly<Record<OtelMetricName, string>> = Object.fromEntries(
  INSTRUMENTS.map(([otel, type]) => [otel, prometheusName(otel, type === 'counter')]),
) as Record<OtelMetricName, string>;

/** Every Prometheus metric of the metrics contract, with its type and help. */
export const CONTRACT_METRICS: readonly ContractMetric[] = INSTRUMENTS.map(
  ([otel, type, help]) => ({ name: PROMETHEUS_NAME[otel], help, type }),
);

/** Every Prometheus metric name of the metrics contract. */
export const METRIC_NAMES: readonly string[] = CONTRACT_METRICS.map((m) => m.name);

/** The instruments of `group` that are monotonic counters (`_total` in Prometheus). */
export function countersOf(group: Readonly<Record<string, OtelMetricName>>): ReadonlySet<string> {
  return new Set(Object.values(group).filter((n) => METRIC_TYPE[n] === 'counter'));
}
