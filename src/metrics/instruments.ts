import {
  type Counter,
  diag,
  type Histogram,
  type Meter,
  type ObservableCounter,
  type ObservableResult,
} from '@opentelemetry/api';
import { ESTIMATE_BOUND_REASONS } from '../pricing/estimate-bounds.js';

/** Instrument names: the metrics contract (see README "Metrics reference"). */
export const METRIC = {
  tokenUsage: 'gen_ai.client.token.usage',
  operationDuration: 'gen_ai.client.operation.duration',
  timeToFirstChunk: 'gen_ai.client.operation.time_to_first_chunk',
  tokens: 'tokenfuse.tokens',
  cost: 'tokenfuse.cost.usd',
  requests: 'tokenfuse.requests',
  unpriced: 'tokenfuse.unpriced',
  usageInvalid: 'tokenfuse.usage.invalid',
  seriesDropped: 'tokenfuse.series.dropped',
  estimateBounded: 'tokenfuse.estimate.bounded',
} as const;

/** Descriptions of the instruments (Prometheus `# HELP`). */
export const METRIC_HELP: Record<(typeof METRIC)[keyof typeof METRIC], string> = {
  [METRIC.tokenUsage]: 'Number of input and output tokens used per GenAI operation',
  [METRIC.operationDuration]: 'Duration of GenAI client operations',
  [METRIC.timeToFirstChunk]:
    'Time from the start of a streaming GenAI operation to its first chunk',
  [METRIC.tokens]:
    'Tokens used by LLM calls, by type: input (uncached), cache_read, cache_write, output (reasoning included)',
  [METRIC.cost]: 'Cost of LLM calls in US dollars',
  [METRIC.requests]: 'LLM calls by outcome: ok, error, blocked',
  [METRIC.unpriced]: 'LLM calls whose model and provider have no known price (counted at $0)',
  [METRIC.usageInvalid]:
    'Usage fields a provider reported that were not token counts (not a whole number from 0 to 1e9); each counted as 0',
  [METRIC.seriesDropped]:
    'LLM calls not recorded under their own label set, by reason: value_too_long (a value cut to metrics.maxLabelValueLength), max_values_per_label (a value reported as other), max_series (the overflow label set)',
  [METRIC.estimateBounded]:
    'Token estimates made from a bound instead of the call body, by reason: max_tokens_invalid (an output limit that is no token limit; the call reserved the model context window or its budgets room), text_past_tokenize_bound (a text too long to tokenize on the call path; counted 3 tokens per character)',
};

// Bucket boundaries from the OpenTelemetry GenAI semantic conventions.
const TOKEN_BUCKETS = [
  1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864,
];
const DURATION_BUCKETS = [
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
