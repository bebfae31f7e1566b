/** `ConverseCommand` and `ConverseStreamCommand`: Bedrock's model-agnostic chat API. */
import type { NormalizedUsage } from '../../pricing/usage.js';
import { fromCatalogUsage } from '../../pricing/usage.js';
import {
  type AttributeSink,
  capturedText,
  type OperationAdapter,
  type StreamState,
  writeLimitAttributes,
} from '../sdk-adapter.js';
import {
  type BedrockRequest,
  bedrockModel,
  billedInputOf,
  isObject,
  list,
  readMax,
  str,
  withMessages,
} from './read.js';

/**
 * Bedrock's Converse usage (`inputTokens` EXCLUDES `cacheReadInputTokens` and
 * `cacheWriteInputTokens`), read by the catalog's own Bedrock extractor, which sums them.
 * Read as the provider's native (`default`) usage, the flavour that extractor has: every
 * Bedrock usage reaches here in Converse's field names (InvokeModel's are mapped onto
 * them), never OpenAI's, so the `chat` flavour only added a second catalog lookup and
 * OpenAI's fields to check on every response.
 */
export function fromConverseUsage(
  usage: unknown,
  catalogProvider: string | undefined,
): NormalizedUsage | undefined {
  return isObject(usage) ? fromCatalogUsage(catalogProvider, 'default', usage) : undefined;
}

/** Text of Converse content blocks (`[{ text }, …]`). */
function blocksText(content: unknown): string {
  return list(content)
    .map((b) => (isObject(b) ? (str(b.text) ?? '') : ''))
    .join('');
}

/** What Converse and ConverseStream read the same way from the request. */
const converseRequest = {
  operation: 'chat' as const,
  model: (req: BedrockRequest) => bedrockModel(req?.input?.modelId),
  writeRequestAttributes: (span: AttributeSink, req: BedrockRequest) =>
    writeLimitAttributes(
      span,
      req?.input?.inferenceConfig?.maxTokens,
      req?.input?.inferenceConfig?.temperature,
    ),
  // Bedrock's service tiers are not in the price catalog: every call prices as standard.
  requestServiceTier: () => undefined,
  prepareBody: (req: BedrockRequest) => ({ body: req, injectedUsage: false }),
  maxOutputTokens: (req: BedrockRequest) =>
    readMax(req?.input?.inferenceConfig?.maxTokens, 'inferenceConfig.maxTokens'),
  billedInput: (req: BedrockRequest) =>
    withMessages(
      billedInputOf(req?.input?.system, req?.input?.messages, req?.input?.toolConfig),
      req?.input?.messages,
    ),
  inputText: (req: BedrockRequest) =>
    JSON.stringify({ system: req?.input?.system, messages: req?.input?.messages }) ?? '',
};

export const converseAdapter: OperationAdapter<BedrockRequest> = {
  api: 'bedrock.converse',
  ...converseRequest,
  fromResult(result, catalogProvider, withText) {
    const r = isObject(result) ? result : {};
    const stop = str(r.stopReason);
    return {
      usage: fromConverseUsage(r.usage, catalogProvider),
      // Converse names no model: the model id asked for is what is billed.
      responseModel: undefined,
      responseId: str(r.$metadata?.requestId),
      finishReasons: stop ? [stop] : undefined,
      outputText: withText ? capturedText(() => blocksText(r.output?.message?.content)) : undefined,
    };
  },
  onStreamItem: () => false,
};

/** One ConverseStream event (`{ messageStart }`, `{ contentBlockDelta }`, `{ metadata }`, …). */
function onConverseEvent(item: unknown, state: StreamState, catalogProvider?: string): void {
  if (!isObject(item)) return;
  const delta = item.contentBlockDelta?.delta;
  if (isObject(delta)) {
    const text = str(delta.text);
    if (text) state.pieces.push(text);
    state.firstChunk = true;
    return;
  }
  const stop = str(item.messageStop?.stopReason);
  if (stop) state.finishReasons[0] = stop;
  if (isObject(item.metadata?.usage)) {
    state.usage = fromConverseUsage(item.metadata.usage, catalogProvider);
  }
}

export const converseStreamAdapter: OperationAdapter<BedrockRequest> = {
  api: 'bedrock.converse_stream',
  ...converseRequest,
  // A ConverseStream result is always a stream; this only reads one that is not.
  fromResult: (result, catalogProvider, withText) =>
    converseAdapter.fromResult(result, catalogProvider, withText),
  onStreamItem(item, state, _injected, catalogProvider) {
    onConverseEvent(item, state, catalogProvider);
    return false;
  },
};
