/**
 * The series table of docs/metrics.md, generated from the metrics contract
 * (src/metrics/contract.ts): every metric's Prometheus and OpenTelemetry name, type
 * and help, in the contract's order. Labels and units are not in the contract; they
 * come from METRIC_WORDS below. A metric added to the contract gets its row at the
 * next `npm run docs`, with its labels marked as not yet described.
 */
import {
  METRIC_HELP,
  METRIC_TYPE,
  type OtelMetricName,
  PRICING_ISSUES_METRIC,
  PROMETHEUS_NAME,
} from '../../src/metrics/contract.js';
import {
  SEMCONV_LATEST_CONTRACT_METRICS,
  SEMCONV_LATEST_METRIC,
} from '../../src/metrics/contract-semconv-latest.js';
import { markdownTable } from './generated-blocks.js';

interface MetricWords {
  labels: string;
  unit?: string;
}

/** Labels and unit of each metric, by Prometheus name. */
export const METRIC_WORDS: Readonly<Record<string, MetricWords>> = {
  gen_ai_client_token_usage: {
    labels: 'semconv attributes, `gen_ai_token_type`',
    unit: 'tokens',
  },
  gen_ai_client_operation_duration: {
    labels: 'semconv attributes, `error_type` (failed calls)',
    unit: 'seconds',
  },
  gen_ai_client_operation_time_to_first_chunk: { labels: 'semconv attributes', unit: 'seconds' },
  tokenfuse_tokens_total: { labels: 'allowlisted labels, `type`', unit: 'tokens' },
  tokenfuse_cost_usd_total: { labels: 'allowlisted labels', unit: 'USD' },
  tokenfuse_requests_total: {
    labels: 'allowlisted labels, `outcome`; `budget` on blocked calls',
    unit: 'calls',
  },
  tokenfuse_unpriced_total: { labels: 'allowlisted labels', unit: 'calls' },
  tokenfuse_usage_invalid_total: { labels: '`provider`, `model`, `field`', unit: 'fields' },
  tokenfuse_series_dropped_total: { labels: '`reason`', unit: 'calls' },
  tokenfuse_series_overflow_total: { labels: '`instrument`', unit: 'collections' },
  tokenfuse_manual_actions_total: { labels: '`action` (with budgets)', unit: 'actions' },
  tokenfuse_budget_top_utilization: { labels: '`budget`, `key` (top N values)', unit: 'ratio' },
  tokenfuse_budget_values: { labels: '`budget`, `state` (per-value budgets)', unit: 'values' },
  tokenfuse_budget_unkeyed_total: { labels: '`budget` (per-value budgets)', unit: 'calls' },
  tokenfuse_estimate_bounded_total: { labels: '`reason`', unit: 'estimates' },
  tokenfuse_budget_limit: { labels: '`budget`, `window`, `unit`, match labels', unit: '`unit`' },
  tokenfuse_budget_spent: { labels: '`budget`, `window`, `unit`, match labels', unit: '`unit`' },
  tokenfuse_budget_utilization: {
    labels: '`budget`, `window`, `unit`, match labels',
    unit: 'ratio',
  },
  tokenfuse_fuse_state: { labels: '`budget`, `window`, match labels', unit: 'state' },
  tokenfuse_fuse_trips_total: { labels: '`budget`, `window`, match labels', unit: 'trips' },
  tokenfuse_fuse_would_block_total: {
    labels: '`budget`, `window`, match labels (monitor only)',
    unit: 'calls',
  },
  tokenfuse_ledger_errors_total: {
    labels: '`operation`, `reason` (shared ledger, restore)',
    unit: 'failures',
  },
  tokenfuse_webhook_dropped_total: { labels: '`reason` (with webhooks only)', unit: 'messages' },
  tokenfuse_price_catalog_age_seconds: { labels: 'none', unit: 'seconds' },
  tokenfuse_price_catalog_errors_total: { labels: 'none', unit: 'loads' },
  tokenfuse_cost_provider_usd_total: { labels: '`provider`', unit: 'USD' },
  tokenfuse_cost_provider_catalog_usd_total: { labels: '`provider`', unit: 'USD' },
  tokenfuse_pricing_issues_total: {
    labels: PRICING_ISSUES_METRIC.labels.map((l) => `\`${l}\``).join(', '),
    unit: 'figures',
  },
  tokenfuse_instrumentation_info: { labels: '`sdk`, `version`, `supported`', unit: '1' },
  tokenfuse_instrumentation_replaced: { labels: '`sdk`, `method`', unit: '1' },
};

/** Every instrument of the contract, in its order (the groups the contract declares). */
export function contractInstruments(): OtelMetricName[] {
  return Object.keys(METRIC_TYPE) as OtelMetricName[];
}

/** The series table: one row per metric of the contract. */
export function metricsReference(): string {
  const rows = contractInstruments().map((otel) => {
    const name = PROMETHEUS_NAME[otel];
    const words = METRIC_WORDS[name];
    return [
      `\`${name}\``,
      `\`${otel}\``,
      METRIC_TYPE[otel],
      words?.unit ?? '',
      words?.labels ?? '(not described yet: add it to scripts/docs/metrics-reference.ts)',
      METRIC_HELP[otel],
    ];
  });
  return markdownTable(
    ['Series', 'OpenTelemetry name', 'Type', 'Unit', 'Labels', 'Description (`# HELP`)'],
    rows,
  );
}

/** Labels, unit and upstream change of each opt-in metric, by Prometheus name. */
const OPT_IN_WORDS: Readonly<Record<string, MetricWords & { pr: number }>> = {
  gen_ai_client_inference_usage_input_tokens_total: {
    labels: 'semconv attributes, `gen_ai_token_modality`',
    unit: 'tokens',
    pr: 374,
  },
  gen_ai_client_inference_usage_output_tokens_total: {
    labels: 'semconv attributes, `gen_ai_token_modality`',
    unit: 'tokens',
    pr: 374,
  },
  gen_ai_client_inference_usage_cache_read_input_tokens_total: {
    labels: 'semconv attributes, `gen_ai_token_modality`',
    unit: 'tokens',
    pr: 374,
  },
  gen_ai_client_inference_usage_cache_write_input_tokens_total: {
    labels: 'semconv attributes, `gen_ai_token_modality`',
    unit: 'tokens',
    pr: 374,
  },
  gen_ai_client_inference_usage_reasoning_output_tokens_total: {
    labels: 'semconv attributes, `gen_ai_token_modality`',
    unit: 'tokens',
    pr: 374,
  },
  gen_ai_client_inference_operation_input_tokens: {
    labels: 'semconv attributes, `error_type` (failed calls)',
    unit: 'tokens',
    pr: 374,
  },
  gen_ai_client_inference_operation_output_tokens: {
    labels: 'semconv attributes, `error_type` (failed calls)',
    unit: 'tokens',
    pr: 374,
  },
  gen_ai_client_inference_duration: {
    labels: 'semconv attributes, `error_type` (failed calls)',
    unit: 'seconds',
    pr: 521,
  },
  gen_ai_client_inference_time_to_first_chunk: {
    labels: 'semconv attributes',
    unit: 'seconds',
    pr: 521,
  },
};

/**
 * The opt-in table: the metrics `OTEL_SEMCONV_STABILITY_OPT_IN=gen_ai_latest_experimental`
 * adds, with the semantic-conventions-genai pull request that defined each.
 */
export function metricsOptInReference(): string {
  const otelNames = Object.values(SEMCONV_LATEST_METRIC);
  const rows = SEMCONV_LATEST_CONTRACT_METRICS.map(({ name, type, help }, i) => {
    const words = OPT_IN_WORDS[name];
    return [
      `\`${name}\``,
      `\`${otelNames[i]}\``,
      type,
      words?.unit ?? '',
      words?.labels ?? '(not described yet: add it to scripts/docs/metrics-reference.ts)',
      help,
      words === undefined
        ? ''
        : `[#${words.pr}](https://github.com/open-telemetry/semantic-conventions-genai/pull/${words.pr})`,
    ];
  });
  return markdownTable(
    [
      'Series',
      'OpenTelemetry name',
      'Type',
      'Unit',
      'Labels',
      'Description (`# HELP`)',
      'Defined in',
    ],
    rows,
  );
}
