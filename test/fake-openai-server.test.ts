// Drives examples/shared/fake-openai-server.mjs with the real `openai` SDK over HTTP, proving
// each default behaviour and script. Expected numbers are computed by hand from the documented
// rules (words + 3 per message, 5 reply words, 10 reasoning tokens, half cached with a key).
import OpenAI, { APIConnectionTimeoutError, InternalServerError, RateLimitError } from 'openai';
import { VERSION } from 'openai/version';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  type FakeOpenAI,
  fakeEmbedding,
  startFakeOpenAI,
} from '../examples/shared/fake-openai-server.mjs';

let server: FakeOpenAI;
let client: OpenAI;

beforeAll(async () => {
  server = await startFakeOpenAI();
  client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'sk-test', maxRetries: 0 });
});

afterAll(async () => {
  await server.close();
});

beforeEach(() => {
  server.reset();
});

// system "You are terse." = 3 words + 3; user "Say hello to the world" = 5 words + 3.
const MESSAGES = [
  { role: 'system' as const, content: 'You are terse.' },
  { role: 'user' as const, content: 'Say hello to the world' },
];
const PROMPT_TOKENS = 14;

async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of iterable) out.push(item);
  return out;
}

describe('fake OpenAI server: chat completions', () => {
  it('returns an OpenAI-shaped completion with exact usage and cached tokens', async () => {
    const { data, response, request_id } = await client.chat.completions
      .create({ model: 'gpt-4.1-mini', messages: MESSAGES, prompt_cache_key: 'tenant-a' })
      .withResponse();

    expect(request_id).toMatch(/^req_[0-9a-f]{24}$/);
    expect(response.headers.get('x-request-id')).toBe(request_id);
    expect(data.id).toMatch(/^chatcmpl-[0-9a-f]{24}$/);
    expect(data.object).toBe('chat.completion');
    expect(data.model).toBe('gpt-4.1-mini');
    expect(Number.isInteger(data.created)).toBe(true);
    expect(data.service_tier).toBe('default');
    expect(data.system_fingerprint).toBe('fp_fa4e0ff1ce');
    expect(data.choices).toEqual([
      {
        index: 0,
        message: {
          role: 'assistant',
          content: 'Hello from gpt-4.1-mini Hello from',
          refusal: null,
          annotations: [],
        },
        logprobs: null,
        finish_reason: 'stop',
      },
    ]);
    expect(data.usage).toEqual({
      prompt_tokens: PROMPT_TOKENS,
      completion_tokens: 5,
      total_tokens: 19,
      prompt_tokens_details: { cached_tokens: 7, audio_tokens: 0 },
      completion_tokens_details: {
        reasoning_tokens: 0,
        audio_tokens: 0,
        accepted_prediction_tokens: 0,
        rejected_prediction_tokens: 0,
      },
    });
  });

  it('has no cached tokens without prompt_cache_key, counts content parts, and honours max_tokens', async () => {
    const data = await client.chat.completions.create({
      model: 'gpt-4.1',
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'one two' },
            { type: 'image_url', image_url: { url: 'https://example.com/x.png' } },
            { type: 'text', text: 'three' },
          ],
        },
      ],
      max_tokens: 7,
      service_tier: 'flex',
    });
    expect(data.choices[0]!.message.content).toBe('Hello from gpt-4.1 Hello from gpt-4.1 Hello');
    expect(data.choices[0]!.finish_reason).toBe('length');
    expect(data.service_tier).toBe('flex');
    expect(data.usage).toMatchObject({
      prompt_tokens: 6,
      completion_tokens: 7,
      total_tokens: 13,
      prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
    });
  });

  it('reports reasoning tokens for o-series models, inside completion_tokens and the limit', async () => {
    const unlimited = await client.chat.completions.create({
      model: 'o4-mini',
      messages: MESSAGES,
    });
    expect(unlimited.choices[0]!.message.content).toBe('Hello from o4-mini Hello from');
    expect(unlimited.usage?.completion_tokens).toBe(15);
    expect(unlimited.usage?.total_tokens).toBe(29);
    expect(unlimited.usage?.completion_tokens_details?.reasoning_tokens).toBe(10);

    const limited = await client.chat.completions.create({
      model: 'o3',
      messages: MESSAGES,
      max_completion_tokens: 12,
    });
    expect(limited.choices[0]!.message.content).toBe('Hello from');
    expect(limited.choices[0]!.finish_reason).toBe('length');
    expect(limited.usage?.completion_tokens).toBe(12);
    expect(limited.usage?.completion_tokens_details?.reasoning_tokens).toBe(10);

    const starved = await client.chat.completions.create({
      model: 'o3',
      messages: MESSAGES,
      max_completion_tokens: 4,
    });
    expect(starved.choices[0]!.message.content).toBe('');
    expect(starved.usage?.completion_tokens).toBe(4);
    expect(starved.usage?.completion_tokens_details?.reasoning_tokens).toBe(4);
  });

  it('streams with include_usage: usage: null on every chunk, then a usage-only last chunk', async () => {
    const stream = await client.chat.completions.create({
      model: 'gpt-4.1-mini',
      messages: MESSAGES,
      stream: true,
      stream_options: { include_usage: true },
    });
    const chunks = await collect(stream);

    // role chunk + 5 word chunks + finish chunk + usage chunk
    expect(chunks).toHaveLength(8);
    expect(new Set(chunks.map((c) => c.id)).size).toBe(1);
    expect(chunks.every((c) => c.object === 'chat.completion.chunk')).toBe(true);
    expect(chunks[0]!.choices[0]!.delta).toEqual({ role: 'assistant', content: '', refusal: null });
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe(
      'Hello from gpt-4.1-mini Hello from',
    );
    expect(chunks[6]!.choices).toEqual([
      { index: 0, delta: {}, logprobs: null, finish_reason: 'stop' },
    ]);
    expect(chunks.slice(0, 7).map((c) => c.usage)).toEqual(Array(7).fill(null));
    const last = chunks[7]!;
    expect(last.choices).toEqual([]);
    expect(last.usage).toEqual({
      prompt_tokens: PROMPT_TOKENS,
      completion_tokens: 5,
      total_tokens: 19,
      prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
      completion_tokens_details: {
        reasoning_tokens: 0,
        audio_tokens: 0,
        accepted_prediction_tokens: 0,
        rejected_prediction_tokens: 0,
      },
    });
  });

  it('streams without include_usage: no usage chunk and no usage keys', async () => {
    const chunks = await collect(
      await client.chat.completions.create({
        model: 'gpt-4.1-mini',
        messages: MESSAGES,
        stream: true,
      }),
    );
    expect(chunks).toHaveLength(7);
    expect(chunks.some((c) => 'usage' in c)).toBe(false);
    expect(chunks.at(-1)!.choices[0]!.finish_reason).toBe('stop');
  });

  it('works with the SDK stream helper (finalChatCompletion)', async () => {
    const stream = client.chat.completions.stream({
      model: 'gpt-4o-mini',
      messages: MESSAGES,
      max_completion_tokens: 4,
      stream_options: { include_usage: true },
    });
    const final = await stream.finalChatCompletion();
    expect(final.choices[0]!.message.content).toBe('Hello from gpt-4o-mini Hello');
    expect(final.choices[0]!.finish_reason).toBe('length');
    expect(final.usage?.prompt_tokens).toBe(PROMPT_TOKENS);
    expect(final.usage?.completion_tokens).toBe(4);
  });

  it('ignore-include-usage script: no usage chunk even when include_usage is true', async () => {
    server.enqueue({ kind: 'ignore-include-usage' });
    const chunks = await collect(
      await client.chat.completions.create({
        model: 'gpt-4.1-mini',
        messages: MESSAGES,
        stream: true,
        stream_options: { include_usage: true },
      }),
    );
    expect(chunks).toHaveLength(7);
    expect(chunks.some((c) => 'usage' in c)).toBe(false);
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe(
      'Hello from gpt-4.1-mini Hello from',
    );
    expect(server.requests[0]!.body.stream_options).toEqual({ include_usage: true });

    // The script applied to one request only.
    const next = await client.chat.completions.create({ model: 'gpt-4.1', messages: MESSAGES });
    expect(next.usage?.total_tokens).toBe(19);
  });

  it('usage script overrides the usage object verbatim (non-stream and stream)', async () => {
    const override = { prompt_tokens: 1000, completion_tokens: 250, total_tokens: 1250 };
    server.enqueue({ kind: 'usage', usage: override });
    const data = await client.chat.completions.create({ model: 'gpt-4.1', messages: MESSAGES });
    expect(data.usage).toEqual(override);
    expect(data.choices[0]!.message.content).toBe('Hello from gpt-4.1 Hello from');

    server.enqueue({ kind: 'usage', usage: override });
    const chunks = await collect(
      await client.chat.completions.create({
        model: 'gpt-4.1',
        messages: MESSAGES,
        stream: true,
        stream_options: { include_usage: true },
      }),
    );
    expect(chunks.at(-1)!.usage).toEqual(override);
  });

  it('stream-cut script: iteration throws after the first chunks', async () => {
    server.enqueue({ kind: 'stream-cut', afterChunks: 3 });
    const stream = await client.chat.completions.create({
      model: 'gpt-4.1',
      messages: MESSAGES,
      stream: true,
      stream_options: { include_usage: true },
    });
    const received: string[] = [];
    let caught: unknown;
    try {
      for await (const chunk of stream) received.push(chunk.choices[0]?.delta.content ?? '');
    } catch (err) {
      caught = err;
    }
    expect(received).toEqual(['', 'Hello', ' from']);
    expect(caught).toBeInstanceOf(Error);
    expect((caught as Error).message).toBe('terminated');
  });
});

describe('fake OpenAI server: responses', () => {
  // instructions "Be brief." = 2 + 3; input "Tell me a joke" = 4 + 3.
  const INPUT_TOKENS = 12;

  it('returns a completed response with exact usage', async () => {
    const res = await client.responses.create({
      model: 'gpt-4.1',
      instructions: 'Be brief.',
      input: 'Tell me a joke',
      prompt_cache_key: 'k1',
    });
    expect(res.id).toMatch(/^resp_[0-9a-f]{24}$/);
    expect(res.object).toBe('response');
    expect(res.status).toBe('completed');
    expect(res.model).toBe('gpt-4.1');
    expect(res.output_text).toBe('Hello from gpt-4.1 Hello from');
    expect(res.output).toEqual([
      {
        id: expect.stringMatching(/^msg_[0-9a-f]{24}$/),
        type: 'message',
        status: 'completed',
        role: 'assistant',
        content: [
          {
            type: 'output_text',
            text: 'Hello from gpt-4.1 Hello from',
            annotations: [],
            logprobs: [],
          },
        ],
      },
    ]);
    expect(res.usage).toEqual({
      input_tokens: INPUT_TOKENS,
      input_tokens_details: { cached_tokens: 6, cache_write_tokens: 0 },
      output_tokens: 5,
      output_tokens_details: { reasoning_tokens: 0 },
      total_tokens: 17,
    });
    expect(res.incomplete_details).toBeNull();
    expect(res.prompt_cache_key).toBe('k1');
  });

  it('counts array input messages and reports reasoning items for o-series models', async () => {
    const res = await client.responses.create({
      model: 'o4-mini',
      input: [
        { role: 'developer', content: 'Answer in French.' },
        { role: 'user', content: [{ type: 'input_text', text: 'What is the time' }] },
      ],
    });
    // (3 + 3) + (4 + 3)
    expect(res.usage?.input_tokens).toBe(13);
    expect(res.usage?.output_tokens).toBe(15);
    expect(res.usage?.output_tokens_details.reasoning_tokens).toBe(10);
    expect(res.usage?.total_tokens).toBe(28);
    expect(res.output.map((o) => o.type)).toEqual(['reasoning', 'message']);
    expect(res.output_text).toBe('Hello from o4-mini Hello from');
  });

  it('max_output_tokens bounds the reply and makes the response incomplete', async () => {
    const res = await client.responses.create({
      model: 'gpt-4.1',
      input: 'Tell me a joke',
      max_output_tokens: 3,
    });
    expect(res.status).toBe('incomplete');
    expect(res.incomplete_details).toEqual({ reason: 'max_output_tokens' });
    expect(res.output_text).toBe('Hello from gpt-4.1');
    expect(res.usage?.output_tokens).toBe(3);
    expect(res.usage?.total_tokens).toBe(10);
  });

  it('streams the real event sequence ending in response.completed with usage', async () => {
    const events = await collect(
      await client.responses.create({
        model: 'gpt-4.1',
        instructions: 'Be brief.',
        input: 'Tell me a joke',
        stream: true,
      }),
    );
    expect(events.map((e) => e.type)).toEqual([
      'response.created',
      'response.in_progress',
      'response.output_item.added',
      'response.content_part.added',
      'response.output_text.delta',
      'response.output_text.delta',
      'response.output_text.delta',
      'response.output_text.delta',
      'response.output_text.delta',
      'response.output_text.done',
      'response.content_part.done',
      'response.output_item.done',
      'response.completed',
    ]);
    expect(events.map((e) => e.sequence_number)).toEqual([...Array(13).keys()]);
    const deltas = events.flatMap((e) =>
      e.type === 'response.output_text.delta' ? [e.delta] : [],
    );
    expect(deltas).toEqual(['Hello', ' from', ' gpt-4.1', ' Hello', ' from']);
    const created = events[0]!;
    expect(created.type === 'response.created' && created.response.status).toBe('in_progress');
    expect(created.type === 'response.created' && created.response.usage).toBeNull();
    const completed = events.at(-1)!;
    if (completed.type !== 'response.completed') throw new Error('expected response.completed');
    expect(completed.response.status).toBe('completed');
    expect(completed.response.id).toBe(created.type === 'response.created' && created.response.id);
    expect(completed.response.usage).toEqual({
      input_tokens: INPUT_TOKENS,
      input_tokens_details: { cached_tokens: 0, cache_write_tokens: 0 },
      output_tokens: 5,
      output_tokens_details: { reasoning_tokens: 0 },
      total_tokens: 17,
    });
  });

  it('works with the SDK responses.stream helper, including reasoning items', async () => {
    const stream = client.responses.stream({ model: 'o3', input: 'Tell me a joke' });
    const final = await stream.finalResponse();
    expect(final.status).toBe('completed');
    expect(final.output_text).toBe('Hello from o3 Hello from');
    expect(final.output.map((o) => o.type)).toEqual(['reasoning', 'message']);
    expect(final.usage?.input_tokens).toBe(7);
    expect(final.usage?.output_tokens).toBe(15);
  });

  it('stream-cut script on a Responses stream: events stop before response.completed', async () => {
    server.enqueue({ kind: 'stream-cut', afterChunks: 4 });
    const stream = await client.responses.create({
      model: 'gpt-4.1',
      input: 'Tell me a joke',
      stream: true,
    });
    const types: string[] = [];
    await expect(
      (async () => {
        for await (const event of stream) types.push(event.type);
      })(),
    ).rejects.toThrow('terminated');
    expect(types).toEqual([
      'response.created',
      'response.in_progress',
      'response.output_item.added',
      'response.content_part.added',
    ]);
  });

  it('streams response.incomplete (with usage) when max_output_tokens is reached', async () => {
    const events = await collect(
      await client.responses.create({
        model: 'gpt-4.1',
        input: 'Tell me a joke',
        max_output_tokens: 2,
        stream: true,
      }),
    );
    const last = events.at(-1)!;
    if (last.type !== 'response.incomplete') throw new Error(`unexpected ${last.type}`);
    expect(last.response.incomplete_details).toEqual({ reason: 'max_output_tokens' });
    expect(last.response.usage?.output_tokens).toBe(2);
    expect(last.response.usage?.total_tokens).toBe(9);
  });
});

describe('fake OpenAI server: embeddings', () => {
  it('answers the SDK default (base64) request with 8 floats that the SDK decodes', async () => {
    const res = await client.embeddings.create({
      model: 'text-embedding-3-small',
      input: ['hello world', 'one two three'],
    });
    expect(server.requests[0]!.body.encoding_format).toBe('base64');
    expect(res.object).toBe('list');
    expect(res.model).toBe('text-embedding-3-small');
    expect(res.usage).toEqual({ prompt_tokens: 5, total_tokens: 5 });
    expect(res.data.map((d) => [d.object, d.index, d.embedding.length])).toEqual([
      ['embedding', 0, 8],
      ['embedding', 1, 8],
    ]);
    expect(res.data[0]!.embedding).toEqual([
      0.09375, 0.2734375, -0.18359375, 0.2734375, 0.26171875, -0.1015625, 0.2578125, -0.28125,
    ]);
    expect(res.data[1]!.embedding).toEqual(fakeEmbedding('one two three'));
  });

  it('returns the same numbers for encoding_format: float', async () => {
    const res = await client.embeddings.create({
      model: 'text-embedding-3-small',
      input: 'hello world',
      encoding_format: 'float',
    });
    expect(res.data[0]!.embedding).toEqual(fakeEmbedding('hello world'));
    expect(res.usage).toEqual({ prompt_tokens: 2, total_tokens: 2 });
  });
});

describe('fake OpenAI server: errors and scripts', () => {
  it('429 script: the SDK throws RateLimitError with OpenAI error fields', async () => {
    server.enqueue({ kind: 'error', status: 429 });
    const err = await client.chat.completions
      .create({ model: 'gpt-4.1', messages: MESSAGES })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RateLimitError);
    const rle = err as RateLimitError;
    expect(rle.status).toBe(429);
    expect(rle.code).toBe('rate_limit_exceeded');
    expect(rle.type).toBe('requests');
    expect(rle.param).toBeNull();
    expect(rle.headers.get('retry-after')).toBe('1');
    expect(rle.requestID).toMatch(/^req_[0-9a-f]{24}$/);
    expect(rle.message).toMatch(/^429 Rate limit reached for gpt-4\.1 /);
    expect(server.requests).toHaveLength(1);
  });

  it('custom error body and headers are sent verbatim; the SDK retries 500s', async () => {
    server.enqueue({
      kind: 'error',
      status: 500,
      headers: { 'retry-after-ms': '1' },
    });
    const retrying = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'sk-test', maxRetries: 1 });
    const data = await retrying.chat.completions.create({ model: 'gpt-4.1', messages: MESSAGES });
    expect(data.usage?.total_tokens).toBe(19);
    expect(server.requests.map((r) => r.headers['x-stainless-retry-count'])).toEqual(['0', '1']);

    server.enqueue({
      kind: 'error',
      status: 503,
      body: { error: { message: 'Slow down', type: 'server_error', param: null, code: 'busy' } },
    });
    const err = await client.chat.completions
      .create({ model: 'gpt-4.1', messages: MESSAGES })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InternalServerError);
    expect((err as InternalServerError).message).toBe('503 Slow down');
    expect((err as InternalServerError).code).toBe('busy');
  });

  it('string error bodies are sent verbatim as text (e.g. a proxy 502 page)', async () => {
    server.enqueue({ kind: 'error', status: 502, body: '<html>Bad Gateway</html>' });
    const err = await client.models.list().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InternalServerError);
    expect((err as InternalServerError).status).toBe(502);
    expect((err as InternalServerError).headers.get('content-type')).toBe(
      'text/plain; charset=utf-8',
    );
    expect((err as InternalServerError).message).toBe('502 <html>Bad Gateway</html>');
  });

  it('stream-cut script on a non-streaming request: the SDK fails reading the body', async () => {
    server.enqueue({ kind: 'stream-cut', afterChunks: 0 });
    const err = await client.chat.completions
      .create({ model: 'gpt-4.1', messages: MESSAGES })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toBe('terminated');
  });

  it('hang script + client timeout: APIConnectionTimeoutError', async () => {
    server.enqueue({ kind: 'hang' });
    const started = Date.now();
    const err = await client.chat.completions
      .create({ model: 'gpt-4.1', messages: MESSAGES }, { timeout: 200 })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(APIConnectionTimeoutError);
    expect(Date.now() - started).toBeGreaterThanOrEqual(190);
    expect(server.requests).toHaveLength(1);
  });

  it('close() returns promptly even with a hanging request open', async () => {
    const other = await startFakeOpenAI();
    other.enqueue({ kind: 'hang' });
    const pending = fetch(`${other.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4.1', messages: [] }),
    }).catch((e: unknown) => e);
    while (other.requests.length === 0) await new Promise((r) => setTimeout(r, 5));
    const started = Date.now();
    await other.close();
    expect(Date.now() - started).toBeLessThan(1000);
    expect(await pending).toBeInstanceOf(TypeError); // fetch failed: socket closed
  });

  it('reset() clears recorded requests and queued scripts', async () => {
    await client.models.list();
    expect(server.requests).toHaveLength(1);
    server.enqueue({ kind: 'error', status: 429 });
    server.enqueue({ kind: 'hang' });
    server.reset();
    expect(server.requests).toHaveLength(0);
    const data = await client.chat.completions.create({ model: 'gpt-4.1', messages: MESSAGES });
    expect(data.usage?.total_tokens).toBe(19);
    expect(server.requests).toHaveLength(1);
  });

  it('unknown paths and invalid JSON get OpenAI-style errors', async () => {
    const notFound = await fetch(`${server.url}/v1/nope`, { method: 'POST', body: '{}' });
    expect(notFound.status).toBe(404);
    expect(notFound.headers.get('x-request-id')).toMatch(/^req_/);
    expect(await notFound.json()).toEqual({
      error: {
        message: 'Invalid URL (POST /v1/nope)',
        type: 'invalid_request_error',
        param: null,
        code: null,
      },
    });

    const badJson = await fetch(`${server.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{not json',
    });
    expect(badJson.status).toBe(400);
    const body = (await badJson.json()) as { error: { type: string; message: string } };
    expect(body.error.type).toBe('invalid_request_error');
    expect(body.error.message).toMatch(/^We could not parse the JSON body of your request\./);
    expect(server.requests.map((r) => [r.method, r.path, r.body])).toEqual([
      ['POST', '/v1/nope', {}],
      ['POST', '/v1/chat/completions', null],
    ]);
  });

  it('lists models', async () => {
    const page = await client.models.list();
    expect(page.data.map((m) => m.id)).toEqual([
      'gpt-4.1',
      'gpt-4.1-mini',
      'gpt-4o-mini',
      'o4-mini',
      'text-embedding-3-small',
    ]);
    expect(page.data[0]).toEqual({
      id: 'gpt-4.1',
      object: 'model',
      created: 1744316542,
      owned_by: 'system',
    });
  });
});

describe('fake OpenAI server: request recording', () => {
  it('records method, path, lowercased headers, parsed body and time, in order', async () => {
    const before = Date.now();
    await client.chat.completions.create(
      { model: 'gpt-4.1', messages: MESSAGES, user: 'u-1' },
      { headers: { 'X-Tenant': 'acme' } },
    );
    await client.embeddings.create({ model: 'text-embedding-3-small', input: 'hi' });
    await client.models.list();

    expect(server.requests.map((r) => [r.method, r.path])).toEqual([
      ['POST', '/v1/chat/completions'],
      ['POST', '/v1/embeddings'],
      ['GET', '/v1/models'],
    ]);
    const [chat, embed, models] = server.requests;
    expect(chat!.body).toEqual({ model: 'gpt-4.1', messages: MESSAGES, user: 'u-1' });
    expect(chat!.headers.authorization).toBe('Bearer sk-test');
    expect(chat!.headers['content-type']).toBe('application/json');
    expect(chat!.headers['user-agent']).toBe(`OpenAI/JS ${VERSION}`);
    expect(chat!.headers['x-tenant']).toBe('acme');
    expect(Object.keys(chat!.headers).every((k) => k === k.toLowerCase())).toBe(true);
    expect(embed!.body).toEqual({
      model: 'text-embedding-3-small',
      input: 'hi',
      encoding_format: 'base64',
    });
    expect(models!.body).toBeNull();
    expect(chat!.receivedAt).toBeGreaterThanOrEqual(before);
    expect(embed!.receivedAt).toBeGreaterThanOrEqual(chat!.receivedAt);
    expect(models!.receivedAt).toBeLessThanOrEqual(Date.now());
  });
});
