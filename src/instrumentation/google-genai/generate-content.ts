/** `models.generateContent` and `generateContentStream` (chats are built on them). */
import { fromGeminiUsage } from '../../pricing/usage.js';
import type { OperationAdapter, ResultInfo, StreamState } from '../sdk-adapter.js';
import {
  billedInput,
  candidatesOf,
  inputText,
  isObject,
  maxOutputOf,
  modelOf,
  requestAttributes,
  str,
} from './read.js';

function fromResult(result: unknown): ResultInfo {
  const r = isObject(result) ? result : {};
  const { text, reasons } = candidatesOf(r);
  return {
    usage: isObject(r.usageMetadata) ? fromGeminiUsage(r.usageMetadata) : undefined,
    responseModel: str(r.modelVersion),
    responseId: str(r.responseId),
    finishReasons: reasons.length > 0 ? reasons.map((x) => x ?? 'unknown') : undefined,
    outputText: () => text,
  };
}

/**
 * One stream chunk. Each chunk may carry `usageMetadata`: the one on the chunk
 * that finishes the candidates is the call's, never a sum.
 */
function onStreamItem(item: unknown, state: StreamState): boolean {
  if (!isObject(item)) return false;
  const { text, reasons } = candidatesOf(item);
  if (text !== '') {
    state.pieces.push(text);
    state.firstChunk = true;
  }
  reasons.forEach((reason, i) => {
    if (reason !== undefined && i < 128) state.finishReasons[i] = reason;
  });
  // Chunks before the last carry a running count (the prompt so far, no output): a
  // stream abandoned or cut before its last chunk is estimated from what it streamed.
  if (isObject(item.usageMetadata) && reasons.some((r) => r !== undefined))
    state.usage = fromGeminiUsage(item.usageMetadata);
  state.responseModel = str(item.modelVersion) ?? state.responseModel;
  state.responseId = str(item.responseId) ?? state.responseId;
  return false;
}

function generateAdapter(api: string): OperationAdapter {
  return {
    api,
    operation: 'chat',
    model: modelOf,
    requestAttributes: (params) => requestAttributes(params, true),
    requestServiceTier: () => undefined,
    prepareBody: (params) => ({ body: params, injectedUsage: false }),
    maxOutputTokens: maxOutputOf,
    billedInput,
    inputText,
    fromResult,
    onStreamItem,
  };
}

/** `Models.prototype.generateContentInternal`: one `:generateContent` request. */
export const generateContentAdapter = generateAdapter('models.generateContent');

/** `Models.prototype.generateContentStreamInternal`: one `:streamGenerateContent` request. */
export const generateContentStreamAdapter = generateAdapter('models.generateContentStream');
