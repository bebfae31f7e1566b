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

import { extractUsage, findProvider, type Provider, type Usage } from '@pydantic/genai-prices';

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
 * The API whose response shape a usage object has: the catalog's extractor
 * `api_flavor` of the same name reads it.
 */
export type UsageFlavor = 'chat' | 'responses';

/** An extractor the catalog gives for one provider and API flavour, prepared once. */
interface PreparedExtractor {
  /** A copy of the provider holding only this extractor, every mapping optional. */
  provider: Provider;
  flavor: string;
  /** The fields the extractor reads, each a path of keys inside `usage`. */
  fields: string[][];
}

// Keyed by the catalog's own Provider object, so a refreshed catalog is read afresh.
const prepared = new WeakMap<Provider, Map<string, PreparedExtractor | null>>();

/**
 * The catalog's extractor of `flavor` for `provider`, fit for a `usage` object.
 * Only extractors rooted at `usage` qualify (the SDK's responses carry usage
 * there). Mappings are made optional: a missing count is 0 here, where
 * `extractUsage` throws. A mapping whose path is not plain keys (an array match)
 * is left out, because its value could not be checked first (see
 * {@link fromCatalogUsage}); no usage-rooted extractor has one today.
 */
function extractorOf(provider: Provider, flavor: string): PreparedExtractor | undefined {
  let byFlavor = prepared.get(provider);
  if (byFlavor === undefined) {
    byFlavor = new Map();
    prepared.set(provider, byFlavor);
  }
  let found = byFlavor.get(flavor);
  if (found === undefined) {
    found = null;
    const extractor = provider.extractors?.find((e) => e.api_flavor === flavor);
    if (extractor !== undefined && extractor.root === 'usage') {
      const mappings = extractor.mappings
        .filter((m) => typeof m.path === 'string' || m.path.every((s) => typeof s === 'string'))
        .map((m) => ({ ...m, required: false }));
      found = {
        provider: {
          id: provider.id,
          name: provider.name,
          api_pattern: provider.api_pattern,
          models: [],
          extractors: [{ ...extractor, mappings }],
        },
        flavor,
        fields: mappings.map((m) => (typeof m.path === 'string' ? [m.path] : (m.path as string[]))),
      };
    }
    byFlavor.set(flavor, found);
  }
  return found ?? undefined;
}

function at(obj: unknown, path: readonly string[]): unknown {
  let value = obj;
  for (const key of path) {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
    value = (value as Record<string, unknown>)[key];
  }
  return value;
}

/** The sub-kinds of a total, in the order they are clamped to what the total has left. */
const INPUT_PARTS = ['cache_read_tokens', 'cache_write_tokens', 'input_audio_tokens'];
const OUTPUT_PARTS = ['output_audio_tokens', 'output_citation_tokens', 'output_reasoning_tokens'];
const KNOWN_KINDS = new Set(['input_tokens', 'output_tokens', ...INPUT_PARTS, ...OUTPUT_PARTS]);

/**
 * Clamps every part to what its total has left (the catalog's `calcPrice` throws
 * when parts exceed their total), so a hostile count cannot price or count twice.
 * The parts are disjoint in every usage the chat and Responses extractors read
 * (Perplexity's citations and reasoning are added to its output side by side;
 * OpenAI's reasoning is text, not audio).
 */
function clampParts(u: Usage): void {
  const extra: string[] = [];
  for (const key in u) {
    const value = u[key];
    if (value === undefined) continue;
    // A total the catalog sums from several fields (Perplexity's output: completion,
    // citation and reasoning tokens) stays within the bound of one field too.
    if (value > MAX_USAGE_TOKENS) u[key] = MAX_USAGE_TOKENS;
    if (!KNOWN_KINDS.has(key) && key.endsWith('_tokens')) extra.push(key);
  }
  extra.sort();
  clampTo(u, 'input_tokens', [...INPUT_PARTS, ...extra.filter((k) => /^(input|cache)_/.test(k))]);
  clampTo(u, 'output_tokens', [...OUTPUT_PARTS, ...extra.filter((k) => k.startsWith('output_'))]);
}

function clampTo(u: Usage, total: string, parts: readonly string[]): void {
  let left = u[total] ?? 0;
  for (const key of parts) {
    const value = u[key];
    if (value === undefined) continue;
    const kept = Math.min(value, left);
    u[key] = kept;
    left -= kept;
  }
}

/** The catalog's usage of a call as tokenfuse keeps it. */
function toNormalized(u: Usage): NormalizedUsage {
  const {
    input_tokens = 0,
    cache_read_tokens: cacheRead = 0,
    cache_write_tokens: cacheWrite = 0,
    input_audio_tokens: inputAudio = 0,
    output_tokens = 0,
    output_audio_tokens: outputAudio = 0,
    output_reasoning_tokens: reasoning = 0,
    ...rest
  } = u;
  const usage: NormalizedUsage = {
    input: input_tokens - cacheRead - cacheWrite - inputAudio,
    cacheRead,
    cacheWrite,
    output: output_tokens - outputAudio,
    reasoning,
  };
  if (inputAudio > 0) usage.inputAudio = inputAudio;
  if (outputAudio > 0) usage.outputAudio = outputAudio;
  const other: Record<string, number> = {};
  let any = false;
  for (const [key, value] of Object.entries(rest)) {
    if (value !== undefined && value > 0) {
      other[key] = value;
      any = true;
    }
  }
  if (any) usage.other = other;
  return usage;
}

/**
 * Reads the `usage` of a chat or Responses result the way the price catalog
 * does: the fields come from `@pydantic/genai-prices`' own extractor for the
 * call's catalog provider and API flavour (audio, cache writes, Perplexity's
 * citation tokens and searches, xAI's reasoning outside `completion_tokens`…),
 * and `extractUsage` sums them. Where that extractor reads nothing for a kind,
 * OpenAI's extractor of the same flavour fills it: the SDK speaks OpenAI's wire
 * format and compatible endpoints report in its fields (Anthropic's compatible
 * endpoint, for one, reports cache reads under `prompt_tokens_details`).
 *
 * What stays ours, and why:
 * - Every field the extractor reads is checked first as {@link Reader} does
 *   (a safe integer in [0, {@link MAX_USAGE_TOKENS}]); a bad one counts as 0 and
 *   is listed in `invalid`. `extractUsage` alone throws on the first negative
 *   count (losing the whole usage), drops a string without a word, and takes a
 *   fraction or 1e300 as it is: a hostile number would reach prices and budgets.
 * - Parts are clamped to their totals (see {@link clampParts}).
 * - DeepSeek's `prompt_cache_hit_tokens`, which the catalog's DeepSeek extractor
 *   does not read, stands in for a missing cache-read count.
 * - A provider the catalog does not know, or one without an extractor for this
 *   flavour, is read with OpenAI's; a provider's `default` extractor serves when it
 *   has no `chat` one (Perplexity, Groq, Mistral), if it is rooted at `usage`.
 *
 * @param catalogProviderId the call's provider in the catalog; undefined reads as OpenAI
 */
export function fromCatalogUsage(
  catalogProviderId: string | undefined,
  flavor: UsageFlavor,
  usage: unknown,
): NormalizedUsage {
  const plan = planFor(catalogProviderId, flavor);
  if (plan === undefined) {
    // A catalog without OpenAI's extractors: keep reading as before.
    return flavor === 'chat'
      ? fromChatCompletionUsage(usage as ChatCompletionUsageLike)
      : fromResponsesUsage(usage as ResponsesUsageLike);
  }

  const r = new Reader();
  let clean = usage;
  for (const field of plan.fields) {
    const before = r.invalid.length;
    r.count(field.name, at(usage, field.path));
    // The bad value is left out of a copy, so the catalog never sees it.
    if (r.invalid.length > before) clean = without(clean, field.path);
  }

  const extracted = extract(plan.primary, clean);
  // OpenAI's extractor only adds what the provider's own one does not read, so it
  // runs only when one of its fields was reported.
  if (plan.secondary !== undefined && plan.secondaryOnly.some((f) => at(clean, f.path) != null)) {
    const more = extract(plan.secondary, clean);
    for (const key in more) {
      if (extracted[key] === undefined && more[key] !== undefined) extracted[key] = more[key];
    }
  }
  if (extracted.cache_read_tokens === undefined && flavor === 'chat') {
    const hit = r.count('prompt_cache_hit_tokens', at(usage, ['prompt_cache_hit_tokens']));
    if (hit > 0) extracted.cache_read_tokens = hit;
  }
  clampParts(extracted);
  return r.done(toNormalized(extracted));
}

function extract(extractor: PreparedExtractor, usage: unknown): Usage {
  try {
    return extractUsage(extractor.provider, { usage }, extractor.flavor).usage;
  } catch {
    // "No usage information found": nothing this extractor reads was reported.
    return {};
  }
}

/** A copy of `obj` without the value at `path`; only the objects along the path are copied. */
function without(obj: unknown, path: readonly string[]): unknown {
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) return obj;
  const [key, ...rest] = path as [string, ...string[]];
  const copy: Record<string, unknown> = { ...(obj as Record<string, unknown>) };
  if (rest.length === 0) delete copy[key];
  else copy[key] = without(copy[key], rest);
  return copy;
}

/** One field an extractor reads: its path inside `usage` and its name in logs and metrics. */
interface Field {
  path: readonly string[];
  name: string;
}

/** How usage of one catalog provider and flavour is read; built once per catalog. */
interface ReadPlan {
  /** The catalog data the plan was built from: a refreshed catalog builds a new plan. */
  openai: Provider | undefined;
  own: Provider | undefined;
  primary: PreparedExtractor;
  /** OpenAI's extractor, when it is not the primary one. */
  secondary: PreparedExtractor | undefined;
  /** Every field either extractor reads, once. */
  fields: Field[];
  /** The fields only the secondary extractor reads. */
  secondaryOnly: Field[];
}

// A handful of catalog providers by two flavours: small, bounded by the catalog.
const plans = new Map<string, ReadPlan | null>();

function planFor(catalogProviderId: string | undefined, flavor: UsageFlavor): ReadPlan | undefined {
  const openai = findProvider({ providerId: 'openai' });
  const own =
    catalogProviderId === undefined ? undefined : findProvider({ providerId: catalogProviderId });
  const key = `${own?.id ?? ''}\u0000${flavor}`;
  const cached = plans.get(key);
  if (cached === null) return undefined;
  if (cached !== undefined && cached.openai === openai && cached.own === own) return cached;

  const fallback = openai && extractorOf(openai, flavor);
  const primary =
    (own &&
      (extractorOf(own, flavor) ??
        (flavor === 'chat' ? extractorOf(own, 'default') : undefined))) ??
    fallback;
  if (primary === undefined) {
    plans.set(key, null);
    return undefined;
  }
  const secondary = fallback !== undefined && fallback !== primary ? fallback : undefined;
  const fieldsOf = (e: PreparedExtractor | undefined): Field[] =>
    (e?.fields ?? []).map((path) => ({ path, name: path.join('.') }));
  // An extractor may read one field into two kinds (Perplexity's citation tokens are
  // output tokens and citation tokens): each field is checked, and counted invalid, once.
  const names = new Set<string>();
  const once = (f: Field) => !names.has(f.name) && names.add(f.name) !== undefined;
  const primaryFields = fieldsOf(primary).filter(once);
  const secondaryOnly = fieldsOf(secondary).filter(once);
  const plan: ReadPlan = {
    openai,
    own,
    primary,
    secondary,
    fields: [...primaryFields, ...secondaryOnly],
    secondaryOnly,
  };
  plans.set(key, plan);
  return plan;
}
