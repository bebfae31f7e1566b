// The budget and fuse alerts: utilization thresholds, exhausted, fuse open, would block (monitor
// budgets) and the month-end projection. Thresholds, severities and `for:` come from
// ../../thresholds.ts, metric and label names from the metrics contract.
import { BUDGET_LABELS, FUSE_METRIC, PROMETHEUS_NAME } from '../../../src/metrics/contract.ts';
import { FUSE_STATE, UTILIZATION_THRESHOLDS } from '../../thresholds.ts';
import type { AlertRule, RuleGroup } from './yaml.ts';

const UTILIZATION = PROMETHEUS_NAME[FUSE_METRIC.utilization];
const STATE = PROMETHEUS_NAME[FUSE_METRIC.state];
const SPENT = PROMETHEUS_NAME[FUSE_METRIC.spent];
const LIMIT = PROMETHEUS_NAME[FUSE_METRIC.limit];
const WOULD_BLOCK = PROMETHEUS_NAME[FUSE_METRIC.wouldBlock];
const VALUES = PROMETHEUS_NAME[FUSE_METRIC.values];

/** One alert per budget limit: the budget's series labels, replicas aggregated away. */
const PER_LIMIT = ['budget', 'window', 'unit', ...BUDGET_LABELS].join(', ');
/** Fuse state has no `unit`: one fuse per budget and window. */
const PER_FUSE = ['budget', 'window', ...BUDGET_LABELS].join(', ');

/** The highest replica's utilization (see the file header on `max`), then `comparison`. */
function maxUtilization(comparison: string): string[] {
  return [`max by (${PER_LIMIT}) (`, `  ${UTILIZATION}`, `) ${comparison}`];
}

const BUDGET_IN_DEPARTMENT =
  'Budget {{ $labels.budget }}{{ with $labels.department }} (department {{ . }}){{ end }}';

/** Summary of each threshold alert below the last (at which the fuse opens). */
const THRESHOLD_SUMMARY = [
  'An LLM budget has used half of its limit for the current window.',
  'An LLM budget has used three quarters of its limit for the current window.',
  'An LLM budget is close to its limit; its fuse will block calls when it is reached.',
];

/** Each threshold but the last covers [threshold, next threshold). */
function thresholdRules(): AlertRule[] {
  const ranges = UTILIZATION_THRESHOLDS.slice(0, -1).map((t, i) => ({
    ...t,
    next: UTILIZATION_THRESHOLDS[i + 1]!,
  }));
  return ranges.map(({ at, alert, next }, i) => {
    const last = i === ranges.length - 1;
    const window = 'current {{ $labels.window }} window';
    return {
      ...(i === 0
        ? {
            comment: [
              'Utilisation thresholds: each alert covers [threshold, next threshold), so a budget has',
              'at most one of them firing per unit. A budget with several limits (usd and requests)',
              'alerts per `unit`. Calendar windows reset utilisation at their start, so minute',
              'budgets rarely stay above a threshold for the whole `for:`: that is intended (they',
              'are rate limits; their fuse does the work).',
            ],
          }
        : {}),
      alert,
      expr: maxUtilization(`>= ${at} < ${next.at}`),
      summary: THRESHOLD_SUMMARY[i]!,
      description: [
        BUDGET_IN_DEPARTMENT,
        'has used {{ $value | humanizePercentage }} of its {{ $labels.unit }} limit in the',
        last
          ? `${window}; at ${Math.round(next.at * 100)}% its fuse blocks the calls it matches.`
          : `${window}.`,
      ],
    };
  });
}

const exhausted = UTILIZATION_THRESHOLDS.at(-1)!;

export function budgetRules(): RuleGroup {
  return {
    name: 'tokenfuse-budgets',
    rules: [
      ...thresholdRules(),
      {
        comment: [
          'Enforcing budgets only: a monitor budget over its limit is LLMBudgetWouldBlock.',
        ],
        alert: exhausted.alert,
        expr: [...maxUtilization(`>= ${exhausted.at}`), `unless on (budget) ${WOULD_BLOCK}`],
        summary: 'An LLM budget has reached its limit and its fuse blocks the calls it matches.',
        description: [
          BUDGET_IN_DEPARTMENT,
          'has spent {{ $value | humanizePercentage }} of its {{ $labels.unit }} limit in the',
          'current {{ $labels.window }} window: calls it matches fail with BudgetExceededError',
          'until the window ends or the limit is raised.',
        ],
      },
      {
        comment: [
          'Open (2) or half-open (1): a half-open fuse lets only a few probe calls through and',
          'usually lasts seconds, until the probes settle. Alerting on `== 2` alone would resolve',
          'and re-page whenever a scrape lands on a probe; `>= 1` keeps one alert until the',
          'fuse closes. Monitor budgets are excluded (see the top of the file).',
        ],
        alert: 'LLMFuseOpen',
        expr: [
          `max by (${PER_FUSE}) (`,
          `  ${STATE}`,
          `) >= ${FUSE_STATE.halfOpen}`,
          `unless on (budget) ${WOULD_BLOCK}`,
        ],
        summary:
          'An LLM budget fuse is open and blocks the calls its budget matches before they are sent.',
        description: [
          'The fuse of budget {{ $labels.budget }} ({{ $labels.window }} window{{ with $labels.department }},',
          `department {{ . }}{{ end }}) is {{ if eq $value ${FUSE_STATE.halfOpen}.0 }}half-open`,
          '(probing){{ else }}open{{ end }}: calls it matches fail with BudgetExceededError',
          '(HTTP 429) without reaching the provider.',
        ],
      },
      {
        alert: 'LLMBudgetWouldBlock',
        expr: [...maxUtilization(`>= ${exhausted.at}`), `and on (budget) ${WOULD_BLOCK}`],
        summary:
          'A monitor-mode LLM budget has reached its limit; if it were enforced, calls would now be blocked.',
        description: [
          'Monitor budget {{ $labels.budget }}{{ with $labels.department }} (department',
          '{{ . }}){{ end }} has spent {{ $value | humanizePercentage }} of its',
          '{{ $labels.unit }} limit in the current {{ $labels.window }} window. Nothing is',
          `blocked (action: monitor); ${WOULD_BLOCK} counts the calls it`,
          'would have blocked.',
        ],
      },
      {
        comment: [
          'Per-value budgets (`per: customer`, …) export no series per value: this counts the',
          'values at or over their own limit (state="over"), highest replica. Which values they',
          'are: tokenfuse_budget_top_utilization{budget=…}, or the spans of the blocked calls.',
        ],
        alert: 'LLMBudgetValueOverLimit',
        expr: [`max by (budget) (`, `  ${VALUES}{state="over"}`, `) > 0`],
        summary:
          'Values of a per-value LLM budget (users, customers, API keys) have reached their own limit.',
        description: [
          '{{ $value }} value(s) of per-value budget {{ $labels.budget }} have spent their whole',
          'limit in the current window: calls with those values fail with BudgetExceededError',
          '(unless the budget is action: monitor); other values are not affected.',
        ],
      },
      {
        comment: [
          'Monthly budgets: spend extrapolated linearly (from the last 6 hours) to the end of the',
          'calendar month, in UTC. For a budget with another `timeZone` the month ends a few hours',
          "earlier or later (at most 14): a small error on a month's projection.",
          'Seconds left in the month: whole days after today, plus what is left of today.',
        ],
        alert: 'LLMBudgetProjectedOverrun',
        expr: [
          `max by (${PER_LIMIT}) (`,
          `  predict_linear(${SPENT}{window="month"}[6h],`,
          '    (scalar(days_in_month()) - scalar(day_of_month())) * 86400 + 86400 - time() % 86400',
          '  )',
          ')',
          `> max by (${PER_LIMIT}) (`,
          `  ${LIMIT}{window="month"}`,
          ')',
        ],
        summary: 'A monthly LLM budget is on course to reach its limit before the month ends.',
        description: [
          'At the rate of the last 6 hours, budget {{ $labels.budget }}{{ with $labels.department }}',
          '(department {{ . }}){{ end }} will have spent {{ $value | humanize }}',
          '{{ $labels.unit }} by the end of the month (UTC), more than its limit: its fuse',
          'would block the calls it matches before the month is over.',
        ],
      },
    ],
  };
}
