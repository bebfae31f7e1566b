/**
 * The provider of an AI SDK model, from the model itself: `model.provider` is
 * `<provider>.<api>` (`openai.chat`, `anthropic.messages`, `google.generative-ai`),
 * set by the provider package whatever base URL it talks to.
 */
import { genAiProviderName, type ProviderInfo } from '../../pricing/providers.js';

// AI SDK provider prefixes whose spelling differs from our provider id.
const ALIASES: Record<string, string> = {
  'azure-openai': 'azure',
  togetherai: 'together',
  'google-vertex': 'google',
};

// Semconv names that depend on more than the prefix.
const SEMCONV_BY_PROVIDER: Record<string, string> = {
  'google.vertex': 'gcp.vertex_ai',
};

const cache = new Map<string, ProviderInfo>();
const MAX_CACHED = 200;

/**
 * Our provider for an AI SDK `model.provider` string. `declared` (the middleware's
 * `provider` option) wins. A prefix tokenfuse does not know becomes the provider id
 * as it is, priced by the model name alone.
 */
export function providerOfModel(modelProvider: unknown, declared?: string): ProviderInfo {
  if (declared !== undefined) return { id: declared, semconvName: genAiProviderName(declared) };
  const raw = typeof modelProvider === 'string' && modelProvider !== '' ? modelProvider : 'unknown';
  let info = cache.get(raw);
  if (info !== undefined) return info;
  const prefix = raw.split('.')[0]!;
  const id = ALIASES[prefix] ?? prefix;
  const semconv =
    Object.entries(SEMCONV_BY_PROVIDER).find(([start]) => raw.startsWith(start))?.[1] ??
    genAiProviderName(id);
  info = Object.freeze({ id, semconvName: semconv });
  if (cache.size >= MAX_CACHED) cache.delete(cache.keys().next().value as string);
  cache.set(raw, info);
  return info;
}
