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
  partsText,
  str,
  writeRequestAttributes,
} from './read.js';

function fromResult(result: unknown, _catalogProvider?: string, withText?: boolean): ResultInfo {
  const r = isObject(result) ? result : {};
  const { text, reasons } = candidatesOf(r);
  return {
    usage: isObject(r.usageMetadata) ? fromGeminiUsage(r.usageMetadata) : undefined,
    responseModel: str(r.modelVersion),
    responseId: str(r.responseId),
    finishReasons: reasons.length > 0 ? reasons.map((x) => x ?? 'unknown') : undefined,
    outputText: withText ? text : undefined,
  };
}

/**
 * One stream chunk. Each chunk may carry `usageMetadata`: the one on the chunk
 * that finishes the candidates is the call's, never a sum. Read in one pass with
 * nothing allocated but the text piece: this runs for every chunk.
 */
function onStreamItem(item: unknown, state: StreamState): boolean {
  if (!isObject(item)) return false;
  const candidates = item.candidates;
  let finished = false;
  if (Array.isArray(candidates)) {
    // `i` counts the candidates that are objects, as `candidatesOf` does.
    let i = 0;
    // Index loops: this runs for every chunk, and `for…of` kept an iterator per loop.
    for (let c = 0; c < candidates.length; c++) {
      const candidate = candidates[c];
      if (!isObject(candidate)) continue;
      // Only the first candidate's text: the stream's cut-off counts one piece per delta.
      if (i === 0) {
        const text = partsText(candidate);
        if (text !== '') {
          state.pieces.push(text);
          state.firstChunk = true;
        }
      }
      const reason = candidate.finishReason;
      if (typeof reason === 'string') {
        finished = true;
        if (i < 128) state.finishReasons[i] = reason;
      }
      i++;
    }
  }
  // Chunks before the last carry a running count (the prompt so far, no output): a
  // stream abandoned or cut before its last chunk is estimated from what it streamed.
  if (finished && isObject(item.usageMetadata)) state.usage = fromGeminiUsage(item.usageMetadata);
  if (typeof item.modelVersion === 'string') state.responseModel = item.modelVersion;
  if (typeof item.responseId === 'string') state.responseId = item.responseId;
  return false;
}

function generateAdapter(api: string): OperationAdapter {
  return {
    api,
    operation: 'chat',
    model: modelOf,
    writeRequestAttributes: (span, params) => writeRequestAttributes(span, params, true),
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
