/**
 * Gemini's `usageMetadata` (Gemini API and Vertex AI alike), read directly: the
 * catalog's Google extractor is rooted at `usageMetadata` and reads modality
 * breakdowns through array matches, neither of which the catalog-driven reader
 * (`catalog-usage.ts`) takes. The kinds are the ones that extractor produces, so
 * the price equals `calcPrice` of the catalog's own `extractUsage` for text calls.
 */
import { MAX_USAGE_TOKENS, type NormalizedUsage, UsageReader } from './normalized-usage.js';

/** The `usageMetadata` fields tokenfuse reads. */
export interface GeminiUsageLike {
  /** All prompt tokens, `cachedContentTokenCount` INCLUDED. */
  promptTokenCount?: number | null;
  /** Prompt tokens read from the context cache: a part of `promptTokenCount`. */
  cachedContentTokenCount?: number | null;
  /** Tokens of tool results fed back (input, beside `promptTokenCount`). */
  toolUsePromptTokenCount?: number | null;
  /** Output tokens of the candidates, thinking excluded. */
  candidatesTokenCount?: number | null;
  /** Thinking tokens: billed as output, beside `candidatesTokenCount`. */
  thoughtsTokenCount?: number | null;
}

/**
 * Reads Gemini usage. Input is `promptTokenCount` (cache reads included) plus
 * `toolUsePromptTokenCount`; output is `candidatesTokenCount` plus
 * `thoughtsTokenCount`, the thoughts recorded as reasoning. The whole input total
 * is what the catalog's context-size tiers (above 200k) are chosen on.
 */
export function fromGeminiUsage(u: GeminiUsageLike | null | undefined): NormalizedUsage {
  const r = new UsageReader();
  const prompt = r.count('promptTokenCount', u?.promptTokenCount);
  const toolUse = r.count('toolUsePromptTokenCount', u?.toolUsePromptTokenCount);
  const cached = r.count('cachedContentTokenCount', u?.cachedContentTokenCount);
  const candidates = r.count('candidatesTokenCount', u?.candidatesTokenCount);
  const thoughts = r.count('thoughtsTokenCount', u?.thoughtsTokenCount);
  // Each count is bounded, their sums too: prices and budgets stay finite.
  const input = Math.min(prompt + toolUse, MAX_USAGE_TOKENS);
  const output = Math.min(candidates + thoughts, MAX_USAGE_TOKENS);
  const cacheRead = Math.min(cached, input);
  const usage: NormalizedUsage = {
    input: input - cacheRead,
    cacheRead,
    cacheWrite: 0,
    output,
    reasoning: Math.min(thoughts, output),
  };
  // A part of `input`, as the catalog's extractor reports it (never added again).
  if (toolUse > 0) usage.other = { input_tool_tokens: Math.min(toolUse, input) };
  return r.done(usage);
}
