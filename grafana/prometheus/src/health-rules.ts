// The health of tokenfuse itself: series the meter provider folded together, and failures
// inside tokenfuse.
import { INTERNAL_ERRORS_METRIC, SERIES_OVERFLOW_METRIC } from '../../../src/metrics/contract.ts';
import type { RuleGroup } from './yaml.ts';

const OVERFLOW = SERIES_OVERFLOW_METRIC.name;
const INTERNAL = INTERNAL_ERRORS_METRIC.name;

export function healthRules(): RuleGroup {
  return {
    name: 'tokenfuse-health',
    rules: [
      {
        comment: [
          'The counter grows by one per scrape that finds the overflow series, and that series',
          'stays until the process restarts: any value above 0 is the condition, not its rate.',
        ],
        alert: 'LLMMetricsOverflow',
        expr: [`max by (job, instance, instrument) (${OVERFLOW}) > 0`],
        summary:
          "The meter provider folded some of an instrument's label sets into one overflow series, so that instrument's sums are wrong.",
        description: [
          '{{ $labels.instance }} ({{ $labels.job }}): the OpenTelemetry cardinality limit of',
          '{{ $labels.instrument }} was reached, and its later label sets are served as one',
          'series labelled otel_metric_overflow="true" ({{ printf "%.0f" $value }} scrapes so far).',
        ],
      },
      {
        comment: [
          'Any failure inside tokenfuse is a bug (the call went on): a 15-minute window keeps the',
          'alert up long enough to be seen, and `for: 1m` skips a single scrape of a restart.',
        ],
        alert: 'LLMInternalErrors',
        expr: [`sum by (job, instance, component) (increase(${INTERNAL}[15m])) > 0`],
        summary:
          'A failure inside tokenfuse let the calls go on, but some may be missing from its metrics or budgets.',
        description: [
          '{{ $labels.instance }} ({{ $labels.job }}): {{ printf "%.0f" $value }} failures in',
          '{{ $labels.component }} in the last 15 minutes. The app logged the first of each kind',
          'through the OpenTelemetry diag logger, with its error.',
        ],
      },
    ],
  };
}
