import type { Attributes } from '@opentelemetry/api';
import type { NormalizedUsage } from '../pricing/usage.js';

/** Span attribute names: GenAI semantic conventions and tokenfuse's own. */
export const ATTR = {
  operationName: 'gen_ai.operation.name',
  providerName: 'gen_ai.provider.name',
  requestModel: 'gen_ai.request.model',
  requestMaxTokens: 'gen_ai.request.max_tokens',
  requestTemperature: 'gen_ai.request.temperature',
  responseModel: 'gen_ai.response.model',
  responseId: 'gen_ai.response.id',
  finishReasons: 'gen_ai.response.finish_reasons',
  inputTokens: 'gen_ai.usage.input_tokens',
  outputTokens: 'gen_ai.usage.output_tokens',
  cacheReadTokens: 'gen_ai.usage.cache_read.input_tokens',
  cacheWriteTokens: 'gen_ai.usage.cache_creation.input_tokens',
  /** `cacheWriteTokens` as the latest experimental conventions name it (semantic-conventions-genai PR #440). */
  cacheWriteTokensLatest: 'gen_ai.usage.cache_write.input_tokens',
  reasoningTokens: 'gen_ai.usage.reasoning.output_tokens',
  inputMessages: 'gen_ai.input.messages',
  outputMessages: 'gen_ai.output.messages',
  serverAddress: 'server.address',
  serverPort: 'server.port',
  errorType: 'error.type',
  api: 'tokenfuse.api',
  provider: 'tokenfuse.provider',
  costUsd: 'tokenfuse.cost.usd',
  // Written with the opt-in only: stream attributes since semconv v1.41.0 (semantic-conventions
  // PR #3607), audio ones in the latest experimental (semantic-conventions-genai PR #440).
  requestStream: 'gen_ai.request.stream',
  responseTimeToFirstChunk: 'gen_ai.response.time_to_first_chunk',
  audioInputTokens: 'gen_ai.usage.audio.input_tokens',
  audioOutputTokens: 'gen_ai.usage.audio.output_tokens',
  // Proposed, not merged: semantic-conventions-genai PR #443 (issue #287). Opt-in only.
  costAmount: 'gen_ai.usage.cost.amount',
  costCurrency: 'gen_ai.usage.cost.currency',
  costSource: 'gen_ai.usage.cost.source',
  costProviderUsd: 'tokenfuse.cost.provider_usd',
  priced: 'tokenfuse.priced',
  usageEstimated: 'tokenfuse.usage.estimated',
  streamAbandoned: 'tokenfuse.stream.abandoned',
  apiKeyFingerprint: 'tokenfuse.api_key.fingerprint',
  apiKeyId: 'tokenfuse.api_key.id',
  apiKeyName: 'tokenfuse.api_key.name',
  budgetName: 'tokenfuse.budget.name',
  blockReason: 'tokenfuse.block.reason',
  wouldBlock: 'tokenfuse.budget.would_block',
  streamCutOff: 'tokenfuse.stream.cut_off',
  requestServiceTier: 'openai.request.service_tier',
  responseServiceTier: 'openai.response.service_tier',
} as const;

/** A finished call, as the opt-in span attributes need it. */
export interface LatestSpanFacts {
  usage: NormalizedUsage;
  costUsd: number;
  priced: boolean;
  /** `costUsd` is the figure the response carried (`pricing.prefer: provider`). */
  fromProvider: boolean;
  /** The call was a stream. */
  streamed: boolean;
  /** Seconds to the first chunk, for streams. */
  timeToFirstChunkS: number | undefined;
}

/**
 * What the latest experimental GenAI conventions add to a finished call's span (opt-in,
 * `gen_ai_latest_experimental`):
 * - `gen_ai.usage.cache_write.input_tokens`, which replaces
 *   `gen_ai.usage.cache_creation.input_tokens` (PR #440);
 * - `gen_ai.usage.audio.{input,output}_tokens` where the provider reported audio apart
 *   (PR #440), and `gen_ai.request.stream` and `gen_ai.response.time_to_first_chunk` for
 *   streams (in the conventions since v1.41.0, but new on tokenfuse's spans: opt-in so
 *   that the default spans stay as they were);
 * - the proposed `gen_ai.usage.cost.*` of a priced call: the amount in `currency`, and
 *   `source` `provider` when the figure is the one the response carried, `local` when
 *   tokenfuse computed it. From semantic-conventions-genai PR #443 (the consensus of issue
 *   #287), NOT merged yet: names may still change. An unpriced call gets none (its cost is
 *   unknown, not 0); `tokenfuse.cost.usd` is written either way.
 */
export function latestSpanAttributes(call: LatestSpanFacts): Attributes {
  const out: Attributes = {};
  if (call.usage.cacheWrite > 0) out[ATTR.cacheWriteTokensLatest] = call.usage.cacheWrite;
  if (call.streamed) out[ATTR.requestStream] = true;
  if (call.timeToFirstChunkS !== undefined)
    out[ATTR.responseTimeToFirstChunk] = call.timeToFirstChunkS;
  if (call.usage.inputAudio !== undefined) out[ATTR.audioInputTokens] = call.usage.inputAudio;
  if (call.usage.outputAudio !== undefined) out[ATTR.audioOutputTokens] = call.usage.outputAudio;
  if (call.priced) {
    out[ATTR.costAmount] = call.costUsd;
    out[ATTR.costCurrency] = 'USD';
    out[ATTR.costSource] = call.fromProvider ? 'provider' : 'local';
  }
  return out;
}
