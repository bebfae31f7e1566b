/**
 * Token usage normalised across the APIs tokenfuse sees. Every API counts cached
 * input differently (inside the prompt total for OpenAI and OTel semconv, beside
 * it for Anthropic), so each reader below converts to one shape that cannot
 * double-count: `input + cacheRead + cacheWrite` is the whole prompt.
 *
 * The readers never throw. A field that is missing or null was not reported and
 * counts as 0. A field that is present but is not a token count (not a number, a
 * string, negative, fractional, not finite, or above {@link MAX_USAGE_TOKENS}) is
 * REJECTED: it counts as 0 and is listed in `invalid`, so the accountant can count
 * and log it and the call is recorded as estimated. A cached or reasoning part is
 * clamped to the total it is part of. So whatever a server sends, every count is a
 * safe integer in [0, 1e9]: sums, prices and budgets stay finite.
 */

/**
 * The largest token count believed for one usage field of one call. The largest
 * context windows offered today are a few million tokens, so 1e9 leaves a wide
 * margin for growth while keeping every sum exact: a running total stays an exact
 * integer for 9 million such calls (2^53 / 1e9), and a price × count stays far from
 * overflow. A larger count is a broken or hostile server, not a real call.
 */
export const MAX_USAGE_TOKENS = 1e9;

/** A usage field a provider reported with a value that is not a token count. */
export interface InvalidUsageField {
  /** The field as the provider named it (`prompt_tokens`, `gen_ai.usage.input_tokens`, …). */
  field: string;
  /** The value as received. */
  value: unknown;
}

/**
 * Usage normalised across APIs. `input` is UNCACHED input tokens only;
 * `cacheRead`/`cacheWrite` are the cached parts; `output` includes reasoning;
 * `reasoning` is a subset of `output` (recorded, never added again).
 */
export interface NormalizedUsage {
  /** Input tokens neither read from nor written to the prompt cache. */
  input: number;
  /** Input tokens read from the prompt cache. */
  cacheRead: number;
  /** Input tokens written to the prompt cache. */
  cacheWrite: number;
  /** All output tokens, reasoning included. */
  output: number;
  /** Reasoning tokens: already counted in `output`. */
  reasoning: number;
  /** Fields the provider sent that were not token counts (each counted as 0 above). */
  invalid?: InvalidUsageField[];
}

// Minimal structural copies of the wire shapes: `openai` is a dev dependency only.

/** `usage` of an OpenAI Chat Completion (and of the OpenAI-compatible APIs that copy it). */
export interface ChatCompletionUsageLike {
  /** Whole prompt, cached tokens included. */
  prompt_tokens?: number | null;
  completion_tokens?: number | null;
  prompt_tokens_details?: { cached_tokens?: number | null } | null;
  completion_tokens_details?: { reasoning_tokens?: number | null } | null;
  /** DeepSeek's name for the cached part of `prompt_tokens`. */
  prompt_cache_hit_tokens?: number | null;
}

/** `usage` of an OpenAI Responses API response. */
export interface ResponsesUsageLike {
  /** Whole input, cached tokens included. */
  input_tokens?: number | null;
  output_tokens?: number | null;
  input_tokens_details?: { cached_tokens?: number | null } | null;
  output_tokens_details?: { reasoning_tokens?: number | null } | null;
}

/** `usage` of an OpenAI embeddings response. */
export interface EmbeddingsUsageLike {
  prompt_tokens?: number | null;
  total_tokens?: number | null;
}

/** `usage` of an Anthropic Messages response. */
export interface AnthropicUsageLike {
  /** Uncached input only: the cache counts below are NOT part of it. */
  input_tokens?: number | null;
  cache_read_input_tokens?: number | null;
  cache_creation_input_tokens?: number | null;
  output_tokens?: number | null;
}

/** Reads one field's count, collecting the rejected ones. */
class Reader {
  readonly invalid: InvalidUsageField[] = [];

  /** The count of `field`; 0 when not reported or rejected. */
  count(field: string, value: unknown): number {
    if (value === undefined || value === null) return 0;
    if (
      typeof value === 'number' &&
      Number.isSafeInteger(value) &&
      value >= 0 &&
      value <= MAX_USAGE_TOKENS
    ) {
      return value;
    }
    this.invalid.push({ field, value });
    return 0;
  }

  done(usage: NormalizedUsage): NormalizedUsage {
    if (this.invalid.length > 0) usage.invalid = this.invalid;
    return usage;
  }
}

/**
 * Builds the normalised usage from an input total that INCLUDES its cached parts.
 * Cache reads are clamped to the total first, then cache writes to what is left,
 * so `input` never goes negative.
 */
function fromInclusiveTotal(
  totalInput: number,
  cacheRead: number,
  cacheWrite: number,
  output: number,
  reasoning: number,
): NormalizedUsage {
  const read = Math.min(cacheRead, totalInput);
  const write = Math.min(cacheWrite, totalInput - read);
  return {
    input: totalInput - read - write,
    cacheRead: read,
    cacheWrite: write,
    output,
    reasoning: Math.min(reasoning, output),
  };
}

/**
 * Reads OpenAI Chat Completions usage. `prompt_tokens` includes
 * `prompt_tokens_details.cached_tokens`, so `input = prompt_tokens - cached`.
 * DeepSeek's `prompt_cache_hit_tokens` is read when the OpenAI field is absent.
 */
export function fromChatCompletionUsage(
  u: ChatCompletionUsageLike | null | undefined,
): NormalizedUsage {
  const r = new Reader();
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
  const r = new Reader();
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
  const r = new Reader();
  const input =
    u?.prompt_tokens === undefined || u?.prompt_tokens === null
      ? r.count('total_tokens', u?.total_tokens)
      : r.count('prompt_tokens', u.prompt_tokens);
  return r.done({ input, cacheRead: 0, cacheWrite: 0, output: 0, reasoning: 0 });
}

/**
 * Reads Anthropic Messages usage. Unlike OpenAI, `input_tokens` EXCLUDES
 * `cache_read_input_tokens` and `cache_creation_input_tokens`, so the three are
 * taken as they are. Anthropic does not report thinking tokens apart from
 * `output_tokens`, so `reasoning` is 0.
 */
export function fromAnthropicUsage(u: AnthropicUsageLike | null | undefined): NormalizedUsage {
  const r = new Reader();
  return r.done({
    input: r.count('input_tokens', u?.input_tokens),
    cacheRead: r.count('cache_read_input_tokens', u?.cache_read_input_tokens),
    cacheWrite: r.count('cache_creation_input_tokens', u?.cache_creation_input_tokens),
    output: r.count('output_tokens', u?.output_tokens),
    reasoning: 0,
  });
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

/** OTel GenAI semantic-convention usage attributes (incubating, so spelled out here). */
const GEN_AI_USAGE = {
  input: 'gen_ai.usage.input_tokens',
  cacheRead: 'gen_ai.usage.cache_read.input_tokens',
  cacheWrite: 'gen_ai.usage.cache_creation.input_tokens',
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
 * current names are absent.
 *
 * @returns undefined when the span carries no usage attribute at all, so "no
 *   usage reported" stays distinct from "zero tokens".
 */
export function fromGenAiAttributes(attrs: Record<string, unknown>): NormalizedUsage | undefined {
  if (!GEN_AI_USAGE_KEYS.some((key) => attrs[key] !== undefined)) return undefined;
  const r = new Reader();
  const either = (current: string, legacy: string) =>
    attrs[current] === undefined
      ? r.count(legacy, attrs[legacy])
      : r.count(current, attrs[current]);
  return r.done(
    fromInclusiveTotal(
      either(GEN_AI_USAGE.input, GEN_AI_USAGE.legacyInput),
      r.count(GEN_AI_USAGE.cacheRead, attrs[GEN_AI_USAGE.cacheRead]),
      r.count(GEN_AI_USAGE.cacheWrite, attrs[GEN_AI_USAGE.cacheWrite]),
      either(GEN_AI_USAGE.output, GEN_AI_USAGE.legacyOutput),
      r.count(GEN_AI_USAGE.reasoning, attrs[GEN_AI_USAGE.reasoning]),
    ),
  );
}
