/** `embeddings.create`: input only, no output and no stream. */
import type { CreateEmbeddingResponse, EmbeddingsCreateBody } from '../../internal-types.js';
import { contentText, embeddingsBilledInput } from '../../pricing/estimate-tokens.js';
import { fromEmbeddingsUsage } from '../../pricing/usage.js';
import type { OperationAdapter } from '../sdk-adapter.js';
import { isObject, noteStreamTier, openaiRequest, serviceTierOf, str } from './read.js';

export const embeddingsAdapter: OperationAdapter<EmbeddingsCreateBody> = {
  api: 'embeddings',
  operation: 'embeddings',
  // An embedding's output limit is no limit of the call.
  ...openaiRequest(false),
  prepareBody: (body) => ({ body, injectedUsage: false }),
  maxOutputTokens: () => ({ kind: 'set', tokens: 0 }),
  billedInput: embeddingsBilledInput,
  inputText: (body) => (typeof body?.input === 'string' ? body.input : contentText(body?.input)),
  fromResult(result) {
    const r = (isObject(result) ? result : {}) as CreateEmbeddingResponse;
    return {
      usage: isObject(r.usage) ? fromEmbeddingsUsage(r.usage) : undefined,
      responseModel: str(r.model),
      responseId: undefined,
      finishReasons: undefined,
      serviceTier: serviceTierOf(result),
    };
  },
  onStreamItem(item, state) {
    noteStreamTier(state, item);
    return false;
  },
};
