/**
 * Readers shared by the Bedrock operation adapters: the request a `send(command)`
 * carries, model ids, token limits, and the billed input of Bedrock's content
 * blocks. Every read tolerates anything in any field and never throws.
 */
import type { MaxOutput } from '../../fuses/admission-estimate.js';
import { type BilledInput, IMAGE_TOKENS_BOUND } from '../../pricing/estimate-tokens.js';

/** One `client.send(command)` as the adapters read it. */
export interface BedrockRequest {
  /** The command's input (`modelId`, `messages`, `body`, …). */
  input: Record<string, any>;
  /** InvokeModel's `body`, parsed from its JSON bytes; undefined for Converse or unreadable bytes. */
  payload: Record<string, any> | undefined;
}

export function isObject(value: unknown): value is Record<string, any> {
  return typeof value === 'object' && value !== null;
}

export function str(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

export function list(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

/** A token limit field: unset, a count, or a value the admission must refuse to trust. */
export function readMax(value: unknown, field: string): MaxOutput {
  if (value === undefined || value === null) return { kind: 'unset' };
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0
    ? { kind: 'set', tokens: value }
    : { kind: 'invalid', field, value };
}

const decoder = new TextDecoder();

/** JSON of an InvokeModel body or stream chunk (a string or bytes); undefined when unreadable. */
export function parseJsonBytes(value: unknown): Record<string, any> | undefined {
  try {
    const text =
      typeof value === 'string'
        ? value
        : value instanceof Uint8Array
          ? decoder.decode(value)
          : undefined;
    if (text === undefined) return undefined;
    const parsed: unknown = JSON.parse(text);
    return isObject(parsed) ? parsed : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The model a `modelId` prices as: an ARN (`arn:aws:bedrock:…:inference-profile/us.anthropic.…`,
 * `…:foundation-model/anthropic.…`) names it in its last segment; a cross-region profile id
 * (`us.`, `eu.`, `apac.`, `global.`) is kept, since the catalog prices `global.` apart.
 */
export function bedrockModel(modelId: unknown): string | undefined {
  if (typeof modelId !== 'string' || modelId === '') return undefined;
  if (!modelId.startsWith('arn:')) return modelId;
  const slash = modelId.lastIndexOf('/');
  return slash >= 0 && slash < modelId.length - 1 ? modelId.slice(slash + 1) : modelId;
}

/**
 * The billed input of Bedrock content: strings, `{ text }` blocks (Converse, Nova) and
 * `{ type: 'text', text }` parts (Anthropic), images bounded like other SDKs' images;
 * documents and videos have no bound the body gives (bytes or an S3 location).
 */
export function billedInputOf(...parts: unknown[]): BilledInput {
  const input: BilledInput = { texts: [], messages: 0, framing: 0, extraTokens: 0, unseen: false };
  const walk = (value: unknown, depth: number): void => {
    if (depth > 64) {
      input.unseen = true;
      return;
    }
    if (typeof value === 'string') {
      if (value !== '') input.texts.push(value);
      return;
    }
    if (Array.isArray(value)) {
      for (const v of value) walk(v, depth + 1);
      return;
    }
    if (!isObject(value)) {
      if (typeof value === 'number' || typeof value === 'boolean') input.texts.push(String(value));
      return;
    }
    if (value instanceof Uint8Array) {
      input.unseen = true;
      return;
    }
    if (typeof value.text === 'string') {
      walk(value.text, depth + 1);
      return;
    }
    if (value.image !== undefined || value.type === 'image') {
      input.extraTokens += IMAGE_TOKENS_BOUND;
      return;
    }
    if (value.document !== undefined || value.video !== undefined || value.type === 'document') {
      input.unseen = true;
      return;
    }
    for (const [key, v] of Object.entries(value)) {
      if (key === 'role' || key === 'type' || key === 'cachePoint' || key === 'cache_control')
        continue;
      input.texts.push(key);
      walk(v, depth + 1);
    }
  };
  for (const part of parts) walk(part, 0);
  return input;
}

/** Counts messages (for the length bound's per-message framing). */
export function withMessages(input: BilledInput, messages: unknown): BilledInput {
  input.messages = list(messages).length;
  return input;
}
