// The Amazon Bedrock Runtime half of the fake LLM server (served by ./fake-openai-server.mjs on
// Bedrock's real paths, so `new BedrockRuntimeClient({ region, endpoint: fake.url, credentials })`
// talks to it; the signature is not checked).
//
//   POST /model/{modelId}/converse                      Converse JSON
//   POST /model/{modelId}/converse-stream               ConverseStream, AWS event-stream binary
//   POST /model/{modelId}/invoke                        InvokeModel: the model's own JSON body
//   POST /model/{modelId}/invoke-with-response-stream   chunk events of the model's stream JSON
//   errors                                              restJson: `x-amzn-errortype` + { message }
//
// Streams are encoded with the AWS SDK's own event-stream codec (`@smithy/core/event-streams`:
// prelude, headers, payload, CRC32s), loaded on the first stream: the only dependency of the fake
// beyond node: builtins, and one that comes with `@aws-sdk/client-bedrock-runtime`.
//
// Deterministic accounting (the words-based rules of the other halves):
//   Converse          prompt = (system ? words(system blocks) + 3 : 0) + sum over messages of
//                     (words(text blocks) + 3). With a `cachePoint` block anywhere (system,
//                     messages, toolConfig.tools): cacheReadInputTokens = floor(prompt / 2),
//                     cacheWriteInputTokens = floor(prompt / 4); inputTokens = prompt - read - write
//                     (Bedrock's inputTokens EXCLUDES both cache counts).
//                     reply = min(5, inferenceConfig.maxTokens) words; stopReason 'max_tokens'
//                     when fewer than 5, else 'end_turn'. The stream's `metadata` event carries
//                     the usage.
//   Invoke, Anthropic body (`anthropic_version`): the Messages rules of ./fake-anthropic.mjs
//                     (cache_control markers); the stream is Anthropic's event sequence, one
//                     `chunk` event each ({ bytes: base64(JSON) }), and message_stop carries
//                     `amazon-bedrock-invocationMetrics`.
//   Invoke, Nova body (`schemaVersion` 'messages-v1' or a `messages` array): the Converse rules
//                     (max tokens from inferenceConfig.max_new_tokens, cachePoint blocks), usage as
//                     { inputTokens, outputTokens, totalTokens, cacheReadInputTokenCount,
//                     cacheWriteInputTokenCount }.
//   Invoke, Titan body (`inputText`): inputTextTokenCount = words(inputText), reply =
//                     min(5, textGenerationConfig.maxTokenCount) words.
// Scripts: `error` (Bedrock's error shape and exception name by status), `hang`, `bytes`; a
// `usage` script replaces the Converse usage object verbatim.

import { Buffer } from 'node:buffer';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  contentWords,
  countWords,
  DEFAULT_REPLY_WORDS,
  MESSAGE_OVERHEAD_TOKENS,
  replyText,
} from './fake-accounting.mjs';
import { anthropicPlan } from './fake-anthropic.mjs';

/**
 * @typedef {import('./fake-anthropic.mjs').Ctx} Ctx
 * @typedef {import('./fake-anthropic.mjs').Io} Io
 * @typedef {{ model: string, action: 'converse' | 'converse-stream' | 'invoke' | 'invoke-with-response-stream' }} BedrockRoute
 */

const ACTIONS = ['converse', 'converse-stream', 'invoke', 'invoke-with-response-stream'];

/**
 * The model and action of a Bedrock Runtime path, or undefined for any other path.
 * @param {string} pathname
 * @returns {BedrockRoute | undefined}
 */
export function bedrockRoute(pathname) {
  const m = /^\/model\/([^/]+)\/([a-z-]+)$/.exec(pathname);
  if (!m || !ACTIONS.includes(/** @type {string} */ (m[2]))) return undefined;
  return {
    model: decodeURIComponent(/** @type {string} */ (m[1])),
    action: /** @type {BedrockRoute['action']} */ (m[2]),
  };
}

/**
 * Bedrock's error body and headers for an HTTP status (the SDK reads the exception name from
 * `x-amzn-errortype`).
 * @param {number} status
 * @returns {{ body: object, headers: Record<string, string> }}
 */
export function bedrockErrorFor(status) {
  /** @type {Record<number, [string, string]>} */
  const known = {
    400: [
      'ValidationException',
      'Malformed input request, please reformat your input and try again.',
    ],
    403: [
      'AccessDeniedException',
      "You don't have access to the model with the specified model ID.",
    ],
    404: ['ResourceNotFoundException', 'The requested resource could not be found.'],
    408: ['ModelTimeoutException', 'Model has timed out in processing the request.'],
    429: ['ThrottlingException', 'Too many requests, please wait before trying again.'],
    500: ['InternalServerException', 'The server encountered an error processing the request.'],
    503: ['ServiceUnavailableException', 'The service is temporarily unavailable.'],
  };
  const [name, message] = known[status] ?? ['InternalServerException', `HTTP ${status}`];
  return {
    body: { message },
    headers: { 'x-amzn-errortype': `${name}:http://internal.amazon.com/coral/com.amazon.bedrock/` },
  };
}

/**
 * Words and framing of Bedrock content blocks (`[{ text }, { cachePoint }, …]`).
 * @param {any} body
 * @returns {number}
 */
function conversePromptTokens(body) {
  let n = 0;
  if (Array.isArray(body?.system) && body.system.length > 0) {
    n += contentWords(body.system) + MESSAGE_OVERHEAD_TOKENS;
  }
  const messages = Array.isArray(body?.messages) ? body.messages : [];
  for (const m of messages) n += contentWords(m?.content) + MESSAGE_OVERHEAD_TOKENS;
  return n;
}

/**
 * True when a `cachePoint` block appears in the system prompt, a message or a tool list.
 * @param {any} body
 */
function hasCachePoint(body) {
  const blocks = [
    ...(Array.isArray(body?.system) ? body.system : []),
    ...(Array.isArray(body?.toolConfig?.tools) ? body.toolConfig.tools : []),
  ];
  for (const m of Array.isArray(body?.messages) ? body.messages : []) {
    if (Array.isArray(m?.content)) blocks.push(...m.content);
  }
  return blocks.some((b) => b && typeof b === 'object' && b.cachePoint !== undefined);
}

/**
 * Usage and reply of a Converse-shaped request (Converse and Nova bodies).
 * @param {any} body
 * @param {unknown} max
 */
function conversePlan(body, max) {
  const prompt = conversePromptTokens(body);
  const cached = hasCachePoint(body);
  const read = cached ? Math.floor(prompt / 2) : 0;
  const write = cached ? Math.floor(prompt / 4) : 0;
  const limit = Number.isInteger(max) && /** @type {number} */ (max) >= 0 ? Number(max) : Infinity;
  const words = Math.min(DEFAULT_REPLY_WORDS, limit);
  return {
    input: prompt - read - write,
    read,
    write,
    words,
    stopReason: words < DEFAULT_REPLY_WORDS ? 'max_tokens' : 'end_turn',
  };
}

/** @type {Promise<{ encode: (message: object) => Uint8Array }> | undefined} */
let codec;

/** The SDK's own event-stream encoder, loaded once. */
function eventStreamCodec() {
  codec ??= import('@smithy/core/event-streams').then(
    (m) =>
      new m.EventStreamCodec(
        (/** @type {Uint8Array} */ bytes) => Buffer.from(bytes).toString('utf8'),
        (/** @type {string} */ text) => new Uint8Array(Buffer.from(text, 'utf8')),
      ),
  );
  return codec;
}

/**
 * One event-stream message of event `type` with a JSON payload.
 * @param {string} type
 * @param {unknown} payload
 */
function eventMessage(type, payload) {
  return {
    headers: {
      ':event-type': { type: 'string', value: type },
      ':content-type': { type: 'string', value: 'application/json' },
      ':message-type': { type: 'string', value: 'event' },
    },
    body: new Uint8Array(Buffer.from(JSON.stringify(payload), 'utf8')),
  };
}

/**
 * Sends event-stream messages, one write each (a `stream-cut` script drops the connection after
 * `afterChunks` of them).
 * @param {Ctx} ctx
 * @param {object[]} messages
 */
async function sendEvents(ctx, messages) {
  const { res, script } = ctx;
  const { encode } = await eventStreamCodec().then((c) => ({ encode: c.encode.bind(c) }));
  res.writeHead(200, {
    'content-type': 'application/vnd.amazon.eventstream',
    'x-amzn-bedrock-content-type': 'application/json',
    ...ctx.headers,
  });
  res.flushHeaders();
  const cutAfter = script?.kind === 'stream-cut' ? Math.max(0, script.afterChunks) : Infinity;
  for (let i = 0; i < messages.length; i++) {
    if (i >= cutAfter) {
      // Over HTTP/2 the stream is reset (INTERNAL_ERROR); over HTTP/1 the connection drops.
      const h2 = /** @type {any} */ (res).stream;
      if (h2 && typeof h2.close === 'function') h2.close(0x2);
      else if (res.socket && !res.socket.destroyed) res.socket.destroy();
      return;
    }
    if (i > 0) await sleep(ctx.chunkDelayMs);
    if (res.destroyed || res.writableEnded) return;
    res.write(encode(/** @type {any} */ (messages[i])));
  }
  if (!res.destroyed && !res.writableEnded) res.end();
}

/**
 * The words of `text` as stream pieces, a space before every word but the first.
 * @param {string} text
 */
function pieces(text) {
  return text
    .split(' ')
    .filter((w) => w !== '')
    .map((w, i) => (i === 0 ? w : ` ${w}`));
}

/**
 * Serves one Bedrock Runtime request.
 * @param {Ctx} ctx
 * @param {Io} io
 * @param {BedrockRoute} route
 */
export async function bedrockApi(ctx, io, route) {
  const { body, script } = ctx;
  ctx.headers['x-amzn-requestid'] = ctx.headers['x-request-id'] ?? ctx.ids('req_');
  const fail = (/** @type {number} */ status, /** @type {string} */ message) => {
    const e = bedrockErrorFor(status);
    io.sendJson(ctx.res, status, { message }, { ...ctx.headers, ...e.headers });
  };
  if (body === null || typeof body !== 'object') return fail(400, 'Malformed input request');
  if (route.action === 'converse' || route.action === 'converse-stream') {
    if (!Array.isArray(body.messages)) return fail(400, 'messages: required');
    return converse(ctx, io, route, body, script);
  }
  if (typeof body.anthropic_version === 'string') return invokeAnthropic(ctx, io, route, body);
  if (typeof body.inputText === 'string') return invokeTitan(ctx, io, route, body);
  if (Array.isArray(body.messages)) return invokeNova(ctx, io, route, body);
  return fail(400, 'Malformed input request: unknown model body');
}

/**
 * @param {Ctx} ctx
 * @param {Io} io
 * @param {BedrockRoute} route
 * @param {any} body
 * @param {Ctx['script']} script
 */
async function converse(ctx, io, route, body, script) {
  const plan = conversePlan(body, body.inferenceConfig?.maxTokens);
  /** @type {Record<string, unknown>} */
  let usage = {
    inputTokens: plan.input,
    outputTokens: plan.words,
    totalTokens: plan.input + plan.read + plan.write + plan.words,
  };
  if (plan.read > 0 || plan.write > 0) {
    usage.cacheReadInputTokens = plan.read;
    usage.cacheWriteInputTokens = plan.write;
  }
  if (script?.kind === 'usage') usage = /** @type {Record<string, unknown>} */ (script.usage);
  const text = replyText(route.model, plan.words);
  if (route.action === 'converse') {
    io.sendJson(
      ctx.res,
      200,
      {
        output: { message: { role: 'assistant', content: [{ text }] } },
        stopReason: plan.stopReason,
        usage,
        metrics: { latencyMs: 1 },
      },
      ctx.headers,
    );
    return;
  }
  await sendEvents(ctx, [
    eventMessage('messageStart', { role: 'assistant', p: 'abc' }),
    ...pieces(text).map((piece) =>
      eventMessage('contentBlockDelta', { contentBlockIndex: 0, delta: { text: piece } }),
    ),
    eventMessage('contentBlockStop', { contentBlockIndex: 0 }),
    eventMessage('messageStop', { stopReason: plan.stopReason }),
    eventMessage('metadata', { usage, metrics: { latencyMs: 1 } }),
  ]);
}

/**
 * Bedrock's per-invocation figures, on the last chunk of every InvokeModel stream.
 * @param {number} input
 * @param {number} output
 */
function invocationMetrics(input, output) {
  return {
    'amazon-bedrock-invocationMetrics': {
      inputTokenCount: input,
      outputTokenCount: output,
      invocationLatency: 1,
      firstByteLatency: 1,
    },
  };
}

/**
 * A `chunk` event of an InvokeModel stream: the model's JSON, base64 in `bytes`.
 * @param {unknown} json
 */
function chunk(json) {
  return eventMessage('chunk', { bytes: Buffer.from(JSON.stringify(json)).toString('base64') });
}

/**
 * @param {Ctx} ctx
 * @param {Io} io
 * @param {BedrockRoute} route
 * @param {any} body
 */
async function invokeAnthropic(ctx, io, route, body) {
  const plan = anthropicPlan(body);
  const { cache_creation: _split, server_tool_use: _s, service_tier: _t, ...usage } = plan.usage;
  const text = replyText(route.model, plan.words);
  const stopReason = plan.truncated ? 'max_tokens' : 'end_turn';
  // Bedrock answers with Anthropic's own model name, not the Bedrock model id.
  const model = route.model.replace(/^(?:[a-z]+\.)?anthropic\./, '').replace(/-v\d+:\d+$/, '');
  const id = ctx.ids('msg_bdrk_');
  if (route.action === 'invoke') {
    io.sendJson(
      ctx.res,
      200,
      {
        id,
        type: 'message',
        role: 'assistant',
        model,
        content: [{ type: 'text', text }],
        stop_reason: stopReason,
        stop_sequence: null,
        usage,
      },
      ctx.headers,
    );
    return;
  }
  const input =
    usage.input_tokens + usage.cache_read_input_tokens + usage.cache_creation_input_tokens;
  await sendEvents(ctx, [
    chunk({
      type: 'message_start',
      message: {
        id,
        type: 'message',
        role: 'assistant',
        model,
        content: [],
        stop_reason: null,
        stop_sequence: null,
        usage: { ...usage, output_tokens: 1 },
      },
    }),
    chunk({ type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } }),
    ...pieces(text).map((piece) =>
      chunk({ type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: piece } }),
    ),
    chunk({ type: 'content_block_stop', index: 0 }),
    chunk({
      type: 'message_delta',
      delta: { stop_reason: stopReason, stop_sequence: null },
      usage: { output_tokens: usage.output_tokens },
    }),
    chunk({ type: 'message_stop', ...invocationMetrics(input, usage.output_tokens) }),
  ]);
}

/**
 * @param {Ctx} ctx
 * @param {Io} io
 * @param {BedrockRoute} route
 * @param {any} body
 */
async function invokeNova(ctx, io, route, body) {
  const plan = conversePlan(body, body.inferenceConfig?.max_new_tokens);
  const usage = {
    inputTokens: plan.input,
    outputTokens: plan.words,
    totalTokens: plan.input + plan.read + plan.write + plan.words,
    cacheReadInputTokenCount: plan.read,
    cacheWriteInputTokenCount: plan.write,
  };
  const text = replyText(route.model, plan.words);
  if (route.action === 'invoke') {
    io.sendJson(
      ctx.res,
      200,
      {
        output: { message: { role: 'assistant', content: [{ text }] } },
        stopReason: plan.stopReason,
        usage,
      },
      ctx.headers,
    );
    return;
  }
  await sendEvents(ctx, [
    chunk({ messageStart: { role: 'assistant' } }),
    ...pieces(text).map((piece) =>
      chunk({ contentBlockDelta: { delta: { text: piece }, contentBlockIndex: 0 } }),
    ),
    chunk({ contentBlockStop: { contentBlockIndex: 0 } }),
    chunk({ messageStop: { stopReason: plan.stopReason } }),
    chunk({
      metadata: { usage, metrics: {}, trace: {} },
      ...invocationMetrics(plan.input + plan.read + plan.write, plan.words),
    }),
  ]);
}

/**
 * @param {Ctx} ctx
 * @param {Io} io
 * @param {BedrockRoute} route
 * @param {any} body
 */
async function invokeTitan(ctx, io, route, body) {
  const input = countWords(body.inputText);
  const max = body.textGenerationConfig?.maxTokenCount;
  const words = Math.min(DEFAULT_REPLY_WORDS, Number.isInteger(max) && max >= 0 ? max : Infinity);
  const reason = words < DEFAULT_REPLY_WORDS ? 'LENGTH' : 'FINISH';
  const text = replyText(route.model, words);
  if (route.action === 'invoke') {
    io.sendJson(
      ctx.res,
      200,
      {
        inputTextTokenCount: input,
        results: [{ tokenCount: words, outputText: text, completionReason: reason }],
      },
      ctx.headers,
    );
    return;
  }
  await sendEvents(ctx, [
    chunk({
      outputText: text,
      index: 0,
      totalOutputTextTokenCount: words,
      completionReason: reason,
      inputTextTokenCount: input,
      ...invocationMetrics(input, words),
    }),
  ]);
}
