import type { MaxOutput, RequestEstimate } from '../fuses/admission-estimate.js';
import type {
  ChatCompletion,
  ChatCompletionChunk,
  ChatCompletionCreateBody,
  CreateEmbeddingResponse,
  EmbeddingsCreateBody,
  ResponseObject,
  ResponseStreamEvent,
  ResponsesCreateBody,
} from '../internal-types.js';
import {
  type BilledInput,
  chatBilledInput,
  contentText,
  embeddingsBilledInput,
  inputLengthBound,
  inputTokenCount,
  responsesBilledInput,
} from '../pricing/estimate-tokens.js';
import {
  fromCatalogUsage,
  fromEmbeddingsUsage,
  type NormalizedUsage,
  providerReportedCost,
} from '../pricing/usage.js';

/** What a finished (non-streamed) result tells us. */
export interface ResultInfo {
  usage: NormalizedUsage | undefined;
  responseModel: string | undefined;
  responseId: string | undefined;
  finishReasons: string[] | undefined;
  /** The provider's own figure for the call (USD), when the response carries one. */
  providerCostUsd?: number | undefined;
  /** Output text, only read when content capture is on. */
  outputText?: () => string;
}

/** Mutable per-stream state that chunk observers fill in. */
export interface StreamState {
  usage: NormalizedUsage | undefined;
  responseModel: string | undefined;
  responseId: string | undefined;
  finishReasons: string[];
  /** Text pieces streamed so far: joined and tokenized only if usage never arrives. */
  pieces: string[];
  /** Set on the first chunk that carries output. */
  firstChunk: boolean;
  /** The provider's own figure for the call (USD), when the usage carries one. */
  providerCostUsd?: number | undefined;
}

/**
 * How tokenfuse reads one SDK API: its request body, its result, its stream
 * events. One adapter per instrumented method.
 */
export interface ApiAdapter<Body = any> {
  /** `tokenfuse.api` span attribute. */
  api: 'chat.completions' | 'responses' | 'embeddings';
  /** `gen_ai.operation.name`. */
  operation: 'chat' | 'embeddings';
  /**
   * Returns the body to send. The chat adapter asks for a final usage chunk when
   * streaming and the caller left `stream_options.include_usage` unset; the caller's
   * object is never mutated.
   */
  prepareBody(body: Body): { body: Body; injectedUsage: boolean };
  /** The output limit the call sets, read from the body as sent. */
  maxOutputTokens(body: Body): MaxOutput;
  /** Every part of the body the provider bills as input. */
  billedInput(body: Body): BilledInput;
  /** Input tokens, tokenized within the call path's bound. */
  estimateInputTokens(body: Body): number;
  inputText(body: Body): string;
  /**
   * Reads a finished result. `catalogProvider` is the call's provider in the price
   * catalog, whose usage fields are read (see `fromCatalogUsage`).
   */
  fromResult(result: unknown, catalogProvider?: string): ResultInfo;
  /** Observes one stream item; returns true when the item must be hidden from the caller. */
  onStreamItem(
    item: unknown,
    state: StreamState,
    injectedUsage: boolean,
    catalogProvider?: string,
  ): boolean;
}

// A 200 response is not a promise of its shape (proxies, compatible servers, bugs):
// every read below tolerates anything in any field, and never throws.
function isObject(value: unknown): value is Record<string, any> {
  return typeof value === 'object' && value !== null;
}
function str(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}
function list(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

/**
 * A call's request in numbers for admission: what the fuse board reserves from,
 * read from the body here so that the budget layer never sees an SDK body.
 */
export function estimateRequest(adapter: ApiAdapter, body: unknown): RequestEstimate {
  const input = adapter.billedInput(body);
  return {
    inputUpperBound: inputLengthBound(input),
    exactInput: () => inputTokenCount(input),
    inputUnseen: input.unseen,
    // An embedding has no output, whatever the body says.
    maxOutput:
      adapter.operation === 'embeddings'
        ? { kind: 'set', tokens: 0 }
        : adapter.maxOutputTokens(body),
  };
}

function readMax(body: any, field: string): MaxOutput {
  const value = body?.[field];
  if (value === undefined || value === null) return { kind: 'unset' };
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0
    ? { kind: 'set', tokens: value }
    : { kind: 'invalid', field, value };
}

/** Chat's `max_completion_tokens` (or the older `max_tokens`) per choice, times `n` choices. */
function chatMaxOutput(body: any): MaxOutput {
  const completion = readMax(body, 'max_completion_tokens');
  const legacy = readMax(body, 'max_tokens');
  if (completion.kind === 'invalid') return completion;
  const max = completion.kind === 'set' ? completion : legacy;
  if (max.kind !== 'set') return max;
  const n = readMax(body, 'n');
  if (n.kind === 'invalid') return n;
  return n.kind === 'set' && n.tokens > 1 ? { kind: 'set', tokens: max.tokens * n.tokens } : max;
}

export const chatAdapter: ApiAdapter<ChatCompletionCreateBody> = {
  api: 'chat.completions',
  operation: 'chat',
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
  estimateInputTokens: (body) => inputTokenCount(chatBilledInput(body)),
  inputText: (body) => JSON.stringify(body?.messages ?? []),
  fromResult(result, catalogProvider) {
    const r = (isObject(result) ? result : {}) as ChatCompletion;
    const choices = Array.isArray(r.choices) ? r.choices : undefined;
    return {
      usage: isObject(r.usage) ? fromCatalogUsage(catalogProvider, 'chat', r.usage) : undefined,
      providerCostUsd: providerReportedCost(r.usage),
      responseModel: str(r.model),
      responseId: str(r.id),
      finishReasons: choices?.map(
        (c) => str(isObject(c) ? c.finish_reason : undefined) ?? 'unknown',
      ),
      outputText: () =>
        list(choices)
          .map((c) => (isObject(c) && isObject(c.message) ? (str(c.message.content) ?? '') : ''))
          .join(''),
    };
  },
  onStreamItem(item, state, injectedUsage, catalogProvider) {
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

export const responsesAdapter: ApiAdapter<ResponsesCreateBody> = {
  api: 'responses',
  operation: 'chat',
  prepareBody: (body) => ({ body, injectedUsage: false }),
  maxOutputTokens: (body) => readMax(body, 'max_output_tokens'),
  billedInput: responsesBilledInput,
  estimateInputTokens: (body) => inputTokenCount(responsesBilledInput(body)),
  inputText: (body) => JSON.stringify(body?.input ?? ''),
  fromResult(result, catalogProvider) {
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
      outputText: () => responseOutputText(r),
    };
  },
  onStreamItem(item, state, _injectedUsage, catalogProvider) {
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

export const embeddingsAdapter: ApiAdapter<EmbeddingsCreateBody> = {
  api: 'embeddings',
  operation: 'embeddings',
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
    };
  },
  onStreamItem: () => false,
};
