import type { Meter } from '@opentelemetry/api';
import type { FuseBoard } from '../fuses/fuse-board.js';
import { FUSE_METRIC, METRIC_HELP, PER_VALUE_KEY_LABEL, PER_VALUE_STATES } from './contract.js';
import { cutValue } from './label-limiter.js';

/** What the per-value summaries are exported with. */
export interface PerValueMetricsOptions {
  /** Values exported per budget (`metrics.perValueTop`). */
  top: number;
  /** Longest `key` label value (`metrics.maxLabelValueLength`). */
  maxLabelValueLength: number;
}

/**
 * Registers the summaries of per-value budgets (`per:`): never one series per value,
 * but the top N values by utilisation (`tokenfuse_budget_top_utilization{budget,key}`,
 * at most N series per budget), counts of values by state
 * (`tokenfuse_budget_values{budget,state}`) and the calls with no value
 * (`tokenfuse_budget_unkeyed_total{budget}`). Observed at collection time from
 * each value's state as this process last saw it (the Redis ledger's numbers for
 * values this process has called for).
 */
export function registerPerValueMetrics(
  meter: Meter,
  board: FuseBoard,
  options: PerValueMetricsOptions,
): void {
  if (board.perValueSummaries(0).length === 0) return;
  const top = meter.createObservableGauge(FUSE_METRIC.topUtilization, {
    description: METRIC_HELP[FUSE_METRIC.topUtilization],
    unit: '1',
  });
  const values = meter.createObservableGauge(FUSE_METRIC.values, {
    description: METRIC_HELP[FUSE_METRIC.values],
  });
  const unkeyed = meter.createObservableCounter(FUSE_METRIC.unkeyed, {
    description: METRIC_HELP[FUSE_METRIC.unkeyed],
  });
  const key = (value: string) =>
    value.length > options.maxLabelValueLength
      ? cutValue(value, options.maxLabelValueLength)
      : value;
  // Keys exported at the last collection, per budget. The OpenTelemetry SDK keeps
  // exporting a series it has seen (cumulative), with its last value: a key that
  // leaves the top N is observed once more at 0, so what stays behind reads 0.
  const exported = new Map<string, Set<string>>();
  meter.addBatchObservableCallback(
    (result) => {
      for (const summary of board.perValueSummaries(options.top)) {
        const budget = summary.budget.name;
        const keys = new Set<string>();
        for (const t of summary.top) {
          const k = key(t.key);
          keys.add(k);
          result.observe(top, t.utilization, { budget, [PER_VALUE_KEY_LABEL]: k });
        }
        for (const k of exported.get(budget) ?? [])
          if (!keys.has(k)) result.observe(top, 0, { budget, [PER_VALUE_KEY_LABEL]: k });
        exported.set(budget, keys);
        for (const state of PER_VALUE_STATES)
          result.observe(values, summary.counts[state], { budget, state });
        result.observe(unkeyed, summary.unkeyed, { budget });
      }
    },
    [top, values, unkeyed],
  );
}
