// The health of tokenfuse's own metrics: series the meter provider folded together.
import { SERIES_OVERFLOW_METRIC } from '../../../src/metrics/contract.ts';
import type { RuleGroup } from './yaml.ts';

const OVERFLOW = SERIES_OVERFLOW_METRIC.name;

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
    ],
  };
}
