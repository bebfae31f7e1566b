// The spend alerts: calls without a known price, and a department's spend spike.
import { METRIC, PROMETHEUS_NAME } from '../../../src/metrics/contract.ts';
import { SPEND_SPIKE } from '../../thresholds.ts';
import type { RuleGroup } from './yaml.ts';

const UNPRICED = PROMETHEUS_NAME[METRIC.unpriced];
const COST = PROMETHEUS_NAME[METRIC.cost];

export function spendRules(): RuleGroup {
  const { factor, floorUsdPerHour } = SPEND_SPIKE;
  return {
    name: 'tokenfuse-spend',
    rules: [
      {
        comment: [
          'A new (provider, model) series starts at 1, which increase() cannot see: the alert',
          'fires from the second unpriced call of a process on.',
        ],
        alert: 'LLMUnpricedUsage',
        expr: [`sum by (provider, model) (increase(${UNPRICED}[1h])) > 0`],
        summary:
          'LLM calls to a model without a known price are counted at $0, so cost metrics and USD budgets under-report.',
        description: [
          '{{ printf "%.0f" $value }} calls to {{ $labels.provider }} model',
          '{{ $labels.model }} in the last hour had token usage but no known price: they',
          `were counted at $0 in ${COST} and in USD budgets.`,
        ],
      },
      {
        comment: [
          `The 15-minute spend rate of a department, summed over replicas, against ${factor} times its`,
          `average over the last 24 hours, and above a floor of $${floorUsdPerHour}/hour so that a department`,
          'going from $0.01 to $0.05 an hour does not alert. $value is the current $/hour.',
          'A department with no spend in the last day has an average of 0: it alerts once it',
          'spends more than the floor.',
        ],
        alert: 'LLMSpendSpike',
        expr: [
          `sum by (department) (rate(${COST}[15m])) * 3600 > ${floorUsdPerHour}`,
          'and',
          `sum by (department) (rate(${COST}[15m]))`,
          `  > ${factor} * sum by (department) (rate(${COST}[1d]))`,
        ],
        summary: `A department's LLM spend rate is more than ${factor} times its 24-hour average.`,
        description: [
          // `$` then Go template: concatenated so that it does not look like a template literal.
          'Department {{ $labels.department }} is spending $' + '{{ printf "%.2f" $value }}/hour',
          `(rate of the last 15 minutes, all replicas), more than ${factor} times its average rate`,
          'over the last 24 hours.',
        ],
      },
    ],
  };
}
