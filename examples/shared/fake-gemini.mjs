// The Gemini API half of the fake LLM server (served by ./fake-openai-server.mjs on Google's
// real paths, so `new GoogleGenAI({ apiKey, httpOptions: { baseUrl: fake.url } })` talks to it).
//
//   POST /v1beta/models/{model}:generateContent
//   POST /v1beta/models/{model}:streamGenerateContent?alt=sse   `data: <JSON>` frames, no [DONE]
//   POST /v1beta/models/{model}:embedContent         { embedding: { values } }
//   POST /v1beta/models/{model}:batchEmbedContents   { embeddings: [{ values }] } (what
//                                                    @google/genai's embedContent calls)
//   POST /v1beta/models/{model}:countTokens          { totalTokens }
//   errors   Google's shape: { error: { code, message, status, details? } }; 429 carries a
//            google.rpc.RetryInfo detail and `retry-after: 1`.
// (`/v1/` serves the same as `/v1beta/`.)
//
// Deterministic usageMetadata:
//   promptTokenCount        = (systemInstruction ? words + 3 : 0) + sum over contents of
//                             (words of its parts' text + 3).
//   cachedContentTokenCount = floor(prompt / 2) when the request names `cachedContent`
//                             (included in promptTokenCount, as Gemini reports it).
//   toolUsePromptTokenCount = 4 per entry of `tools`, when there are tools.
//   thoughtsTokenCount      = min(10, maxOutputTokens) when generationConfig.thinkingConfig is
//                             present with a thinkingBudget other than 0.
//   candidatesTokenCount    = reply words = min(5, maxOutputTokens - thoughts); finishReason
//                             'MAX_TOKENS' when fewer than 5, else 'STOP'.
//   totalTokenCount         = prompt + toolUse + thoughts + candidates.
//   Absent counts are omitted, as Gemini does. Streams send one chunk per reply word; every
//   chunk but the last carries only promptTokenCount / totalTokenCount, the last the full block.
//   Embeddings: usageMetadata { promptTokenCount, totalTokenCount } = words of all inputs.
// Scripts: `usage` replaces usageMetadata verbatim (on the last stream chunk);
// `ignore-include-usage` omits it.

import {
  contentWords,
  countWords,
  DEFAULT_EMBEDDING_DIMENSIONS,
  DEFAULT_REPLY_WORDS,
  fakeEmbedding,
  MESSAGE_OVERHEAD_TOKENS,
  REASONING_TOKENS,
  replyText,
} from './fake-accounting.mjs';

const TOOL_USE_TOKENS_PER_TOOL = 4;

/**
 * @typedef {import('./fake-anthropic.mjs').Ctx} Ctx
 * @typedef {import('./fake-anthropic.mjs').Io} Io
 */

/**
 * The model and method of a Gemini path, or undefined when it is not one.
 * @param {string} pathname
 * @returns {{ model: string, method: string } | undefined}
 */
export function geminiRoute(pathname) {
  const m = /^\/v1(?:beta)?\/models\/([^/:]+):([A-Za-z]+)$/.exec(pathname);
  if (!m) return undefined;
  return {
    model: decodeURIComponent(/** @type {string} */ (m[1])),
    method: /** @type {string} */ (m[2]),
  };
}

/**
 * Words of a Gemini `Content` (its parts' text), or of a plain string.
 * @param {unknown} content
 * @returns {number}
 */
function geminiContentWords(content) {
  if (typeof content === 'string') return countWords(content);
  return contentWords(/** @type {any} */ (content)?.parts);
}

/**
 * The usageMetadata the fake reports for a generateContent request (see the header).
 * @param {any} body
 * @returns {{ usage: Record<string, number>, words: number, truncated: boolean }}
 */
export function geminiPlan(body) {
  let prompt = 0;
  if (body?.systemInstruction !== undefined) {
    prompt += geminiContentWords(body.systemInstruction) + MESSAGE_OVERHEAD_TOKENS;
  }
  const contents = Array.isArray(body?.contents) ? body.contents : [];
  for (const c of contents) prompt += geminiContentWords(c) + MESSAGE_OVERHEAD_TOKENS;
  const config = body?.generationConfig ?? {};
  const max =
    Number.isInteger(config.maxOutputTokens) && config.maxOutputTokens >= 0
      ? config.maxOutputTokens
      : 8192;
  const budget = config.thinkingConfig?.thinkingBudget;
  const thoughts =
    config.thinkingConfig !== undefined && budget !== 0 ? Math.min(REASONING_TOKENS, max) : 0;
  const words = Math.min(DEFAULT_REPLY_WORDS, max - thoughts);
  const tools = Array.isArray(body?.tools) ? body.tools.length : 0;
  const toolUse = tools * TOOL_USE_TOKENS_PER_TOOL;
  const cached = typeof body?.cachedContent === 'string' ? Math.floor(prompt / 2) : 0;
  /** @type {Record<string, any>} */
  const usage = { promptTokenCount: prompt };
  if (cached > 0) usage.cachedContentTokenCount = cached;
  usage.candidatesTokenCount = words;
  if (toolUse > 0) usage.toolUsePromptTokenCount = toolUse;
  if (thoughts > 0) usage.thoughtsTokenCount = thoughts;
  usage.totalTokenCount = prompt + toolUse + thoughts + words;
  usage.promptTokensDetails = [{ modality: 'TEXT', tokenCount: prompt }];
  if (cached > 0) usage.cacheTokensDetails = [{ modality: 'TEXT', tokenCount: cached }];
  return { usage, words, truncated: words < DEFAULT_REPLY_WORDS };
}

/**
 * Google's error body (and extra headers) for an HTTP status.
 * @param {number} status
 * @returns {{ body: object, headers: Record<string, string> }}
 */
export function geminiErrorFor(status) {
  /** @type {Record<number, [string, string]>} */
  const known = {
    400: ['INVALID_ARGUMENT', 'Request contains an invalid argument.'],
    401: ['UNAUTHENTICATED', 'API keys are not supported by this API.'],
    403: ['PERMISSION_DENIED', "Method doesn't allow unregistered callers."],
    404: ['NOT_FOUND', 'models/unknown is not found for API version v1beta.'],
    429: [
      'RESOURCE_EXHAUSTED',
      'You exceeded your current quota, please check your plan and billing details.',
    ],
    500: ['INTERNAL', 'An internal error has occurred.'],
    503: ['UNAVAILABLE', 'The model is overloaded. Please try again later.'],
  };
  const [statusName, message] = known[status] ?? [
    status >= 500 ? 'INTERNAL' : 'INVALID_ARGUMENT',
    `Request failed with status ${status}.`,
  ];
  /** @type {Record<string, unknown>} */
  const error = { code: status, message, status: statusName };
  /** @type {Record<string, string>} */
  const headers = {};
  if (status === 429) {
    error.details = [{ '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: '1s' }];
    headers['retry-after'] = '1';
  }
  return { body: { error }, headers };
}

/**
 * @param {Ctx} ctx
 * @param {Io} io
 * @param {number} status
 * @param {string} message
 */
function sendError(ctx, io, status, message) {
  const { body } = geminiErrorFor(status);
  io.sendJson(ctx.res, status, { error: { ...body.error, message } }, ctx.headers);
}

/**
 * Serve one Gemini API call.
 * @param {Ctx} ctx
 * @param {Io} io
 * @param {{ model: string, method: string }} route
 */
export async function geminiApi(ctx, io, route) {
  const { body, script } = ctx;
  if (route.method === 'embedContent' || route.method === 'batchEmbedContents') {
    return embed(ctx, io, route);
  }
  if (route.method === 'countTokens') {
    const { usage } = geminiPlan(body?.generateContentRequest ?? body);
    io.sendJson(ctx.res, 200, { totalTokens: usage.promptTokenCount }, ctx.headers);
    return;
  }
  const stream = route.method === 'streamGenerateContent';
  if (!stream && route.method !== 'generateContent') {
    return sendError(ctx, io, 404, `Method ${route.method} not found for model ${route.model}.`);
  }
  if (!Array.isArray(body?.contents)) {
    return sendError(ctx, io, 400, '* GenerateContentRequest.contents: contents is not specified');
  }
  const plan = geminiPlan(body);
  /** @type {Record<string, any> | undefined} */
  let usage = plan.usage;
  if (script?.kind === 'usage') usage = /** @type {Record<string, any>} */ (script.usage);
  if (script?.kind === 'ignore-include-usage') usage = undefined;
  const modelVersion =
    script?.kind === 'usage' && typeof script.model === 'string' ? script.model : route.model;
  const responseId = ctx.ids('resp');
  const finishReason = plan.truncated ? 'MAX_TOKENS' : 'STOP';
  const text = replyText(route.model, plan.words);

  /**
   * @param {string} piece
   * @param {string | undefined} finish
   * @param {Record<string, any> | undefined} chunkUsage
   */
  const response = (piece, finish, chunkUsage) => {
    /** @type {Record<string, unknown>} */
    const candidate = { content: { parts: [{ text: piece }], role: 'model' }, index: 0 };
    if (finish !== undefined) candidate.finishReason = finish;
    /** @type {Record<string, unknown>} */
    const r = { candidates: [candidate] };
    if (chunkUsage !== undefined) r.usageMetadata = chunkUsage;
    r.modelVersion = modelVersion;
    r.responseId = responseId;
    return r;
  };

  if (!stream) {
    const r = response(text, finishReason, usage);
    if (script?.kind === 'stream-cut') return io.cutJson(ctx, r);
    io.sendJson(ctx.res, 200, r, ctx.headers);
    return;
  }
  const words = text.split(' ').filter((w) => w !== '');
  if (words.length === 0) words.push('');
  const running =
    usage === undefined
      ? undefined
      : { promptTokenCount: usage.promptTokenCount, totalTokenCount: usage.promptTokenCount };
  const frames = words.map((word, i) => {
    const last = i === words.length - 1;
    const piece = i === 0 ? word : ` ${word}`;
    const r = response(piece, last ? finishReason : undefined, last ? usage : running);
    return `data: ${JSON.stringify(r)}\r\n\r\n`;
  });
  await io.sendSse(ctx, frames, null);
}

/**
 * :embedContent (one `content`) and :batchEmbedContents (`requests[].content`).
 * @param {Ctx} ctx
 * @param {Io} io
 * @param {{ model: string, method: string }} route
 */
function embed(ctx, io, route) {
  const { body, script } = ctx;
  const batch = route.method === 'batchEmbedContents';
  const requests = batch ? body?.requests : [body];
  if (!Array.isArray(requests) || requests.some((r) => r?.content === undefined)) {
    return sendError(ctx, io, 400, '* EmbedContentRequest.content: content is not specified');
  }
  let tokens = 0;
  const embeddings = requests.map((r) => {
    const text = (Array.isArray(r.content?.parts) ? r.content.parts : [])
      .map((/** @type {any} */ p) => (typeof p?.text === 'string' ? p.text : ''))
      .join(' ');
    tokens += countWords(text);
    const dims = r.outputDimensionality ?? DEFAULT_EMBEDDING_DIMENSIONS;
    return { values: fakeEmbedding(text, dims) };
  });
  /** @type {Record<string, unknown> | undefined} */
  let usage = { promptTokenCount: tokens, totalTokenCount: tokens };
  if (script?.kind === 'usage') usage = script.usage;
  if (script?.kind === 'ignore-include-usage') usage = undefined;
  /** @type {Record<string, unknown>} */
  const out = batch ? { embeddings } : { embedding: embeddings[0] };
  if (usage !== undefined) out.usageMetadata = usage;
  io.sendJson(ctx.res, 200, out, ctx.headers);
}

/**
 * SSE frames of a `raw` script on a Gemini path: `data: <JSON>` only, no [DONE].
 * @param {unknown[]} events
 * @returns {string[]}
 */
export function geminiRawFrames(events) {
  return events.map((e) => `data: ${JSON.stringify(e)}\r\n\r\n`);
}
