// The SDK clients bench/sdks.mjs times: each SDK's own client, answered in-process by a
// canned response (the client's `fetch` option; Bedrock: a custom `requestHandler`), so no
// socket or server is on the measured path, only the SDK and what instruments it.
//
// The SDKs are the repository's own dev dependencies (the versions the test suites run
// on), loaded from the checkout's node_modules, not bench/'s. The frames are written the way
// the fake servers write them (examples/shared: `anthropicRawFrames`, `geminiRawFrames`, and
// Bedrock's event stream through the AWS SDK's own codec, as fake-bedrock.mjs does).
import { Readable } from 'node:stream';
import { tokenfuseMiddleware } from '../dist/index.js';
import { anthropicRawFrames } from '../examples/shared/fake-anthropic.mjs';
import { geminiRawFrames } from '../examples/shared/fake-gemini.mjs';
import {
  byLength,
  encoder,
  json,
  require,
  STREAMING,
  sse,
  timed,
  versionOf,
} from './sdk-fakes.mjs';

// ---- openai (any major) ------------------------------------------------------------
const OPENAI_MODEL = 'gpt-4.1-mini';
const openaiUsage = (out) => ({
  prompt_tokens: 20,
  completion_tokens: out,
  total_tokens: 20 + out,
  prompt_tokens_details: { cached_tokens: 10 },
  completion_tokens_details: { reasoning_tokens: 0 },
});
const openaiBody = JSON.stringify({
  id: 'chatcmpl-bench',
  object: 'chat.completion',
  created: 1,
  model: OPENAI_MODEL,
  choices: [
    {
      index: 0,
      message: { role: 'assistant', content: 'ok', refusal: null },
      finish_reason: 'stop',
    },
  ],
  usage: openaiUsage(2),
});
const openaiFrame = (choices, extra = {}) =>
  encoder.encode(
    `data: ${JSON.stringify({ id: 'chatcmpl-bench', object: 'chat.completion.chunk', created: 1, model: OPENAI_MODEL, choices, ...extra })}\n\n`,
  );
const openaiStream = byLength((n) => [
  openaiFrame([{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }]),
  ...Array.from({ length: n }, () =>
    openaiFrame([{ index: 0, delta: { content: 'word ' }, finish_reason: null }]),
  ),
  openaiFrame([{ index: 0, delta: {}, finish_reason: 'stop' }]),
  openaiFrame([], { usage: openaiUsage(n) }),
  encoder.encode('data: [DONE]\n\n'),
]);
/** The fake fetch of a chat-completions client; `state.n` is the next stream's length. */
const openaiFetch = (state) => async (_url, init) =>
  STREAMING.test(init.body) ? sse(openaiStream(state.n)) : json(openaiBody);

/** @returns {Sdk} */
function openaiSdk(pkg) {
  const mod = require(pkg);
  const version = versionOf(pkg);
  const state = { n: 50 };
  const client = new mod.OpenAI({
    apiKey: 'sk-bench',
    baseURL: 'http://bench.invalid/v1',
    maxRetries: 0,
    fetch: openaiFetch(state),
  });
  const messages = [{ role: 'user', content: 'hello' }];
  const label = `openai ${version}`;
  return {
    label,
    definition: 'openai',
    module: mod,
    version,
    call: () => client.chat.completions.create({ model: OPENAI_MODEL, messages }),
    stream(n, now) {
      state.n = n;
      return timed(
        label,
        n,
        now,
        () => client.chat.completions.create({ model: OPENAI_MODEL, messages, stream: true }),
        (c) => Boolean(c.choices[0]?.delta?.content),
      );
    },
  };
}

// ---- @anthropic-ai/sdk ---------------------------------------------------------------
/** @returns {Sdk} */
function anthropicSdk() {
  const mod = require('@anthropic-ai/sdk');
  const version = versionOf('@anthropic-ai/sdk');
  const model = 'claude-sonnet-4-5';
  const usage = {
    input_tokens: 20,
    cache_creation_input_tokens: 0,
    cache_read_input_tokens: 10,
    cache_creation: { ephemeral_5m_input_tokens: 0, ephemeral_1h_input_tokens: 0 },
    output_tokens: 2,
    service_tier: 'standard',
  };
  const message = { id: 'msg_bench', type: 'message', role: 'assistant', model };
  const body = JSON.stringify({
    ...message,
    content: [{ type: 'text', text: 'ok' }],
    stop_reason: 'end_turn',
    stop_sequence: null,
    usage,
  });
  const frames = byLength((n) =>
    anthropicRawFrames([
      {
        type: 'message_start',
        message: {
          ...message,
          content: [],
          stop_reason: null,
          stop_sequence: null,
          usage: { ...usage, output_tokens: 1 },
        },
      },
      { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } },
      ...Array.from({ length: n }, () => ({
        type: 'content_block_delta',
        index: 0,
        delta: { type: 'text_delta', text: 'word ' },
      })),
      { type: 'content_block_stop', index: 0 },
      {
        type: 'message_delta',
        delta: { stop_reason: 'end_turn', stop_sequence: null },
        usage: { output_tokens: n },
      },
      { type: 'message_stop' },
    ]).map((f) => encoder.encode(f)),
  );
  const state = { n: 50 };
  const client = new mod.Anthropic({
    apiKey: 'sk-ant-bench',
    baseURL: 'http://bench.invalid',
    maxRetries: 0,
    fetch: async (_url, init) => (STREAMING.test(init.body) ? sse(frames(state.n)) : json(body)),
  });
  const messages = [{ role: 'user', content: 'hello' }];
  const label = `@anthropic-ai/sdk ${version}`;
  return {
    label,
    definition: '@anthropic-ai/sdk',
    module: mod,
    version,
    call: () => client.messages.create({ model, max_tokens: 64, messages }),
    stream(n, now) {
      state.n = n;
      return timed(
        label,
        n,
        now,
        () => client.messages.create({ model, max_tokens: 64, messages, stream: true }),
        (e) => e.type === 'content_block_delta',
      );
    },
  };
}

// ---- @google/genai -------------------------------------------------------------------
/** @returns {Sdk} */
function googleSdk() {
  const mod = require('@google/genai');
  const version = versionOf('@google/genai');
  const model = 'gemini-2.5-flash';
  const usageMetadata = (out) => ({
    promptTokenCount: 20,
    cachedContentTokenCount: 10,
    candidatesTokenCount: out,
    thoughtsTokenCount: 0,
    totalTokenCount: 20 + out,
  });
  const response = (text, finish, usage) => ({
    candidates: [
      {
        content: { parts: [{ text }], role: 'model' },
        index: 0,
        ...(finish ? { finishReason: finish } : {}),
      },
    ],
    ...(usage ? { usageMetadata: usage } : {}),
    modelVersion: model,
    responseId: 'resp-bench',
  });
  const body = JSON.stringify(response('ok', 'STOP', usageMetadata(2)));
  // Gemini repeats the running usage on every chunk; the last one carries the final counts.
  const running = { promptTokenCount: 20, totalTokenCount: 20 };
  const frames = byLength((n) =>
    geminiRawFrames(
      Array.from({ length: n }, (_, i) =>
        i === n - 1
          ? response('word ', 'STOP', usageMetadata(n))
          : response('word ', undefined, running),
      ),
    ).map((f) => encoder.encode(f)),
  );
  const state = { n: 50 };
  const client = new mod.GoogleGenAI({
    apiKey: 'bench',
    httpOptions: {
      baseUrl: 'http://bench.invalid',
      fetch: async (url) =>
        String(url).includes('streamGenerateContent') ? sse(frames(state.n)) : json(body),
    },
  });
  const contents = 'hello';
  const label = `@google/genai ${version}`;
  return {
    label,
    definition: '@google/genai',
    module: mod,
    version,
    call: () => client.models.generateContent({ model, contents }),
    stream(n, now) {
      state.n = n;
      return timed(
        label,
        n,
        now,
        () => client.models.generateContentStream({ model, contents }),
        (c) => Boolean(c.candidates?.[0]),
      );
    },
  };
}

// ---- @aws-sdk/client-bedrock-runtime -------------------------------------------------
/** @returns {Promise<Sdk>} */
async function bedrockSdk() {
  const mod = require('@aws-sdk/client-bedrock-runtime');
  const version = versionOf('@aws-sdk/client-bedrock-runtime');
  const { EventStreamCodec } = require('@smithy/core/event-streams');
  const codec = new EventStreamCodec(
    (bytes) => Buffer.from(bytes).toString('utf8'),
    (text) => new Uint8Array(Buffer.from(text, 'utf8')),
  );
  const event = (type, payload) =>
    codec.encode({
      headers: {
        ':event-type': { type: 'string', value: type },
        ':content-type': { type: 'string', value: 'application/json' },
        ':message-type': { type: 'string', value: 'event' },
      },
      body: encoder.encode(JSON.stringify(payload)),
    });
  const modelId = 'us.anthropic.claude-sonnet-4-5-20250929-v1:0';
  const usage = (out) => ({ inputTokens: 20, outputTokens: out, totalTokens: 20 + out });
  const body = Buffer.from(
    JSON.stringify({
      output: { message: { role: 'assistant', content: [{ text: 'ok' }] } },
      stopReason: 'end_turn',
      usage: usage(2),
      metrics: { latencyMs: 1 },
    }),
  );
  const frames = byLength((n) => [
    event('messageStart', { role: 'assistant' }),
    ...Array.from({ length: n }, () =>
      event('contentBlockDelta', { contentBlockIndex: 0, delta: { text: 'word ' } }),
    ),
    event('contentBlockStop', { contentBlockIndex: 0 }),
    event('messageStop', { stopReason: 'end_turn' }),
    event('metadata', { usage: usage(n), metrics: { latencyMs: 1 } }),
  ]);
  // InvokeModel's answer: an Anthropic Messages body, as Bedrock returns it for Claude.
  const invokeBody = Buffer.from(
    JSON.stringify({
      id: 'msg_bench',
      type: 'message',
      role: 'assistant',
      model: 'claude-sonnet-4-5-20250929',
      content: [{ type: 'text', text: 'ok' }],
      stop_reason: 'end_turn',
      stop_sequence: null,
      usage: { input_tokens: 20, output_tokens: 2 },
    }),
  );
  const state = { n: 50 };
  const requestHandler = {
    async handle(request) {
      const stream = request.path.endsWith('/converse-stream');
      const invoke = request.path.endsWith('/invoke');
      return {
        response: {
          statusCode: 200,
          reason: 'OK',
          headers: {
            'content-type': stream ? 'application/vnd.amazon.eventstream' : 'application/json',
            'x-amzn-requestid': 'req-bench',
          },
          body: stream
            ? Readable.from(frames(state.n))
            : Readable.from([invoke ? invokeBody : body]),
        },
      };
    },
    updateHttpClientConfig() {},
    httpHandlerConfigs: () => ({}),
  };
  // A Bedrock API key (bearer auth), not SigV4: a real way to authenticate that takes the
  // same SDK path in the bare and the instrumented arm, and leaves out SigV4's HMAC chain,
  // half of a bare call's CPU, whose noise otherwise buried what tokenfuse adds.
  const client = new mod.BedrockRuntimeClient({
    region: 'us-east-1',
    token: { token: 'bench-bedrock-api-key' },
    authSchemePreference: ['httpBearerAuth'],
    maxAttempts: 1,
    requestHandler,
  });
  const messages = [{ role: 'user', content: [{ text: 'hello' }] }];
  const invokeRequest = JSON.stringify({
    anthropic_version: 'bedrock-2023-05-31',
    max_tokens: 64,
    messages: [{ role: 'user', content: 'hello' }],
  });
  const label = `@aws-sdk/client-bedrock-runtime ${version}`;
  return {
    label,
    definition: '@aws-sdk/client-bedrock-runtime',
    module: mod,
    version,
    // BENCH_BEDROCK_CALL=invoke: InvokeModel with an Anthropic body instead of Converse (the
    // caller parses the answer's bytes, as an application does), for its per-call count.
    call:
      process.env.BENCH_BEDROCK_CALL === 'invoke'
        ? async () => {
            const out = await client.send(
              new mod.InvokeModelCommand({
                modelId,
                contentType: 'application/json',
                body: invokeRequest,
              }),
            );
            return JSON.parse(new TextDecoder().decode(out.body));
          }
        : () => client.send(new mod.ConverseCommand({ modelId, messages })),
    stream(n, now) {
      state.n = n;
      return timed(
        label,
        n,
        now,
        async () =>
          (await client.send(new mod.ConverseStreamCommand({ modelId, messages }))).stream,
        (e) => Boolean(e.contentBlockDelta),
      );
    },
  };
}

// ---- the Vercel AI SDK (`ai` + @ai-sdk/openai, chat completions) ----------------------
/**
 * The AI SDK is not patched: its instrumented side is the same model wrapped with
 * `tokenfuseMiddleware()`. So this one returns both callers.
 * @param {{ instrumentation: unknown }} tokenfuse
 */
async function aiSdk(tokenfuse) {
  const ai = require('ai');
  const { createOpenAI } = require('@ai-sdk/openai');
  const version = versionOf('ai');
  const state = { n: 50 };
  const provider = createOpenAI({
    apiKey: 'sk-bench',
    baseURL: 'http://bench.invalid/v1',
    fetch: openaiFetch(state),
  });
  const bareModel = provider.chat(OPENAI_MODEL);
  const wrapped = ai.wrapLanguageModel({
    model: bareModel,
    middleware: tokenfuseMiddleware({ tokenfuse }),
  });
  const label = `ai ${version} + @ai-sdk/openai ${versionOf('@ai-sdk/openai')} (chat)`;
  const side = (model, more = {}) => ({
    call: () => ai.generateText({ model, prompt: 'hello', maxRetries: 0, ...more }),
    stream(n, now) {
      state.n = n;
      return timed(
        label,
        n,
        now,
        () => ai.streamText({ model, prompt: 'hello', maxRetries: 0, ...more }).fullStream,
        (p) => p.type === 'text-delta' && p.text !== '',
      );
    },
  });
  // `through(middleware)`: the same model under another middleware (bench/ai-sdk-layers.mjs).
  const through = (middleware) => side(ai.wrapLanguageModel({ model: bareModel, middleware }));
  // `telemetry(tracer)`: the bare model with the AI SDK's own OpenTelemetry spans, its defaults
  // otherwise (bench/sdks.mjs's peer arm).
  const telemetry = (tracer) =>
    side(bareModel, { experimental_telemetry: { isEnabled: true, tracer } });
  return { label, bare: side(bareModel), instrumented: side(wrapped), through, telemetry };
}

/** Every SDK by the name BENCH_SDKS uses. */
export const SDK_FACTORIES = {
  'openai-v4': () => openaiSdk('openai-v4'),
  openai: () => openaiSdk('openai'),
  anthropic: anthropicSdk,
  'google-genai': googleSdk,
  bedrock: bedrockSdk,
};
export { aiSdk };
