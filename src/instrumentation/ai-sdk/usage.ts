/**
 * Usage of an AI SDK model call, as its provider package normalised it: the
 * language-model spec v3 (`ai` 6) nests `inputTokens: { total, noCache, cacheRead,
 * cacheWrite }` and `outputTokens: { total, text, reasoning }`; v2 (`ai` 5) has flat
 * `inputTokens`, `outputTokens`, `cachedInputTokens`, `reasoningTokens`. Both count
 * cached input inside the input total. Cache writes missing from the usage are read
 * from the provider metadata (`anthropic.cacheCreationInputTokens`).
 */

import { fromInclusiveTotal, UsageReader } from '../../pricing/usage/normalized-usage.js';
import type { NormalizedUsage } from '../../pricing/usage.js';

type Obj = Record<string, unknown>;

function isObj(value: unknown): value is Obj {
  return typeof value === 'object' && value !== null;
}

/** Cache writes a provider reports only in its metadata (Anthropic's, through `@ai-sdk/anthropic`). */
function metadataCacheWrite(r: UsageReader, metadata: unknown): number {
  if (!isObj(metadata)) return 0;
  // `for…in`, not `Object.entries`: no array per call (every OpenAI result has metadata).
  for (const provider in metadata) {
    const entry = metadata[provider];
    if (isObj(entry) && entry.cacheCreationInputTokens != null)
      return r.count(`${provider}.cacheCreationInputTokens`, entry.cacheCreationInputTokens);
  }
  return 0;
}

/**
 * Reads a language model's `usage` (v3 or v2) and provider metadata.
 * @returns undefined when the result carries no usage at all
 */
export function fromLanguageModelUsage(
  usage: unknown,
  metadata: unknown,
): NormalizedUsage | undefined {
  if (!isObj(usage)) return undefined;
  const r = new UsageReader();
  const input = usage.inputTokens;
  const output = usage.outputTokens;
  if (isObj(input) || isObj(output)) {
    const i = isObj(input) ? input : {};
    const o = isObj(output) ? output : {};
    if (i.total == null && o.total == null) return undefined;
    const write =
      i.cacheWrite == null
        ? metadataCacheWrite(r, metadata)
        : r.count('inputTokens.cacheWrite', i.cacheWrite);
    return r.done(
      fromInclusiveTotal(
        r.count('inputTokens.total', i.total),
        r.count('inputTokens.cacheRead', i.cacheRead),
        write,
        r.count('outputTokens.total', o.total),
        r.count('outputTokens.reasoning', o.reasoning),
      ),
    );
  }
  if (input == null && output == null) return undefined;
  return r.done(
    fromInclusiveTotal(
      r.count('inputTokens', input),
      r.count('cachedInputTokens', usage.cachedInputTokens),
      metadataCacheWrite(r, metadata),
      r.count('outputTokens', output),
      r.count('reasoningTokens', usage.reasoningTokens),
    ),
  );
}

/** Reads an embedding model's `usage: { tokens }`: all input. */
export function fromEmbeddingModelUsage(usage: unknown): NormalizedUsage | undefined {
  if (!isObj(usage) || usage.tokens == null) return undefined;
  const r = new UsageReader();
  return r.done({
    input: r.count('tokens', usage.tokens),
    cacheRead: 0,
    cacheWrite: 0,
    output: 0,
    reasoning: 0,
  });
}
