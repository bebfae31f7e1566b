/**
 * The metrics contract's opt-in part: the GenAI metrics of the latest experimental
 * semantic conventions (`OTEL_SEMCONV_STABILITY_OPT_IN=gen_ai_latest_experimental`).
 * Beside contract.ts, which lists what is always exported, and built from its types.
 */
import { type ContractMetric, type MetricType, prometheusName } from './contract.js';

/**
 * GenAI metrics of the latest experimental semantic conventions, exported only when
 * `OTEL_SEMCONV_STABILITY_OPT_IN` lists `gen_ai_latest_experimental` (read once at
 * start), beside the histograms of {@link METRIC}. Development status upstream: the
 * names follow open-telemetry/semantic-conventions-genai as merged (token counters and
 * per-operation histograms: PR #374; inference duration and first chunk: PR #521) and
 * may change again. Not in {@link METRIC_NAMES}, which lists what is always exported.
 */
export const SEMCONV_LATEST_METRIC = {
  usageInputTokens: 'gen_ai.client.inference.usage.input_tokens',
  usageOutputTokens: 'gen_ai.client.inference.usage.output_tokens',
  usageCacheReadTokens: 'gen_ai.client.inference.usage.cache_read.input_tokens',
  usageCacheWriteTokens: 'gen_ai.client.inference.usage.cache_write.input_tokens',
  usageReasoningTokens: 'gen_ai.client.inference.usage.reasoning.output_tokens',
  operationInputTokens: 'gen_ai.client.inference.operation.input_tokens',
  operationOutputTokens: 'gen_ai.client.inference.operation.output_tokens',
  duration: 'gen_ai.client.inference.duration',
  timeToFirstChunk: 'gen_ai.client.inference.time_to_first_chunk',
} as const;
/** An instrument name of {@link SEMCONV_LATEST_METRIC}. */
export type SemconvLatestMetricName =
  (typeof SEMCONV_LATEST_METRIC)[keyof typeof SEMCONV_LATEST_METRIC];

/**
 * The opt-in instruments: type and description, in the order of
 * {@link SEMCONV_LATEST_CONTRACT_METRICS}. Descriptions follow the conventions' briefs.
 */
const SEMCONV_LATEST_INSTRUMENTS: ReadonlyArray<
  readonly [SemconvLatestMetricName, MetricType, string]
> = [
  [
    SEMCONV_LATEST_METRIC.usageInputTokens,
    'counter',
    'Input tokens used by GenAI inference operations, cached included, by gen_ai_token_modality',
  ],
  [
    SEMCONV_LATEST_METRIC.usageOutputTokens,
    'counter',
    'Output tokens used by GenAI inference operations, reasoning included, by gen_ai_token_modality',
  ],
  [
    SEMCONV_LATEST_METRIC.usageCacheReadTokens,
    'counter',
    'Input tokens served from a provider-managed cache (part of the input tokens)',
  ],
  [
    SEMCONV_LATEST_METRIC.usageCacheWriteTokens,
    'counter',
    'Input tokens written to a provider-managed cache (part of the input tokens)',
  ],
  [
    SEMCONV_LATEST_METRIC.usageReasoningTokens,
    'counter',
    'Output tokens used for reasoning (part of the output tokens)',
  ],
  [
    SEMCONV_LATEST_METRIC.operationInputTokens,
    'histogram',
    'Input tokens per GenAI inference operation, cached included',
  ],
  [
    SEMCONV_LATEST_METRIC.operationOutputTokens,
    'histogram',
    'Output tokens per GenAI inference operation, reasoning included',
  ],
  [SEMCONV_LATEST_METRIC.duration, 'histogram', 'Duration of GenAI client inference operations'],
  [
    SEMCONV_LATEST_METRIC.timeToFirstChunk,
    'histogram',
    'Time from the start of a streaming GenAI inference operation to its first chunk',
  ],
];

/** Description (Prometheus `# HELP`) of each opt-in instrument. */
export const SEMCONV_LATEST_HELP: Readonly<Record<SemconvLatestMetricName, string>> =
  Object.fromEntries(SEMCONV_LATEST_INSTRUMENTS.map(([otel, , help]) => [otel, help])) as Record<
    SemconvLatestMetricName,
    string
  >;

/** Every Prometheus metric the opt-in adds (`gen_ai_latest_experimental`), with its type and help. */
export const SEMCONV_LATEST_CONTRACT_METRICS: readonly ContractMetric[] =
  SEMCONV_LATEST_INSTRUMENTS.map(([otel, type, help]) => ({
    name: prometheusName(otel, type === 'counter'),
    help,
    type,
  }));
