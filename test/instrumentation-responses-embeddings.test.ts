import type OpenAIType from 'openai';
import { beforeEach, describe, expect, it } from 'vitest';
import { LOCAL_RELAY, useFakeServerHarness } from './helpers/fake-server-harness.js';
import type { Harness } from './helpers/harness.js';
import { sum } from './helpers/prom-text.js';

const { llm, harness, client } = useFakeServerHarness();
let h: Harness;
let openai: OpenAIType;

beforeEach(async () => {
  h = await harness({
    attribution: { defaults: { department: 'search' } },
    providers: [LOCAL_RELAY],
  });
  openai = client(h, { apiKey: 'sk-test' });
});

// o4-mini catalog prices (USD/MTok): input 1.1, cached input 0.275, output 4.4.
const o4mini = (input: number, cached: number, output: number) =>
  (input * 1.1 + cached * 0.275 + output * 4.4) / 1e6;

describe('responses.create', () => {
  it('records exact usage with cached and reasoning tokens (non-streaming)', async () => {
    // instructions "be brief" = 2 + 3; input "rank these five results now" = 5 + 3 → 13 input,
    // prompt_cache_key → 6 cached; o-series: 10 reasoning + 5 words = 15 output.
    const response = await openai.responses.create({
      model: 'o4-mini',
      instructions: 'be brief',
      input: 'rank these five results now',
      prompt_cache_key: 'r',
    });
    expect(response.usage?.input_tokens).toBe(13);
    expect(response.output_text).toBe('Hello from o4-mini Hello from');
    const labels = { department: 'search', provider: 'local-relay', model: 'o4-mini' };
    const m = await h.scrape();
    expect(sum(m, 'tokenfuse_tokens_total', { ...labels, type: 'input' })).toBe(7);
    expect(sum(m, 'tokenfuse_tokens_total', { ...labels, type: 'cache_read' })).toBe(6);
    expect(sum(m, 'tokenfuse_tokens_total', { ...labels, type: 'output' })).toBe(15);
    expect(sum(m, 'tokenfuse_cost_usd_total', labels)).toBeCloseTo(o4mini(7, 6, 15), 12);
    const [span] = h.spans();
    expect(span!.name).toBe('chat o4-mini');
    expect(span!.attributes).toMatchObject({
      'tokenfuse.api': 'responses',
      'gen_ai.operation.name': 'chat',
      'gen_ai.usage.input_tokens': 13,
      'gen_ai.usage.cache_read.input_tokens': 6,
      'gen_ai.usage.output_tokens': 15,
      'gen_ai.usage.reasoning.output_tokens': 10,
      'gen_ai.response.id': response.id,
      'gen_ai.response.finish_reasons': ['completed'],
    });
  });

  it('takes streaming usage from response.completed and leaves the events untouched', async () => {
    const stream = await openai.responses.create({
      model: 'gpt-4.1',
      input: 'three more words',
      stream: true,
    });
    const types: string[] = [];
    for await (const event of stream) types.push(event.type);
    expect(types[0]).toBe('response.created');
    expect(types.at(-1)).toBe('response.completed');
    expect(types.filter((t) => t === 'response.output_text.delta')).toHaveLength(5);
    const m = await h.scrape();
    const labels = { department: 'search', model: 'gpt-4.1' };
    expect(sum(m, 'tokenfuse_tokens_total', { ...labels, type: 'input' })).toBe(6);
    expect(sum(m, 'tokenfuse_tokens_total', { ...labels, type: 'output' })).toBe(5);
    expect(
      sum(m, 'gen_ai_client_operation_time_to_first_chunk_count', {
        gen_ai_request_model: 'gpt-4.1',
      }),
    ).toBe(1);
    expect(h.spans()[0]!.attributes['tokenfuse.usage.estimated']).toBe(false);
  });

  it('keeps responses.parse() working and counts it once', async () => {
    const parsed = await openai.responses.parse({ model: 'gpt-4.1', input: 'hi' });
    expect(parsed.output_text).toBe('Hello from gpt-4.1 Hello from');
    const m = await h.scrape();
    expect(sum(m, 'tokenfuse_requests_total', { outcome: 'ok' })).toBe(1);
    expect(sum(m, 'tokenfuse_tokens_total', { type: 'input' })).toBe(4);
  });
});

describe('embeddings.create', () => {
  it('records input tokens only, with the default base64 decoding intact', async () => {
    const result = await openai.embeddings.create({
      model: 'text-embedding-3-small',
      input: ['waterproof hiking boots', 'boot care'],
    });
    expect(result.data).toHaveLength(2);
    expect(result.data[0]!.embedding).toHaveLength(8);
    expect(typeof result.data[0]!.embedding[0]).toBe('number');
    const labels = { department: 'search', model: 'text-embedding-3-small' };
    const m = await h.scrape();
    expect(sum(m, 'tokenfuse_tokens_total', { ...labels, type: 'input' })).toBe(5);
    expect(sum(m, 'tokenfuse_tokens_total', { ...labels, type: 'output' })).toBe(0);
    expect(sum(m, 'tokenfuse_cost_usd_total', labels)).toBeCloseTo((5 * 0.02) / 1e6, 15);
    expect(
      sum(m, 'gen_ai_client_token_usage_count', {
        gen_ai_operation_name: 'embeddings',
        gen_ai_token_type: 'output',
      }),
    ).toBe(0);
    expect(
      sum(m, 'gen_ai_client_token_usage_sum', {
        gen_ai_operation_name: 'embeddings',
        gen_ai_token_type: 'input',
      }),
    ).toBe(5);
    expect(h.spans()[0]!.name).toBe('embeddings text-embedding-3-small');
  });
});

describe('providers from the base URL', () => {
  it.each([
    ['https://api.openai.com/v1', 'openai', 'openai'],
    ['https://api.deepseek.com', 'deepseek', 'deepseek'],
    ['https://generativelanguage.googleapis.com/v1beta/openai/', 'google', 'gcp.gemini'],
    ['https://openrouter.ai/api/v1', 'openrouter', 'openrouter'],
    ['https://my-resource.openai.azure.com/openai/v1', 'azure', 'azure.ai.openai'],
  ])('%s is provider %s', async (baseURL, provider, semconv) => {
    // The real SDK builds its request for that host; a custom fetch delivers it to the local fake.
    const client = new h.OpenAI({
      baseURL,
      apiKey: 'sk',
      maxRetries: 0,
      fetch: (_url, init) => fetch(`${llm.url}/v1/chat/completions`, init),
    });
    await client.chat.completions.create({
      model: 'gpt-4.1',
      messages: [{ role: 'user', content: 'x' }],
      max_tokens: 1,
    });
    const [span] = h.spans();
    expect(span!.attributes['tokenfuse.provider']).toBe(provider);
    expect(span!.attributes['gen_ai.provider.name']).toBe(semconv);
    const m = await h.scrape();
    expect(sum(m, 'tokenfuse_requests_total', { provider })).toBe(1);
  });
});
