import {
  type Counter,
  diag,
  type Histogram,
  type Meter,
  type ObservableCounter,
  type ObservableResult,
} from '@opentelemetry/api';
import { ESTIMATE_BOUND_REASONS } from '../pricing/estimate-bounds.js';
import { METRIC, METRIC_HELP } from './contract.js';

// Names and descriptions come from the metrics contract; re-exported for existing importers.
export { METRIC, METRIC_HELP };

/** Token histogram bucket boundaries from the OpenTelemetry GenAI semantic conventions. */
export const TOKEN_BUCKETS = [
  1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864,
];
/** Duration histogram bucket boundaries (seconds) from the GenAI semantic conventions. */
export const DURATION_BUCKETS = [
  0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
];

/** The histograms tokenfuse records into per call. */
export interface Histograms {
  tokenUsage: Histogram;
  operationDuration: Histogram;
  timeToFirstChunk: Histogram;
}

export function createHistograms(meter: Meter): Histograms {
  return {
    tokenUsage: meter.createHistogram(METRIC.tokenUsage, {
      description: METRIC_HELP[METRIC.tokenUsage],
      unit: '{token}',
      advice: { explicitBucketBoundaries: TOKEN_BUCKETS },
    }),
    operationDuration: meter.createHistogram(METRIC.operationDuration, {
      description: METRIC_HELP[METRIC.operationDuration],
      unit: 's',
      advice: { explicitBucketBoundaries: DURATION_BUCKETS },
    }),
    timeToFirstChunk: meter.createHistogram(METRIC.timeToFirstChunk, {
      description: METRIC_HELP[METRIC.timeToFirstChunk],
      unit: 's',
      advice: { explicitBucketBoundaries: DURATION_BUCKETS },
    }),
  };
}

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

/** The counters, as observable instruments fed from tokenfuse's own running totals. */
export interface CounterCallbacks {
  tokens(result: ObservableResult): void;
  cost(result: ObservableResult): void;
  requests(result: ObservableResult): void;
  unpriced(result: ObservableResult): void;
}

/**
 * Creates the counters as asynchronous (observable) counters. tokenfuse keeps the
 * running totals itself, keyed by label set, so a call costs a few additions
 * instead of one attribute-hashing `add()` per counter and token type; the SDK
 * reads the totals when it collects. Prometheus sees ordinary `_total` counters.
 */
export function createCounters(meter: Meter, callbacks: CounterCallbacks): ObservableCounter[] {
  const tokens = meter.createObservableCounter(METRIC.tokens, {
    description: METRIC_HELP[METRIC.tokens],
    unit: '{token}',
  });
  const cost = meter.createObservableCounter(METRIC.cost, {
    description: METRIC_HELP[METRIC.cost],
    unit: 'USD',
  });
  const requests = meter.createObservableCounter(METRIC.requests, {
    description: METRIC_HELP[METRIC.requests],
    unit: '{request}',
  });
  const unpriced = meter.createObservableCounter(METRIC.unpriced, {
    description: METRIC_HELP[METRIC.unpriced],
    unit: '{request}',
  });
  tokens.addCallback(callbacks.tokens);
  cost.addCallback(callbacks.cost);
  requests.addCallback(callbacks.requests);
  unpriced.addCallback(callbacks.unpriced);
  return [tokens, cost, requests, unpriced];
}
