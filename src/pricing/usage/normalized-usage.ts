/**
 * The one usage shape tokenfuse prices, counts and budgets, and the check every
 * reader applies to a provider's counts before they reach it.
 *
 * Every API counts cached input differently (inside the prompt total for OpenAI,
 * Google and OTel semconv, beside it for Anthropic and Bedrock), so each reader
 * converts to one shape that cannot double-count: `input + cacheRead + cacheWrite`
 * (+ `inputAudio`) is the whole prompt.
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
 * Usage normalised across APIs. `input` is UNCACHED TEXT input tokens only;
 * `cacheRead`/`cacheWrite` are the cached parts and `inputAudio` the audio part;
 * `output` is text output, reasoning included, and `outputAudio` the audio part;
 * `reasoning` is a subset of the output (recorded, never added again). Each token is
 * in exactly one of input, cacheRead, cacheWrite, inputAudio, output, outputAudio.
 */
export interface NormalizedUsage {
  /** Input tokens neither read from nor written to the prompt cache. */
  input: number;
  /** Input tokens read from the prompt cache. */
  cacheRead: number;
  /** Input tokens written to the prompt cache. */
  cacheWrite: number;
  /** Text output tokens, reasoning included. */
  output: number;
  /** Reasoning tokens: already counted in `output` (or `outputAudio`). */
  reasoning: number;
  /**
   * Uncached audio input tokens, apart from `input` (which stays text) because the
   * catalog prices audio at its own rate. Absent when none were reported.
   */
  inputAudio?: number;
  /** Audio output tokens, apart from `output` (text). Absent when none were reported. */
  outputAudio?: number;
  /**
   * Every other usage the catalog prices, keyed as genai-prices' `Usage` (e.g.
   * `web_searches`, `output_citation_tokens`). Token kinds here are parts of
   * `input`/`output` already counted there, never tokens on top of them.
   */
  other?: Record<string, number>;
  /** Fields the provider sent that were not token counts (each counted as 0 above). */
  invalid?: InvalidUsageField[];
}

/** All input tokens: uncached text, cache reads and writes, audio. */
export function inputTokens(u: NormalizedUsage): number {
  return u.input + u.cacheRead + u.cacheWrite + (u.inputAudio ?? 0);
}

/** All output tokens: text (reasoning included) and audio. */
export function outputTokens(u: NormalizedUsage): number {
  return u.output + (u.outputAudio ?? 0);
}

/** Every token of the call, each counted once. */
export function totalTokens(u: NormalizedUsage): number {
  return inputTokens(u) + outputTokens(u);
}

/**
 * Checks one reported count after another, collecting the rejected ones: every
 * reader (per API, semconv, catalog) goes through it, so "what is a token count"
 * is decided in one place.
 */
export class UsageReader {
  /** Made on the first rejected field: almost every usage has none. */
  private invalid: InvalidUsageField[] | undefined;

  /** How many fields were rejected so far. */
  get rejected(): number {
    return this.invalid === undefined ? 0 : this.invalid.length;
  }

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
    this.invalid ??= [];
    this.invalid.push({ field, value });
    return 0;
  }

  /** `usage` with the rejected fields attached, when there were any. */
  done(usage: NormalizedUsage): NormalizedUsage {
    if (this.invalid !== undefined) usage.invalid = this.invalid;
    return usage;
  }
}

/**
 * Builds the normalised usage from an input total that INCLUDES its cached parts
 * (OpenAI, OTel semconv). Cache reads are clamped to the total first, then cache
 * writes to what is left, so `input` never goes negative.
 */
export function fromInclusiveTotal(
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
