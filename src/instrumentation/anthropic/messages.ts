/**
 * `messages.create` (and `beta.messages.create`): Anthropic's Messages API. Every
 * read tolerates anything in any field and never throws: a 200 response is not a
 * promise of its shape (proxies, gateways, bugs).
 */
import type { MaxOutput } from '../../fuses/admission-estimate.js';
import { messagesBilledInput } from '../../pricing/estimate-tokens.js';
import { fromCatalogUsage, type NormalizedUsage } from '../../pricing/usage.js';
import {
  capturedText,
  type OperationAdapter,
  type StreamState,
  writeLimitAttributes,
} from '../sdk-adapter.js';

/**
 * The catalog provider whose extractor reads a Messages `usage` object. The wire
 * format is Anthropic's whoever serves it (a gateway, a proxy), so usage is always
 * read as Anthropic reports it; the call's own provider only decides its price.
 */
const WIRE = 'anthropic';

function isObject(value: unknown): value is Record<string, any> {
  return typeof value === 'object' && value !== null;
}

function str(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

/** `usage` as Anthropic counts it, read into ours (input EXCLUDES the cache counts). */
function readUsage(usage: Record<string, unknown>): NormalizedUsage {
  return fromCatalogUsage(WIRE, 'default', usage);
}

/**
 * The raw usage of one stream merged so far, as the SDK's own `MessageStream` merges
 * it: `message_start` gives the input and cache counts, each `message_delta` the
 * CUMULATIVE output (taken, never summed) and overwrites a count it repeats.
 */
interface StreamUsage {
  raw: Record<string, unknown>;
  /** A `message_delta` carried the output count: it is final, not a placeholder. */
  outputFinal: boolean;
}

/**
 * Where a stream's merged usage is kept: on its state itself, under a key of this module's,
 * so each content delta reads it as a property (a WeakMap lookup per chunk cost more).
 */
const MERGED = Symbol('tokenfuse.anthropic.usage');
type AnthropicStreamState = StreamState & { [MERGED]?: StreamUsage };

function maxTokens(body: any): MaxOutput {
  const value = body?.max_tokens;
  if (value === undefined || value === null) return { kind: 'unset' };
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0
    ? { kind: 'set', tokens: value }
    : { kind: 'invalid', field: 'max_tokens', value };
}

function contentText(content: unknown): string {
  if (!Array.isArray(content)) return '';
  let text = '';
  for (const block of content) if (isObject(block)) text += str(block.text) ?? '';
  return text;
}

export const messagesAdapter: OperationAdapter<any> = {
  api: 'messages',
  operation: 'chat',
  model: (body) => str(body?.model),
  writeRequestAttributes: (span, body) =>
    writeLimitAttributes(span, body?.max_tokens, body?.temperature),
  // Anthropic's tiers (`auto`, `standard_only`; `priority` by commitment) are not
  // OpenAI's price factors: calls are priced at the catalog's standard rates.
  requestServiceTier: () => undefined,
  prepareBody: (body) => ({ body, injectedUsage: false }),
  // Required by the API: the admission reserves exactly this much output.
  maxOutputTokens: maxTokens,
  billedInput: messagesBilledInput,
  inputText: (body) =>
    JSON.stringify(
      body?.system === undefined
        ? (body?.messages ?? [])
        : { system: body.system, messages: body?.messages },
    ),
  fromResult(result, _catalogProvider, withText) {
    const r = isObject(result) ? result : {};
    const reason = str(r.stop_reason);
    return {
      usage: isObject(r.usage) ? readUsage(r.usage) : undefined,
      responseModel: str(r.model),
      responseId: str(r.id),
      finishReasons: reason ? [reason] : undefined,
      outputText: withText ? capturedText(() => contentText(r.content)) : undefined,
    };
  },
  onStreamItem(item, state) {
    if (!isObject(item)) return false;
    switch (item.type) {
      case 'message_start': {
        const message = isObject(item.message) ? item.message : undefined;
        if (message) {
          state.responseModel = str(message.model) ?? state.responseModel;
          state.responseId = str(message.id) ?? state.responseId;
          if (isObject(message.usage)) {
            const merged: StreamUsage = { raw: { ...message.usage }, outputFinal: false };
            (state as AnthropicStreamState)[MERGED] = merged;
            state.usage = readUsage(merged.raw);
          }
        }
        break;
      }
      case 'content_block_delta': {
        const delta = item.delta;
        if (isObject(delta)) {
          const piece = str(delta.text) ?? str(delta.thinking) ?? str(delta.partial_json);
          if (piece) state.pieces.push(piece);
        }
        state.firstChunk = true;
        // Until `message_delta` says the output, `message_start`'s placeholder (1) is
        // no count: each delta is at least one token, so a stream abandoned midway
        // counts at least what it streamed.
        const usage = state.usage;
        if (
          usage !== undefined &&
          state.pieces.length > usage.output &&
          (state as AnthropicStreamState)[MERGED]?.outputFinal === false
        )
          usage.output = state.pieces.length;
        break;
      }
      case 'message_delta': {
        const reason = isObject(item.delta) ? str(item.delta.stop_reason) : undefined;
        if (reason) state.finishReasons[0] = reason;
        if (isObject(item.usage)) {
          let merged = (state as AnthropicStreamState)[MERGED];
          if (merged === undefined) {
            merged = { raw: {}, outputFinal: false };
            (state as AnthropicStreamState)[MERGED] = merged;
          }
          for (const [key, value] of Object.entries(item.usage)) {
            if (value !== null && value !== undefined) merged.raw[key] = value;
          }
          merged.outputFinal = true;
          state.usage = readUsage(merged.raw);
        }
        break;
      }
    }
    return false;
  },
};
