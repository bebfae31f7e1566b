/**
 * `InvokeModelCommand` and `InvokeModelWithResponseStreamCommand`: the model's own
 * JSON body, told apart by its shape: Anthropic's Messages API (`anthropic_version`,
 * usage as Anthropic's), Amazon Nova (`messages` with `inferenceConfig.max_new_tokens`)
 * and Amazon Titan Text (`inputText`). Usage of every family is mapped onto the
 * Converse field names, which the catalog's Bedrock extractor reads.
 */
import type { MaxOutput } from '../../fuses/admission-estimate.js';
import type { NormalizedUsage } from '../../pricing/usage.js';
import {
  type AttributeSink,
  capturedText,
  type OperationAdapter,
  type StreamState,
  writeLimitAttributes,
} from '../sdk-adapter.js';
import { fromConverseUsage } from './converse.js';
import {
  type BedrockRequest,
  bedrockModel,
  billedInputOf,
  isObject,
  list,
  parseJsonBytes,
  readMax,
  str,
  withMessages,
} from './read.js';

type Family = 'anthropic' | 'nova' | 'titan' | 'unknown';

function familyOf(payload: Record<string, any> | undefined): Family {
  if (!payload) return 'unknown';
  if (typeof payload.anthropic_version === 'string') return 'anthropic';
  if (typeof payload.inputText === 'string') return 'titan';
  if (Array.isArray(payload.messages)) return 'nova';
  return 'unknown';
}

function maxOutput(payload: Record<string, any> | undefined): MaxOutput {
  switch (familyOf(payload)) {
    case 'anthropic':
      return readMax(payload?.max_tokens, 'body.max_tokens');
    case 'nova':
      return readMax(
        payload?.inferenceConfig?.max_new_tokens,
        'body.inferenceConfig.max_new_tokens',
      );
    case 'titan':
      return readMax(
        payload?.textGenerationConfig?.maxTokenCount,
        'body.textGenerationConfig.maxTokenCount',
      );
    default:
      return { kind: 'unset' };
  }
}

/** Converse field names for Anthropic's usage (whose `input_tokens` also excludes cache counts). */
function anthropicUsage(u: Record<string, any>): Record<string, unknown> {
  return {
    inputTokens: u.input_tokens,
    outputTokens: u.output_tokens,
    cacheReadInputTokens: u.cache_read_input_tokens ?? undefined,
    cacheWriteInputTokens: u.cache_creation_input_tokens ?? undefined,
  };
}

/** Converse field names for Nova's usage (`cache…InputTokenCount`). */
function novaUsage(u: Record<string, any>): Record<string, unknown> {
  return {
    inputTokens: u.inputTokens,
    outputTokens: u.outputTokens,
    cacheReadInputTokens: u.cacheReadInputTokenCount ?? u.cacheReadInputTokens,
    cacheWriteInputTokens: u.cacheWriteInputTokenCount ?? u.cacheWriteInputTokens,
  };
}

/** Bedrock's own count on the last chunk of every InvokeModel stream, when nothing else reports. */
function invocationMetricsUsage(json: Record<string, any>): Record<string, unknown> | undefined {
  const m = json['amazon-bedrock-invocationMetrics'];
  return isObject(m)
    ? { inputTokens: m.inputTokenCount, outputTokens: m.outputTokenCount }
    : undefined;
}

/** The usage and finish reason of a whole (non-streamed) model response. */
function readResponse(json: Record<string, any>): {
  usage: Record<string, unknown> | undefined;
  stop: string | undefined;
  text: () => string;
  id: string | undefined;
} {
  if (isObject(json.usage) && json.usage.input_tokens !== undefined) {
    return {
      usage: anthropicUsage(json.usage),
      stop: str(json.stop_reason),
      id: str(json.id),
      text: () =>
        list(json.content)
          .map((c) => (isObject(c) && c.type === 'text' ? (str(c.text) ?? '') : ''))
          .join(''),
    };
  }
  if (isObject(json.usage)) {
    return {
      usage: novaUsage(json.usage),
      stop: str(json.stopReason),
      id: undefined,
      text: () =>
        list(json.output?.message?.content)
          .map((c) => (isObject(c) ? (str(c.text) ?? '') : ''))
          .join(''),
    };
  }
  if (json.inputTextTokenCount !== undefined) {
    const results = list(json.results).filter(isObject);
    let output = 0;
    for (const r of results) output += typeof r.tokenCount === 'number' ? r.tokenCount : 0;
    return {
      usage: { inputTokens: json.inputTextTokenCount, outputTokens: output },
      stop: str(results[0]?.completionReason),
      id: undefined,
      text: () => results.map((r) => str(r.outputText) ?? '').join(''),
    };
  }
  return { usage: invocationMetricsUsage(json), stop: undefined, id: undefined, text: () => '' };
}

const invokeRequest = {
  operation: 'chat' as const,
  model: (req: BedrockRequest) => bedrockModel(req?.input?.modelId),
  writeRequestAttributes(span: AttributeSink, req: BedrockRequest) {
    const p = req?.payload;
    writeLimitAttributes(
      span,
      p?.max_tokens ?? p?.inferenceConfig?.max_new_tokens ?? p?.textGenerationConfig?.maxTokenCount,
      p?.temperature ?? p?.inferenceConfig?.temperature ?? p?.textGenerationConfig?.temperature,
    );
  },
  requestServiceTier: () => undefined,
  prepareBody: (req: BedrockRequest) => ({ body: req, injectedUsage: false }),
  maxOutputTokens: (req: BedrockRequest) => maxOutput(req?.payload),
  billedInput(req: BedrockRequest) {
    const p = req?.payload;
    if (p === undefined) {
      // Bytes that are no JSON object: nothing bounds what the model reads.
      const input = billedInputOf();
      input.unseen = true;
      return input;
    }
    return withMessages(
      billedInputOf(p.system, p.messages, p.tools, p.toolConfig, p.inputText),
      p.messages,
    );
  },
  inputText: (req: BedrockRequest) =>
    JSON.stringify(req?.payload?.messages ?? req?.payload?.inputText ?? '') ?? '',
};

export const invokeAdapter: OperationAdapter<BedrockRequest> = {
  api: 'bedrock.invoke_model',
  ...invokeRequest,
  fromResult(result, catalogProvider, withText) {
    const r = isObject(result) ? result : {};
    const json = parseJsonBytes(r.body);
    const read = json ? readResponse(json) : undefined;
    return {
      usage: fromConverseUsage(read?.usage, catalogProvider),
      // The body's `model` is the vendor's short name; the model id invoked is what is billed.
      responseModel: undefined,
      responseId: read?.id ?? str(r.$metadata?.requestId),
      finishReasons: read?.stop ? [read.stop] : undefined,
      outputText: withText ? capturedText(() => read?.text() ?? '') : undefined,
    };
  },
  onStreamItem: () => false,
};

/** Anthropic's stream usage as its SDK merges it: `message_start`, then `message_delta` updates. */
const anthropicStreamUsage = new WeakMap<StreamState, Record<string, any>>();

function onChunk(json: Record<string, any>, state: StreamState, catalogProvider?: string): void {
  const set = (usage: Record<string, unknown> | undefined): void => {
    const read: NormalizedUsage | undefined = fromConverseUsage(usage, catalogProvider);
    if (read !== undefined) state.usage = read;
  };
  switch (json.type) {
    case 'message_start': {
      const usage = json.message?.usage;
      state.responseId = str(json.message?.id) ?? state.responseId;
      if (isObject(usage)) {
        anthropicStreamUsage.set(state, { ...usage });
        set(anthropicUsage(usage));
      }
      return;
    }
    case 'content_block_delta': {
      const text = str(json.delta?.text);
      if (text) state.pieces.push(text);
      state.firstChunk = true;
      return;
    }
    case 'message_delta': {
      const stop = str(json.delta?.stop_reason);
      if (stop) state.finishReasons[0] = stop;
      if (isObject(json.usage)) {
        const merged = { ...anthropicStreamUsage.get(state) };
        for (const [key, value] of Object.entries(json.usage))
          if (value != null) merged[key] = value;
        anthropicStreamUsage.set(state, merged);
        set(anthropicUsage(merged));
      }
      return;
    }
    case 'message_stop':
      if (state.usage === undefined) set(invocationMetricsUsage(json));
      return;
  }
  // Amazon Nova and Titan chunks.
  const delta = json.contentBlockDelta?.delta;
  if (isObject(delta)) {
    const text = str(delta.text);
    if (text) state.pieces.push(text);
    state.firstChunk = true;
  }
  const stop = str(json.messageStop?.stopReason) ?? str(json.completionReason);
  if (stop) state.finishReasons[0] = stop;
  if (typeof json.outputText === 'string') {
    if (json.outputText) state.pieces.push(json.outputText);
    state.firstChunk = true;
  }
  if (isObject(json.metadata?.usage)) set(novaUsage(json.metadata.usage));
  else if (json.inputTextTokenCount !== undefined && json.totalOutputTextTokenCount !== undefined)
    set({ inputTokens: json.inputTextTokenCount, outputTokens: json.totalOutputTextTokenCount });
  else if (state.usage === undefined) set(invocationMetricsUsage(json));
}

export const invokeStreamAdapter: OperationAdapter<BedrockRequest> = {
  api: 'bedrock.invoke_model_with_response_stream',
  ...invokeRequest,
  fromResult: (result, catalogProvider, withText) =>
    invokeAdapter.fromResult(result, catalogProvider, withText),
  onStreamItem(item, state, _injected, catalogProvider) {
    if (!isObject(item) || !isObject(item.chunk)) return false;
    const json = parseJsonBytes(item.chunk.bytes);
    if (json !== undefined) onChunk(json, state, catalogProvider);
    return false;
  },
};
