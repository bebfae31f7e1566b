import { type Counter, diag, type Meter } from '@opentelemetry/api';
import { ESTIMATE_BOUND_REASONS } from '../pricing/estimate-bounds.js';
import { METRIC, METRIC_HELP } from './contract.js';

// Names and descriptions come from the metrics contract; re-exported for existing importers.
export { METRIC, METRIC_HELP };

// The per-call histograms and counters are aggregated by tokenfuse itself: metrics-engine.ts.

/** Counters of input tokenfuse rejected or reshaped; rare, so plain synchronous counters. */
export interface HealthCounters {
  usageInvalid: Counter;
  seriesDropped: Counter;
  estimateBounded: Counter;
}

export function createHealthCounters(meter: Meter): HealthCounters {
  const estimateBounded = meter.createCounter(METRIC.estimateBounded, {
    description: METRIC_HELP[METRIC.estimateBounded],
    unit: '{estimate}',
  });
  // Exported at 0 from the start: a rate() or an alert on it has a series to read
  // before the first bounded estimate.
  // A meter that throws must not stop tokenfuse starting; it fails again, and is
  // reported, on the first call.
  try {
    for (const reason of ESTIMATE_BOUND_REASONS) estimateBounded.add(0, { reason });
  } catch (err) {
    diag.error('tokenfuse: the meter refused a counter', err);
  }
  return {
    usageInvalid: meter.createCounter(METRIC.usageInvalid, {
      description: METRIC_HELP[METRIC.usageInvalid],
      unit: '{field}',
    }),
    seriesDropped: meter.createCounter(METRIC.seriesDropped, {
      description: METRIC_HELP[METRIC.seriesDropped],
      unit: '{request}',
    }),
    estimateBounded,
  };
}
