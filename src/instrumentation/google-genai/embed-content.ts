/** `models.embedContent`: input only, no output and no stream. */
import { fromGeminiUsage } from '../../pricing/usage.js';
import type { OperationAdapter } from '../sdk-adapter.js';
import { billedInput, inputText, isObject, modelOf, writeRequestAttributes } from './read.js';

export const embedContentAdapter: OperationAdapter = {
  api: 'models.embedContent',
  operation: 'embeddings',
  model: modelOf,
  writeRequestAttributes: (span, params) => writeRequestAttributes(span, params, false),
  requestServiceTier: () => undefined,
  prepareBody: (params) => ({ body: params, injectedUsage: false }),
  // An embedding's output limit is no limit of the call.
  maxOutputTokens: () => ({ kind: 'set', tokens: 0 }),
  billedInput,
  inputText,
  fromResult(result) {
    // The Gemini API reports `usageMetadata` on `:batchEmbedContents` (copied by 3.x);
    // Vertex's `:predict` reports a token count per embedding instead.
    const r = isObject(result) ? result : {};
    return {
      usage: isObject(r.usageMetadata)
        ? fromGeminiUsage(r.usageMetadata)
        : fromEmbeddingStatistics(r.embeddings),
      responseModel: undefined,
      responseId: undefined,
      finishReasons: undefined,
    };
  },
  onStreamItem: () => false,
};

/** Vertex `:predict`: `embeddings[].statistics.tokenCount`, summed; undefined when none says. */
function fromEmbeddingStatistics(embeddings: unknown) {
  if (!Array.isArray(embeddings)) return undefined;
  let total: number | undefined;
  for (const e of embeddings) {
    const count = isObject(e) && isObject(e.statistics) ? e.statistics.tokenCount : undefined;
    if (typeof count === 'number') total = (total ?? 0) + count;
  }
  return total === undefined ? undefined : fromGeminiUsage({ promptTokenCount: total });
}
