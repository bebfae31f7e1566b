// The department drill-down: one department's spend, usage, latency and budgets.
import { dashboard } from './layout.ts';
import {
  bargauge,
  monthToDate,
  requestsByOutcome,
  row,
  stat,
  timeseries,
  UTILIZATION_STEPS,
} from './panels.ts';
import { counterFilter, histogramFilter, PER_HOUR } from './queries.ts';
import type { Dashboard } from './types.ts';
import { tagVariables } from './variables.ts';

export function departmentDrillDown(): Dashboard {
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
      requestsByOutcome(
        c,
        "The department's calls per second by outcome, stacked: ok, error, blocked (by a " +
          'budget or policy, before any request was made), observed (seen only in another ' +
          "instrumentation's span: counted in budgets, never blocked).",
      ),
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
