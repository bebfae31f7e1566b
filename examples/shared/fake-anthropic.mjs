// The Anthropic Messages half of the fake LLM server (served by ./fake-openai-server.mjs on
// Anthropic's real paths, so `new Anthropic({ baseURL: fake.url })` talks to it).
//
//   POST /v1/messages                 JSON, or the SSE event stream with `stream: true`
//   POST /v1/messages/count_tokens    { input_tokens }
//   errors                            Anthropic's shape: { type: 'error', error: { type, message } }
//
// Deterministic accounting (the same words-based rules as the OpenAI half):
//   prompt            = (system ? words(system) + 3 : 0) + sum over messages of (words(content) + 3).
//   cache             = only when the request carries a `cache_control` marker anywhere
//                       (system, messages, tools): cache_read_input_tokens = floor(prompt / 2),
//                       cache_creation_input_tokens = floor(prompt / 4), split into
//                       cache_creation.ephemeral_1h_input_tokens when any marker has ttl '1h',
//                       else ephemeral_5m_input_tokens. input_tokens = prompt - read - creation
//                       (Anthropic's input_tokens EXCLUDES both cache counts).
//   thinking          = `thinking.type` 'enabled' or 'adaptive': a thinking block of
//                       min(10, max_tokens) tokens, counted in output_tokens.
//   reply             = min(5, max_tokens - thinking) words of replyText; stop_reason
//                       'max_tokens' when that is fewer than 5 words, else 'end_turn'.
//   output_tokens     = thinking + reply words.
//   streams           = message_start carries the input usage with output_tokens 1;
//                       message_delta carries the cumulative output_tokens only.
// Scripts: `usage` replaces the usage object verbatim (streams: message_start gets it with
// output_tokens 1, message_delta gets { output_tokens }); `ignore-include-usage` omits it.

import {
  contentWords,
  DEFAULT_REPLY_WORDS,
  MESSAGE_OVERHEAD_TOKENS,
  REASONING_TOKENS,
  replyText,
} from './fake-accounting.mjs';

/**
 * @typedef {import('./fake-openai-server.d.mts').Script} Script
 * @typedef {{
 *   res: import('node:http').ServerResponse,
 *   body: any,
 *   script: Script | undefined,
 *   headers: Record<string, string>,
 *   ids: (prefix: string) => string,
 *   chunkDelayMs: number,
 * }} Ctx
 * @typedef {{
 *   sendJson: (res: import('node:http').ServerResponse, status: number, payload: unknown, headers: Record<string, string>) => void,
 *   sendSse: (ctx: Ctx, frames: string[], trailer: string | null) => Promise<void>,
 *   cutJson: (ctx: Ctx, payload: object) => void,
 * }} Io
 */

/**
 * The prompt tokens of a Messages request, before any split into cache reads and writes.
 * @param {any} body
 * @returns {number}
 */
export function anthropicPromptTokens(body) {
  let n = 0;
  if (body?.system !== undefined) n += contentWords(body.system) + MESSAGE_OVERHEAD_TOKENS;
  const messages = Array.isArray(body?.messages) ? body.messages : [];
  for (const m of messages) n += contentWords(m?.content) + MESSAGE_OVERHEAD_TOKENS;
  return n;
}

/**
 * The `ttl` of every cache_control marker in the request ('5m' when a marker names none).
 * @param {any} body
 * @returns {string[]}
 */
function cacheMarkers(body) {
  /** @type {string[]} */
  const ttls = [];
  /** @param {unknown} node */
  const visit = (node) => {
    if (Array.isArray(node)) {
      for (const item of node) visit(item);
    } else if (node && typeof node === 'object') {
      const marker = /** @type {any} */ (node).cache_control;
      if (marker && typeof marker === 'object') ttls.push(marker.ttl === '1h' ? '1h' : '5m');
      for (const value of Object.values(node)) visit(value);
    }
  };
  visit([body?.system, body?.messages, body?.tools]);
  return ttls;
}

/**
 * The usage the fake reports for a Messages request (see the header for the rules).
 * @param {any} body
 * @returns {{ usage: Record<string, any>, thinking: number, words: number, truncated: boolean }}
 */
export function anthropicPlan(body) {
  const prompt = anthropicPromptTokens(body);
  const ttls = cacheMarkers(body);
  const read = ttls.length > 0 ? Math.floor(prompt / 2) : 0;
  const creation = ttls.length > 0 ? Math.floor(prompt / 4) : 0;
  const oneHour = ttls.includes('1h');
  const max = Number.isInteger(body?.max_tokens) && body.max_tokens >= 0 ? body.max_tokens : 1024;
  const thinkingType = body?.thinking?.type;
  const thinking =
    thinkingType === 'enabled' || thinkingType === 'adaptive' ? Math.min(REASONING_TOKENS, max) : 0;
  const words = Math.min(DEFAULT_REPLY_WORDS, max - thinking);
  return {
    usage: {
      input_tokens: prompt - read - creation,
      cache_creation_input_tokens: creation,
      cache_read_input_tokens: read,
      cache_creation: {
        ephemeral_5m_input_tokens: oneHour ? 0 : creation,
        ephemeral_1h_input_tokens: oneHour ? creation : 0,
      },
      output_tokens: thinking + words,
      server_tool_use: null,
      service_tier: 'standard',
    },
    thinking,
    words,
    truncated: words < DEFAULT_REPLY_WORDS,
  };
}

/**
 * Anthropic's error body (and extra headers) for an HTTP status.
 * @param {number} status
 * @param {string} requestId
 * @returns {{ body: object, headers: Record<string, string> }}
 */
export function anthropicErrorFor(status, requestId) {
  /** @type {Record<number, [string, string]>} */
  const known = {
    400: ['invalid_request_error', 'messages: at least one message is required'],
    401: ['authentication_error', 'invalid x-api-key'],
    403: [
      'permission_error',
      'Your API key does not have permission to use the specified resource.',
    ],
    404: ['not_found_error', 'model: claude-unknown'],
    413: ['request_too_large', 'Request exceeds the maximum allowed number of bytes.'],
    429: [
      'rate_limit_error',
      'This request would exceed the rate limit for your organization of 50 requests per minute.',
    ],
    500: ['api_error', 'Internal server error'],
    529: ['overloaded_error', 'Overloaded'],
  };
  const [type, message] = known[status] ?? [
    status >= 500 ? 'api_error' : 'invalid_request_error',
    `Request failed with status ${status}.`,
  ];
  /** @type {Record<string, string>} */
  const headers = {};
  if (status === 429) {
    headers['retry-after'] = '1';
    headers['anthropic-ratelimit-requests-limit'] = '50';
    headers['anthropic-ratelimit-requests-remaining'] = '0';
    headers['anthropic-ratelimit-requests-reset'] = '2026-01-01T00:00:01Z';
  }
  return { body: { type: 'error', error: { type, message }, request_id: requestId }, headers };
}

/**
 * An error in Anthropic's shape, for a request the fake rejects itself.
 * @param {Ctx} ctx
 * @param {Io} io
 * @param {number} status
 * @param {string} message
 */
function sendError(ctx, io, status, message) {
  const body = {
    type: 'error',
    error: { type: 'invalid_request_error', message },
    request_id: ctx.headers['request-id'],
  };
  io.sendJson(ctx.res, status, body, ctx.headers);
}

/**
 * POST /v1/messages/count_tokens: the prompt as one number (no cache split; it is an estimate).
 * @param {Ctx} ctx
 * @param {Io} io
 */
export function anthropicCountTokens(ctx, io) {
  if (typeof ctx.body?.model !== 'string') return sendError(ctx, io, 400, 'model: Field required');
  io.sendJson(ctx.res, 200, { input_tokens: anthropicPromptTokens(ctx.body) }, ctx.headers);
}

/**
 * POST /v1/messages, JSON or SSE.
 * @param {Ctx} ctx
 * @param {Io} io
 */
export async function anthropicMessages(ctx, io) {
  const { body, script } = ctx;
  if (typeof body?.model !== 'string') return sendError(ctx, io, 400, 'model: Field required');
  if (!Number.isInteger(body?.max_tokens)) {
    return sendError(ctx, io, 400, 'max_tokens: Field required');
  }
  if (!Array.isArray(body?.messages)) return sendError(ctx, io, 400, 'messages: Field required');

  const plan = anthropicPlan(body);
  /** @type {Record<string, any> | undefined} */
  let usage = plan.usage;
  if (script?.kind === 'usage') usage = /** @type {Record<string, any>} */ (script.usage);
  if (script?.kind === 'ignore-include-usage') usage = undefined;
  const model =
    script?.kind === 'usage' && typeof script.model === 'string' ? script.model : body.model;
  const text = replyText(body.model, plan.words);
  const thinkingText = replyText('thinking', plan.thinking);
  const stopReason = plan.truncated ? 'max_tokens' : 'end_turn';
  const id = ctx.ids('msg_01');
  /** @type {object[]} */
  const content = [];
  if (plan.thinking > 0) {
    content.push({ type: 'thinking', thinking: thinkingText, signature: 'sig_fake' });
  }
  content.push({ type: 'text', text });

  if (body.stream !== true) {
    /** @type {Record<string, unknown>} */
    const message = {
      id,
      type: 'message',
      role: 'assistant',
      model,
      content,
      stop_reason: stopReason,
      stop_sequence: null,
    };
    if (usage !== undefined) message.usage = usage;
    if (script?.kind === 'stream-cut') return io.cutJson(ctx, message);
    io.sendJson(ctx.res, 200, message, ctx.headers);
    return;
  }

  /**
   * @param {string} type
   * @param {object} data
   */
  const frame = (type, data) => `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`;
  const frames = [
    frame('message_start', {
      message: {
        id,
        type: 'message',
        role: 'assistant',
        model,
        content: [],
        stop_reason: null,
        stop_sequence: null,
        ...(usage !== undefined ? { usage: { ...usage, output_tokens: 1 } } : {}),
      },
    }),
    frame('ping', {}),
  ];
  let index = 0;
  if (plan.thinking > 0) {
    frames.push(
      frame('content_block_start', { index, content_block: { type: 'thinking', thinking: '' } }),
      frame('content_block_delta', {
        index,
        delta: { type: 'thinking_delta', thinking: thinkingText },
      }),
      frame('content_block_delta', {
        index,
        delta: { type: 'signature_delta', signature: 'sig_fake' },
      }),
      frame('content_block_stop', { index }),
    );
    index++;
  }
  frames.push(frame('content_block_start', { index, content_block: { type: 'text', text: '' } }));
  text.split(' ').forEach((word, i) => {
    if (word === '') return;
    const piece = i === 0 ? word : ` ${word}`;
    frames.push(
      frame('content_block_delta', { index, delta: { type: 'text_delta', text: piece } }),
    );
  });
  frames.push(
    frame('content_block_stop', { index }),
    frame('message_delta', {
      delta: { stop_reason: stopReason, stop_sequence: null },
      ...(usage !== undefined ? { usage: { output_tokens: usage.output_tokens } } : {}),
    }),
    frame('message_stop', {}),
  );
  await io.sendSse(ctx, frames, null);
}

/**
 * SSE frames of a `raw` script on an Anthropic path: `event: <type>` named from each event.
 * @param {unknown[]} events
 * @returns {string[]}
 */
export function anthropicRawFrames(events) {
  return events.map((e) => {
    const type = /** @type {any} */ (e)?.type;
    const name = typeof type === 'string' ? `event: ${type}\n` : '';
    return `${name}data: ${JSON.stringify(e)}\n\n`;
  });
}
