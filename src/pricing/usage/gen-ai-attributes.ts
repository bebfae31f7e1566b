import { fromInclusiveTotal, type NormalizedUsage, UsageReader } from './normalized-usage.js';

/** OTel GenAI semantic-convention usage attributes (incubating, so spelled out here). */
const GEN_AI_USAGE = {
  input: 'gen_ai.usage.input_tokens',
  cacheRead: 'gen_ai.usage.cache_read.input_tokens',
  cacheWrite: 'gen_ai.usage.cache_creation.input_tokens',
  /** Anthropic 1.x's own spans name cache writes so. */
  cacheWriteAlt: 'gen_ai.usage.cache_write.input_tokens',
  output: 'gen_ai.usage.output_tokens',
  reasoning: 'gen_ai.usage.reasoning.output_tokens',
  legacyInput: 'gen_ai.usage.prompt_tokens',
  legacyOutput: 'gen_ai.usage.completion_tokens',
} as const;

const GEN_AI_USAGE_KEYS = Object.values(GEN_AI_USAGE);

/**
 * Reads usage from the attributes of a span that follows the OTel GenAI semantic
 * conventions (e.g. one written by another instrumentation). Per semconv,
 * `gen_ai.usage.input_tokens` includes the cache-read and cache-creation tokens.
 * The legacy `gen_ai.usage.prompt_tokens` / `completion_tokens` are read when the
 * current names are absent, and `gen_ai.usage.cache_write.input_tokens` (the name
 * `@anthropic-ai/sdk` 1.x gives its spans' cache writes) when
 * `gen_ai.usage.cache_creation.input_tokens` is.
 *
 * @returns undefined when the span carries no usage attribute at all, so "no
 *   usage reported" stays distinct from "zero tokens".
 */
export function fromGenAiAttributes(attrs: Record<string, unknown>): NormalizedUsage | undefined {
  if (!GEN_AI_USAGE_KEYS.some((key) => attrs[key] !== undefined)) return undefined;
  const r = new UsageReader();
  const either = (current: string, legacy: string) =>
    attrs[current] === undefined
      ? r.count(legacy, attrs[legacy])
      : r.count(current, attrs[current]);
  return r.done(
    fromInclusiveTotal(
      either(GEN_AI_USAGE.input, GEN_AI_USAGE.legacyInput),
      r.count(GEN_AI_USAGE.cacheRead, attrs[GEN_AI_USAGE.cacheRead]),
      either(GEN_AI_USAGE.cacheWrite, GEN_AI_USAGE.cacheWriteAlt),
      either(GEN_AI_USAGE.output, GEN_AI_USAGE.legacyOutput),
      r.count(GEN_AI_USAGE.reasoning, attrs[GEN_AI_USAGE.reasoning]),
    ),
  );
}
