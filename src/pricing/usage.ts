/**
 * Token usage normalised across the APIs tokenfuse sees: the public face of
 * `pricing/usage/`, where each part lives in its own module:
 * - `normalized-usage.ts`: the {@link NormalizedUsage} shape and the one check
 *   every reported count passes (a whole number from 0 to {@link MAX_USAGE_TOKENS});
 * - `wire-shapes.ts`: the SDK `usage` objects, defined once;
 * - `api-readers.ts`, `gen-ai-attributes.ts`: one reader per API and for semconv spans;
 * - `catalog-plan.ts`, `catalog-usage.ts`: reading usage with the price catalog's
 *   own extractors, and the mapping to and from the catalog's `Usage`.
 */

export {
  fromAnthropicUsage,
  fromChatCompletionUsage,
  fromEmbeddingsUsage,
  fromResponsesUsage,
  providerReportedCost,
} from './usage/api-readers.js';
export type { UsageFlavor } from './usage/catalog-plan.js';
export { fromCatalogUsage, toCatalogUsage } from './usage/catalog-usage.js';
export { fromGeminiUsage, type GeminiUsageLike } from './usage/gemini-usage.js';
export { fromGenAiAttributes } from './usage/gen-ai-attributes.js';
export {
  type InvalidUsageField,
  inputTokens,
  MAX_USAGE_TOKENS,
  type NormalizedUsage,
  outputTokens,
  totalTokens,
} from './usage/normalized-usage.js';
export type {
  AnthropicUsageLike,
  ChatCompletionUsageLike,
  EmbeddingsUsageLike,
  ResponsesUsageLike,
} from './usage/wire-shapes.js';
