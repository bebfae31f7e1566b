// A local, deterministic, OpenAI-compatible fake LLM server.
//
// Used by the vitest suites and by the runnable examples/demos, so it is plain ESM with JSDoc
// types and depends on nothing but node: builtins (the Bedrock half's event streams load the AWS
// SDK's own codec, on the first stream). Types for TypeScript importers live in
// ./fake-openai-server.d.mts.
//
// Endpoints (all under /v1; clients use `url + '/v1'` as their base URL):
//   POST /v1/chat/completions   non-stream and SSE stream (incl. stream_options.include_usage)
//   POST /v1/responses          non-stream and SSE stream (the real typed event sequence)
//   POST /v1/embeddings         float or base64 (the SDK default) encoding
//   GET  /v1/models, GET /v1/models/{id}
//   POST /v1/files, GET /v1/files/{id}[/content], POST /v1/batches, GET /v1/batches[/{id}]
//                               the Batch API (see its section at the end of this file)
//   POST /v1/messages[/count_tokens]          Anthropic Messages, JSON and SSE (./fake-anthropic.mjs)
//   POST [/v1]/projects/{p}/locations/{r}/publishers/anthropic/models/{m}:{rawPredict,streamRawPredict}
//                               Anthropic Messages on Vertex AI (the model from the path)
//   POST /v1beta/models/{model}:{method}      Gemini generateContent, streamGenerateContent?alt=sse,
//                               embedContent, batchEmbedContents, countTokens (./fake-gemini.mjs)
//   POST /model/{modelId}/{converse,converse-stream,invoke,invoke-with-response-stream}
//                               Amazon Bedrock Runtime, JSON and AWS event-stream (./fake-bedrock.mjs)
//   anything else               404 with OpenAI's "Invalid URL" error body
//   model "error-<status>"      that HTTP error (e.g. error-500), for apps that can't enqueue;
//                               on the Anthropic and Gemini paths errors take their API's shape
//                               (Gemini reads the model from the path).
//
// Run on its own (to try an app without a key): `npm run fake-llm` or
//   node examples/shared/fake-openai-server.mjs [--port 8787] [--host 127.0.0.1] [--chunk-delay-ms 0]
// prints its base URL, serves until SIGTERM / SIGINT, then exits 0.
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
//                        Chat with response_format json_schema or json_object: the same
//                        words as JSON, {"text":"Hello from gpt-4.1 Hello from"}, the same
//                        counts (a stream splits it at the spaces, as any reply).
//   embeddings tokens  = sum of words(input string) over inputs (token-array inputs count
//                        their array length); prompt_tokens = total_tokens.
//   embedding vectors  = `dimensions` (default 8) floats, a deterministic function of the
//                        input (see fakeEmbedding); every value is a multiple of 1/256 in
//                        [-0.5, 0.5), so it is exact in float32 and float/base64 agree.

import { Buffer } from 'node:buffer';
import { realpathSync } from 'node:fs';
import { createServer } from 'node:http';
import { createServer as createHttp2Server } from 'node:http2';
import { setTimeout as sleep } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import {
  cachedTokens,
  chatPromptTokens,
  DEFAULT_EMBEDDING_DIMENSIONS,
  embeddingTokens,
  fakeEmbedding,
  float32Base64,
  isReasoningModel,
  planCompletion,
  replyText,
  responsesInputTokens,
} from './fake-accounting.mjs';
import {
  anthropicCountTokens,
  anthropicErrorFor,
  anthropicMessages,
  anthropicRawFrames,
} from './fake-anthropic.mjs';
import { bedrockApi, bedrockErrorFor, bedrockRoute } from './fake-bedrock.mjs';
import { geminiApi, geminiErrorFor, geminiRawFrames, geminiRoute } from './fake-gemini.mjs';

// The accounting rules live in their own module, shared with the Anthropic and Gemini halves.
export {
  cachedTokens,
  chatPromptTokens,
  contentWords,
  countWords,
  DEFAULT_EMBEDDING_DIMENSIONS,
  DEFAULT_REPLY_WORDS,
  embeddingTokens,
  fakeEmbedding,
  float32Base64,
  isReasoningModel,
  planCompletion,
  REASONING_TOKENS,
  replyText,
  responsesInputTokens,
} from './fake-accounting.mjs';

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
 * @typedef {{ files: Map<string, { meta: any, content: Buffer }>, batches: Map<string, any> }} BatchStore
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
/**
 * The model of an Anthropic-on-Vertex path
 * (`[/v1]/projects/{p}/locations/{r}/publishers/anthropic/models/{m}:rawPredict` or
 * `:streamRawPredict`, the body's `stream` deciding the answer), else undefined.
 * @param {string} pathname
 * @returns {string | undefined}
 */
function vertexAnthropicModel(pathname) {
  const match =
    /^(?:\/v1)?\/projects\/[^/]+\/locations\/[^/]+\/publishers\/anthropic\/models\/([^/:]+):(?:rawPredict|streamRawPredict)$/.exec(
      pathname,
    );
  return match ? decodeURIComponent(match[1] ?? '') : undefined;
}

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
  const batchStore = createBatchStore();
  /** @param {string} prefix */
  const ids = (prefix) => `${prefix}${(++counter).toString(16).padStart(24, '0')}`;

  /** @type {(req: IncomingMessage, res: ServerResponse) => void} */
  const onRequest = (req, res) => {
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
  };
  const server = createServer(onRequest);
  // Idle keep-alive sockets live longer than Node's 5 s default, as behind a provider's load
  // balancer: with 5 s, a client on a busy machine can take a pooled socket from its pool at
  // the moment the server closes it, and the next call fails with ECONNRESET (seen under
  // load, in tests). close() destroys every socket, so nothing outlives the fake.
  server.keepAliveTimeout = 65_000;
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  // The AWS SDK's Bedrock client speaks HTTP/2 without TLS (prior knowledge), which an HTTP/1
  // server cannot answer: the same handler also listens for h2c on a port of its own.
  const h2c = createHttp2Server(/** @type {any} */ (onRequest));
  h2c.on('connection', (socket) => {
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
    const rawBytes = Buffer.concat(chunks);
    const raw = rawBytes.toString('utf8');
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
    const pathname = path.split('?')[0] ?? '/';
    // One process speaks three wire protocols, told apart by their real paths.
    const gemini = geminiRoute(pathname);
    // Anthropic on Vertex AI: the Messages body at the model's `rawPredict` path.
    const vertexModel = !gemini ? vertexAnthropicModel(pathname) : undefined;
    if (vertexModel !== undefined && body && typeof body === 'object') body.model = vertexModel;
    const anthropic = !gemini && (pathname.startsWith('/v1/messages') || vertexModel !== undefined);
    const bedrock = !gemini && !anthropic ? bedrockRoute(pathname) : undefined;
    // A model named `error-<status>` answers with that HTTP error: for processes
    // that cannot reach the server's script queue (apps under test, demos).
    const requestedModel = gemini ? gemini.model : bedrock ? bedrock.model : body?.model;
    const errorModel = /^error-(\d{3})$/.exec(
      typeof requestedModel === 'string' ? requestedModel : '',
    );
    const script = errorModel ? { kind: 'error', status: Number(errorModel[1]) } : queue.shift();

    const started = Date.now();
    const responseHeaders = {
      'x-request-id': ids('req_'),
      'openai-version': '2020-10-01',
      'openai-organization': 'org-fake',
      'openai-processing-ms': '0',
    };
    if (anthropic) responseHeaders['request-id'] = responseHeaders['x-request-id'];
    /** @type {Ctx} */
    const ctx = { res, body, script, headers: responseHeaders, ids, chunkDelayMs };

    if (script?.kind === 'hang') return; // accept, read, never answer (close() cleans up)
    if (script?.kind === 'raw') {
      // A 200 of any shape, verbatim: a JSON body, or SSE frames of `data: <JSON>`.
      if (script.events !== undefined) {
        if (anthropic) return sendSse(ctx, anthropicRawFrames(script.events), null);
        if (gemini) return sendSse(ctx, geminiRawFrames(script.events), null);
        const frames = script.events.map((e) => `data: ${JSON.stringify(e)}\n\n`);
        return sendSse(ctx, frames, 'data: [DONE]\n\n');
      }
      const json = JSON.stringify(script.body) ?? 'null';
      sendJson(res, 200, json, { ...responseHeaders, 'content-type': 'application/json' });
      return;
    }
    if (script?.kind === 'bytes') return sendRaw(res, script, responseHeaders);
    if (script?.kind === 'error') {
      const fallback = anthropic
        ? anthropicErrorFor(script.status, responseHeaders['x-request-id'])
        : gemini
          ? geminiErrorFor(script.status)
          : bedrock
            ? bedrockErrorFor(script.status)
            : defaultErrorFor(script.status, body);
      const errHeaders = { ...responseHeaders, ...fallback.headers, ...(script.headers ?? {}) };
      sendJson(res, script.status, script.body ?? fallback.body, errHeaders);
      return;
    }
    // Files and batches (multipart uploads are not JSON): see their section below.
    const batchRoute = routeBatchApi(method, path.split('?')[0] ?? '/');
    if (batchRoute) return batchApi(ctx, batchStore, batchRoute, rawBytes, headers, path);
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

    responseHeaders['openai-processing-ms'] = String(Date.now() - started);
    if (gemini) return geminiApi(ctx, PROTOCOL_IO, gemini);
    if (bedrock && method === 'POST') return bedrockApi(ctx, PROTOCOL_IO, bedrock);
    if (method === 'POST' && (pathname === '/v1/messages' || vertexModel !== undefined))
      return anthropicMessages(ctx, PROTOCOL_IO);
    if (method === 'POST' && pathname === '/v1/messages/count_tokens') {
      return anthropicCountTokens(ctx, PROTOCOL_IO);
    }
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

  /** @param {import('node:net').Server} listener @param {number} onPort */
  const listen = (listener, onPort) =>
    new Promise((resolve, reject) => {
      listener.once('error', reject);
      listener.listen(onPort, host, () => {
        listener.off('error', reject);
        resolve(undefined);
      });
    });
  await listen(server, port);
  await listen(h2c, 0);
  const address = /** @type {import('node:net').AddressInfo} */ (server.address());
  const h2cPort = /** @type {import('node:net').AddressInfo} */ (h2c.address()).port;
  const urlHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;

  /** @type {Promise<void> | undefined} */
  let closing;
  return {
    url: `http://${urlHost}:${address.port}`,
    bedrockUrl: `http://${urlHost}:${h2cPort}`,
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
        let open = 2;
        const closed = () => {
          if (--open === 0) resolve();
        };
        server.close(closed);
        h2c.close(closed);
        for (const socket of sockets) socket.destroy();
        server.closeAllConnections();
      });
      return closing;
    },
  };
}

/** What the Anthropic and Gemini halves (./fake-anthropic.mjs, ./fake-gemini.mjs) send with. */
const PROTOCOL_IO = { sendJson, sendSse, cutJson };

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
 * @param {Extract<Script, { kind: 'bytes' }>} script
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
 * The model the response names: a `usage` script's `model` (an alias answered by a
 * dated snapshot), otherwise the requested one.
 * @param {Ctx} ctx
 * @param {string} requested
 * @returns {string}
 */
function answeredModel(ctx, requested) {
  return ctx.script?.kind === 'usage' && typeof ctx.script.model === 'string'
    ? ctx.script.model
    : requested;
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
  const format = body.response_format?.type;
  const words = replyText(model, plan.words);
  // Structured output: the words as the one field of a JSON object (generateObject, parse()).
  const text =
    format === 'json_schema' || format === 'json_object' ? JSON.stringify({ text: words }) : words;
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
      model: answeredModel(ctx, model),
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
      model: answeredModel(ctx, model),
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
  const pieces = text === '' ? [] : text.split(' ');
  pieces.forEach((w, i) => {
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
    model: answeredModel(ctx, model),
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

// ---------------------------------------------------------------------------------------------
// Command line
// ---------------------------------------------------------------------------------------------

const CLI_DEFAULT_PORT = 8787;

/**
 * Parses the command line of a stand-alone run.
 * @param {string[]} args
 * @returns {FakeOpenAIOptions}
 */
export function parseCliArgs(args) {
  const { values } = parseArgs({
    args,
    strict: true,
    options: {
      port: { type: 'string', default: String(CLI_DEFAULT_PORT) },
      host: { type: 'string', default: '127.0.0.1' },
      'chunk-delay-ms': { type: 'string', default: '0' },
    },
  });
  /** @param {string} name @param {string} value @param {number} max */
  const integer = (name, value, max) => {
    const n = Number(value);
    if (!/^\d+$/.test(value) || n > max)
      throw new Error(`--${name} expects an integer 0..${max}, got ${JSON.stringify(value)}`);
    return n;
  };
  return {
    port: integer('port', values.port, 65535),
    host: values.host,
    chunkDelayMs: integer('chunk-delay-ms', values['chunk-delay-ms'], 60_000),
  };
}

/** @param {string[]} args */
async function main(args) {
  /** @type {FakeOpenAIOptions} */
  let options;
  try {
    options = parseCliArgs(args);
  } catch (err) {
    process.stderr.write(
      `fake-openai-server: ${/** @type {Error} */ (err).message}\n` +
        'usage: node examples/shared/fake-openai-server.mjs [--port 8787] [--host 127.0.0.1] [--chunk-delay-ms 0]\n',
    );
    process.exitCode = 2;
    return;
  }
  const server = await startFakeOpenAI(options);
  process.stdout.write(
    `Fake OpenAI-compatible server on ${server.url}/v1 ` +
      `(try: OPENAI_BASE_URL=${server.url}/v1 OPENAI_API_KEY=fake node --import tokenfuse/register app.mjs)\n`,
  );
  const stop = () => {
    server.close().then(() => process.exit(0));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

// Run as a program, not when imported by the tests and the demo. No top-level await: it
// would make the module unloadable by require().
if (process.argv[1] && import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href) {
  main(process.argv.slice(2)).catch((err) => {
    process.stderr.write(`fake-openai-server: ${err?.stack ?? err}\n`);
    process.exitCode = 1;
  });
}
// Files and the Batch API (section owned by the batch work; self-contained)
//   POST /v1/files                 multipart upload (`file`, `purpose`) -> file object
//   GET  /v1/files/{id}            file object
//   GET  /v1/files/{id}/content    the file's bytes (application/octet-stream)
//   POST /v1/batches               {input_file_id, endpoint, completion_window, metadata}
//                                  -> batch in status `validating`; metadata is checked against
//                                  the API's limits (16 keys, keys <= 64, values <= 512 chars)
//   GET  /v1/batches/{id}, GET /v1/batches?limit&after (newest first, cursor pagination)
// A batch completes on the first GET that sees it (retrieve or list): every input line
// {custom_id, method, url, body} is answered with the same deterministic usage as the
// synchronous endpoint would give; lines whose model is `error-<status>` go to the error file
// as `{response: {status_code, request_id, body: {error}}, error: null}`. The output file is
// named `batch_<id>_output.jsonl`, purpose `batch_output`, as OpenAI names it.
// ---------------------------------------------------------------------------------------------

/** @returns {BatchStore} */
function createBatchStore() {
  return { files: new Map(), batches: new Map() };
}

/**
 * @param {string} method
 * @param {string} pathname
 * @returns {{ kind: string, id?: string } | undefined}
 */
function routeBatchApi(method, pathname) {
  if (method === 'POST' && pathname === '/v1/files') return { kind: 'file-create' };
  if (method === 'POST' && pathname === '/v1/batches') return { kind: 'batch-create' };
  if (method === 'GET' && pathname === '/v1/batches') return { kind: 'batch-list' };
  let m = /^\/v1\/batches\/([^/]+)$/.exec(pathname);
  if (method === 'GET' && m) return { kind: 'batch-retrieve', id: decodeURIComponent(m[1] ?? '') };
  m = /^\/v1\/files\/([^/]+)\/content$/.exec(pathname);
  if (method === 'GET' && m) return { kind: 'file-content', id: decodeURIComponent(m[1] ?? '') };
  m = /^\/v1\/files\/([^/]+)$/.exec(pathname);
  if (method === 'GET' && m) return { kind: 'file-retrieve', id: decodeURIComponent(m[1] ?? '') };
  return undefined;
}

/**
 * @param {Ctx} ctx
 * @param {BatchStore} store
 * @param {{ kind: string, id?: string }} route
 * @param {Buffer} raw
 * @param {Record<string, string>} reqHeaders
 * @param {string} path
 */
function batchApi(ctx, store, route, raw, reqHeaders, path) {
  const notFound = (/** @type {string} */ what, /** @type {string} */ id) =>
    sendJson(
      ctx.res,
      404,
      errorBody(`No such ${what}: '${id}'`, 'invalid_request_error', null, 'id'),
      ctx.headers,
    );
  switch (route.kind) {
    case 'file-create': {
      const parts = parseMultipart(raw, reqHeaders['content-type'] ?? '');
      const file = parts.find((p) => p.name === 'file');
      const purpose = parts.find((p) => p.name === 'purpose')?.data.toString('utf8');
      if (requireParam(ctx, 'file', file !== undefined)) return;
      if (requireParam(ctx, 'purpose', typeof purpose === 'string')) return;
      const id = ctx.ids('file-');
      const entry = {
        id,
        object: 'file',
        bytes: file.data.length,
        created_at: Math.floor(Date.now() / 1000),
        filename: file.filename ?? 'upload',
        purpose,
        status: 'processed',
        expires_at: null,
        status_details: null,
      };
      store.files.set(id, { meta: entry, content: file.data });
      sendJson(ctx.res, 200, entry, ctx.headers);
      return;
    }
    case 'file-retrieve': {
      const f = store.files.get(route.id ?? '');
      if (!f) return notFound('file', route.id ?? '');
      sendJson(ctx.res, 200, f.meta, ctx.headers);
      return;
    }
    case 'file-content': {
      const f = store.files.get(route.id ?? '');
      if (!f) return notFound('file', route.id ?? '');
      if (ctx.res.destroyed || ctx.res.headersSent) return;
      ctx.res.writeHead(200, {
        'content-type': 'application/octet-stream',
        'content-length': String(f.content.length),
        ...ctx.headers,
      });
      ctx.res.end(f.content);
      return;
    }
    case 'batch-create': {
      const body = ctx.body;
      if (requireParam(ctx, 'input_file_id', typeof body?.input_file_id === 'string')) return;
      if (requireParam(ctx, 'endpoint', typeof body?.endpoint === 'string')) return;
      if (requireParam(ctx, 'completion_window', typeof body?.completion_window === 'string'))
        return;
      if (!store.files.has(body.input_file_id)) return notFound('file', body.input_file_id);
      const metadata = body.metadata ?? null;
      const problem = metadataProblem(metadata);
      if (problem) {
        sendJson(
          ctx.res,
          400,
          errorBody(problem, 'invalid_request_error', 'invalid_value', 'metadata'),
          ctx.headers,
        );
        return;
      }
      const now = Math.floor(Date.now() / 1000);
      const batch = {
        id: ctx.ids('batch_'),
        object: 'batch',
        endpoint: body.endpoint,
        model: null,
        errors: null,
        input_file_id: body.input_file_id,
        completion_window: body.completion_window,
        status: 'validating',
        output_file_id: null,
        error_file_id: null,
        created_at: now,
        in_progress_at: null,
        expires_at: now + 24 * 3600,
        finalizing_at: null,
        completed_at: null,
        failed_at: null,
        expired_at: null,
        cancelling_at: null,
        cancelled_at: null,
        request_counts: { total: 0, completed: 0, failed: 0 },
        usage: null,
        metadata,
      };
      store.batches.set(batch.id, batch);
      sendJson(ctx.res, 200, batch, ctx.headers);
      return;
    }
    case 'batch-retrieve': {
      const batch = store.batches.get(route.id ?? '');
      if (!batch) return notFound('batch', route.id ?? '');
      completeBatch(ctx, store, batch);
      sendJson(ctx.res, 200, batch, ctx.headers);
      return;
    }
    case 'batch-list': {
      const query = new URLSearchParams(path.split('?')[1] ?? '');
      const limit = Math.min(100, Math.max(1, Number(query.get('limit') ?? 20) || 20));
      const after = query.get('after');
      const all = [...store.batches.values()].reverse();
      const start = after ? all.findIndex((b) => b.id === after) + 1 : 0;
      const data = all.slice(start, start + limit);
      for (const batch of data) completeBatch(ctx, store, batch);
      sendJson(
        ctx.res,
        200,
        {
          object: 'list',
          data,
          first_id: data[0]?.id ?? null,
          last_id: data[data.length - 1]?.id ?? null,
          has_more: start + limit < all.length,
        },
        ctx.headers,
      );
      return;
    }
  }
}

/**
 * The API's metadata limits, with OpenAI's wording.
 * @param {unknown} metadata
 * @returns {string | undefined}
 */
function metadataProblem(metadata) {
  if (metadata === null || metadata === undefined) return undefined;
  if (typeof metadata !== 'object' || Array.isArray(metadata))
    return "Invalid type for 'metadata': expected an object.";
  const entries = Object.entries(metadata);
  if (entries.length > 16)
    return `Invalid 'metadata': too many properties. Expected an object with at most 16 properties, but got an object with ${entries.length} properties instead.`;
  for (const [key, value] of entries) {
    if (key.length > 64)
      return `Invalid 'metadata': string too long. Expected a key with maximum length 64, but got a key with length ${key.length} instead.`;
    if (typeof value !== 'string')
      return `Invalid type for 'metadata.${key}': expected a string, but got ${typeof value} instead.`;
    if (value.length > 512)
      return `Invalid 'metadata.${key}': string too long. Expected a string with maximum length 512, but got a string with length ${value.length} instead.`;
  }
  return undefined;
}

/**
 * Runs a validating batch to completion: output and error files, request counts, usage.
 * @param {Ctx} ctx
 * @param {BatchStore} store
 * @param {any} batch
 */
function completeBatch(ctx, store, batch) {
  if (batch.status !== 'validating') return;
  const input = store.files.get(batch.input_file_id)?.content.toString('utf8') ?? '';
  /** @type {string[]} */
  const out = [];
  /** @type {string[]} */
  const errors = [];
  const usage = {
    input_tokens: 0,
    input_tokens_details: { cached_tokens: 0 },
    output_tokens: 0,
    output_tokens_details: { reasoning_tokens: 0 },
    total_tokens: 0,
  };
  for (const text of input.split('\n')) {
    if (text.trim() === '') continue;
    /** @type {any} */
    let line;
    try {
      line = JSON.parse(text);
    } catch {
      continue;
    }
    const requestId = ctx.ids('req_');
    const lineId = ctx.ids('batch_req_');
    const errorModel = /^error-(\d{3})$/.exec(String(line?.body?.model ?? ''));
    if (errorModel) {
      const status = Number(errorModel[1]);
      errors.push(
        JSON.stringify({
          id: lineId,
          custom_id: line.custom_id,
          response: {
            status_code: status,
            request_id: requestId,
            body: defaultErrorFor(status, line.body).body,
          },
          error: null,
        }),
      );
      continue;
    }
    const body = batchLineBody(ctx, line.url, line.body ?? {});
    const u = body.usage;
    const inTokens = u.prompt_tokens ?? u.input_tokens ?? 0;
    const outTokens = u.completion_tokens ?? u.output_tokens ?? 0;
    usage.input_tokens += inTokens;
    usage.input_tokens_details.cached_tokens +=
      u.prompt_tokens_details?.cached_tokens ?? u.input_tokens_details?.cached_tokens ?? 0;
    usage.output_tokens += outTokens;
    usage.output_tokens_details.reasoning_tokens +=
      u.completion_tokens_details?.reasoning_tokens ??
      u.output_tokens_details?.reasoning_tokens ??
      0;
    usage.total_tokens += inTokens + outTokens;
    out.push(
      JSON.stringify({
        id: lineId,
        custom_id: line.custom_id,
        response: { status_code: 200, request_id: requestId, body },
        error: null,
      }),
    );
  }
  const now = Math.floor(Date.now() / 1000);
  /** @param {string[]} lines @param {string} kind */
  const addFile = (lines, kind) => {
    const id = ctx.ids('file-');
    const content = Buffer.from(lines.map((l) => `${l}\n`).join(''), 'utf8');
    store.files.set(id, {
      meta: {
        id,
        object: 'file',
        bytes: content.length,
        created_at: now,
        filename: `${batch.id}_${kind}.jsonl`,
        purpose: `batch_${kind}`,
        status: 'processed',
        expires_at: null,
        status_details: null,
      },
      content,
    });
    return id;
  };
  Object.assign(batch, {
    status: 'completed',
    in_progress_at: now,
    finalizing_at: now,
    completed_at: now,
    output_file_id: out.length > 0 ? addFile(out, 'output') : null,
    error_file_id: errors.length > 0 ? addFile(errors, 'error') : null,
    request_counts: {
      total: out.length + errors.length,
      completed: out.length,
      failed: errors.length,
    },
    usage,
  });
}

/**
 * The body a synchronous call would have answered, for one batch line.
 * @param {Ctx} ctx
 * @param {string} url
 * @param {any} body
 * @returns {any}
 */
function batchLineBody(ctx, url, body) {
  const model = String(body.model ?? '');
  const created = Math.floor(Date.now() / 1000);
  if (url === '/v1/embeddings') {
    const tokens = embeddingTokens(body.input);
    const inputs = typeof body.input === 'string' ? [body.input] : (body.input ?? []);
    return {
      object: 'list',
      data: inputs.map((/** @type {unknown} */ item, /** @type {number} */ index) => ({
        object: 'embedding',
        index,
        embedding: fakeEmbedding(item),
      })),
      model,
      usage: { prompt_tokens: tokens, total_tokens: tokens },
    };
  }
  if (url === '/v1/responses') {
    const plan = planCompletion(model, body.max_output_tokens);
    const input = responsesInputTokens(body);
    const output = plan.words + plan.reasoning;
    return {
      id: ctx.ids('resp_'),
      object: 'response',
      created_at: created,
      status: plan.truncated ? 'incomplete' : 'completed',
      model,
      output: [
        {
          id: ctx.ids('msg_'),
          type: 'message',
          status: 'completed',
          role: 'assistant',
          content: [{ type: 'output_text', annotations: [], text: replyText(model, plan.words) }],
        },
      ],
      service_tier: 'default',
      usage: {
        input_tokens: input,
        input_tokens_details: { cached_tokens: cachedTokens(body, input) },
        output_tokens: output,
        output_tokens_details: { reasoning_tokens: plan.reasoning },
        total_tokens: input + output,
      },
    };
  }
  const plan = planCompletion(model, body.max_completion_tokens ?? body.max_tokens);
  const prompt = chatPromptTokens(body);
  const completion = plan.words + plan.reasoning;
  return {
    id: ctx.ids('chatcmpl-'),
    object: 'chat.completion',
    created,
    model,
    choices: [
      {
        index: 0,
        message: {
          role: 'assistant',
          content: replyText(model, plan.words),
          refusal: null,
          annotations: [],
        },
        logprobs: null,
        finish_reason: plan.truncated ? 'length' : 'stop',
      },
    ],
    usage: {
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
    },
    service_tier: 'default',
    system_fingerprint: SYSTEM_FINGERPRINT,
  };
}

/**
 * Minimal multipart/form-data parser (what the SDK's FormData upload sends).
 * @param {Buffer} raw
 * @param {string} contentType
 * @returns {Array<{ name: string, filename?: string, data: Buffer }>}
 */
function parseMultipart(raw, contentType) {
  const boundary = /boundary=(?:"([^"]+)"|([^;]+))/i.exec(contentType);
  if (!boundary) return [];
  const delimiter = Buffer.from(`--${boundary[1] ?? boundary[2]}`);
  /** @type {Array<{ name: string, filename?: string, data: Buffer }>} */
  const parts = [];
  let pos = raw.indexOf(delimiter);
  while (pos !== -1) {
    const start = pos + delimiter.length;
    if (raw.subarray(start, start + 2).toString() === '--') break;
    const next = raw.indexOf(delimiter, start);
    if (next === -1) break;
    const part = raw.subarray(start + 2, next - 2); // skip CRLF after the delimiter and before the next
    const split = part.indexOf('\r\n\r\n');
    if (split !== -1) {
      const head = part.subarray(0, split).toString('utf8');
      const name = /name="([^"]*)"/i.exec(head)?.[1];
      const filename = /filename="([^"]*)"/i.exec(head)?.[1];
      if (name !== undefined) {
        parts.push({
          name,
          ...(filename !== undefined ? { filename } : {}),
          data: part.subarray(split + 4),
        });
      }
    }
    pos = next;
  }
  return parts;
}
