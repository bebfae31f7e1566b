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

/**
 * The proposed `gen_ai.usage.cost.*` attributes of a priced call (opt-in only, with
 * `gen_ai_latest_experimental`): the amount in `currency`, and `source` `provider` when
 * the figure is the one the response carried, `local` when tokenfuse computed it. From
 * open-telemetry/semantic-conventions-genai PR #443 (the consensus of issue #287), not
 * merged yet: names may still change. An unpriced call gets none (its cost is unknown,
 * not 0); `tokenfuse.cost.usd` is written either way.
 */
export function costAttributes(
  costUsd: number,
  fromProvider: boolean,
): Record<string, string | number> {
  return {
    [ATTR.costAmount]: costUsd,
    [ATTR.costCurrency]: 'USD',
    [ATTR.costSource]: fromProvider ? 'provider' : 'local',
  };
}
