/**
 * The OpenTelemetry SDK's per-instrument cardinality limit, sized from tokenfuse's own
 * label caps. Past its limit (2000 attribute sets by default) the SDK folds every new
 * attribute set into one `otel.metric.overflow=true` series, and for asynchronous
 * counters (tokenfuse's totals) that series does not even hold the sum of what it
 * folded. tokenfuse already bounds its label sets (`metrics.maxSeries`, then one
 * overflow set of `other`), so the SDK's limit only has to be large enough never to
 * fold what tokenfuse keeps: these views say so for each per-call instrument.
 */
import type { ViewOptions } from '@opentelemetry/sdk-metrics';
import { METRIC, OUTCOMES, TOKEN_TYPES } from './contract.js';
import { SEMCONV_LATEST_METRIC } from './contract-semconv-latest.js';

/**
 * Distinct values kept of each histogram-only attribute (operation, provider name,
 * error type) beside the label caps; see the accountant.
 */
export const SEMCONV_VALUES_CAP = 100;

/** The caps the limits are sized from: `metrics.maxSeries`, and an explicit limit. */
export interface CardinalityCaps {
  maxSeries: number;
  /** One limit for every per-call instrument, instead of the sized ones. */
  cardinalityLimit?: number | undefined;
}

/** The per-call instruments, whose attribute sets grow with the label sets tokenfuse keeps. */
export const PER_CALL_INSTRUMENTS = [
  METRIC.tokens,
  METRIC.requests,
  METRIC.cost,
  METRIC.unpriced,
  METRIC.tokenUsage,
  METRIC.operationDuration,
  METRIC.timeToFirstChunk,
] as const;

/** The meter every tokenfuse instrument is created on. */
export const METER_NAME = 'tokenfuse';

/**
 * Most attribute sets each per-call instrument can get when tokenfuse keeps
 * `maxSeries` label sets plus the overflow set, plus one for the SDK's own overflow
 * series (the SDK folds once it holds `limit - 1` sets).
 */
export function cardinalityLimits(caps: CardinalityCaps): Record<string, number> {
  const sets = caps.maxSeries + 1;
  const sized: Record<string, number> = {
    [METRIC.tokens]: sets * TOKEN_TYPES.length,
    [METRIC.requests]: sets * OUTCOMES.length,
    [METRIC.cost]: sets,
    [METRIC.unpriced]: sets,
    // Input and output.
    [METRIC.tokenUsage]: sets * 2,
    // Without error.type, each kept error type, and `other`.
    [METRIC.operationDuration]: sets * (SEMCONV_VALUES_CAP + 2),
    [METRIC.timeToFirstChunk]: sets,
  };
  // The opt-in instruments (`gen_ai_latest_experimental`; a view of an instrument never
  // created is inert): the counters by two modalities, the histograms as the ones above.
  const latest = SEMCONV_LATEST_METRIC;
  for (const name of [
    latest.usageInputTokens,
    latest.usageOutputTokens,
    latest.usageCacheReadTokens,
    latest.usageCacheWriteTokens,
    latest.usageReasoningTokens,
  ])
    sized[name] = sets * 2;
  for (const name of [latest.operationInputTokens, latest.operationOutputTokens, latest.duration])
    sized[name] = sets * (SEMCONV_VALUES_CAP + 2);
  sized[latest.timeToFirstChunk] = sets;
  for (const name of Object.keys(sized)) {
    sized[name] = caps.cardinalityLimit ?? sized[name]! + 1;
  }
  return sized;
}

/**
 * Views that set the SDK's cardinality limit of tokenfuse's per-call instruments from
 * its caps. `tokenfuse/register` applies them; with your own NodeSDK or MeterProvider,
 * pass them in its `views`:
 *
 * ```ts
 * new NodeSDK({ views: tokenfuseMetricViews({ maxSeries: 2000 }), ... })
 * ```
 *
 * Each view matches one instrument of the `tokenfuse` meter by name and changes
 * nothing else (name, description, aggregation and buckets stay the instrument's).
 */
export function tokenfuseMetricViews(caps: CardinalityCaps = { maxSeries: 2000 }): ViewOptions[] {
  return Object.entries(cardinalityLimits(caps)).map(([instrumentName, limit]) => ({
    instrumentName,
    meterName: METER_NAME,
    aggregationCardinalityLimit: limit,
  }));
}
