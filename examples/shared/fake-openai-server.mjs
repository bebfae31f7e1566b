// A local, deterministic, OpenAI-compatible fake LLM server.
//
// Used by the vitest suites and by the runnable examples/demos, so it is plain ESM with JSDoc
// types and depends on nothing but node: builtins. Types for TypeScript importers live in
// ./fake-openai-server.d.mts.
//
// Endpoints (all under /v1; clients use `url + '/v1'` as their base URL):
//   POST /v1/chat/completions   non-stream and SSE stream (incl. stream_options.include_usage)
//   POST /v1/responses          non-stream and SSE stream (the real typed event sequence)
//   POST /v1/embeddings         float or base64 (the SDK default) encoding
//   GET  /v1/models, GET /v1/models/{id}
//   anything else               404 with OpenAI's "Invalid URL" error body
//   model "error-<status>"      that HTTP error (e.g. error-500), for apps that can't enqueue
//
// Deterministic token accounting (so tests can compute exact expected numbers):
//   words(text)        = number of whitespace-separated words in the string (0 for non-strings).
//   words(content)     = words(content) for a string; for an array of content parts, the sum of
//                        words(part.text) over parts that have a string `text`; 0 otherwise
//                        (e.g. null content, images, audio).
//   chat prompt_tokens = sum over `messages` of (words(message.content) + 3).
//   responses input_tokens = (instructions ? words(instructions) + 3 : 0)
//                        + (typeof input === 'string' ? words(input) + 3
//                           : sum over input items of (words(item.content) + 3)).
//   cached tokens      = floor(prompt / 2) when the body has a non-empty string
//                        `prompt_cache_key`, else 0.
//   reasoning models   = model name matches /^o\d/ (o1, o3, o3-mini, o4-mini, ...).
//   completion         = limit = max_completion_tokens ?? max_tokens (chat) or
//                        max_output_tokens (responses), when it is a non-negative integer.
//                        Without a limit: reasoning_tokens = 10 for reasoning models (else 0),
//                        the reply has 5 words, finish_reason 'stop' / status 'completed'.
//                        With a limit: the limit is fully used, reasoning first:
//                        reasoning_tokens = min(10, limit) for reasoning models (else 0), the
//                        reply has (limit - reasoning_tokens) words, finish_reason 'length' /
//                        status 'incomplete' (incomplete_details.reason 'max_output_tokens').
//   completion_tokens / output_tokens = reply words + reasoning_tokens.
//   reply text         = the words "Hello", "from", <model> cycled, joined by single spaces,
//                        e.g. 5 words for gpt-4.1: "Hello from gpt-4.1 Hello from".
//   embeddings tokens  = sum of words(input string) over inputs (token-array inputs count
//                        their array length); prompt_tokens = total_tokens.
//   embedding vectors  = `dimensions` (default 8) floats, a deterministic function of the
//                        input (see fakeEmbedding); every value is a multiple of 1/256 in
//                        [-0.5, 0.5), so it is exact in float32 and float/base64 agree.

import { Buffer } from 'node:buffer';
import { createServer } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';

export const DEFAULT_REPLY_WORDS = 5;
export const REASONING_TOKENS = 10;
export const DEFAULT_EMBEDDING_DIMENSIONS = 8;
const MESSAGE_OVERHEAD_TOKENS = 3;
const SYSTEM_FINGERPRINT = 'fp_fa4e0ff1ce';

/** @type {Array<{ id: string, created: number }>} */
const MODELS = [
  { id: 'gpt-4.1', created: 1744316542 },
  { id: 'gpt-4.1-mini', created: 1744318173 },
  { id: 'gpt-4o-mini', created: 1721172741 },
  { id: 'o4-mini', created: 1744225351 },
  { id: 'text-embedding-3-small', created: 1705948997 },
];

/**
 * @typedef {import('./fake-openai-server.d.mts').FakeOpenAI} FakeOpenAI
 * @typedef {import('./fake-openai-server.d.mts').FakeOpenAIOptions} FakeOpenAIOptions
 * @typedef {import('./fake-openai-server.d.mts').RecordedRequest} RecordedRequest
 * @typedef {import('./fake-openai-server.d.mts').Script} Script
 * @typedef {import('node:http').IncomingMessage} IncomingMessage
 * @typedef {import('node:http').ServerResponse} ServerResponse
 * @typedef {{ reasoning: number, words: number, truncated: boolean }} CompletionPlan
 * @typedef {{
 *   res: ServerResponse,
 *   body: any,
 *   script: Script | undefined,
 *   headers: Record<string, string>,
 *   ids: (prefix: string) => string,
 *   chunkDelayMs: number,
 * }} Ctx
 */

// ---------------------------------------------------------------------------------------------
// Deterministic accounting helpers (exported so tests and demos can reuse the exact rules)
// ---------------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------------
// OpenAI-shaped error bodies
// ---------------------------------------------------------------------------------------------

/**
 * @param {string} message
 * @param {string} type
 * @param {string | null} [code]
 * @param {string | null} [param]
 */
function errorBody(message, type, code = null, param = null) {
  return { error: { message, type, param, code } };
}

/**
 * The default body (and extra headers) OpenAI sends for an error `status`.
 * @param {number} status
 * @param {any} requestBody
 * @returns {{ body: object, headers: Record<string, string> }}
 */
export function defaultErrorFor(status, requestBody) {
  const model = typeof requestBody?.model === 'string' ? requestBody.model : 'gpt-4.1';
  switch (status) {
    case 400:
      return {
        body: errorBody(
          "Invalid value for 'messages': the request could not be processed.",
          'invalid_request_error',
          'invalid_value',
          'messages',
        ),
        headers: {},
      };
    case 401:
      return {
        body: errorBody(
          'Incorrect API key provided: sk-test. You can find your API key at https://platform.openai.com/account/api-keys.',
          'invalid_request_error',
          'invalid_api_key',
        ),
        headers: {},
      };
    case 403:
      return {
        body: errorBody(
          'Country, region, or territory not supported',
          'request_forbidden',
          'unsupported_country_region_territory',
        ),
        headers: {},
      };
    case 404:
      return {
        body: errorBody(
          `The model \`${model}\` does not exist or you do not have access to it.`,
          'invalid_request_error',
          'model_not_found',
        ),
        headers: {},
      };
    case 429:
      return {
        body: errorBody(
          `Rate limit reached for ${model} in organization org-fake on requests per min (RPM): Limit 3, Used 3, Requested 1. Please try again in 1s. Visit https://platform.openai.com/account/rate-limits to learn more.`,
          'requests',
          'rate_limit_exceeded',
        ),
        headers: {
          'retry-after': '1',
          'x-ratelimit-limit-requests': '3',
          'x-ratelimit-remaining-requests': '0',
          'x-ratelimit-reset-requests': '1s',
        },
      };
    case 500:
      return {
        body: errorBody(
          'The server had an error while processing your request. Sorry about that!',
          'server_error',
        ),
        headers: {},
      };
    case 503:
      return {
        body: errorBody(
          'The engine is currently overloaded, please try again later.',
          'server_error',
        ),
        headers: {},
      };
    default:
      return {
        body: errorBody(
          `Request failed with status ${status}.`,
          status >= 500 ? 'server_error' : 'invalid_request_error',
        ),
        headers: {},
      };
  }
}

// ---------------------------------------------------------------------------------------------
// Server
// ---------------------------------------------------------------------------------------------

/**
 * Start the fake server. Resolves once it is listening.
 * @param {FakeOpenAIOptions} [options]
 * @returns {Promise<FakeOpenAI>}
 */
export async function startFakeOpenAI(options = {}) {
  const host = options.host ?? '127.0.0.1';
  const port = options.port ?? 0;
  const chunkDelayMs = options.chunkDelayMs ?? 0;

  /** @type {RecordedRequest[]} */
  const requests = [];
  /** @type {Script[]} */
  const queue = [];
  /** @type {Set<import('node:net').Socket>} */
  const sockets = new Set();
  let counter = 0;
  /** @param {string} prefix */
  const ids = (prefix) => `${prefix}${(++counter).toString(16).padStart(24, '0')}`;

  const server = createServer((req, res) => {
    handle(req, res).catch((err) => {
      if (!res.headersSent && !res.destroyed) {
        sendJson(
          res,
          500,
          errorBody(`Fake server failure: ${String(err?.message ?? err)}`, 'server_error'),
          {},
        );
      } else {
        res.destroy();
      }
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });

  /**
   * @param {IncomingMessage} req
   * @param {ServerResponse} res
   */
  async function handle(req, res) {
    res.on('error', () => {});
    /** @type {Buffer[]} */
    const chunks = [];
    for await (const chunk of req) chunks.push(chunk);
    const raw = Buffer.concat(chunks).toString('utf8');
    /** @type {any} */
    let body = null;
    let invalidJson = false;
    if (raw.trim() !== '') {
      try {
        body = JSON.parse(raw);
      } catch {
        invalidJson = true;
      }
    }

    /** @type {Record<string, string>} */
    const headers = {};
    for (const [k, v] of Object.entries(req.headers)) {
      if (v !== undefined) headers[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : v;
    }
    const method = req.method ?? 'GET';
    const path = req.url ?? '/';
    requests.push({ method, path, headers, body, receivedAt: Date.now() });
    // A model named `error-<status>` answers with that HTTP error: for processes
    // that cannot reach the server's script queue (apps under test, demos).
    const errorModel = /^error-(\d{3})$/.exec(typeof body?.model === 'string' ? body.model : '');
    const script = errorModel ? { kind: 'error', status: Number(errorModel[1]) } : queue.shift();

    const started = Date.now();
    const responseHeaders = {
      'x-request-id': ids('req_'),
      'openai-version': '2020-10-01',
      'openai-organization': 'org-fake',
      'openai-processing-ms': '0',
    };
    /** @type {Ctx} */
    const ctx = { res, body, script, headers: responseHeaders, ids, chunkDelayMs };

    if (script?.kind === 'hang') return; // accept, read, never answer (close() cleans up)
    if (script?.kind === 'raw') return sendRaw(res, script, responseHeaders);
    if (script?.kind === 'error') {
      const fallback = defaultErrorFor(script.status, body);
      const errHeaders = { ...responseHeaders, ...fallback.headers, ...(script.headers ?? {}) };
      sendJson(res, script.status, script.body ?? fallback.body, errHeaders);
      return;
    }
    if (invalidJson) {
      sendJson(
        res,
        400,
        errorBody(
          "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON. If you have trouble figuring out how to fix this, please contact us through our help center at help.openai.com.)",
          'invalid_request_error',
        ),
        responseHeaders,
      );
      return;
    }

    const pathname = path.split('?')[0] ?? '/';
    responseHeaders['openai-processing-ms'] = String(Date.now() - started);
    if (method === 'POST' && pathname === '/v1/chat/completions') return chatCompletions(ctx);
    if (method === 'POST' && pathname === '/v1/responses') return responses(ctx);
    if (method === 'POST' && pathname === '/v1/embeddings') return embeddings(ctx);
    if (method === 'GET' && pathname === '/v1/models') {
      sendJson(res, 200, { object: 'list', data: MODELS.map(modelObject) }, responseHeaders);
      return;
    }
    if (method === 'GET' && pathname.startsWith('/v1/models/')) {
      const id = decodeURIComponent(pathname.slice('/v1/models/'.length));
      const known = MODELS.find((m) => m.id === id);
      sendJson(res, 200, modelObject(known ?? { id, created: 1700000000 }), responseHeaders);
      return;
    }
    sendJson(
      res,
      404,
      errorBody(`Invalid URL (${method} ${pathname})`, 'invalid_request_error'),
      responseHeaders,
    );
  }

  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve(undefined);
    });
  });
  const address = /** @type {import('node:net').AddressInfo} */ (server.address());
  const urlHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;

  /** @type {Promise<void> | undefined} */
  let closing;
  return {
    url: `http://${urlHost}:${address.port}`,
    requests,
    reset() {
      requests.length = 0;
      queue.length = 0;
    },
    enqueue(script) {
      queue.push(script);
    },
    close() {
      closing ??= new Promise((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
        server.closeAllConnections();
      });
      return closing;
    },
  };
}

/** @param {{ id: string, created: number }} m */
function modelObject(m) {
  return { id: m.id, object: 'model', created: m.created, owned_by: 'system' };
}

/**
 * @param {ServerResponse} res
 * @param {number} status
 * @param {unknown} payload an object (sent as JSON) or a string (sent verbatim as text/plain)
 * @param {Record<string, string>} headers
 */
function sendJson(res, status, payload, headers) {
  if (res.destroyed || res.headersSent) return;
  const text = typeof payload === 'string' ? payload : JSON.stringify(payload);
  res.writeHead(status, {
    'content-type': typeof payload === 'string' ? 'text/plain; charset=utf-8' : 'application/json',
    'content-length': String(Buffer.byteLength(text)),
    ...headers,
  });
  res.end(text);
}

/**
 * A `raw` script: the status, headers and body pieces exactly as given (for malformed JSON and
 * SSE), then a clean end, a dropped connection, or a TCP reset.
 * @param {ServerResponse} res
 * @param {Extract<Script, { kind: 'raw' }>} script
 * @param {Record<string, string>} headers
 */
async function sendRaw(res, script, headers) {
  res.writeHead(script.status ?? 200, { ...headers, ...(script.headers ?? {}) });
  res.flushHeaders();
  for (const piece of script.body ?? []) {
    if (res.destroyed) return;
    res.write(piece);
    // One write per event-loop turn, so the client sees the pieces before the end.
    await sleep(1);
  }
  const socket = res.socket;
  if (script.end === 'reset') socket?.resetAndDestroy();
  else if (script.end === 'drop') socket?.end(() => socket.destroy());
  else res.end();
}

/**
 * Missing-parameter error in OpenAI's shape; returns true when it was sent.
 * @param {Ctx} ctx
 * @param {string} param
 * @param {boolean} ok
 */
function requireParam(ctx, param, ok) {
  if (ok) return false;
  sendJson(
    ctx.res,
    400,
    errorBody(
      `Missing required parameter: '${param}'.`,
      'invalid_request_error',
      'missing_required_parameter',
      param,
    ),
    ctx.headers,
  );
  return true;
}

/**
 * Stream SSE frames with `chunkDelayMs` between them, honouring a `stream-cut` script.
 * @param {Ctx} ctx
 * @param {string[]} frames fully formatted SSE frames ("...\n\n")
 * @param {string | null} trailer sent after the frames unless cut (chat's "data: [DONE]")
 */
async function sendSse(ctx, frames, trailer) {
  const { res, script } = ctx;
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    connection: 'keep-alive',
    ...ctx.headers,
  });
  res.flushHeaders();
  const cutAfter = script?.kind === 'stream-cut' ? Math.max(0, script.afterChunks) : Infinity;
  for (let i = 0; i < frames.length; i++) {
    if (i >= cutAfter) break;
    if (i > 0) await sleep(ctx.chunkDelayMs);
    if (res.destroyed || res.writableEnded) return;
    res.write(/** @type {string} */ (frames[i]));
  }
  if (cutAfter !== Infinity) {
    // Flush what was written, then drop the connection without ending the chunked body.
    const socket = res.socket;
    if (socket && !socket.destroyed) socket.end(() => socket.destroy());
    return;
  }
  if (res.destroyed || res.writableEnded) return;
  if (trailer !== null) res.write(trailer);
  res.end();
}

/**
 * The usage object to report: the `usage` script verbatim, none for `ignore-include-usage`,
 * otherwise the computed one.
 * @param {Ctx} ctx
 * @param {() => object} computed
 * @returns {object | undefined}
 */
function usageFor(ctx, computed) {
  if (ctx.script?.kind === 'usage') return ctx.script.usage;
  if (ctx.script?.kind === 'ignore-include-usage') return undefined;
  return computed();
}

/**
 * @param {any} body
 * @returns {'default' | 'flex' | 'priority' | 'scale'}
 */
function serviceTier(body) {
  const tier = body?.service_tier;
  return tier === 'flex' || tier === 'priority' || tier === 'scale' ? tier : 'default';
}

// ---------------------------------------------------------------------------------------------
// POST /v1/chat/completions
// ---------------------------------------------------------------------------------------------

/** @param {Ctx} ctx */
async function chatCompletions(ctx) {
  const { body } = ctx;
  if (requireParam(ctx, 'model', typeof body?.model === 'string')) return;
  if (requireParam(ctx, 'messages', Array.isArray(body?.messages))) return;

  const model = body.model;
  const limit = body.max_completion_tokens ?? body.max_tokens;
  const plan = planCompletion(model, limit);
  const text = replyText(model, plan.words);
  const finishReason = plan.truncated ? 'length' : 'stop';
  const usage = usageFor(ctx, () => {
    const prompt = chatPromptTokens(body);
    const completion = plan.words + plan.reasoning;
    return {
      prompt_tokens: prompt,
      completion_tokens: completion,
      total_tokens: prompt + completion,
      prompt_tokens_details: { cached_tokens: cachedTokens(body, prompt), audio_tokens: 0 },
      completion_tokens_details: {
        reasoning_tokens: plan.reasoning,
        audio_tokens: 0,
        accepted_prediction_tokens: 0,
        rejected_prediction_tokens: 0,
      },
    };
  });
  const id = ctx.ids('chatcmpl-');
  const created = Math.floor(Date.now() / 1000);
  const tier = serviceTier(body);

  if (body.stream !== true) {
    /** @type {Record<string, unknown>} */
    const completion = {
      id,
      object: 'chat.completion',
      created,
      model,
      choices: [
        {
          index: 0,
          message: { role: 'assistant', content: text, refusal: null, annotations: [] },
          logprobs: null,
          finish_reason: finishReason,
        },
      ],
    };
    if (usage !== undefined) completion.usage = usage;
    completion.service_tier = tier;
    completion.system_fingerprint = SYSTEM_FINGERPRINT;
    if (ctx.script?.kind === 'stream-cut') return cutJson(ctx, completion);
    sendJson(ctx.res, 200, completion, ctx.headers);
    return;
  }

  const includeUsage = body.stream_options?.include_usage === true && usage !== undefined;
  /**
   * @param {object[]} choices
   * @param {object | null} [chunkUsage]
   */
  const chunk = (choices, chunkUsage = null) => {
    /** @type {Record<string, unknown>} */
    const c = {
      id,
      object: 'chat.completion.chunk',
      created,
      model,
      service_tier: tier,
      system_fingerprint: SYSTEM_FINGERPRINT,
      choices,
    };
    if (includeUsage) c.usage = chunkUsage;
    return `data: ${JSON.stringify(c)}\n\n`;
  };
  /**
   * @param {object} delta
   * @param {string | null} [finish]
   */
  const choice = (delta, finish = null) => ({
    index: 0,
    delta,
    logprobs: null,
    finish_reason: finish,
  });

  const frames = [chunk([choice({ role: 'assistant', content: '', refusal: null })])];
  const words = text === '' ? [] : text.split(' ');
  words.forEach((w, i) => {
    frames.push(chunk([choice({ content: i === 0 ? w : ` ${w}` })]));
  });
  frames.push(chunk([choice({}, finishReason)]));
  if (includeUsage) frames.push(chunk([], /** @type {object} */ (usage)));
  await sendSse(ctx, frames, 'data: [DONE]\n\n');
}

/**
 * `stream-cut` on a non-streaming request: headers and half the JSON body, then drop.
 * @param {Ctx} ctx
 * @param {object} payload
 */
function cutJson(ctx, payload) {
  const { res } = ctx;
  const text = JSON.stringify(payload);
  res.writeHead(200, {
    'content-type': 'application/json',
    'content-length': String(Buffer.byteLength(text)),
    ...ctx.headers,
  });
  res.write(text.slice(0, Math.floor(text.length / 2)));
  const socket = res.socket;
  if (socket && !socket.destroyed) socket.end(() => socket.destroy());
}

// ---------------------------------------------------------------------------------------------
// POST /v1/responses
// ---------------------------------------------------------------------------------------------

/** @param {Ctx} ctx */
async function responses(ctx) {
  const { body } = ctx;
  if (requireParam(ctx, 'model', typeof body?.model === 'string')) return;

  const model = body.model;
  const reasoningModel = isReasoningModel(model);
  const plan = planCompletion(model, body.max_output_tokens);
  const text = replyText(model, plan.words);
  const usage = usageFor(ctx, () => {
    const input = responsesInputTokens(body);
    const output = plan.words + plan.reasoning;
    return {
      input_tokens: input,
      input_tokens_details: { cached_tokens: cachedTokens(body, input), cache_write_tokens: 0 },
      output_tokens: output,
      output_tokens_details: { reasoning_tokens: plan.reasoning },
      total_tokens: input + output,
    };
  });
  const id = ctx.ids('resp_');
  const createdAt = Math.floor(Date.now() / 1000);
  const finalStatus = plan.truncated ? 'incomplete' : 'completed';

  /** @type {Array<Record<string, unknown>>} */
  const items = [];
  if (reasoningModel) items.push({ id: ctx.ids('rs_'), type: 'reasoning', summary: [] });
  const messageId = ctx.ids('msg_');
  const part = (/** @type {string} */ t) => ({
    type: 'output_text',
    annotations: [],
    logprobs: [],
    text: t,
  });
  const message = (/** @type {string} */ status, /** @type {object[]} */ content) => ({
    id: messageId,
    type: 'message',
    status,
    content,
    role: 'assistant',
  });
  const finalMessage = message(finalStatus, [part(text)]);

  /**
   * @param {'in_progress' | 'completed' | 'incomplete'} status
   * @param {object[]} output
   * @param {object | null} responseUsage
   */
  const response = (status, output, responseUsage) => ({
    id,
    object: 'response',
    created_at: createdAt,
    status,
    background: false,
    completed_at: status === 'completed' ? Math.floor(Date.now() / 1000) : null,
    error: null,
    incomplete_details: status === 'incomplete' ? { reason: 'max_output_tokens' } : null,
    instructions: body.instructions ?? null,
    max_output_tokens: body.max_output_tokens ?? null,
    max_tool_calls: body.max_tool_calls ?? null,
    model,
    output,
    parallel_tool_calls: body.parallel_tool_calls ?? true,
    previous_response_id: body.previous_response_id ?? null,
    prompt_cache_key: body.prompt_cache_key ?? null,
    reasoning: {
      effort: reasoningModel ? (body.reasoning?.effort ?? 'medium') : null,
      summary: null,
    },
    safety_identifier: body.safety_identifier ?? null,
    service_tier: serviceTier(body),
    store: body.store ?? true,
    temperature: body.temperature ?? 1,
    text: { format: { type: 'text' }, verbosity: 'medium' },
    tool_choice: body.tool_choice ?? 'auto',
    tools: body.tools ?? [],
    top_logprobs: body.top_logprobs ?? 0,
    top_p: body.top_p ?? 1,
    truncation: body.truncation ?? 'disabled',
    usage: responseUsage,
    user: body.user ?? null,
    metadata: body.metadata ?? {},
  });

  if (body.stream !== true) {
    const full = response(finalStatus, [...items, finalMessage], usage ?? null);
    if (usage === undefined) delete (/** @type {any} */ (full).usage);
    if (ctx.script?.kind === 'stream-cut') return cutJson(ctx, full);
    sendJson(ctx.res, 200, full, ctx.headers);
    return;
  }

  /** @type {string[]} */
  const frames = [];
  /** @param {Record<string, unknown>} event */
  const emit = (event) => {
    const data = { type: event.type, sequence_number: frames.length, ...event };
    frames.push(`event: ${event.type}\ndata: ${JSON.stringify(data)}\n\n`);
  };
  emit({ type: 'response.created', response: response('in_progress', [], null) });
  emit({ type: 'response.in_progress', response: response('in_progress', [], null) });
  items.forEach((item, outputIndex) => {
    emit({ type: 'response.output_item.added', output_index: outputIndex, item });
    emit({ type: 'response.output_item.done', output_index: outputIndex, item });
  });
  const outputIndex = items.length;
  const common = { item_id: messageId, output_index: outputIndex, content_index: 0 };
  emit({
    type: 'response.output_item.added',
    output_index: outputIndex,
    item: message('in_progress', []),
  });
  emit({ type: 'response.content_part.added', ...common, part: part('') });
  const words = text === '' ? [] : text.split(' ');
  words.forEach((w, i) => {
    emit({
      type: 'response.output_text.delta',
      ...common,
      delta: i === 0 ? w : ` ${w}`,
      logprobs: [],
    });
  });
  emit({ type: 'response.output_text.done', ...common, text, logprobs: [] });
  emit({ type: 'response.content_part.done', ...common, part: part(text) });
  emit({ type: 'response.output_item.done', output_index: outputIndex, item: finalMessage });
  emit({
    type: finalStatus === 'completed' ? 'response.completed' : 'response.incomplete',
    response: response(finalStatus, [...items, finalMessage], usage ?? null),
  });
  await sendSse(ctx, frames, null);
}

// ---------------------------------------------------------------------------------------------
// POST /v1/embeddings
// ---------------------------------------------------------------------------------------------

/** @param {Ctx} ctx */
function embeddings(ctx) {
  const { body } = ctx;
  if (requireParam(ctx, 'model', typeof body?.model === 'string')) return;
  const input = body?.input;
  if (requireParam(ctx, 'input', typeof input === 'string' || Array.isArray(input))) return;

  /** @type {unknown[]} */
  const inputs =
    typeof input === 'string' || input.every((/** @type {unknown} */ x) => typeof x === 'number')
      ? [input]
      : input;
  const dims =
    Number.isInteger(body.dimensions) && body.dimensions > 0
      ? body.dimensions
      : DEFAULT_EMBEDDING_DIMENSIONS;
  const base64 = body.encoding_format === 'base64';
  const tokens = embeddingTokens(input);
  const usage = usageFor(ctx, () => ({ prompt_tokens: tokens, total_tokens: tokens }));
  /** @type {Record<string, unknown>} */
  const payload = {
    object: 'list',
    data: inputs.map((item, index) => {
      const vector = fakeEmbedding(item, dims);
      return { object: 'embedding', index, embedding: base64 ? float32Base64(vector) : vector };
    }),
    model: body.model,
  };
  if (usage !== undefined) payload.usage = usage;
  if (ctx.script?.kind === 'stream-cut') return cutJson(ctx, payload);
  sendJson(ctx.res, 200, payload, ctx.headers);
}
