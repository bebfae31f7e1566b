/** `embeddings.create`: input only, no output and no stream. */
import type { CreateEmbeddingResponse, EmbeddingsCreateBody } from '../../internal-types.js';
import {
  contentText,
  embeddingsBilledInput,
  inputTokenCount,
} from '../../pricing/estimate-tokens.js';
import { fromEmbeddingsUsage } from '../../pricing/usage.js';
import type { OperationAdapter } from '../sdk-adapter.js';
import {
  isObject,
  noteStreamTier,
  requestAttributes,
  requestModel,
  requestServiceTier,
  serviceTierOf,
  str,
} from './read.js';

export const embeddingsAdapter: OperationAdapter<EmbeddingsCreateBody> = {
  api: 'embeddings',
  operation: 'embeddings',
  model: requestModel,
  // An embedding's output limit is no limit of the call.
  requestAttributes: (body) => requestAttributes(body, false),
  requestServiceTier,
  prepareBody: (body) => ({ body, injectedUsage: false }),
  maxOutputTokens: () => ({ kind: 'set', tokens: 0 }),
  billedInput: embeddingsBilledInput,
  estimateInputTokens: (body) => inputTokenCount(embeddingsBilledInput(body)),
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
