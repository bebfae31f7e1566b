// The cost overview: spend, tokens, requests and latency across every department.
import { dashboard } from './layout.ts';
import {
  monthToDate,
  OUTCOME_COLORS,
  piechart,
  requestsByOutcome,
  row,
  stat,
  timeseries,
} from './panels.ts';
import { counterFilter, histogramFilter, PER_HOUR } from './queries.ts';
import type { Dashboard } from './types.ts';
import { tagVariables } from './variables.ts';

const DRILL_DOWN = [
  {
    title: 'Department drill-down: $' + '{__field.labels.department}',
    url:
      '/d/tokenfuse-department/tokenfuse-department?var-department=$' +
      '{__field.labels.department}&$' +
      '{__url_time_range}',
  },
];

export function costOverview(): Dashboard {
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
      requestsByOutcome(
        c,
        'Calls per second by outcome, stacked: ok, error (provider or network failure), ' +
          'blocked (stopped by a budget fuse or a model policy before any request was made), ' +
          "observed (a client tokenfuse does not wrap, seen only in another instrumentation's " +
          'span: counted in budgets, never blocked).',
      ),
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
