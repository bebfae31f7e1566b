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
  contentText,
  estimateChatInputTokens,
  estimateEmbeddingInputTokens,
  estimateResponsesInputTokens,
} from '../pricing/estimate-tokens.js';
import {
  fromChatCompletionUsage,
  fromEmbeddingsUsage,
  fromResponsesUsage,
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
  maxOutputTokens(body: Body): number | undefined;
  estimateInputTokens(body: Body): number;
  inputText(body: Body): string;
  fromResult(result: unknown): ResultInfo;
  /** Observes one stream item; returns true when the item must be hidden from the caller. */
  onStreamItem(item: unknown, state: StreamState, injectedUsage: boolean): boolean;
}

function num(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
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
  maxOutputTokens: (body) => num(body?.max_completion_tokens) ?? num(body?.max_tokens),
  estimateInputTokens: (body) => estimateChatInputTokens(body?.messages),
  inputText: (body) => JSON.stringify(body?.messages ?? []),
  fromResult(result) {
    const r = result as ChatCompletion;
    return {
      usage: r?.usage ? fromChatCompletionUsage(r.usage) : undefined,
      providerCostUsd: providerReportedCost(r?.usage),
      responseModel: r?.model,
      responseId: r?.id,
      finishReasons: r?.choices?.map((c) => c.finish_reason ?? 'unknown'),
      outputText: () => (r?.choices ?? []).map((c) => c.message?.content ?? '').join(''),
    };
  },
  onStreamItem(item, state, injectedUsage) {
    const chunk = item as ChatCompletionChunk;
    const choices = chunk.choices;
    if (choices !== undefined && choices.length > 0) {
      const choice = choices[0]!;
      const text = choice.delta?.content;
      if (text) {
        state.pieces.push(text);
        state.firstChunk = true;
      }
      if (choice.finish_reason) {
        state.finishReasons[(choice as { index?: number }).index ?? 0] = choice.finish_reason;
      }
    }
    if (state.responseModel === undefined && chunk.model) {
      state.responseModel = chunk.model;
      state.responseId = chunk.id;
    }
    if (chunk.usage) {
      state.usage = fromChatCompletionUsage(chunk.usage);
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
  maxOutputTokens: (body) => num(body?.max_output_tokens),
  estimateInputTokens: (body) => estimateResponsesInputTokens(body?.input, body?.instructions),
  inputText: (body) => JSON.stringify(body?.input ?? ''),
  fromResult(result) {
    const r = result as ResponseObject;
    return {
      usage: r?.usage ? fromResponsesUsage(r.usage) : undefined,
      providerCostUsd: providerReportedCost(r?.usage),
      responseModel: r?.model,
      responseId: r?.id,
      finishReasons: r?.status ? [r.status] : undefined,
      outputText: () => responseOutputText(r),
    };
  },
  onStreamItem(item, state) {
    const event = item as ResponseStreamEvent;
    switch (event.type) {
      case 'response.output_text.delta':
        if (event.delta) state.pieces.push(event.delta);
        state.firstChunk = true;
        break;
      case 'response.created':
        if (event.response) {
          state.responseModel = event.response.model;
          state.responseId = event.response.id;
        }
        break;
      case 'response.completed':
      case 'response.incomplete':
      case 'response.failed':
        if (event.response) {
          if (event.response.usage) {
            state.usage = fromResponsesUsage(event.response.usage);
            state.providerCostUsd = providerReportedCost(event.response.usage);
          }
          state.responseModel = event.response.model ?? state.responseModel;
          if (event.response.status) state.finishReasons[0] = event.response.status;
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
  for (const item of r.output ?? []) for (const part of item.content ?? []) text += part.text ?? '';
  return text;
}

export const embeddingsAdapter: ApiAdapter<EmbeddingsCreateBody> = {
  api: 'embeddings',
  operation: 'embeddings',
  prepareBody: (body) => ({ body, injectedUsage: false }),
  maxOutputTokens: () => 0,
  estimateInputTokens: (body) => estimateEmbeddingInputTokens(body?.input),
  inputText: (body) => (typeof body?.input === 'string' ? body.input : contentText(body?.input)),
  fromResult(result) {
    const r = result as CreateEmbeddingResponse;
    return {
      usage: r?.usage ? fromEmbeddingsUsage(r.usage) : undefined,
      responseModel: r?.model,
      responseId: undefined,
      finishReasons: undefined,
    };
  },
  onStreamItem: () => false,
};
