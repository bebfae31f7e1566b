/**
 * How tokenfuse reads an AI SDK model call: the middleware's `params` (the
 * language-model or embedding-model call options, spec v3), and what the
 * provider package returns from `doGenerate`, `doStream` (its stream parts) and
 * `doEmbed`. The body the generic wrapper sees is {@link AiSdkBody}: the params
 * with the model id, which params do not carry.
 */
import type { MaxOutput } from '../../fuses/admission-estimate.js';
import { chatBilledInput, embeddingsBilledInput } from '../../pricing/estimate-tokens.js';
import {
  type AttributeSink,
  capturedText,
  type OperationAdapter,
  type ResultInfo,
  writeLimitAttributes,
} from '../sdk-adapter.js';
import { fromEmbeddingModelUsage, fromLanguageModelUsage } from './usage.js';

/** One AI SDK model call as the wrapper reads it. */
export interface AiSdkBody {
  modelId: string | undefined;
  /** The call options the middleware received (transformed by earlier middleware). */
  params: Record<string, any>;
}

type Obj = Record<string, any>;

function isObj(value: unknown): value is Obj {
  return typeof value === 'object' && value !== null;
}

function str(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** v3 finish reasons are `{ unified, raw }`, v2 ones a string. */
function finishReason(value: unknown): string | undefined {
  return isObj(value) ? str(value.unified) : str(value);
}

function maxOutput(params: Obj | undefined): MaxOutput {
  const value = params?.maxOutputTokens;
  if (value === undefined || value === null) return { kind: 'unset' };
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0
    ? { kind: 'set', tokens: value }
    : { kind: 'invalid', field: 'maxOutputTokens', value };
}

function textOf(content: unknown): string {
  if (!Array.isArray(content)) return '';
  let text = '';
  for (const part of content)
    if (isObj(part) && part.type === 'text' && typeof part.text === 'string') text += part.text;
  return text;
}

function writeLanguageModelAttributes(span: AttributeSink, body: AiSdkBody): void {
  writeLimitAttributes(span, body?.params?.maxOutputTokens, body?.params?.temperature);
}

/** `generateText`, `streamText`, `generateObject`, `streamObject` (one model call each step). */
export const languageModelAdapter: OperationAdapter<AiSdkBody> = {
  api: 'ai-sdk.language-model',
  operation: 'chat',
  model: (body) => body?.modelId,
  writeRequestAttributes: writeLanguageModelAttributes,
  requestServiceTier: () => undefined,
  prepareBody: (body) => ({ body, injectedUsage: false }),
  maxOutputTokens: (body) => maxOutput(body?.params),
  // The prompt is a list of messages whose parts carry `text` like chat content;
  // tools and the response format are billed input too.
  billedInput: (body) =>
    chatBilledInput({
      messages: body?.params?.prompt,
      tools: body?.params?.tools,
      tool_choice: body?.params?.toolChoice,
      response_format: body?.params?.responseFormat,
    }),
  inputText(body) {
    try {
      return JSON.stringify(body?.params?.prompt ?? []);
    } catch {
      return '';
    }
  },
  fromResult(result, _catalogProvider, withText): ResultInfo {
    const r = isObj(result) ? result : {};
    const reason = finishReason(r.finishReason);
    return {
      usage: fromLanguageModelUsage(r.usage, r.providerMetadata),
      responseModel: str(r.response?.modelId),
      responseId: str(r.response?.id),
      finishReasons: reason === undefined ? undefined : [reason],
      outputText: withText ? capturedText(() => textOf(r.content)) : undefined,
    };
  },
  onStreamItem(item, state) {
    if (!isObj(item)) return false;
    switch (item.type) {
      case 'text-delta':
      case 'reasoning-delta':
        if (typeof item.delta === 'string') {
          state.pieces.push(item.delta);
          state.firstChunk = true;
        }
        break;
      case 'tool-input-delta':
        if (typeof item.delta === 'string') state.pieces.push(item.delta);
        break;
      case 'response-metadata':
        state.responseId = str(item.id) ?? state.responseId;
        state.responseModel = str(item.modelId) ?? state.responseModel;
        break;
      case 'finish': {
        state.usage = fromLanguageModelUsage(item.usage, item.providerMetadata) ?? state.usage;
        const reason = finishReason(item.finishReason);
        if (reason !== undefined) state.finishReasons.push(reason);
        break;
      }
    }
    return false;
  },
};

/** `embed`, `embedMany` (one model call per chunk of values). */
export const embeddingModelAdapter: OperationAdapter<AiSdkBody> = {
  api: 'ai-sdk.embedding-model',
  operation: 'embeddings',
  model: (body) => body?.modelId,
  writeRequestAttributes: () => undefined,
  requestServiceTier: () => undefined,
  prepareBody: (body) => ({ body, injectedUsage: false }),
  maxOutputTokens: () => ({ kind: 'set', tokens: 0 }),
  billedInput: (body) => embeddingsBilledInput({ input: body?.params?.values }),
  inputText(body) {
    const values = body?.params?.values;
    return Array.isArray(values) ? values.filter((v) => typeof v === 'string').join('\n') : '';
  },
  fromResult(result): ResultInfo {
    const r = isObj(result) ? result : {};
    return {
      usage: fromEmbeddingModelUsage(r.usage),
      responseModel: undefined,
      responseId: undefined,
      finishReasons: undefined,
    };
  },
  onStreamItem: () => false,
};
