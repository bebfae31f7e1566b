// tokenfuse's own health: what it dropped, clamped or could not reach.
import { PRICING_ISSUE_REASONS } from '../../../src/metrics/contract.ts';
import { type Item, stat, timeseries } from './panels.ts';

/**
 * Panels on tokenfuse's own health, at the end of the budgets dashboard's "Fuses" row: shared
 * ledger errors, internal failures, invalid usage fields, label overflow, bounded estimates, webhook drops,
 * the price catalog, pricing fallbacks and the SDK versions loaded.
 */
export function healthPanels(): Item[] {
  return [
    timeseries({
      title: 'Shared ledger errors',
      description:
        'Failed Redis ledger operations (admit, settle, reconcile) by reason, summed over ' +
        'replicas. Only apps with ledger.store: redis export this; with onFailure: open, ' +
        'calls go on against a local copy and are reconciled later.',
      unit: 'short',
      w: 12,
      h: 8,
      bars: true,
      targets: [
        {
          expr: 'sum by (operation, reason) (increase(tokenfuse_ledger_errors_total[$__rate_interval]))',
          legend: '{{operation}} {{reason}}',
        },
      ],
    }),
    timeseries({
      title: 'Internal failures',
      description:
        'Failures inside tokenfuse (tokenfuse_internal_errors_total), by component: ' +
        "instrumentation, accounting, settlement, span_processor, listener. The user's call went " +
        'on each time; above zero in accounting or settlement, some calls are missing from the ' +
        'metrics or the budgets. Each kind is logged once through the OpenTelemetry diag logger.',
      unit: 'short',
      w: 12,
      h: 8,
      bars: true,
      targets: [
        {
          expr: 'sum by (component) (increase(tokenfuse_internal_errors_total[$__rate_interval]))',
          legend: '{{component}}',
        },
      ],
    }),
    timeseries({
      title: 'Invalid usage fields',
      description:
        'Usage fields providers reported that were not token counts (tokenfuse_usage_invalid_total), ' +
        'by provider and field. Each counted as 0, so spend and budgets are understated while ' +
        'this is above zero.',
      unit: 'short',
      w: 12,
      h: 8,
      bars: true,
      targets: [
        {
          expr: 'sum by (provider, field) (increase(tokenfuse_usage_invalid_total[$__rate_interval]))',
          legend: '{{provider}} {{field}}',
        },
      ],
    }),
    timeseries({
      title: 'Calls not under their own labels',
      description:
        'Calls recorded under another label set than their own (tokenfuse_series_dropped_total), ' +
        'by reason: a value cut to metrics.maxLabelValueLength, a value reported as other past ' +
        'metrics.maxValuesPerLabel, or the overflow set past metrics.maxSeries. Counts stay exact.',
      unit: 'short',
      w: 12,
      h: 8,
      bars: true,
      targets: [
        {
          expr: 'sum by (reason) (increase(tokenfuse_series_dropped_total[$__rate_interval]))',
          legend: '{{reason}}',
        },
      ],
    }),
    timeseries({
      title: 'Bounded token estimates',
      description:
        'Token estimates made from a bound instead of the call body ' +
        '(tokenfuse_estimate_bounded_total), by reason: max_tokens_invalid (an output limit ' +
        "that is no token limit; the call reserved the model's context window or its budgets' " +
        'room) or text_past_tokenize_bound (a text too long to tokenize on the call path, ' +
        'counted 3 tokens a character). Reservations and estimated usage are then high, never low.',
      unit: 'short',
      w: 12,
      h: 8,
      bars: true,
      targets: [
        {
          expr: 'sum by (reason) (increase(tokenfuse_estimate_bounded_total[$__rate_interval]))',
          legend: '{{reason}}',
        },
      ],
    }),
    timeseries({
      title: 'Webhook messages dropped',
      description:
        'Webhook messages given up (tokenfuse_webhook_dropped_total), by reason: queue_full, ' +
        'coalesced (replaced by a newer event of the same budget), timeout, failed (after ' +
        'retries), rejected (a non-2xx answer that is not retried: check the URL).',
      unit: 'short',
      w: 12,
      h: 8,
      bars: true,
      targets: [
        {
          expr: 'sum by (reason) (increase(tokenfuse_webhook_dropped_total[$__rate_interval]))',
          legend: '{{reason}}',
        },
      ],
    }),
    stat({
      title: 'Price catalog age',
      description:
        'Seconds since the oldest instance last loaded the price data in use ' +
        '(tokenfuse_price_catalog_age_seconds): since start for the bundled catalog, since the ' +
        'last successful read for pricing.catalog. It grows while refreshes fail.',
      unit: 's',
      decimals: 0,
      w: 6,
      h: 8,
      targets: [{ expr: 'max(tokenfuse_price_catalog_age_seconds)' }],
    }),
    stat({
      title: 'Price catalog load failures in range',
      description:
        'Failed loads and refreshes of pricing.catalog (tokenfuse_price_catalog_errors_total); ' +
        'the prices in use were kept each time.',
      unit: 'short',
      decimals: 0,
      noValue: '0',
      w: 6,
      h: 8,
      thresholds: [
        { color: 'green', value: null },
        { color: 'orange', value: 1 },
      ],
      targets: [{ expr: 'sum(increase(tokenfuse_price_catalog_errors_total[$__range]))' }],
    }),
    timeseries({
      title: 'Provider-reported minus catalog cost',
      description:
        'Over calls whose response carried the provider’s own cost (OpenRouter’s usage.cost): ' +
        'tokenfuse_cost_provider_usd_total minus tokenfuse_cost_provider_catalog_usd_total, ' +
        'by provider. Above zero: the catalog prices these calls lower than the provider bills.',
      unit: 'currencyUSD',
      decimals: 4,
      w: 12,
      h: 8,
      bars: true,
      targets: [
        {
          expr:
            'sum by (provider) (increase(tokenfuse_cost_provider_usd_total[$__rate_interval])) - ' +
            'sum by (provider) (increase(tokenfuse_cost_provider_catalog_usd_total[$__rate_interval]))',
          legend: '{{provider}}',
        },
      ],
    }),
    timeseries({
      title: 'Pricing and attribution fallbacks',
      description:
        'Calls or batch results priced or attributed on a fallback (tokenfuse_pricing_issues_total), ' +
        `by reason (${PRICING_ISSUE_REASONS.join(', ')}); tier_unknown is a service tier with no ` +
        'configured factor, priced at the standard rate. docs/metrics.md says what each reason means.',
      unit: 'short',
      w: 12,
      h: 8,
      bars: true,
      targets: [
        {
          expr: 'sum by (reason) (increase(tokenfuse_pricing_issues_total[$__rate_interval]))',
          legend: '{{reason}}',
        },
      ],
    }),
    stat({
      title: 'LLM SDKs loaded',
      description:
        'Instances running each SDK module at each version (tokenfuse_instrumentation_info). ' +
        'Red: supported="false", a version tokenfuse does not instrument: its calls make no ' +
        'spans, metrics or fuses (the log names the supported range).',
      unit: 'short',
      decimals: 0,
      w: 12,
      h: 8,
      noValue: 'no SDK loaded',
      targets: [
        {
          expr: 'count by (sdk, version, supported) (tokenfuse_instrumentation_info)',
          legend: '{{sdk}} {{version}} supported={{supported}}',
        },
      ],
      overrides: [
        {
          matcher: { id: 'byRegexp', options: '.*supported=false' },
          properties: [{ id: 'color', value: { fixedColor: 'red', mode: 'fixed' } }],
        },
      ],
    }),
    timeseries({
      title: 'Manual fuse actions',
      description:
        'Fuses isolated, reset or raised by hand (tokenfuse fuses, the API or the admin endpoint), by ' +
        'action (tokenfuse_manual_actions_total). With the Redis ledger every replica counts every ' +
        'fleet-wide action, so the panel takes the highest replica, not the sum.',
      unit: 'short',
      w: 12,
      h: 8,
      bars: true,
      targets: [
        {
          expr: 'max by (action) (increase(tokenfuse_manual_actions_total[$__rate_interval]))',
          legend: '{{action}}',
        },
      ],
    }),
    stat({
      title: 'SDK methods re-wrapped by another instrumentation',
      description:
        'Methods tokenfuse wrapped whose wrapper another instrumentation loaded later replaced ' +
        '(tokenfuse_instrumentation_replaced == 1), by SDK. Their calls are counted from that ' +
        'instrumentation’s spans as observed spend and cannot be blocked by budgets.',
      unit: 'short',
      decimals: 0,
      w: 12,
      h: 8,
      thresholds: [
        { color: 'green', value: null },
        { color: 'red', value: 1 },
      ],
      targets: [
        {
          expr: 'sum by (sdk) (tokenfuse_instrumentation_replaced)',
          legend: '{{sdk}}',
        },
      ],
    }),
    stat({
      title: 'Series folded by the cardinality limit',
      description:
        'Per instance and instrument, scrapes that found the OpenTelemetry overflow series ' +
        '(tokenfuse_series_overflow_total): the meter provider folded some label sets of that ' +
        'instrument into one otel_metric_overflow series, whose sums are wrong until restart. ' +
        'Above 0: see the LLMMetricsOverflow runbook.',
      unit: 'short',
      decimals: 0,
      w: 24,
      h: 6,
      noValue: '0',
      thresholds: [
        { color: 'green', value: null },
        { color: 'red', value: 1 },
      ],
      targets: [
        {
          expr: 'max by (instance, instrument) (tokenfuse_series_overflow_total)',
          legend: '{{instance}} {{instrument}}',
        },
      ],
    }),
  ];
}
