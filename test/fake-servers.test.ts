// The fake server speaks three wire protocols; this drives each with the real SDKs over HTTP
// (@anthropic-ai/sdk, @google/genai, openai 4/5/6/7 installed side by side) and checks that every
// SDK parses exactly the usage the fake reported and surfaces errors as its own error class.
// The per-SDK behaviour suites stand on these fakes. Expected numbers come from the rules in
// the fakes' header comments: system "You are terse." = 3 words + 3, user "Say hello to the
// world" = 5 words + 3, so every prompt below is 14 tokens; replies are 5 words.
import Anthropic from '@anthropic-ai/sdk';
import { ApiError, GoogleGenAI } from '@google/genai';
import OpenAI7 from 'openai';
import OpenAI4 from 'openai-v4';
import OpenAI5 from 'openai-v5';
import OpenAI6 from 'openai-v6';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  type FakeOpenAI,
  fakeEmbedding,
  startFakeOpenAI,
} from '../examples/shared/fake-openai-server.mjs';

let server: FakeOpenAI;

beforeAll(async () => {
  server = await startFakeOpenAI();
});

afterAll(async () => {
  await server.close();
});

beforeEach(() => {
  server.reset();
});

async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of iterable) out.push(item);
  return out;
}

describe('Anthropic Messages through @anthropic-ai/sdk', () => {
  let client: Anthropic;
  beforeAll(() => {
    client = new Anthropic({ baseURL: server.url, apiKey: 'sk-ant-test', maxRetries: 0 });
  });
  const params = {
    model: 'claude-sonnet-4-5',
    max_tokens: 1024,
    system: 'You are terse.',
    messages: [{ role: 'user' as const, content: 'Say hello to the world' }],
  };
  // A cache hit with writes split between the two TTLs: input_tokens excludes both.
  const scripted = {
    input_tokens: 21,
    cache_creation_input_tokens: 1200,
    cache_read_input_tokens: 3400,
    cache_creation: { ephemeral_5m_input_tokens: 1000, ephemeral_1h_input_tokens: 200 },
    output_tokens: 87,
    server_tool_use: null,
    service_tier: 'standard',
  };

  it('messages.create answers on /v1/messages with the computed usage and reply', async () => {
    const message = await client.messages.create(params);
    expect(message.content).toEqual([
      { type: 'text', text: 'Hello from claude-sonnet-4-5 Hello from' },
    ]);
    expect(message.stop_reason).toBe('end_turn');
    expect(message.usage).toEqual({
      input_tokens: 14,
      cache_creation_input_tokens: 0,
      cache_read_input_tokens: 0,
      cache_creation: { ephemeral_5m_input_tokens: 0, ephemeral_1h_input_tokens: 0 },
      output_tokens: 5,
      server_tool_use: null,
      service_tier: 'standard',
    });
    expect(server.requests[0]?.path).toBe('/v1/messages');
    // SDK 1.x authenticates with a bearer token (0.x sent x-api-key).
    expect(server.requests[0]?.headers.authorization).toBe('Bearer sk-ant-test');
  });

  it('cache_control with ttl 1h splits the prompt into reads, 1-hour writes and the rest', async () => {
    const message = await client.messages.create({
      ...params,
      system: [
        {
          type: 'text',
          text: 'You are terse.',
          cache_control: { type: 'ephemeral', ttl: '1h' },
        },
      ],
    });
    // 14 prompt tokens: floor(14/2) = 7 read, floor(14/4) = 3 written, 4 left as input.
    expect(message.usage).toMatchObject({
      input_tokens: 4,
      cache_read_input_tokens: 7,
      cache_creation_input_tokens: 3,
      cache_creation: { ephemeral_5m_input_tokens: 0, ephemeral_1h_input_tokens: 3 },
    });
  });

  it('thinking counts its 10 tokens in output_tokens; a small max_tokens truncates', async () => {
    const thinking = await client.messages.create({
      ...params,
      max_tokens: 2048,
      thinking: { type: 'enabled', budget_tokens: 1024 },
    });
    expect(thinking.content.map((b) => b.type)).toEqual(['thinking', 'text']);
    expect(thinking.usage.output_tokens).toBe(15);
    const short = await client.messages.create({ ...params, max_tokens: 3 });
    expect(short.stop_reason).toBe('max_tokens');
    expect(short.usage.output_tokens).toBe(3);
  });

  it('a usage script comes back verbatim from a non-streamed create', async () => {
    server.enqueue({ kind: 'usage', usage: scripted, model: 'claude-sonnet-4-5-20250929' });
    const message = await client.messages.create(params);
    expect(message.usage).toEqual(scripted);
    expect(message.model).toBe('claude-sonnet-4-5-20250929');
  });

  it('stream: true sends the event sequence; message_start has input usage, message_delta the cumulative output', async () => {
    server.enqueue({ kind: 'usage', usage: scripted });
    const stream = await client.messages.create({ ...params, stream: true });
    const events = await collect(stream);
    expect(events.map((e) => e.type)).toEqual([
      'message_start',
      'content_block_start',
      'content_block_delta',
      'content_block_delta',
      'content_block_delta',
      'content_block_delta',
      'content_block_delta',
      'content_block_stop',
      'message_delta',
      'message_stop',
    ]);
    const start = events[0];
    const delta = events[8];
    if (start?.type !== 'message_start' || delta?.type !== 'message_delta') {
      throw new Error('unexpected event order');
    }
    expect(start.message.usage).toEqual({ ...scripted, output_tokens: 1 });
    expect(delta.usage).toEqual({ output_tokens: 87 });
  });

  it('messages.stream().finalMessage() merges message_start and message_delta into the scripted usage', async () => {
    server.enqueue({ kind: 'usage', usage: scripted });
    const final = await client.messages.stream(params).finalMessage();
    expect(final.usage).toEqual(scripted);
    expect(final.content).toEqual([
      { type: 'text', text: 'Hello from claude-sonnet-4-5 Hello from' },
    ]);
  });

  it('count_tokens answers the prompt size', async () => {
    const counted = await client.messages.countTokens({
      model: params.model,
      system: params.system,
      messages: params.messages,
    });
    expect(counted).toEqual({ input_tokens: 14 });
  });

  it('a 429 surfaces as Anthropic.RateLimitError with the error type and retry-after', async () => {
    server.enqueue({ kind: 'error', status: 429 });
    const err = await client.messages.create(params).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.RateLimitError);
    const apiError = err as InstanceType<typeof Anthropic.RateLimitError>;
    expect(apiError.status).toBe(429);
    expect(apiError.headers?.get('retry-after')).toBe('1');
    expect((apiError.error as { error: { type: string } }).error.type).toBe('rate_limit_error');
  });

  it('a 529 surfaces as an APIError with status 529 and type overloaded_error', async () => {
    server.enqueue({ kind: 'error', status: 529 });
    const err = await client.messages.create(params).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.APIError);
    expect((err as InstanceType<typeof Anthropic.APIError>).status).toBe(529);
    expect(((err as any).error as { error: { type: string } }).error.type).toBe('overloaded_error');
  });
});

describe('Gemini API through @google/genai', () => {
  let client: GoogleGenAI;
  beforeAll(() => {
    client = new GoogleGenAI({ apiKey: 'gemini-test-key', httpOptions: { baseUrl: server.url } });
  });
  const params = {
    model: 'gemini-2.5-flash',
    contents: 'Say hello to the world',
    config: { systemInstruction: 'You are terse.', thinkingConfig: { thinkingBudget: 1024 } },
  };
  // Above the 200k context tier, with cached, thinking and tool-use tokens.
  const scripted = {
    promptTokenCount: 250000,
    cachedContentTokenCount: 200000,
    candidatesTokenCount: 300,
    thoughtsTokenCount: 120,
    toolUsePromptTokenCount: 40,
    totalTokenCount: 250460,
  };

  // @google/genai 3.x defaults to apiVersion v1 on the Gemini API (2.x used v1beta).
  it('generateContent answers on :generateContent with the computed usageMetadata', async () => {
    const response = await client.models.generateContent(params);
    expect(response.text).toBe('Hello from gemini-2.5-flash Hello from');
    expect(response.usageMetadata).toEqual({
      promptTokenCount: 14,
      candidatesTokenCount: 5,
      thoughtsTokenCount: 10,
      totalTokenCount: 29,
      promptTokensDetails: [{ modality: 'TEXT', tokenCount: 14 }],
    });
    expect(server.requests[0]?.path).toBe('/v1/models/gemini-2.5-flash:generateContent');
    expect(server.requests[0]?.headers['x-goog-api-key']).toBe('gemini-test-key');
  });

  it('cachedContent and tools add cachedContentTokenCount and toolUsePromptTokenCount', async () => {
    const response = await client.models.generateContent({
      model: 'gemini-2.5-pro',
      contents: 'Say hello to the world',
      config: { cachedContent: 'cachedContents/abc123', tools: [{ googleSearch: {} }] },
    });
    // 8 prompt tokens, floor(8/2) = 4 cached, 4 for one tool, no thinking config.
    expect(response.usageMetadata).toMatchObject({
      promptTokenCount: 8,
      cachedContentTokenCount: 4,
      toolUsePromptTokenCount: 4,
      candidatesTokenCount: 5,
      totalTokenCount: 17,
    });
  });

  it('a usage script comes back verbatim from generateContent', async () => {
    server.enqueue({ kind: 'usage', usage: scripted, model: 'gemini-2.5-pro-002' });
    const response = await client.models.generateContent(params);
    expect(response.usageMetadata).toEqual(scripted);
    expect(response.modelVersion).toBe('gemini-2.5-pro-002');
  });

  it('generateContentStream reads ?alt=sse chunks; only the last carries the full usage', async () => {
    server.enqueue({ kind: 'usage', usage: scripted });
    const chunks = await collect(await client.models.generateContentStream(params));
    expect(server.requests[0]?.path).toBe(
      '/v1/models/gemini-2.5-flash:streamGenerateContent?alt=sse',
    );
    expect(chunks.map((c) => c.text).join('')).toBe('Hello from gemini-2.5-flash Hello from');
    expect(chunks.length).toBe(5);
    expect(chunks[0]?.usageMetadata).toEqual({
      promptTokenCount: 250000,
      totalTokenCount: 250000,
    });
    expect(chunks[4]?.usageMetadata).toEqual(scripted);
    expect(chunks[4]?.candidates?.[0]?.finishReason).toBe('STOP');
  });

  it('embedContent goes through :batchEmbedContents with vectors and usage', async () => {
    const response = await client.models.embedContent({
      model: 'gemini-embedding-001',
      contents: ['hello world', 'three words here'],
    });
    expect(server.requests[0]?.path).toBe('/v1/models/gemini-embedding-001:batchEmbedContents');
    expect(response.embeddings?.map((e) => e.values)).toEqual([
      fakeEmbedding('hello world'),
      fakeEmbedding('three words here'),
    ]);
    expect((response as { usageMetadata?: unknown }).usageMetadata).toEqual({
      promptTokenCount: 5,
      totalTokenCount: 5,
    });
  });

  it(':embedContent answers one embedding over raw HTTP', async () => {
    const res = await fetch(`${server.url}/v1beta/models/gemini-embedding-001:embedContent`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ content: { parts: [{ text: 'hello world' }] } }),
    });
    expect(await res.json()).toEqual({
      embedding: { values: fakeEmbedding('hello world') },
      usageMetadata: { promptTokenCount: 2, totalTokenCount: 2 },
    });
  });

  it('a 429 surfaces as ApiError with status 429 and Google error shape', async () => {
    server.enqueue({ kind: 'error', status: 429 });
    const err = await client.models.generateContent(params).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).status).toBe(429);
    const body = JSON.parse((err as ApiError).message);
    expect(body.error).toMatchObject({ code: 429, status: 'RESOURCE_EXHAUSTED' });
  });

  it('a model named error-503 answers 503 in the stream call too', async () => {
    const err = await client.models
      .generateContentStream({ ...params, model: 'error-503' })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).status).toBe(503);
  });
});

// Each major installed side by side under an npm alias; the constructor's statics give its own
// error classes, so no cross-major instanceof can pass by accident.
const OPENAI_MAJORS = [
  ['openai 4', OpenAI4],
  ['openai 5', OpenAI5],
  ['openai 6', OpenAI6],
  ['openai 7', OpenAI7],
] as const;

describe.each(OPENAI_MAJORS)('%s against the OpenAI half', (_name, OpenAIClass) => {
  // Any major's client: the four differ in types but not in these calls.
  let client: any;
  beforeAll(() => {
    client = new OpenAIClass({ baseURL: `${server.url}/v1`, apiKey: 'sk-test', maxRetries: 0 });
  });
  const messages = [
    { role: 'system', content: 'You are terse.' },
    { role: 'user', content: 'Say hello to the world' },
  ];
  const chatUsage = {
    prompt_tokens: 1234,
    completion_tokens: 56,
    total_tokens: 1290,
    prompt_tokens_details: { cached_tokens: 1024, audio_tokens: 0 },
    completion_tokens_details: { reasoning_tokens: 16, audio_tokens: 0 },
  };
  const responsesUsage = {
    input_tokens: 1234,
    input_tokens_details: { cached_tokens: 1024 },
    output_tokens: 56,
    output_tokens_details: { reasoning_tokens: 16 },
    total_tokens: 1290,
  };

  it('chat.completions.create parses the scripted usage, and computes 14 + 5 unscripted', async () => {
    server.enqueue({ kind: 'usage', usage: chatUsage });
    const scripted = await client.chat.completions.create({ model: 'gpt-4.1', messages });
    expect(scripted.usage).toEqual(chatUsage);
    const computed = await client.chat.completions.create({ model: 'gpt-4.1', messages });
    expect(computed.usage).toMatchObject({
      prompt_tokens: 14,
      completion_tokens: 5,
      total_tokens: 19,
    });
  });

  it('a chat stream with include_usage ends with the scripted usage chunk', async () => {
    server.enqueue({ kind: 'usage', usage: chatUsage });
    const stream = await client.chat.completions.create({
      model: 'gpt-4.1',
      messages,
      stream: true,
      stream_options: { include_usage: true },
    });
    const chunks: any[] = await collect(stream);
    expect(chunks.at(-1)?.usage).toEqual(chatUsage);
  });

  it('responses.create parses the scripted usage, stream and not', async () => {
    server.enqueue({ kind: 'usage', usage: responsesUsage });
    const response = await client.responses.create({
      model: 'gpt-4.1',
      instructions: 'You are terse.',
      input: 'Say hello to the world',
    });
    expect(response.usage).toEqual(responsesUsage);
    expect(response.output_text).toBe('Hello from gpt-4.1 Hello from');
    server.enqueue({ kind: 'usage', usage: responsesUsage });
    const stream = await client.responses.create({
      model: 'gpt-4.1',
      input: 'Say hello to the world',
      stream: true,
    });
    const events: any[] = await collect(stream);
    const completed = events.find((e) => e.type === 'response.completed');
    expect(completed?.response.usage).toEqual(responsesUsage);
  });

  it('a 429 surfaces as that major’s RateLimitError with status 429', async () => {
    server.enqueue({ kind: 'error', status: 429 });
    const err = await client.chat.completions
      .create({ model: 'gpt-4.1', messages })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAIClass.RateLimitError);
    expect(err.status).toBe(429);
  });
});
