// Builds tokenfuse's Grafana dashboards from code.
//
//   node grafana/dashboards/build.ts           writes the three dashboard JSON files here
//   node grafana/dashboards/build.ts --check   exits 1, listing the files that differ (CI)
//
// Plain objects, no SDK. Output is deterministic: keys sorted at every level (as Grafana's own
// "Export" does), 2-space JSON, trailing newline. Importing this module writes nothing; tests use
// `allQueries()` and `renderDashboards()`.
//
// Conventions every dashboard follows (test/dashboards.test.ts checks them):
// - a `$datasource` variable; every panel and target uses `{type: prometheus, uid: ${datasource}}`;
// - `department`, `project`, `environment`, `model` variables from tokenfuse_requests_total; the
//   gen_ai_* histograms carry the model as `gen_ai_request_model`;
// - counters are summed across instances: each replica exports its own series and they add up;
// - budget gauges (limit, spent, utilization, fuse state) take `max` across instances. Today each
//   process keeps its own ledger and enforces the whole limit on its own calls, so the highest
//   replica is the one that trips first; with a shared ledger every replica reports the same
//   number. `max` is right in both cases, where `sum` would multiply a shared value by the
//   replica count;
// - `$__rate_interval` in every rate()/increase() of a time series; `$__range` only in instant
//   queries that total the panel's whole time range (stats, pie, bar gauges).
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { dashboard } from './src/layout.ts';
import {
  bargauge,
  type Item,
  monthToDate,
  OUTCOME_COLORS,
  piechart,
  row,
  stat,
  stateTimeline,
  timeseries,
  UTILIZATION_STEPS,
} from './src/panels.ts';
import { counterFilter, histogramFilter, PER_HOUR } from './src/queries.ts';
import type { Dashboard } from './src/types.ts';
import { queryVariable, tagVariables } from './src/variables.ts';

export type {
  Dashboard,
  DataSourceRef,
  GridPos,
  Json,
  JsonObject,
  Panel,
  PanelType,
  RowPanel,
  Target,
  Variable,
} from './src/types.ts';
export { DATASOURCE } from './src/types.ts';

/** The directory the dashboard JSON files live in (this file's). */
export const DASHBOARD_DIR = fileURLToPath(new URL('.', import.meta.url));

const DRILL_DOWN = [
  {
    title: 'Department drill-down: $' + '{__field.labels.department}',
    url:
      '/d/tokenfuse-department/tokenfuse-department?var-department=$' +
      '{__field.labels.department}&$' +
      '{__url_time_range}',
  },
];

function costOverview(): Dashboard {
  const c = counterFilter();
  const hf = histogramFilter();
  const spendBy = (label: string) =>
    `sum by (${label}) (rate(tokenfuse_cost_usd_total${c}[$__rate_interval])) * 3600`;
  return dashboard({
    uid: 'tokenfuse-cost-overview',
    title: 'tokenfuse / Cost overview',
    description:
      'LLM spend, tokens, requests and latency from tokenfuse, summed across every instance.',
    tags: ['llm', 'cost'],
    variables: tagVariables(),
    items: [
      row('Spend'),
      monthToDate(c, 6, 4),
      stat({
        title: 'Spend in selected range',
        description:
          "Spend over the dashboard's time range: increase of tokenfuse_cost_usd_total over " +
          '$__range, summed across instances. Unpriced models count at $0.',
        unit: 'currencyUSD',
        decimals: 2,
        w: 6,
        h: 4,
        targets: [{ expr: `sum(increase(tokenfuse_cost_usd_total${c}[$__range]))` }],
      }),
      stat({
        title: 'Spend rate ($/h)',
        description: `Current spend per hour across all instances. ${PER_HOUR}`,
        unit: 'currencyUSD',
        decimals: 2,
        w: 6,
        h: 4,
        sparkline: true,
        targets: [{ expr: `sum(rate(tokenfuse_cost_usd_total${c}[$__rate_interval])) * 3600` }],
      }),
      stat({
        title: 'Unpriced calls in range',
        description:
          'Calls with token usage whose model and provider have no known price ' +
          '(tokenfuse_unpriced_total). They count at $0, so spend is understated while this is ' +
          'above zero: add a pricing override.',
        unit: 'short',
        decimals: 0,
        noValue: '0',
        w: 6,
        h: 4,
        thresholds: [
          { color: 'green', value: null },
          { color: 'orange', value: 1 },
        ],
        targets: [{ expr: `sum(increase(tokenfuse_unpriced_total${c}[$__range]))` }],
      }),
      timeseries({
        title: 'Spend by department ($/h)',
        description: `Spend per hour by department, stacked. ${PER_HOUR} Click a series to drill down.`,
        unit: 'currencyUSD',
        w: 12,
        h: 8,
        stack: true,
        links: DRILL_DOWN,
        targets: [{ expr: spendBy('department'), legend: '{{department}}' }],
      }),
      piechart({
        title: 'Share of spend by department',
        description:
          "Each department's share of the spend in the dashboard's time range (increase over " +
          '$__range).',
        unit: 'currencyUSD',
        decimals: 2,
        w: 12,
        h: 8,
        links: DRILL_DOWN,
        targets: [
          {
            expr: `sum by (department) (increase(tokenfuse_cost_usd_total${c}[$__range]))`,
            legend: '{{department}}',
          },
        ],
      }),
      timeseries({
        title: 'Spend by project ($/h)',
        description: `Spend per hour by project, stacked. ${PER_HOUR}`,
        unit: 'currencyUSD',
        w: 12,
        h: 8,
        stack: true,
        targets: [{ expr: spendBy('project'), legend: '{{project}}' }],
      }),
      timeseries({
        title: 'Spend by model ($/h)',
        description: `Spend per hour by model and provider, stacked. ${PER_HOUR}`,
        unit: 'currencyUSD',
        w: 12,
        h: 8,
        stack: true,
        targets: [
          {
            expr: `sum by (provider, model) (rate(tokenfuse_cost_usd_total${c}[$__rate_interval])) * 3600`,
            legend: '{{model}} ({{provider}})',
          },
        ],
      }),
      row('Tokens'),
      timeseries({
        title: 'Tokens per second by type',
        description:
          'Billed tokens per second by type, stacked: input (uncached), cache_read, cache_write, ' +
          'output (reasoning included). The stack is the billed total.',
        unit: 'short',
        axis: 'tokens/s',
        w: 8,
        h: 8,
        stack: true,
        targets: [
          {
            expr: `sum by (type) (rate(tokenfuse_tokens_total${c}[$__rate_interval]))`,
            legend: '{{type}}',
          },
        ],
      }),
      timeseries({
        title: 'Input served from the prompt cache',
        description:
          'Cached-token savings, approximated: the share of input tokens read from the prompt ' +
          'cache, cache_read / (input + cache_read + cache_write + input_audio). Each of those tokens was billed ' +
          'at the cache-read price instead of the input price; the dollar saving is not exported ' +
          '(it needs both prices per model), so this ratio is the proxy.',
        unit: 'percentunit',
        min: 0,
        max: 1,
        w: 8,
        h: 8,
        targets: [
          {
            expr:
              `sum(rate(tokenfuse_tokens_total${counterFilter(false, 'type="cache_read"')}[$__rate_interval])) / ` +
              `sum(rate(tokenfuse_tokens_total${counterFilter(false, 'type=~"input|cache_read|cache_write|input_audio"')}[$__rate_interval]))`,
            legend: 'cached share of input',
          },
        ],
      }),
      timeseries({
        title: 'Tokens per call (p50 / p95)',
        description:
          'Tokens per call from the gen_ai.client.token.usage histogram, by gen_ai_token_type ' +
          '(input includes cached input here). Buckets grow ×4 (1, 4, 16, …), so quantiles are ' +
          'coarse.',
        unit: 'short',
        w: 8,
        h: 8,
        targets: [0.5, 0.95].map((q) => ({
          expr: `histogram_quantile(${q}, sum by (le, gen_ai_token_type) (rate(gen_ai_client_token_usage_bucket${hf}[$__rate_interval])))`,
          legend: `p${Math.round(q * 100)} {{gen_ai_token_type}}`,
        })),
      }),
      row('Requests'),
      timeseries({
        title: 'Requests by outcome',
        description:
          'Calls per second by outcome, stacked: ok, error (provider or network failure), ' +
          'blocked (stopped by a budget fuse or a model policy before any request was made).',
        unit: 'reqps',
        w: 12,
        h: 8,
        stack: true,
        overrides: OUTCOME_COLORS,
        targets: [
          {
            expr: `sum by (outcome) (rate(tokenfuse_requests_total${c}[$__rate_interval]))`,
            legend: '{{outcome}}',
          },
        ],
      }),
      timeseries({
        title: 'Error and blocked rate',
        description:
          'Share of calls that failed (outcome="error") and that a budget or policy blocked ' +
          '(outcome="blocked"), of all calls.',
        unit: 'percentunit',
        min: 0,
        w: 12,
        h: 8,
        overrides: OUTCOME_COLORS,
        targets: ['error', 'blocked'].map((outcome) => ({
          expr:
            `(sum(rate(tokenfuse_requests_total${counterFilter(false, `outcome="${outcome}"`)}[$__rate_interval])) or vector(0)) / ` +
            `sum(rate(tokenfuse_requests_total${c}[$__rate_interval]))`,
          legend: outcome,
        })),
      }),
      row('Latency'),
      timeseries({
        title: 'Call duration (p50 / p95 / p99)',
        description:
          'Time from create() to the parsed response or the end of the stream ' +
          '(gen_ai.client.operation.duration), failed calls included. Blocked calls make no ' +
          'request and are not in it.',
        unit: 's',
        w: 12,
        h: 8,
        targets: [0.5, 0.95, 0.99].map((q) => ({
          expr: `histogram_quantile(${q}, sum by (le) (rate(gen_ai_client_operation_duration_bucket${hf}[$__rate_interval])))`,
          legend: `p${Math.round(q * 100)}`,
        })),
      }),
      timeseries({
        title: 'Time to first chunk (p50 / p95)',
        description:
          'Streams only: time from create() to the first chunk that carries output ' +
          '(gen_ai.client.operation.time_to_first_chunk).',
        unit: 's',
        w: 12,
        h: 8,
        targets: [0.5, 0.95].map((q) => ({
          expr: `histogram_quantile(${q}, sum by (le) (rate(gen_ai_client_operation_time_to_first_chunk_bucket${hf}[$__rate_interval])))`,
          legend: `p${Math.round(q * 100)}`,
        })),
      }),
    ],
  });
}

function budgetsAndFuses(): Dashboard {
  const b = 'budget=~"$budget"';
  const maxBy = (metric: string, by: string, extra = '') =>
    `max by (${by}) (${metric}{${b}${extra ? `, ${extra}` : ''}})`;
  // Seconds from now to the end of the calendar month, in UTC (PromQL's time zone).
  const toMonthEnd = 'scalar((days_in_month() - day_of_month() + 1) * 86400 - time() % 86400)';
  const projected = `clamp_min(max by (budget) (predict_linear(tokenfuse_budget_spent{${b}, window="month", unit="usd"}[6h], ${toMonthEnd})), 0)`;
  const monthLimit = maxBy('tokenfuse_budget_limit', 'budget', 'window="month", unit="usd"');
  const remaining = (unit: string, label: string, panelUnit: string): Item =>
    bargauge({
      title: `Remaining (${label})`,
      description:
        `What budgets limited in ${label} have left in their current window: limit − spent ` +
        '(settled calls; in-flight reservations are not included), the highest spender among ' +
        'instances. Slightly negative when the last call overshot; a monitor budget can go ' +
        'far below zero, as it blocks nothing.',
      unit: panelUnit,
      min: 0,
      w: 8,
      h: 8,
      color: { fixedColor: 'blue', mode: 'fixed' },
      targets: [
        {
          expr:
            `${maxBy('tokenfuse_budget_limit', 'budget, unit', `unit="${unit}"`)} - ` +
            maxBy('tokenfuse_budget_spent', 'budget, unit', `unit="${unit}"`),
          legend: '{{budget}}',
        },
      ],
    });
  const countStat = (title: string, description: string, expr: string, warn: string): Item =>
    stat({
      title,
      description,
      unit: 'short',
      decimals: 0,
      noValue: '0',
      w: 4,
      h: 4,
      thresholds: [
        { color: 'green', value: null },
        { color: warn, value: 1 },
      ],
      targets: [{ expr }],
    });
  const blockedFilter = counterFilter(false, `outcome="blocked", ${b}`);
  // Monitor budgets trip like any other but block nothing; only they export would_block.
  const notMonitor = `unless on (budget) tokenfuse_fuse_would_block_total{${b}}`;
  return dashboard({
    uid: 'tokenfuse-budgets-fuses',
    title: 'tokenfuse / Budgets and fuses',
    description:
      'Budget utilization, what is left, month-end projection, fuse states, blocked calls and ' +
      'trips. Budget gauges take the max across instances (each process enforces its own ledger).',
    tags: ['llm', 'budgets'],
    variables: [
      queryVariable('budget', 'Budget', 'label_values(tokenfuse_budget_limit, budget)', {
        multi: true,
        description: 'Configured budgets (tokenfuse_budget_limit exists only when budgets do).',
      }),
      ...tagVariables(),
    ],
    items: [
      countStat(
        'Open fuses',
        'Blocking budgets whose fuse is open now (tokenfuse_fuse_state = 2 on any instance): ' +
          'their calls are blocked. Monitor budgets, which block nothing, are left out (they ' +
          'are the ones exporting tokenfuse_fuse_would_block_total).',
        `count((${maxBy('tokenfuse_fuse_state', 'budget')} == 2) ${notMonitor})`,
        'red',
      ),
      countStat(
        'Half-open fuses',
        'Blocking budgets whose fuse is half-open now (tokenfuse_fuse_state = 1): only probe ' +
          'calls go through. Monitor budgets are left out.',
        `count((${maxBy('tokenfuse_fuse_state', 'budget')} == 1) ${notMonitor})`,
        'orange',
      ),
      countStat(
        'Budgets at ≥ 90%',
        'Budget limits (per unit) at or above 90% utilization on some instance.',
        `count(${maxBy('tokenfuse_budget_utilization', 'budget, unit')} >= 0.9)`,
        'orange',
      ),
      countStat(
        'Fuse trips in range',
        "Times a fuse opened in the dashboard's time range (tokenfuse_fuse_trips_total).",
        `sum(increase(tokenfuse_fuse_trips_total{${b}}[$__range]))`,
        'orange',
      ),
      countStat(
        'Blocked calls in range',
        'Calls blocked before they were sent (tokenfuse_requests_total{outcome="blocked"}), ' +
          "in the dashboard's time range. Policy blocks carry the policy's name as budget.",
        `sum(increase(tokenfuse_requests_total${blockedFilter}[$__range]))`,
        'red',
      ),
      countStat(
        'Would-block in range (monitor)',
        'Calls that monitor budgets would have blocked (tokenfuse_fuse_would_block_total), in ' +
          "the dashboard's time range. Nothing was blocked: try a budget before enforcing it.",
        `sum(increase(tokenfuse_fuse_would_block_total{${b}}[$__range]))`,
        'yellow',
      ),
      row('Utilization'),
      bargauge({
        title: 'Utilization now',
        description:
          'Spent / limit in the current window, per budget and limited unit (tokens, usd, ' +
          'requests); the fuse opens at 100%. Max across instances. Thresholds 50/75/90/100% ' +
          'match the default onThreshold events.',
        unit: 'percentunit',
        min: 0,
        max: 1,
        w: 12,
        h: 9,
        thresholds: UTILIZATION_STEPS,
        targets: [
          {
            expr: maxBy('tokenfuse_budget_utilization', 'budget, window, unit'),
            legend: '{{budget}} · {{unit}} · {{window}}',
          },
        ],
      }),
      timeseries({
        title: 'Utilization over time',
        description:
          'Spent / limit per budget and unit over time; drops to 0 when a calendar window rolls ' +
          'over. Max across instances. Dashed lines at 50/75/90/100%.',
        unit: 'percentunit',
        min: 0,
        w: 12,
        h: 9,
        thresholds: UTILIZATION_STEPS,
        thresholdLines: true,
        targets: [
          {
            expr: maxBy('tokenfuse_budget_utilization', 'budget, window, unit'),
            legend: '{{budget}} · {{unit}}',
          },
        ],
      }),
      remaining('usd', 'USD', 'currencyUSD'),
      remaining('tokens', 'tokens', 'short'),
      remaining('requests', 'requests', 'short'),
      row('Month-end projection'),
      timeseries({
        title: 'Projected month-end spend (monthly USD budgets)',
        description:
          'predict_linear of tokenfuse_budget_spent{window="month", unit="usd"} over the last 6h, ' +
          'projected to the end of the calendar month (UTC), next to the limit (dashed). ' +
          'Unreliable in the first 6h of a month (the window reset is in the fit) and for budgets ' +
          'whose timeZone is not UTC by the zone offset.',
        unit: 'currencyUSD',
        min: 0,
        w: 16,
        h: 8,
        overrides: [
          {
            matcher: { id: 'byRegexp', options: '.* limit$' },
            properties: [
              { id: 'custom.lineStyle', value: { dash: [10, 10], fill: 'dash' } },
              { id: 'custom.fillOpacity', value: 0 },
            ],
          },
        ],
        targets: [
          { expr: projected, legend: '{{budget}} projected' },
          { expr: monthLimit, legend: '{{budget}} limit' },
        ],
      }),
      bargauge({
        title: 'Projected month-end utilization',
        description:
          'Projected month-end spend / limit for monthly USD budgets (see the projection panel ' +
          'for how it is computed). Above 100%: the fuse will open before the month ends.',
        unit: 'percentunit',
        min: 0,
        max: 1.5,
        w: 8,
        h: 8,
        thresholds: UTILIZATION_STEPS,
        targets: [{ expr: `${projected} / ${monthLimit}`, legend: '{{budget}}' }],
      }),
      row('Fuses'),
      stateTimeline({
        title: 'Fuse state',
        description:
          'Fuse state per budget over time: closed (calls admitted), half-open (probe calls ' +
          'only, after the cooldown), open (every matching call blocked). The worst state ' +
          'across instances. Monitor budgets show their state too but block nothing.',
        unit: 'none',
        w: 24,
        h: 8,
        thresholds: [
          { color: 'green', value: null },
          { color: 'orange', value: 1 },
          { color: 'red', value: 2 },
        ],
        mappings: [
          {
            type: 'value',
            options: {
              '0': { color: 'green', index: 0, text: 'closed' },
              '1': { color: 'orange', index: 1, text: 'half-open' },
              '2': { color: 'red', index: 2, text: 'open' },
            },
          },
        ],
        targets: [{ expr: maxBy('tokenfuse_fuse_state', 'budget'), legend: '{{budget}}' }],
      }),
      timeseries({
        title: 'Blocked calls by budget',
        description:
          'Calls blocked before they were sent, per budget (or policy), in each ' +
          '$__rate_interval window; adjacent windows overlap, so use "Blocked calls in range" ' +
          'for totals. Filtered by department, project, environment and model too.',
        unit: 'short',
        w: 8,
        h: 8,
        bars: true,
        targets: [
          {
            expr: `sum by (budget) (increase(tokenfuse_requests_total${blockedFilter}[$__rate_interval]))`,
            legend: '{{budget}}',
          },
        ],
      }),
      timeseries({
        title: 'Fuse trips',
        description:
          'Times each fuse opened (closed or half-open → open), in each $__rate_interval window, ' +
          'summed across instances.',
        unit: 'short',
        w: 8,
        h: 8,
        bars: true,
        targets: [
          {
            expr: `sum by (budget) (increase(tokenfuse_fuse_trips_total{${b}}[$__rate_interval]))`,
            legend: '{{budget}}',
          },
        ],
      }),
      timeseries({
        title: 'Monitor budgets: would have blocked',
        description:
          'Calls that budgets with action: monitor would have blocked, in each $__rate_interval ' +
          'window. Nothing was blocked.',
        unit: 'short',
        w: 8,
        h: 8,
        bars: true,
        targets: [
          {
            expr: `sum by (budget) (increase(tokenfuse_fuse_would_block_total{${b}}[$__rate_interval]))`,
            legend: '{{budget}}',
          },
        ],
      }),
      timeseries({
        title: 'Shared ledger errors',
        description:
          'Failed Redis ledger operations (admit, settle, reconcile) by reason, summed over ' +
          'replicas. Only apps with ledger.store: redis export this; with onFailure: open, ' +
          'calls go on against a local copy and are reconciled later.',
        unit: 'short',
        w: 24,
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
    ],
  });
}

function departmentDrillDown(): Dashboard {
  const c = counterFilter(true);
  const hf = histogramFilter(true);
  const spendBy = (label: string) =>
    `sum by (${label}) (rate(tokenfuse_cost_usd_total${c}[$__rate_interval])) * 3600`;
  return dashboard({
    uid: 'tokenfuse-department',
    title: 'tokenfuse / Department drill-down',
    description: "One department's LLM spend, tokens, requests, latency and budgets.",
    tags: ['llm', 'cost'],
    variables: tagVariables(true),
    items: [
      stat({
        title: 'Spend in selected range',
        description: "The department's spend over the dashboard's time range.",
        unit: 'currencyUSD',
        decimals: 2,
        w: 6,
        h: 4,
        targets: [{ expr: `sum(increase(tokenfuse_cost_usd_total${c}[$__range]))` }],
      }),
      monthToDate(c, 6, 4),
      stat({
        title: 'Requests in range',
        description: "The department's calls in the dashboard's time range, every outcome.",
        unit: 'short',
        decimals: 0,
        noValue: '0',
        w: 6,
        h: 4,
        targets: [{ expr: `sum(increase(tokenfuse_requests_total${c}[$__range]))` }],
      }),
      stat({
        title: 'Failed or blocked in range',
        description:
          'Share of the department\'s calls with outcome="error" or outcome="blocked" in the ' +
          "dashboard's time range.",
        unit: 'percentunit',
        decimals: 1,
        w: 6,
        h: 4,
        thresholds: [
          { color: 'green', value: null },
          { color: 'orange', value: 0.01 },
          { color: 'red', value: 0.05 },
        ],
        targets: [
          {
            expr:
              `(sum(increase(tokenfuse_requests_total${counterFilter(true, 'outcome=~"error|blocked"')}[$__range])) or vector(0)) / ` +
              `sum(increase(tokenfuse_requests_total${c}[$__range]))`,
          },
        ],
      }),
      row('Spend'),
      ...(['project', 'model', 'environment'] as const).map((label) =>
        timeseries({
          title: `Spend by ${label} ($/h)`,
          description: `The department's spend per hour by ${label}, stacked. ${PER_HOUR}`,
          unit: 'currencyUSD',
          w: 8,
          h: 8,
          stack: true,
          targets: [{ expr: spendBy(label), legend: `{{${label}}}` }],
        }),
      ),
      row('Usage'),
      timeseries({
        title: 'Tokens per second by type',
        description:
          "The department's billed tokens per second by type, stacked: input (uncached), " +
          'cache_read, cache_write, output.',
        unit: 'short',
        axis: 'tokens/s',
        w: 12,
        h: 8,
        stack: true,
        targets: [
          {
            expr: `sum by (type) (rate(tokenfuse_tokens_total${c}[$__rate_interval]))`,
            legend: '{{type}}',
          },
        ],
      }),
      timeseries({
        title: 'Requests by outcome',
        description:
          "The department's calls per second by outcome, stacked: ok, error, blocked (by a " +
          'budget or policy, before any request was made).',
        unit: 'reqps',
        w: 12,
        h: 8,
        stack: true,
        overrides: OUTCOME_COLORS,
        targets: [
          {
            expr: `sum by (outcome) (rate(tokenfuse_requests_total${c}[$__rate_interval]))`,
            legend: '{{outcome}}',
          },
        ],
      }),
      timeseries({
        title: 'p95 call duration by model',
        description:
          "95th percentile of the department's call duration (gen_ai.client.operation.duration) " +
          'by requested model, failed calls included.',
        unit: 's',
        w: 12,
        h: 8,
        targets: [
          {
            expr: `histogram_quantile(0.95, sum by (le, gen_ai_request_model) (rate(gen_ai_client_operation_duration_bucket${hf}[$__rate_interval])))`,
            legend: '{{gen_ai_request_model}}',
          },
        ],
      }),
      bargauge({
        title: "Department's budgets",
        description:
          'Utilization of the budgets whose match names this department exactly ' +
          '(match: { department: … }); budgets matching every call or a wildcard are on the ' +
          'Budgets and fuses dashboard. Max across instances.',
        unit: 'percentunit',
        min: 0,
        max: 1,
        w: 12,
        h: 8,
        thresholds: UTILIZATION_STEPS,
        targets: [
          {
            expr: 'max by (budget, window, unit) (tokenfuse_budget_utilization{department="$department"})',
            legend: '{{budget}} · {{unit}} · {{window}}',
          },
        ],
      }),
    ],
  });
}

// ---------------------------------------------------------------------------------------------
// Output

/** The dashboards, by file name. */
export function buildDashboards(): { file: string; dashboard: Dashboard }[] {
  return [
    { file: 'tokenfuse-cost-overview.json', dashboard: costOverview() },
    { file: 'tokenfuse-budgets-fuses.json', dashboard: budgetsAndFuses() },
    { file: 'tokenfuse-department.json', dashboard: departmentDrillDown() },
  ];
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) {
      const v = (value as Record<string, unknown>)[key];
      if (v !== undefined) out[key] = sortKeys(v);
    }
    return out;
  }
  return value;
}

/** Deterministic JSON: sorted keys, 2-space indent, trailing newline. */
export function render(dashboard: Dashboard): string {
  return `${JSON.stringify(sortKeys(dashboard), null, 2)}\n`;
}

/** Every dashboard's file name and the exact text build.ts writes for it. */
export function renderDashboards(): { file: string; text: string }[] {
  return buildDashboards().map(({ file, dashboard }) => ({ file, text: render(dashboard) }));
}

/** Every panel query: dashboard uid, panel title, refId, PromQL. */
export function allQueries(): { dashboard: string; panel: string; refId: string; expr: string }[] {
  return buildDashboards().flatMap(({ dashboard }) =>
    dashboard.panels.flatMap((p) =>
      p.type === 'row'
        ? []
        : p.targets.map((t) => ({
            dashboard: dashboard.uid,
            panel: p.title,
            refId: t.refId,
            expr: t.expr,
          })),
    ),
  );
}

/** File names in `dir` whose content differs from what build.ts generates (or are missing). */
export function staleFiles(dir = DASHBOARD_DIR): string[] {
  return renderDashboards()
    .filter(({ file, text }) => {
      try {
        return readFileSync(join(dir, file), 'utf8') !== text;
      } catch {
        return true;
      }
    })
    .map(({ file }) => file);
}

export function writeDashboards(dir = DASHBOARD_DIR): string[] {
  const written: string[] = [];
  for (const { file, text } of renderDashboards()) {
    writeFileSync(join(dir, file), text);
    written.push(file);
  }
  return written;
}

if (import.meta.main) {
  if (process.argv.includes('--check')) {
    const stale = staleFiles();
    if (stale.length > 0) {
      console.error('Grafana dashboards out of date (run `npm run dashboards`):');
      for (const file of stale) console.error(`  grafana/dashboards/${file}`);
      process.exit(1);
    }
    console.log('Grafana dashboards up to date.');
  } else {
    for (const file of writeDashboards()) console.log(`wrote grafana/dashboards/${file}`);
  }
}
