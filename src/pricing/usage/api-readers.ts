/**
 * Readers of one API's `usage` object each, by its own documented rules. They serve
 * where the catalog's extractors do not (embeddings, a catalog without OpenAI's
 * extractors) and state each API's convention in one place.
 */
import { fromInclusiveTotal, type NormalizedUsage, UsageReader } from './normalized-usage.js';
import type {
  AnthropicUsageLike,
  ChatCompletionUsageLike,
  EmbeddingsUsageLike,
  ResponsesUsageLike,
} from './wire-shapes.js';

/**
 * Reads OpenAI Chat Completions usage. `prompt_tokens` includes
 * `prompt_tokens_details.cached_tokens`, so `input = prompt_tokens - cached`.
 * DeepSeek's `prompt_cache_hit_tokens` is read when the OpenAI field is absent.
 */
export function fromChatCompletionUsage(
  u: ChatCompletionUsageLike | null | undefined,
): NormalizedUsage {
  const r = new UsageReader();
  const openaiCached = u?.prompt_tokens_details?.cached_tokens;
  const cached =
    openaiCached === undefined || openaiCached === null
      ? r.count('prompt_cache_hit_tokens', u?.prompt_cache_hit_tokens)
      : r.count('prompt_tokens_details.cached_tokens', openaiCached);
  return r.done(
    fromInclusiveTotal(
      r.count('prompt_tokens', u?.prompt_tokens),
      cached,
      0,
      r.count('completion_tokens', u?.completion_tokens),
      r.count(
        'completion_tokens_details.reasoning_tokens',
        u?.completion_tokens_details?.reasoning_tokens,
      ),
    ),
  );
}

/**
 * Reads OpenAI Responses API usage. `input_tokens` includes
 * `input_tokens_details.cached_tokens`; `output_tokens` includes
 * `output_tokens_details.reasoning_tokens`.
 */
export function fromResponsesUsage(u: ResponsesUsageLike | null | undefined): NormalizedUsage {
  const r = new UsageReader();
  return r.done(
    fromInclusiveTotal(
      r.count('input_tokens', u?.input_tokens),
      r.count('input_tokens_details.cached_tokens', u?.input_tokens_details?.cached_tokens),
      0,
      r.count('output_tokens', u?.output_tokens),
      r.count('output_tokens_details.reasoning_tokens', u?.output_tokens_details?.reasoning_tokens),
    ),
  );
}

/**
 * Reads OpenAI embeddings usage: all input, no output. `total_tokens` stands in
 * when a compatible server omits `prompt_tokens` (the two are equal for embeddings).
 */
export function fromEmbeddingsUsage(u: EmbeddingsUsageLike | null | undefined): NormalizedUsage {
  const r = new UsageReader();
  const input =
    u?.prompt_tokens === undefined || u?.prompt_tokens === null
      ? r.count('total_tokens', u?.total_tokens)
      : r.count('prompt_tokens', u.prompt_tokens);
  return r.done({ input, cacheRead: 0, cacheWrite: 0, output: 0, reasoning: 0 });
}

/**
 * Reads Anthropic Messages usage. Unlike OpenAI, `input_tokens` EXCLUDES
 * `cache_read_input_tokens` and `cache_creation_input_tokens`, so the three are
 * taken as they are; `cache_creation` splits the writes by cache lifetime (priced
 * apart: a 1-hour write costs more). Anthropic does not report thinking tokens
 * apart from `output_tokens`, so `reasoning` is 0.
 */
export function fromAnthropicUsage(u: AnthropicUsageLike | null | undefined): NormalizedUsage {
  const r = new UsageReader();
  const cacheWrite = r.count('cache_creation_input_tokens', u?.cache_creation_input_tokens);
  const usage: NormalizedUsage = {
    input: r.count('input_tokens', u?.input_tokens),
    cacheRead: r.count('cache_read_input_tokens', u?.cache_read_input_tokens),
    cacheWrite,
    output: r.count('output_tokens', u?.output_tokens),
    reasoning: 0,
  };
  // The lifetime split is part of the writes: clamped to them, 5 minutes first.
  const w5m = r.count(
    'cache_creation.ephemeral_5m_input_tokens',
    u?.cache_creation?.ephemeral_5m_input_tokens,
  );
  const w1h = r.count(
    'cache_creation.ephemeral_1h_input_tokens',
    u?.cache_creation?.ephemeral_1h_input_tokens,
  );
  const kept5m = Math.min(w5m, cacheWrite);
  const kept1h = Math.min(w1h, cacheWrite - kept5m);
  if (kept5m > 0 || kept1h > 0) {
    usage.other = {};
    if (kept5m > 0) usage.other.cache_write_5m_tokens = kept5m;
    if (kept1h > 0) usage.other.cache_write_1h_tokens = kept1h;
  }
  return r.done(usage);
}

/**
 * The cost a provider reports for the call itself, in USD: OpenRouter's
 * `usage.cost` (sent when the request asks for `usage: { include: true }`, and on
 * every response today). Kept apart from the token readers above because it is no
 * token count: it is compared with, or used instead of, the catalog's price.
 *
 * @returns the number when it is a finite number >= 0, else undefined
 */
export function providerReportedCost(usage: unknown): number | undefined {
  if (usage === null || typeof usage !== 'object') return undefined;
  const cost = (usage as { cost?: unknown }).cost;
  return typeof cost === 'number' && Number.isFinite(cost) && cost >= 0 ? cost : undefined;
}
