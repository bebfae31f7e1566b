/**
 * The `usage` objects of the SDK responses tokenfuse reads, as structural copies
 * (`openai` is a dev dependency only). Defined once, here: the readers beside this
 * file read them, and the response shapes in `internal-types.ts` carry them.
 * Every field is optional and nullable because compatible servers omit or null
 * what they do not count.
 */

/** `usage` of an OpenAI Chat Completion (and of the OpenAI-compatible APIs that copy it). */
export interface ChatCompletionUsageLike {
  /** Whole prompt, cached tokens included. */
  prompt_tokens?: number | null;
  completion_tokens?: number | null;
  total_tokens?: number | null;
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
  /** The cache writes by lifetime: parts of `cache_creation_input_tokens`. */
  cache_creation?: {
    ephemeral_5m_input_tokens?: number | null;
    ephemeral_1h_input_tokens?: number | null;
  } | null;
  output_tokens?: number | null;
}
