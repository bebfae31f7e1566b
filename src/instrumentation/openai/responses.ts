/** `responses.create`: OpenAI's Responses API. */
import type {
  ResponseObject,
  ResponseStreamEvent,
  ResponsesCreateBody,
} from '../../internal-types.js';
import { responsesBilledInput } from '../../pricing/estimate-tokens.js';
import { fromCatalogUsage, providerReportedCost } from '../../pricing/usage.js';
import { capturedText, type OperationAdapter } from '../sdk-adapter.js';
import {
  isObject,
  list,
  noteStreamTier,
  openaiRequest,
  readMax,
  serviceTierOf,
  str,
} from './read.js';

export const responsesAdapter: OperationAdapter<ResponsesCreateBody> = {
  api: 'responses',
  operation: 'chat',
  ...openaiRequest(true),
  prepareBody: (body) => ({ body, injectedUsage: false }),
  maxOutputTokens: (body) => readMax(body, 'max_output_tokens'),
  billedInput: responsesBilledInput,
  inputText: (body) => JSON.stringify(body?.input ?? ''),
  fromResult(result, catalogProvider, withText) {
    const r = (isObject(result) ? result : {}) as ResponseObject;
    const status = str(r.status);
    return {
      usage: isObject(r.usage)
        ? fromCatalogUsage(catalogProvider, 'responses', r.usage)
        : undefined,
      providerCostUsd: providerReportedCost(r.usage),
      responseModel: str(r.model),
      responseId: str(r.id),
      finishReasons: status ? [status] : undefined,
      serviceTier: serviceTierOf(result),
      outputText: withText ? capturedText(() => responseOutputText(r)) : undefined,
    };
  },
  onStreamItem(item, state, _injectedUsage, catalogProvider) {
    noteStreamTier(state, item);
    if (!isObject(item)) return false;
    const event = item as ResponseStreamEvent;
    const response = isObject(event.response) ? event.response : undefined;
    switch (event.type) {
      case 'response.output_text.delta': {
        const delta = str(event.delta);
        if (delta) state.pieces.push(delta);
        state.firstChunk = true;
        break;
      }
      case 'response.created':
        if (response) {
          state.responseModel = str(response.model);
          state.responseId = str(response.id);
        }
        break;
      case 'response.completed':
      case 'response.incomplete':
      case 'response.failed':
        if (response) {
          if (isObject(response.usage)) {
            state.usage = fromCatalogUsage(catalogProvider, 'responses', response.usage);
            state.providerCostUsd = providerReportedCost(response.usage);
          }
          state.responseModel = str(response.model) ?? state.responseModel;
          const status = str(response.status);
          if (status) state.finishReasons[0] = status;
        }
        break;
      default:
        if (event.delta !== undefined) state.firstChunk = true;
    }
    return false;
  },
};

function responseOutputText(r: ResponseObject | undefined): string {
  if (!r) return '';
  if (typeof r.output_text === 'string') return r.output_text;
  let text = '';
  for (const item of list(r.output)) {
    if (!isObject(item)) continue;
    for (const part of list(item.content)) if (isObject(part)) text += str(part.text) ?? '';
  }
  return text;
}
