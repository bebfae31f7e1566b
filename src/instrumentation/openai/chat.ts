/** `chat.completions.create`: OpenAI's Chat Completions API, and every compatible endpoint's. */
import type { MaxOutput } from '../../fuses/admission-estimate.js';
import type {
  ChatCompletion,
  ChatCompletionChunk,
  ChatCompletionCreateBody,
} from '../../internal-types.js';
import { chatBilledInput } from '../../pricing/estimate-tokens.js';
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

/** Chat's `max_completion_tokens` (or the older `max_tokens`) per choice, times `n` choices. */
function chatMaxOutput(body: unknown): MaxOutput {
  const completion = readMax(body, 'max_completion_tokens');
  const legacy = readMax(body, 'max_tokens');
  if (completion.kind === 'invalid') return completion;
  const max = completion.kind === 'set' ? completion : legacy;
  if (max.kind !== 'set') return max;
  const n = readMax(body, 'n');
  if (n.kind === 'invalid') return n;
  return n.kind === 'set' && n.tokens > 1 ? { kind: 'set', tokens: max.tokens * n.tokens } : max;
}

/** A choice's finish reason: a function made once, not a closure per result. */
function finishReasonOf(c: unknown): string {
  return str(isObject(c) ? c.finish_reason : undefined) ?? 'unknown';
}

export const chatAdapter: OperationAdapter<ChatCompletionCreateBody> = {
  api: 'chat.completions',
  operation: 'chat',
  ...openaiRequest(true),
  prepareBody(body) {
    if (body?.stream !== true || body.stream_options?.include_usage != null) {
      return { body, injectedUsage: false };
    }
    return {
      body: { ...body, stream_options: { ...body.stream_options, include_usage: true } },
      injectedUsage: true,
    };
  },
  maxOutputTokens: chatMaxOutput,
  billedInput: chatBilledInput,
  inputText: (body) => JSON.stringify(body?.messages ?? []),
  fromResult(result, catalogProvider, withText) {
    const r = (isObject(result) ? result : {}) as ChatCompletion;
    const choices = Array.isArray(r.choices) ? r.choices : undefined;
    return {
      usage: isObject(r.usage) ? fromCatalogUsage(catalogProvider, 'chat', r.usage) : undefined,
      providerCostUsd: providerReportedCost(r.usage),
      responseModel: str(r.model),
      responseId: str(r.id),
      finishReasons: choices?.map(finishReasonOf),
      serviceTier: serviceTierOf(result),
      // Read only when content is captured: no closure per result otherwise.
      outputText: withText
        ? capturedText(() =>
            list(choices)
              .map((c) =>
                isObject(c) && isObject(c.message) ? (str(c.message.content) ?? '') : '',
              )
              .join(''),
          )
        : undefined,
    };
  },
  onStreamItem(item, state, injectedUsage, catalogProvider) {
    noteStreamTier(state, item);
    if (!isObject(item)) return false;
    const chunk = item as ChatCompletionChunk;
    const choices = Array.isArray(chunk.choices) ? chunk.choices : undefined;
    const choice: unknown = choices?.[0];
    if (isObject(choice)) {
      const text = isObject(choice.delta) ? str(choice.delta.content) : undefined;
      if (text) {
        state.pieces.push(text);
        state.firstChunk = true;
      }
      const reason = str(choice.finish_reason);
      const index = choice.index;
      if (reason) {
        state.finishReasons[
          typeof index === 'number' && Number.isSafeInteger(index) && index >= 0 && index < 128
            ? index
            : 0
        ] = reason;
      }
    }
    if (state.responseModel === undefined && str(chunk.model)) {
      state.responseModel = chunk.model;
      state.responseId = str(chunk.id);
    }
    if (isObject(chunk.usage)) {
      state.usage = fromCatalogUsage(catalogProvider, 'chat', chunk.usage);
      state.providerCostUsd = providerReportedCost(chunk.usage);
      // The usage-only chunk we asked for is ours: code written against streams
      // without it reads `chunk.choices[0]` and must not see an empty array.
      return injectedUsage && (choices === undefined || choices.length === 0);
    }
    return false;
  },
};
