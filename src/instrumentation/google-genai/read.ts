/**
 * Readers of `@google/genai` request parameters (`{ model, contents, config }`).
 * A caller may pass anything in any field: every read tolerates it and never throws.
 */
import type { MaxOutput } from '../../fuses/admission-estimate.js';
import { type BilledInput, IMAGE_TOKENS_BOUND } from '../../pricing/estimate-tokens.js';
import { type AttributeSink, writeLimitAttributes } from '../sdk-adapter.js';

export function isObject(value: unknown): value is Record<string, any> {
  return typeof value === 'object' && value !== null;
}

/** A plain object that is no thenable: parameters the wrapper may copy. */
export function isPlainObject(value: unknown): value is Record<string, any> {
  return isObject(value) && !Array.isArray(value) && typeof value.then !== 'function';
}

export function str(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

/**
 * The model id as the catalog names it: Gemini accepts `models/gemini-2.5-pro`,
 * Vertex `publishers/google/models/…` or a full resource name.
 */
export function modelOf(params: any): string | undefined {
  const model = str(params?.model);
  if (model === undefined) return undefined;
  const at = model.lastIndexOf('models/');
  return at >= 0 ? model.slice(at + 'models/'.length) : model;
}

/** `config.maxOutputTokens`: unset, a count, or a value admission must not trust. */
export function maxOutputOf(params: any): MaxOutput {
  const value = params?.config?.maxOutputTokens;
  if (value === undefined || value === null) return { kind: 'unset' };
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0
    ? { kind: 'set', tokens: value }
    : { kind: 'invalid', field: 'config.maxOutputTokens', value };
}

export function writeRequestAttributes(
  span: AttributeSink,
  params: any,
  withMaxTokens: boolean,
): void {
  const config = params?.config;
  writeLimitAttributes(
    span,
    withMaxTokens ? config?.maxOutputTokens : undefined,
    config?.temperature,
  );
}

/**
 * The billed input of a `generateContent` / `embedContent` request: its contents
 * (a string, a part, a content, or a list of them), the system instruction and
 * the tools. Inline media is billed by size, not by the length of its base64; a
 * file or cached content is read by the provider from elsewhere (`unseen`).
 */
export function billedInput(params: any): BilledInput {
  const c: BilledInput = { texts: [], messages: 0, framing: 0, extraTokens: 0, unseen: false };
  const json = (value: unknown) => {
    if (value === undefined || value === null) return;
    if (typeof value === 'string') {
      if (value !== '') c.texts.push(value);
      return;
    }
    try {
      const text = JSON.stringify(value);
      if (text !== undefined) c.texts.push(text);
    } catch {
      c.unseen = true;
    }
  };
  const part = (p: unknown) => {
    if (!isObject(p)) return json(p);
    if (typeof p.text === 'string') return json(p.text);
    if (p.inlineData !== undefined) {
      c.extraTokens += IMAGE_TOKENS_BOUND;
      return;
    }
    if (p.fileData !== undefined) {
      c.unseen = true;
      return;
    }
    json(p);
  };
  const content = (item: unknown) => {
    c.messages += 1;
    if (isObject(item) && Array.isArray(item.parts)) for (const p of item.parts) part(p);
    else part(item);
  };
  const contents = params?.contents;
  if (Array.isArray(contents)) for (const item of contents) content(item);
  else content(contents);
  const config = params?.config;
  if (isObject(config)) {
    const system = config.systemInstruction;
    if (system !== undefined && system !== null) content(system);
    json(config.tools);
    json(config.toolConfig);
    json(config.responseSchema ?? config.responseJsonSchema);
    if (config.cachedContent !== undefined && config.cachedContent !== null) c.unseen = true;
  }
  return c;
}

/** The text of the contents, for content capture. */
export function inputText(params: any): string {
  try {
    return JSON.stringify(params?.contents ?? '') ?? '';
  } catch {
    return '';
  }
}

/** The text of one candidate's parts. */
export function partsText(candidate: Record<string, any>): string {
  const parts = isObject(candidate.content) ? candidate.content.parts : undefined;
  if (!Array.isArray(parts)) return '';
  let text = '';
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i];
    if (isObject(p) && typeof p.text === 'string') text += p.text;
  }
  return text;
}

/** Text and finish reasons of a `GenerateContentResponse` (or a stream chunk of one). */
export function candidatesOf(response: unknown): { text: string; reasons: (string | undefined)[] } {
  let text = '';
  const reasons: (string | undefined)[] = [];
  const candidates = isObject(response) ? response.candidates : undefined;
  if (!Array.isArray(candidates)) return { text, reasons };
  for (let i = 0; i < candidates.length; i++) {
    const candidate = candidates[i];
    if (!isObject(candidate)) continue;
    // Only the first candidate's text: the stream's cut-off counts one piece per delta.
    if (reasons.length === 0) text = partsText(candidate);
    reasons.push(str(candidate.finishReason));
  }
  return { text, reasons };
}
