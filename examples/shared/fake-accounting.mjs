// The deterministic accounting of the fake LLM server: the words-based token rules, reply text
// and embeddings that every protocol it speaks (OpenAI, Anthropic, Gemini) shares. Re-exported by
// ./fake-openai-server.mjs, whose header comment states the rules; typed in its .d.mts.

import { Buffer } from 'node:buffer';

export const DEFAULT_REPLY_WORDS = 5;
export const REASONING_TOKENS = 10;
export const DEFAULT_EMBEDDING_DIMENSIONS = 8;
/** Tokens each message adds on top of its words (role and framing). */
export const MESSAGE_OVERHEAD_TOKENS = 3;

/**
 * Number of whitespace-separated words in `text` (0 for anything that is not a string).
 * @param {unknown} text
 * @returns {number}
 */
export function countWords(text) {
  if (typeof text !== 'string') return 0;
  return text.split(/\s+/).filter((w) => w !== '').length;
}

/**
 * Words in a message `content`: a string, or an array of parts whose string `text` fields count.
 * @param {unknown} content
 * @returns {number}
 */
export function contentWords(content) {
  if (typeof content === 'string') return countWords(content);
  if (!Array.isArray(content)) return 0;
  let n = 0;
  for (const part of content) {
    if (part && typeof part === 'object' && typeof part.text === 'string') {
      n += countWords(part.text);
    }
  }
  return n;
}

/**
 * prompt_tokens of a chat completion request: sum over messages of (content words + 3).
 * @param {any} body
 * @returns {number}
 */
export function chatPromptTokens(body) {
  const messages = Array.isArray(body?.messages) ? body.messages : [];
  let n = 0;
  for (const m of messages) n += contentWords(m?.content) + MESSAGE_OVERHEAD_TOKENS;
  return n;
}

/**
 * input_tokens of a Responses API request: instructions and each input item count as a message
 * (words + 3); a string `input` is one message.
 * @param {any} body
 * @returns {number}
 */
export function responsesInputTokens(body) {
  let n = 0;
  if (typeof body?.instructions === 'string') {
    n += countWords(body.instructions) + MESSAGE_OVERHEAD_TOKENS;
  }
  const input = body?.input;
  if (typeof input === 'string') {
    n += countWords(input) + MESSAGE_OVERHEAD_TOKENS;
  } else if (Array.isArray(input)) {
    for (const item of input) n += contentWords(item?.content) + MESSAGE_OVERHEAD_TOKENS;
  }
  return n;
}

/**
 * Tokens of an embeddings `input`: words of each string; token arrays count their length.
 * @param {unknown} input
 * @returns {number}
 */
export function embeddingTokens(input) {
  if (typeof input === 'string') return countWords(input);
  if (!Array.isArray(input)) return 0;
  if (input.every((x) => typeof x === 'number')) return input.length;
  let n = 0;
  for (const item of input) n += Array.isArray(item) ? item.length : countWords(item);
  return n;
}

/**
 * Whether the fake treats `model` as a reasoning model (o-series: /^o\d/).
 * @param {unknown} model
 * @returns {boolean}
 */
export function isReasoningModel(model) {
  return typeof model === 'string' && /^o\d/.test(model);
}

/**
 * The deterministic reply: "Hello", "from", `model` cycled to exactly `words` words.
 * @param {string} model
 * @param {number} words
 * @returns {string}
 */
export function replyText(model, words) {
  const cycle = ['Hello', 'from', model];
  /** @type {string[]} */
  const out = [];
  for (let i = 0; i < words; i++) out.push(/** @type {string} */ (cycle[i % 3]));
  return out.join(' ');
}

/**
 * How many reasoning and visible-reply tokens the fake produces for `model` under `limit`.
 * @param {unknown} model
 * @param {unknown} limit max_completion_tokens / max_tokens / max_output_tokens
 * @returns {CompletionPlan}
 */
export function planCompletion(model, limit) {
  const reasoningModel = isReasoningModel(model);
  if (typeof limit === 'number' && Number.isInteger(limit) && limit >= 0) {
    const reasoning = reasoningModel ? Math.min(REASONING_TOKENS, limit) : 0;
    return { reasoning, words: limit - reasoning, truncated: true };
  }
  return {
    reasoning: reasoningModel ? REASONING_TOKENS : 0,
    words: DEFAULT_REPLY_WORDS,
    truncated: false,
  };
}

/**
 * cached_tokens for a prompt: half of it (rounded down) when a prompt_cache_key is present.
 * @param {any} body
 * @param {number} promptTokens
 * @returns {number}
 */
export function cachedTokens(body, promptTokens) {
  const key = body?.prompt_cache_key;
  return typeof key === 'string' && key !== '' ? Math.floor(promptTokens / 2) : 0;
}

/**
 * The deterministic embedding vector for one input (a string, or a token array).
 * Values are multiples of 1/256 in [-0.5, 0.5): exactly representable in float32.
 * @param {unknown} input
 * @param {number} [dimensions]
 * @returns {number[]}
 */
export function fakeEmbedding(input, dimensions = DEFAULT_EMBEDDING_DIMENSIONS) {
  const text = typeof input === 'string' ? input : JSON.stringify(input);
  // FNV-1a over UTF-16 code units, then xorshift32 as a tiny PRNG.
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  if (h === 0) h = 1;
  /** @type {number[]} */
  const out = [];
  for (let i = 0; i < dimensions; i++) {
    h ^= h << 13;
    h >>>= 0;
    h ^= h >>> 17;
    h ^= h << 5;
    h >>>= 0;
    out.push(((h & 0xff) - 128) / 256);
  }
  return out;
}

/**
 * Base64 of the little-endian float32 bytes of `values` (OpenAI's `encoding_format: 'base64'`).
 * @param {number[]} values
 * @returns {string}
 */
export function float32Base64(values) {
  const view = new DataView(new ArrayBuffer(values.length * 4));
  values.forEach((v, i) => {
    view.setFloat32(i * 4, v, true);
  });
  return Buffer.from(view.buffer).toString('base64');
}
