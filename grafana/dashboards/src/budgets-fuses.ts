// Budgets and fuses: utilization, what is left, month-end projection, fuse states and trips.

import { FieldColorModeId, MappingType } from '@grafana/schema';
import { FUSE_STATE, thresholdOf, thresholdPercents } from '../../thresholds.ts';
import { healthPanels } from './health-panels.ts';
import { dashboard } from './layout.ts';
import {
  bargauge,
  type Item,
  row,
  stat,
  stateTimeline,
  timeseries,
  UTILIZATION_STEPS,
} from './panels.ts';
import { counterFilter } from './queries.ts';
import type { Dashboard } from './types.ts';
import { queryVariable, tagVariables } from './variables.ts';

/** Fuse states as the state timeline shows them. */
const FUSE_STATES = [
  { value: FUSE_STATE.closed, color: 'green', text: 'closed' },
  { value: FUSE_STATE.halfOpen, color: 'orange', text: 'half-open' },
  { value: FUSE_STATE.open, color: 'red', text: 'open' },
];

export function budgetsAndFuses(): Dashboard {
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
      color: { fixedColor: 'blue', mode: FieldColorModeId.Fixed },
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
  const nearLimit = thresholdOf('LLMBudget90Percent');
  const nearLimitPercent = Math.round(nearLimit * 100);
  return dashboard({
    uid: 'tokenfuse-budgets-fuses',
    title: 'tokenfuse / Budgets and fuses',
    description:
      'Budget utilization, what is left, month-end projection, fuse states, blocked calls and ' +
      'trips. Budget gauges take the max across instances (each process enforces its own ledger).',
    tags: ['llm', 'budgets'],
    variables: [
      queryVariable(
        'budget',
        'Budget',
        'label_values({__name__=~"tokenfuse_budget_limit|tokenfuse_budget_values"}, budget)',
        {
          multi: true,
          description:
            'Configured budgets (tokenfuse_budget_limit exists only when budgets do; per-value ' +
            'budgets export tokenfuse_budget_values instead).',
        },
      ),
      ...tagVariables(),
    ],
    items: [
      countStat(
        'Open fuses',
        'Blocking budgets whose fuse is open now (tokenfuse_fuse_state = 2 on any instance): ' +
          'their calls are blocked. Monitor budgets, which block nothing, are left out (they ' +
          'are the ones exporting tokenfuse_fuse_would_block_total).',
        `count((${maxBy('tokenfuse_fuse_state', 'budget')} == ${FUSE_STATE.open}) ${notMonitor})`,
        'red',
      ),
      countStat(
        'Half-open fuses',
        'Blocking budgets whose fuse is half-open now (tokenfuse_fuse_state = 1): only probe ' +
          'calls go through. Monitor budgets are left out.',
        `count((${maxBy('tokenfuse_fuse_state', 'budget')} == ${FUSE_STATE.halfOpen}) ${notMonitor})`,
        'orange',
      ),
      countStat(
        `Budgets at ≥ ${nearLimitPercent}%`,
        `Budget limits (per unit) at or above ${nearLimitPercent}% utilization on some instance.`,
        `count(${maxBy('tokenfuse_budget_utilization', 'budget, unit')} >= ${nearLimit})`,
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
          'requests); the fuse opens at 100%. Max across instances. Thresholds ' +
          `${thresholdPercents()} match the default onThreshold events.`,
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
          `over. Max across instances. Dashed lines at ${thresholdPercents()}.`,
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
        thresholds: FUSE_STATES.map(({ value, color }, i) => ({
          color,
          value: i === 0 ? null : value,
        })),
        mappings: [
          {
            type: MappingType.ValueToText,
            options: Object.fromEntries(
              FUSE_STATES.map(({ value, color, text }, index) => [
                String(value),
                { color, index, text },
              ]),
            ),
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
      ...healthPanels(),
      ...perValuePanels(b),
    ],
  });
}

/**
 * Per-value budgets (`per: user | customer | apiKey …`): one fuse per value, never one
 * series per value; the top N values by utilisation and counts by state.
 */
function perValuePanels(b: string): Item[] {
  return [
    row('Per-value budgets'),
    bargauge({
      title: 'Top spenders (per-value budgets)',
      description:
        'The values (users, customers, API key ids, …) of per-value budgets closest to their own ' +
        'limit: settled spend / limit in the current window, highest unit. Each process exports ' +
        'its top N (metrics.perValueTop); the highest across instances. A value that left the ' +
        'top reads 0. At 100% calls with that value are blocked.',
      unit: 'percentunit',
      min: 0,
      max: 1,
      w: 12,
      h: 9,
      thresholds: UTILIZATION_STEPS,
      targets: [
        {
          expr: `topk(10, max by (budget, key) (tokenfuse_budget_top_utilization{${b}}))`,
          legend: '{{budget}} · {{key}}',
        },
      ],
    }),
    timeseries({
      title: 'Values by state (per-value budgets)',
      description:
        'Values of each per-value budget held this window (tracked), at 90% of their limit or ' +
        'more (near), at their limit (over: their calls are blocked) and with their fuse open. ' +
        'The highest count across instances.',
      unit: 'short',
      w: 6,
      h: 9,
      targets: [
        {
          expr: `max by (budget, state) (tokenfuse_budget_values{${b}})`,
          legend: '{{budget}} · {{state}}',
        },
      ],
    }),
    timeseries({
      title: 'Calls with no value (per-value budgets)',
      description:
        'Calls a per-value budget matched but did not count: they had no value for its tag ' +
        '(no user, no customer, …), per second. A budget without per covers them.',
      unit: 'reqps',
      w: 6,
      h: 9,
      targets: [
        {
          expr: `sum by (budget) (rate(tokenfuse_budget_unkeyed_total{${b}}[$__rate_interval]))`,
          legend: '{{budget}}',
        },
      ],
    }),
  ];
}
