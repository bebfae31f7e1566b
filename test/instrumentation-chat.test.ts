import type OpenAIType from 'openai';
import { beforeEach, describe, expect, it } from 'vitest';
import { LOCAL_RELAY, useFakeServerHarness } from './helpers/fake-server-harness.js';
import type { Harness } from './helpers/harness.js';
import { sum } from './helpers/prom-text.js';

// gpt-4.1 catalog prices (USD per million tokens): input 2, cached input 0.5, output 8.
const GPT41 = { input: 2, cacheRead: 0.5, output: 8 };
const usd = (input: number, cacheRead: number, output: number) =>
  (input * GPT41.input + cacheRead * GPT41.cacheRead + output * GPT41.output) / 1e6;

const { llm, harness, client } = useFakeServerHarness();
let h: Harness;
let openai: OpenAIType;

beforeEach(async () => {
  h = await harness({
    attribution: { defaults: { department: 'platform', project: 'core', environment: 'test' } },
    providers: [LOCAL_RELAY],
  });
  openai = client(h, { apiKey: 'sk-test-chat' });
});

const labels = {
  department: 'platform',
  project: 'core',
  environment: 'test',
  provider: 'local-relay',
  model: 'gpt-4.1',
};

describe('chat.completions.create, non-streaming', () => {
  it('records exact tokens, cost, requests and span attributes, cached tokens priced at the cache rate', async () => {
    // 6 words + 3 = 9 prompt tokens; prompt_cache_key → 4 cached; 7 output tokens.
    const completion = await openai.chat.completions.create({
      model: 'gpt-4.1',
      messages: [{ role: 'user', content: 'name three colours of the autumn' }],
      max_tokens: 7,
      prompt_cache_key: 'k',
    });
    expect(completion.usage?.prompt_tokens).toBe(9);
    expect(completion.usage?.prompt_tokens_details?.cached_tokens).toBe(4);

    const m = await h.scrape();
    expect(sum(m, 'tokenfuse_tokens_total', { ...labels, type: 'input' })).toBe(5);
    expect(sum(m, 'tokenfuse_tokens_total', { ...labels, type: 'cache_read' })).toBe(4);
    expect(sum(m, 'tokenfuse_tokens_total', { ...labels, type: 'output' })).toBe(7);
    expect(sum(m, 'tokenfuse_tokens_total', { ...labels, type: 'cache_write' })).toBe(0);
    expect(sum(m, 'tokenfuse_cost_usd_total', labels)).toBeCloseTo(usd(5, 4, 7), 12);
    expect(sum(m, 'tokenfuse_requests_total', { ...labels, outcome: 'ok' })).toBe(1);
    expect(sum(m, 'tokenfuse_unpriced_total')).toBe(0);
    const semconv = {
      gen_ai_operation_name: 'chat',
      gen_ai_provider_name: 'local-relay',
      gen_ai_request_model: 'gpt-4.1',
      department: 'platform',
    };
    expect(
      sum(m, 'gen_ai_client_token_usage_sum', { ...semconv, gen_ai_token_type: 'input' }),
    ).toBe(9);
    expect(
      sum(m, 'gen_ai_client_token_usage_sum', { ...semconv, gen_ai_token_type: 'output' }),
    ).toBe(7);
    expect(
      sum(m, 'gen_ai_client_token_usage_bucket', {
        ...semconv,
        gen_ai_token_type: 'input',
        le: '4',
      }),
    ).toBe(0);
    expect(
      sum(m, 'gen_ai_client_token_usage_bucket', {
        ...semconv,
        gen_ai_token_type: 'input',
        le: '16',
      }),
    ).toBe(1);
    expect(sum(m, 'gen_ai_client_operation_duration_count', semconv)).toBe(1);

    const [span] = h.spans();
    expect(h.spans()).toHaveLength(1);
    expect(span!.name).toBe('chat gpt-4.1');
    expect(span!.attributes).toMatchObject({
      'gen_ai.operation.name': 'chat',
      'gen_ai.provider.name': 'local-relay',
      'gen_ai.request.model': 'gpt-4.1',
      'gen_ai.request.max_tokens': 7,
      'gen_ai.response.model': 'gpt-4.1',
      'gen_ai.response.id': completion.id,
      'gen_ai.response.finish_reasons': ['length'],
      'gen_ai.usage.input_tokens': 9,
      'gen_ai.usage.cache_read.input_tokens': 4,
      'gen_ai.usage.output_tokens': 7,
      'server.address': '127.0.0.1',
      'tokenfuse.api': 'chat.completions',
      'tokenfuse.provider': 'local-relay',
      'tokenfuse.department': 'platform',
      'tokenfuse.project': 'core',
      'tokenfuse.environment': 'test',
      'tokenfuse.usage.estimated': false,
      'tokenfuse.priced': true,
    });
    expect(span!.attributes['tokenfuse.cost.usd']).toBeCloseTo(usd(5, 4, 7), 15);
  });

  it('never puts the API key or message content on the span; only a short fingerprint of the key', async () => {
    await openai.chat.completions.create({
      model: 'gpt-4.1',
      messages: [{ role: 'user', content: 'secret plan' }],
    });
    const [span] = h.spans();
    const serialized = JSON.stringify(span!.attributes);
    expect(serialized).not.toContain('sk-test-chat');
    expect(serialized).not.toContain('secret plan');
    expect(span!.attributes['tokenfuse.api_key.fingerprint']).toMatch(/^[0-9a-f]{8}$/);
  });

  it("fingerprints the key the call was made with: a client whose key is replaced gets the new key's", async () => {
    const { createHash } = await import('node:crypto');
    const fp = (key: string) => createHash('sha256').update(key).digest('hex').slice(0, 8);
    const ask = () =>
      openai.chat.completions.create({
        model: 'gpt-4.1',
        messages: [{ role: 'user', content: 'a' }],
      });
    await ask();
    openai.apiKey = 'sk-test-rotated';
    await ask();
    const [first, second] = h.spans();
    expect(first!.attributes['tokenfuse.api_key.fingerprint']).toBe(fp('sk-test-chat'));
    expect(second!.attributes['tokenfuse.api_key.fingerprint']).toBe(fp('sk-test-rotated'));
  });

  it('has ended the span, with exact usage, by the time the awaited call returns', async () => {
    // The result is read beside the caller's chain: before the caller's code runs, with no tick to wait.
    await openai.chat.completions.create({
      model: 'gpt-4.1',
      messages: [{ role: 'user', content: 'a b' }],
      max_tokens: 4,
    });
    const spans = h.spans();
    expect(spans).toHaveLength(1);
    expect(spans[0]!.attributes['gen_ai.usage.input_tokens']).toBe(5);
    expect(spans[0]!.attributes['gen_ai.usage.output_tokens']).toBe(4);
  });

  it('keeps withResponse(), asResponse() and parse() working, and counts each call once', async () => {
    const { data, response, request_id } = await openai.chat.completions
      .create({ model: 'gpt-4.1', messages: [{ role: 'user', content: 'a b' }], max_tokens: 2 })
      .withResponse();
    expect(data.choices[0]!.message.content).toBe('Hello from');
    expect(response.status).toBe(200);
    expect(request_id).toMatch(/^req_/);

    const raw = await openai.chat.completions
      .create({ model: 'gpt-4.1', messages: [{ role: 'user', content: 'a b' }], max_tokens: 3 })
      .asResponse();
    const body = (await raw.json()) as { usage: { completion_tokens: number } };
    expect(body.usage.completion_tokens).toBe(3);

    // parse() refuses truncated output, so no max_tokens: the fake replies with 5 words.
    const parsed = await openai.chat.completions.parse({
      model: 'gpt-4.1',
      messages: [{ role: 'user', content: 'a b' }],
    });
    expect(parsed.choices[0]!.message.content).toBe('Hello from gpt-4.1 Hello from');

    await new Promise((r) => setTimeout(r, 20)); // asResponse() reads usage from a clone
    const m = await h.scrape();
    expect(sum(m, 'tokenfuse_requests_total', { ...labels, outcome: 'ok' })).toBe(3);
    // 'a b' → 2 + 3 = 5 prompt tokens per call; outputs 2 + 3 + 5.
    expect(sum(m, 'tokenfuse_tokens_total', { ...labels, type: 'input' })).toBe(15);
    expect(sum(m, 'tokenfuse_tokens_total', { ...labels, type: 'output' })).toBe(10);
    expect(h.spans()).toHaveLength(3);
  });
});

describe('chat.completions.create, streaming', () => {
  it('asks for usage, hides the usage-only chunk, and records exact usage', async () => {
    const stream = await openai.chat.completions.create({
      model: 'gpt-4.1',
      messages: [{ role: 'user', content: 'count to four' }],
      max_tokens: 4,
      stream: true,
    });
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    // role chunk + 4 words + finish chunk; the usage chunk is ours and hidden.
    expect(chunks).toHaveLength(6);
    expect(chunks.every((c) => c.choices.length === 1)).toBe(true);
    expect(chunks.map((c) => c.choices[0]!.delta.content ?? '').join('')).toBe(
      'Hello from gpt-4.1 Hello',
    );
    expect(llm.requests[0]!.body).toMatchObject({
      stream: true,
      stream_options: { include_usage: true },
    });

    const m = await h.scrape();
    expect(sum(m, 'tokenfuse_tokens_total', { ...labels, type: 'input' })).toBe(6);
    expect(sum(m, 'tokenfuse_tokens_total', { ...labels, type: 'output' })).toBe(4);
    expect(sum(m, 'tokenfuse_cost_usd_total', labels)).toBeCloseTo(usd(6, 0, 4), 12);
    expect(
      sum(m, 'gen_ai_client_operation_time_to_first_chunk_count', {
        gen_ai_request_model: 'gpt-4.1',
      }),
    ).toBe(1);
    const [span] = h.spans();
    expect(span!.attributes).toMatchObject({
      'gen_ai.usage.input_tokens': 6,
      'gen_ai.usage.output_tokens': 4,
      'gen_ai.response.finish_reasons': ['length'],
      'tokenfuse.usage.estimated': false,
    });
  });

  it('passes the usage chunk through when the caller asked for it', async () => {
    const stream = await openai.chat.completions.create({
      model: 'gpt-4.1',
      messages: [{ role: 'user', content: 'x' }],
      max_tokens: 2,
      stream: true,
      stream_options: { include_usage: true },
    });
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    expect(chunks).toHaveLength(5);
    expect(chunks.at(-1)!.choices).toEqual([]);
    expect(chunks.at(-1)!.usage?.completion_tokens).toBe(2);
    const m = await h.scrape();
    expect(sum(m, 'tokenfuse_tokens_total', { ...labels, type: 'output' })).toBe(2);
  });

  it('estimates with the tokenizer when the server never sends usage, and marks the span', async () => {
    llm.enqueue({ kind: 'ignore-include-usage' });
    const stream = await openai.chat.completions.create({
      model: 'gpt-4.1',
      messages: [{ role: 'user', content: 'hello there' }],
      max_tokens: 5,
      stream: true,
    });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
    expect(text).toBe('Hello from gpt-4.1 Hello from');

    // o200k: "hello there" = 2 tokens, + 3 per message + 3 priming = 8;
    // "Hello from gpt-4.1 Hello from" = 8 tokens ("Hello"," from"," gpt","-","4",".","1"... see assertion).
    const [span] = h.spans();
    expect(span!.attributes['tokenfuse.usage.estimated']).toBe(true);
    expect(span!.attributes['gen_ai.usage.input_tokens']).toBe(8);
    const { countTokens } = await import('gpt-tokenizer/encoding/o200k_base');
    const expectedOutput = countTokens('Hello from gpt-4.1 Hello from');
    expect(span!.attributes['gen_ai.usage.output_tokens']).toBe(expectedOutput);
    const m = await h.scrape();
    expect(sum(m, 'tokenfuse_tokens_total', { ...labels, type: 'output' })).toBe(expectedOutput);
    expect(sum(m, 'tokenfuse_requests_total', { ...labels, outcome: 'ok' })).toBe(1);
  });

  it('ends the span of a stream abandoned midway, with estimated usage', async () => {
    const stream = await openai.chat.completions.create({
      model: 'gpt-4.1',
      messages: [{ role: 'user', content: 'go' }],
      max_tokens: 20,
      stream: true,
    });
    let n = 0;
    for await (const _ of stream) if (++n === 3) break;
    const [span] = h.spans();
    expect(h.spans()).toHaveLength(1);
    expect(span!.attributes['tokenfuse.stream.abandoned']).toBe(true);
    expect(span!.attributes['tokenfuse.usage.estimated']).toBe(true);
    const m = await h.scrape();
    expect(sum(m, 'tokenfuse_requests_total', { ...labels, outcome: 'ok' })).toBe(1);
    expect(sum(m, 'tokenfuse_tokens_total', { ...labels, type: 'input' })).toBe(7); // "go" 1 + 3 + 3
  });

  it('keeps tee() and toReadableStream() working, counting the call once', async () => {
    const stream = await openai.chat.completions.create({
      model: 'gpt-4.1',
      messages: [{ role: 'user', content: 'tee me' }],
      max_tokens: 3,
      stream: true,
    });
    const [left, right] = stream.tee();
    const read = async (s: typeof left) => {
      let t = '';
      for await (const c of s) t += c.choices[0]?.delta?.content ?? '';
      return t;
    };
    expect(await Promise.all([read(left), read(right)])).toEqual([
      'Hello from gpt-4.1',
      'Hello from gpt-4.1',
    ]);

    const second = await openai.chat.completions.create({
      model: 'gpt-4.1',
      messages: [{ role: 'user', content: 'tee me' }],
      max_tokens: 3,
      stream: true,
    });
    const lines = (await new Response(second.toReadableStream()).text()).trim().split('\n');
    expect(lines.map((l) => JSON.parse(l).choices.length)).toEqual([1, 1, 1, 1, 1]);

    const m = await h.scrape();
    expect(sum(m, 'tokenfuse_requests_total', { ...labels, outcome: 'ok' })).toBe(2);
    expect(sum(m, 'tokenfuse_tokens_total', { ...labels, type: 'output' })).toBe(6);
  });
});

describe('errors', () => {
  it('counts a 429 as outcome="error" with error.type on span and duration, and rethrows the SDK error', async () => {
    llm.enqueue({ kind: 'error', status: 429 });
    const err = await openai.chat.completions
      .create({ model: 'gpt-4.1', messages: [{ role: 'user', content: 'x' }] })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(h.OpenAI.RateLimitError);
    const m = await h.scrape();
    expect(sum(m, 'tokenfuse_requests_total', { ...labels, outcome: 'error' })).toBe(1);
    expect(sum(m, 'tokenfuse_requests_total', { ...labels, outcome: 'ok' })).toBe(0);
    expect(sum(m, 'tokenfuse_tokens_total')).toBe(0);
    expect(sum(m, 'gen_ai_client_operation_duration_count', { error_type: 'RateLimitError' })).toBe(
      1,
    );
    const [span] = h.spans();
    expect(span!.attributes['error.type']).toBe('RateLimitError');
    expect(span!.status.code).toBe(2);
  });

  it('ends the span on a 500, a client timeout and an abort', async () => {
    llm.enqueue({ kind: 'error', status: 500 });
    await expect(
      openai.chat.completions.create({ model: 'gpt-4.1', messages: [] }),
    ).rejects.toBeInstanceOf(h.OpenAI.InternalServerError);
    llm.enqueue({ kind: 'hang' });
    await expect(
      openai.chat.completions.create(
        { model: 'gpt-4.1', messages: [{ role: 'user', content: 'x' }] },
        { timeout: 200 },
      ),
    ).rejects.toBeInstanceOf(h.OpenAI.APIConnectionTimeoutError);
    llm.enqueue({ kind: 'hang' });
    const controller = new AbortController();
    const pending = openai.chat.completions.create(
      { model: 'gpt-4.1', messages: [{ role: 'user', content: 'x' }] },
      { signal: controller.signal },
    );
    setTimeout(() => controller.abort(), 50);
    await expect(pending).rejects.toBeInstanceOf(h.OpenAI.APIUserAbortError);

    expect(h.spans().map((s) => s.attributes['error.type'])).toEqual([
      'InternalServerError',
      'APIConnectionTimeoutError',
      'APIUserAbortError',
    ]);
    const m = await h.scrape();
    expect(sum(m, 'tokenfuse_requests_total', { outcome: 'error' })).toBe(3);
  });

  it('a stream cut midway ends its span as an error and still counts what streamed', async () => {
    llm.enqueue({ kind: 'stream-cut', afterChunks: 3 });
    const stream = await openai.chat.completions.create({
      model: 'gpt-4.1',
      messages: [{ role: 'user', content: 'x' }],
      max_tokens: 10,
      stream: true,
    });
    const err = await (async () => {
      for await (const _ of stream);
    })().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    const [span] = h.spans();
    expect(span!.status.code).toBe(2);
    expect(span!.attributes['tokenfuse.usage.estimated']).toBe(true);
    const m = await h.scrape();
    expect(sum(m, 'tokenfuse_requests_total', { ...labels, outcome: 'error' })).toBe(1);
    expect(sum(m, 'tokenfuse_tokens_total', { ...labels, type: 'input' })).toBe(7);
  });
});
