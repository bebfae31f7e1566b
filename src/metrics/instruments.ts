import type { Counter, Histogram, Meter } from '@opentelemetry/api';

/** Instrument names: the metrics contract (see README "Metrics reference"). */
export const METRIC = {
  tokenUsage: 'gen_ai.client.token.usage',
  operationDuration: 'gen_ai.client.operation.duration',
  timeToFirstChunk: 'gen_ai.client.operation.time_to_first_chunk',
  tokens: 'tokenfuse.tokens',
  cost: 'tokenfuse.cost.usd',
  requests: 'tokenfuse.requests',
  unpriced: 'tokenfuse.unpriced',
} as const;

// Bucket boundaries from the OpenTelemetry GenAI semantic conventions.
const TOKEN_BUCKETS = [
  1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864,
];
const DURATION_BUCKETS = [
  0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
];

/** The instruments tokenfuse records into, created from one meter. */
export interface Instruments {
  tokenUsage: Histogram;
  operationDuration: Histogram;
  timeToFirstChunk: Histogram;
  tokens: Counter;
  cost: Counter;
  requests: Counter;
  unpriced: Counter;
}

export function createInstruments(meter: Meter): Instruments {
  return {
    tokenUsage: meter.createHistogram(METRIC.tokenUsage, {
      description: 'Number of input and output tokens used per GenAI operation',
      unit: '{token}',
      advice: { explicitBucketBoundaries: TOKEN_BUCKETS },
    }),
    operationDuration: meter.createHistogram(METRIC.operationDuration, {
      description: 'Duration of GenAI client operations',
      unit: 's',
      advice: { explicitBucketBoundaries: DURATION_BUCKETS },
    }),
    timeToFirstChunk: meter.createHistogram(METRIC.timeToFirstChunk, {
      description: 'Time from the start of a streaming GenAI operation to its first chunk',
      unit: 's',
      advice: { explicitBucketBoundaries: DURATION_BUCKETS },
    }),
    tokens: meter.createCounter(METRIC.tokens, {
      description:
        'Tokens used by LLM calls, by type: input (uncached), cache_read, cache_write, output (reasoning included)',
      unit: '{token}',
    }),
    cost: meter.createCounter(METRIC.cost, {
      description: 'Cost of LLM calls in US dollars',
      unit: 'USD',
    }),
    requests: meter.createCounter(METRIC.requests, {
      description: 'LLM calls by outcome: ok, error, blocked',
      unit: '{request}',
    }),
    unpriced: meter.createCounter(METRIC.unpriced, {
      description: 'LLM calls whose model and provider have no known price (counted at $0)',
      unit: '{request}',
    }),
  };
}
