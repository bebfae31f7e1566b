// Pricing: usage normalisation, the price book (overrides, catalog, caching) and
// base URL → provider resolution. Expected dollar amounts are computed by hand
// from prices that are first asserted to be the catalog's own, so a catalog
// update that changes a price fails loudly at the assertion that explains it.
import { findProvider, type ModelInfo } from '@pydantic/genai-prices';
import { describe, expect, it, vi } from 'vitest';
import { PriceBook, resolveCatalogPrice } from '../src/pricing/price-book.js';
import { BUILTIN_PROVIDERS, createProviderResolver } from '../src/pricing/providers.js';
import {
  fromAnthropicUsage,
  fromChatCompletionUsage,
  fromEmbeddingsUsage,
  fromGenAiAttributes,
  fromResponsesUsage,
  type NormalizedUsage,
} from '../src/pricing/usage.js';

const M = 1_000_000;

function usage(u: Partial<NormalizedUsage>): NormalizedUsage {
  return { input: 0, cacheRead: 0, cacheWrite: 0, output: 0, reasoning: 0, ...u };
}

function catalogModel(providerId: string, modelId: string): ModelInfo {
  const model = findProvider({ providerId })?.models.find((m) => m.id === modelId);
  if (!model) throw new Error(`catalog has no ${providerId}/${modelId}`);
  return model;
}

describe('usage normalisation', () => {
  it('chat completions: cached tokens are taken out of prompt_tokens, reasoning stays in output', () => {
    expect(
      fromChatCompletionUsage({
        prompt_tokens: 1000,
        completion_tokens: 300,
        prompt_tokens_details: { cached_tokens: 400 },
        completion_tokens_details: { reasoning_tokens: 120 },
      }),
    ).toEqual({ input: 600, cacheRead: 400, cacheWrite: 0, output: 300, reasoning: 120 });
  });

  it("chat completions: DeepSeek's prompt_cache_hit_tokens is the cached part", () => {
    expect(
      fromChatCompletionUsage({
        prompt_tokens: 100,
        completion_tokens: 10,
        prompt_cache_hit_tokens: 64,
      }),
    ).toEqual({ input: 36, cacheRead: 64, cacheWrite: 0, output: 10, reasoning: 0 });
  });

  it('chat completions: bad fields count as 0 and parts are clamped to their totals', () => {
    expect(
      fromChatCompletionUsage({
        prompt_tokens: 50,
        completion_tokens: -5,
        prompt_tokens_details: { cached_tokens: 80 },
        completion_tokens_details: { reasoning_tokens: 7 },
      }),
    ).toEqual({
      input: 0,
      cacheRead: 50,
      cacheWrite: 0,
      output: 0,
      reasoning: 0,
      invalid: [{ field: 'completion_tokens', value: -5 }],
    });
    expect(
      fromChatCompletionUsage({
        prompt_tokens: Number.NaN,
        completion_tokens: '12' as unknown as number,
        prompt_tokens_details: null,
        completion_tokens_details: { reasoning_tokens: null },
      }),
    ).toEqual({
      ...usage({}),
      invalid: [
        { field: 'prompt_tokens', value: Number.NaN },
        { field: 'completion_tokens', value: '12' },
      ],
    });
    expect(fromChatCompletionUsage(undefined)).toEqual(usage({}));
    expect(fromChatCompletionUsage({ prompt_tokens: Number.POSITIVE_INFINITY })).toEqual({
      ...usage({}),
      invalid: [{ field: 'prompt_tokens', value: Number.POSITIVE_INFINITY }],
    });
    // fractions and counts past the 1e9 ceiling are not token counts either
    expect(fromChatCompletionUsage({ prompt_tokens: 3.7, completion_tokens: 1e9 + 1 })).toEqual({
      ...usage({}),
      invalid: [
        { field: 'prompt_tokens', value: 3.7 },
        { field: 'completion_tokens', value: 1e9 + 1 },
      ],
    });
    expect(fromChatCompletionUsage({ prompt_tokens: 1e9, completion_tokens: 0 })).toEqual(
      usage({ input: 1e9 }),
    );
  });

  it('responses API: cached input and reasoning output details', () => {
    expect(
      fromResponsesUsage({
        input_tokens: 2000,
        output_tokens: 500,
        input_tokens_details: { cached_tokens: 1500 },
        output_tokens_details: { reasoning_tokens: 384 },
      }),
    ).toEqual({ input: 500, cacheRead: 1500, cacheWrite: 0, output: 500, reasoning: 384 });
    expect(
      fromResponsesUsage({ input_tokens: 10, input_tokens_details: { cached_tokens: 11 } }),
    ).toEqual(usage({ cacheRead: 10 }));
  });

  it('embeddings: prompt_tokens, or total_tokens when prompt_tokens is missing', () => {
    expect(fromEmbeddingsUsage({ prompt_tokens: 8, total_tokens: 8 })).toEqual(usage({ input: 8 }));
    expect(fromEmbeddingsUsage({ total_tokens: 5 })).toEqual(usage({ input: 5 }));
    expect(fromEmbeddingsUsage({ prompt_tokens: -1 })).toEqual({
      ...usage({}),
      invalid: [{ field: 'prompt_tokens', value: -1 }],
    });
  });

  it('anthropic: input_tokens excludes the cache counts, so all three are kept as they are', () => {
    expect(
      fromAnthropicUsage({
        input_tokens: 50,
        cache_read_input_tokens: 1000,
        cache_creation_input_tokens: 200,
        output_tokens: 75,
      }),
    ).toEqual({ input: 50, cacheRead: 1000, cacheWrite: 200, output: 75, reasoning: 0 });
    expect(fromAnthropicUsage({ input_tokens: 3, cache_read_input_tokens: null })).toEqual(
      usage({ input: 3 }),
    );
  });

  it('GenAI semconv attributes: input_tokens includes cache reads and writes', () => {
    expect(
      fromGenAiAttributes({
        'gen_ai.usage.input_tokens': 1200,
        'gen_ai.usage.cache_read.input_tokens': 1000,
        'gen_ai.usage.cache_creation.input_tokens': 100,
        'gen_ai.usage.output_tokens': 50,
        'gen_ai.usage.reasoning.output_tokens': 20,
        'gen_ai.request.model': 'gpt-4.1',
      }),
    ).toEqual({ input: 100, cacheRead: 1000, cacheWrite: 100, output: 50, reasoning: 20 });
  });

  it('GenAI semconv attributes: legacy prompt/completion names', () => {
    expect(
      fromGenAiAttributes({
        'gen_ai.usage.prompt_tokens': 30,
        'gen_ai.usage.completion_tokens': 12,
      }),
    ).toEqual(usage({ input: 30, output: 12 }));
    // The current name wins over the legacy one.
    expect(
      fromGenAiAttributes({ 'gen_ai.usage.input_tokens': 7, 'gen_ai.usage.prompt_tokens': 30 }),
    ).toEqual(usage({ input: 7 }));
  });

  it('GenAI semconv attributes: undefined without usage, clamped when inconsistent', () => {
    expect(fromGenAiAttributes({})).toBeUndefined();
    expect(fromGenAiAttributes({ 'gen_ai.request.model': 'gpt-4.1' })).toBeUndefined();
    expect(fromGenAiAttributes({ 'gen_ai.usage.input_tokens': '12' })).toEqual({
      ...usage({}),
      invalid: [{ field: 'gen_ai.usage.input_tokens', value: '12' }],
    });
    expect(fromGenAiAttributes({ 'gen_ai.usage.output_tokens': 0 })).toEqual(usage({}));
    expect(
      fromGenAiAttributes({
        'gen_ai.usage.input_tokens': 10,
        'gen_ai.usage.cache_read.input_tokens': 8,
        'gen_ai.usage.cache_creation.input_tokens': 5,
        'gen_ai.usage.output_tokens': -3,
        'gen_ai.usage.reasoning.output_tokens': 4,
      }),
    ).toEqual({
      input: 0,
      cacheRead: 8,
      cacheWrite: 2,
      output: 0,
      reasoning: 0,
      invalid: [{ field: 'gen_ai.usage.output_tokens', value: -3 }],
    });
  });
});

describe('catalog facts', () => {
  it('has the documented OpenAI gpt-4.1 prices: $2 input, $0.50 cached, $8 output per MTok', () => {
    expect(catalogModel('openai', 'gpt-4.1').prices).toMatchObject({
      input_mtok: 2,
      cache_read_mtok: 0.5,
      output_mtok: 8,
    });
  });

  it('knows every catalog provider id the built-in table maps to', () => {
    for (const p of BUILTIN_PROVIDERS) {
      expect(findProvider({ providerId: p.catalogId })?.id, p.id).toBe(p.catalogId);
    }
  });
});

describe('PriceBook', () => {
  // gpt-4.1 chat call: 10,000 prompt tokens of which 4,000 cached, 2,000 completion.
  const gpt41Chat = fromChatCompletionUsage({
    prompt_tokens: 10_000,
    completion_tokens: 2_000,
    prompt_tokens_details: { cached_tokens: 4_000 },
  });
  // (6,000 × $2 + 4,000 × $0.50 + 2,000 × $8) / 1M = $0.03.
  const GPT41_CHAT_USD = (6_000 * 2 + 4_000 * 0.5 + 2_000 * 8) / M;

  it('prices a gpt-4.1 chat call from the catalog, cached tokens at the cache rate', () => {
    const result = new PriceBook({}).price('openai', 'gpt-4.1', gpt41Chat);
    expect(GPT41_CHAT_USD).toBeCloseTo(0.03, 15);
    expect(result.usd).toBeCloseTo(GPT41_CHAT_USD, 15);
    expect(result).toMatchObject({
      priced: true,
      source: 'catalog',
      catalogProvider: 'openai',
      catalogModel: 'gpt-4.1',
    });
  });

  it('charges a cached token a quarter of an uncached one for gpt-4.1', () => {
    const book = new PriceBook({});
    expect(book.price('openai', 'gpt-4.1', usage({ input: M })).usd).toBeCloseTo(2, 12);
    expect(book.price('openai', 'gpt-4.1', usage({ cacheRead: M })).usd).toBeCloseTo(0.5, 12);
    // Reasoning is part of output and must not be charged twice.
    expect(book.price('openai', 'gpt-4.1', usage({ output: M, reasoning: M / 2 })).usd).toBeCloseTo(
      8,
      12,
    );
  });

  it('prices Anthropic cache writes and reads at their own rates', () => {
    expect(catalogModel('anthropic', 'claude-sonnet-4-0').prices).toMatchObject({
      input_mtok: 3,
      cache_write_mtok: 3.75,
      cache_read_mtok: 0.3,
      output_mtok: 15,
    });
    const u = fromAnthropicUsage({
      input_tokens: 1_000,
      cache_read_input_tokens: 2_000,
      cache_creation_input_tokens: 4_000,
      output_tokens: 500,
    });
    const result = new PriceBook({}).price('anthropic', 'claude-sonnet-4-20250514', u);
    expect(result.usd).toBeCloseTo((1_000 * 3 + 2_000 * 0.3 + 4_000 * 3.75 + 500 * 15) / M, 15);
    expect(result).toMatchObject({
      catalogProvider: 'anthropic',
      catalogModel: 'claude-sonnet-4-0',
    });
  });

  it('resolves dated model names, Azure (via its OpenAI fallback) and unknown hosts by model name', () => {
    const book = new PriceBook({});
    const dated = book.price('openai', 'gpt-4.1-2025-04-14', gpt41Chat);
    expect(dated.usd).toBeCloseTo(GPT41_CHAT_USD, 15);
    expect(dated.catalogModel).toBe('gpt-4.1');

    const azure = book.price('azure', 'gpt-4.1', gpt41Chat);
    expect(azure.usd).toBeCloseTo(GPT41_CHAT_USD, 15);
    expect(azure).toMatchObject({ catalogProvider: 'azure', catalogModel: 'gpt-4.1' });

    const compatible = book.price('openai_compatible', 'gpt-4.1', gpt41Chat);
    expect(compatible.usd).toBeCloseTo(GPT41_CHAT_USD, 15);
    expect(compatible).toMatchObject({ catalogProvider: 'openai', catalogModel: 'gpt-4.1' });
  });

  it('lets calcPrice apply tiered prices on the total input, cached tokens included', () => {
    expect(catalogModel('google', 'gemini-2.5-pro').prices).toEqual({
      input_mtok: { base: 1.25, tiers: [{ start: 200_000, price: 2.5 }] },
      cache_read_mtok: { base: 0.125, tiers: [{ start: 200_000, price: 0.25 }] },
      output_mtok: { base: 10, tiers: [{ start: 200_000, price: 15 }] },
    });
    const book = new PriceBook({});
    const small = book.price('google', 'gemini-2.5-pro', usage({ input: 100_000, output: 1_000 }));
    expect(small.usd).toBeCloseTo((100_000 * 1.25 + 1_000 * 10) / M, 15);
    // 150k uncached + 100k cached = 250k total input: past the 200k tier for every part.
    const large = book.price(
      'google',
      'gemini-2.5-pro',
      usage({ input: 150_000, cacheRead: 100_000, output: 1_000 }),
    );
    expect(large.usd).toBeCloseTo((150_000 * 2.5 + 100_000 * 0.25 + 1_000 * 15) / M, 15);
  });

  it('lets calcPrice apply historic and time-of-day prices for the call time', () => {
    const book = new PriceBook({});
    // o3: $10/$40 until 2025-06-10, then $2/$8.
    expect(catalogModel('openai', 'o3').prices).toEqual([
      expect.objectContaining({
        prices: expect.objectContaining({ input_mtok: 10, output_mtok: 40 }),
      }),
      expect.objectContaining({
        constraint: { start_date: '2025-06-10', type: 'start_date' },
        prices: expect.objectContaining({ input_mtok: 2, output_mtok: 8 }),
      }),
    ]);
    const u = usage({ input: M, output: M });
    expect(book.price('openai', 'o3', u, new Date('2025-06-01T00:00:00Z')).usd).toBeCloseTo(50, 12);
    expect(book.price('openai', 'o3', u, new Date('2025-07-01T00:00:00Z')).usd).toBeCloseTo(10, 12);

    // deepseek-chat: $0.27 input between 00:30 and 16:30 UTC, $0.135 otherwise.
    expect(catalogModel('deepseek', 'deepseek-chat').prices).toEqual([
      { prices: { input_mtok: 0.135, cache_read_mtok: 0.035, output_mtok: 0.55 } },
      {
        constraint: { start_time: '00:30:00Z', end_time: '16:30:00Z', type: 'time_of_date' },
        prices: { input_mtok: 0.27, cache_read_mtok: 0.07, output_mtok: 1.1 },
      },
    ]);
    const input = usage({ input: M });
    expect(
      book.price('deepseek', 'deepseek-chat', input, new Date('2026-01-05T12:00:00Z')).usd,
    ).toBeCloseTo(0.27, 12);
    expect(
      book.price('deepseek', 'deepseek-chat', input, new Date('2026-01-05T20:00:00Z')).usd,
    ).toBeCloseTo(0.135, 12);
    // A call's time as epoch milliseconds (how instrumented calls carry it) prices the same.
    expect(
      book.price('deepseek', 'deepseek-chat', input, Date.parse('2026-01-05T12:00:00Z')).usd,
    ).toBeCloseTo(0.27, 12);
    expect(
      book.price('deepseek', 'deepseek-chat', input, Date.parse('2026-01-05T20:00:00Z')).usd,
    ).toBeCloseTo(0.135, 12);
    expect(book.price('openai', 'o3', u, Date.parse('2025-06-01T00:00:00Z')).usd).toBeCloseTo(
      50,
      12,
    );
  });

  it('applies a relay override to provider relay only', () => {
    const book = new PriceBook({
      overrides: [{ model: 'gpt-4.1', provider: 'relay', input_mtok: 8, output_mtok: 8 }],
      providers: [{ id: 'relay', hosts: ['relay.internal'], pricesFrom: 'openai' }],
    });
    const relay = book.price('relay', 'gpt-4.1', gpt41Chat);
    // Cache reads default to input_mtok: 10,000 × $8 + 2,000 × $8.
    expect(relay).toEqual({ usd: (10_000 * 8 + 2_000 * 8) / M, priced: true, source: 'override' });

    const openai = book.price('openai', 'gpt-4.1', gpt41Chat);
    expect(openai.source).toBe('catalog');
    expect(openai.usd).toBeCloseTo(GPT41_CHAT_USD, 15);

    // Other relay models fall through to the catalog provider named by pricesFrom.
    const mini = book.price('relay', 'gpt-4.1-mini', gpt41Chat);
    expect(mini).toMatchObject({
      source: 'catalog',
      catalogProvider: 'openai',
      catalogModel: 'gpt-4.1-mini',
    });
    expect(mini.usd).toBeCloseTo((6_000 * 0.4 + 4_000 * 0.1 + 2_000 * 1.6) / M, 15);
  });

  it('matches wildcard overrides first to last, case-insensitively, with other characters literal', () => {
    const book = new PriceBook({
      overrides: [
        { model: 'gpt-4.1-nano', input_mtok: 9 },
        { model: 'gpt-4.1*', input_mtok: 1, output_mtok: 2, cache_read_mtok: 0.25 },
      ],
    });
    const u = usage({ input: M, cacheRead: M, output: M });
    // First match: $9 input + $9 cache read (defaults to input) + $0 output (defaults to 0).
    expect(book.price('openai', 'gpt-4.1-nano', u)).toEqual({
      usd: 18,
      priced: true,
      source: 'override',
    });
    // $1 input + $0.25 cache read + $2 output.
    expect(book.price('azure', 'gpt-4.1-mini', u).usd).toBeCloseTo(3.25, 12);
    expect(book.price('relay', 'GPT-4.1', u).usd).toBeCloseTo(3.25, 12);
    // '.' is literal: gpt-4x1 is not gpt-4.1*; it is also unknown to the catalog.
    expect(book.price('openai', 'gpt-4x1', u)).toEqual({ usd: 0, priced: false, source: 'none' });
    expect(book.price('openai', 'gpt-4o', u).source).toBe('catalog');
  });

  it('defaults override cache prices to input_mtok and other prices to 0', () => {
    const book = new PriceBook({ overrides: [{ model: 'local-*', input_mtok: 4 }] });
    const u = usage({ input: M, cacheRead: M, cacheWrite: M, output: M });
    expect(book.price('ollama', 'local-llama', u).usd).toBeCloseTo(12, 12);
    const free = new PriceBook({ overrides: [{ model: 'free' }] });
    expect(free.price('x', 'free', u)).toEqual({ usd: 0, priced: true, source: 'override' });
  });

  it('leaves unknown models unpriced, and a known provider never borrows another vendor’s model', () => {
    const book = new PriceBook({});
    const u = usage({ input: 1_000, output: 1_000 });
    expect(book.price('openai', 'no-such-model', u)).toEqual({
      usd: 0,
      priced: false,
      source: 'none',
    });
    expect(book.price('openai_compatible', 'no-such-model', u)).toEqual({
      usd: 0,
      priced: false,
      source: 'none',
    });
    expect(book.price('openai', 'claude-sonnet-4-0', u).priced).toBe(false);
  });

  it('prices a declared provider without pricesFrom by model name alone', () => {
    const book = new PriceBook({ providers: [{ id: 'gateway', hosts: ['gw.internal'] }] });
    const result = book.price('gateway', 'gpt-4.1', gpt41Chat);
    expect(result).toMatchObject({
      source: 'catalog',
      catalogProvider: 'openai',
      catalogModel: 'gpt-4.1',
    });
    expect(result.usd).toBeCloseTo(GPT41_CHAT_USD, 15);
  });

  it('resolves each (provider, model) pair once, unpriced pairs included', () => {
    const resolveCatalog = vi.fn(resolveCatalogPrice);
    const book = new PriceBook({
      resolveCatalog,
      overrides: [{ model: 'mine', input_mtok: 1 }],
    });
    const u = usage({ input: 1_000 });
    const first = book.price('openai', 'gpt-4.1', u);
    for (let i = 0; i < 3; i++) expect(book.price('openai', 'gpt-4.1', u)).toEqual(first);
    book.price('azure', 'gpt-4.1', u);
    book.price('openai', 'no-such-model', u);
    book.price('openai', 'no-such-model', u);
    book.price('openai', 'mine', u);
    book.price('openai', 'mine', u);

    expect(resolveCatalog.mock.calls).toEqual([
      ['openai', 'gpt-4.1'],
      ['azure', 'gpt-4.1'],
      ['openai', 'no-such-model'],
    ]);
  });

  it('passes undefined as the catalog provider for unknown providers', () => {
    const resolveCatalog = vi.fn(resolveCatalogPrice);
    new PriceBook({ resolveCatalog }).price('openai_compatible', 'gpt-4.1', usage({ input: 1 }));
    expect(resolveCatalog).toHaveBeenCalledWith(undefined, 'gpt-4.1');
  });

  it('resolves to a single-model provider for calcPrice', () => {
    const resolved = resolveCatalogPrice('azure', 'GPT-4.1');
    expect(resolved?.providerId).toBe('azure');
    expect(resolved?.model.id).toBe('gpt-4.1');
    expect(resolved?.provider.models).toHaveLength(1);
    expect(resolved?.provider.models[0]?.match).toEqual({ equals: 'gpt-4.1' });
    expect(resolveCatalogPrice('openai', 'no-such-model')).toBeUndefined();
    expect(resolveCatalogPrice('no-such-provider', 'gpt-4.1')).toBeUndefined();
  });

  it('returns failures as unpriced results carrying the error instead of throwing', () => {
    const boom = new Error('catalog exploded');
    const failing = new PriceBook({
      resolveCatalog: () => {
        throw boom;
      },
    });
    expect(failing.price('openai', 'gpt-4.1', usage({ input: 1 }))).toEqual({
      usd: 0,
      priced: false,
      source: 'none',
      error: boom,
    });

    // An invalid call time makes calcPrice throw while choosing a dated price.
    const result = new PriceBook({}).price(
      'openai',
      'o3',
      usage({ input: 1 }),
      new Date(Number.NaN),
    );
    expect(result).toMatchObject({ usd: 0, priced: false, source: 'none' });
    expect(result.error).toBeInstanceOf(RangeError);
  });
});

describe('createProviderResolver', () => {
  const table: [url: string, id: string, semconvName: string, address: string][] = [
    ['https://api.openai.com/v1', 'openai', 'openai', 'api.openai.com'],
    [
      'https://my-res.openai.azure.com/openai/deployments/d',
      'azure',
      'azure.ai.openai',
      'my-res.openai.azure.com',
    ],
    [
      'https://my-res.cognitiveservices.azure.com/',
      'azure',
      'azure.ai.openai',
      'my-res.cognitiveservices.azure.com',
    ],
    [
      'https://proj.services.ai.azure.com/models',
      'azure',
      'azure.ai.openai',
      'proj.services.ai.azure.com',
    ],
    ['https://api.deepseek.com', 'deepseek', 'deepseek', 'api.deepseek.com'],
    [
      'https://generativelanguage.googleapis.com/v1beta/openai/',
      'google',
      'gcp.gemini',
      'generativelanguage.googleapis.com',
    ],
    [
      'https://us-central1-aiplatform.googleapis.com/v1/projects/p',
      'google',
      'gcp.vertex_ai',
      'us-central1-aiplatform.googleapis.com',
    ],
    [
      'https://aiplatform.googleapis.com/v1',
      'google',
      'gcp.vertex_ai',
      'aiplatform.googleapis.com',
    ],
    ['https://openrouter.ai/api/v1', 'openrouter', 'openrouter', 'openrouter.ai'],
    ['https://api.anthropic.com/v1/', 'anthropic', 'anthropic', 'api.anthropic.com'],
    ['https://api.groq.com/openai/v1', 'groq', 'groq', 'api.groq.com'],
    ['https://api.mistral.ai/v1', 'mistral', 'mistral_ai', 'api.mistral.ai'],
    ['https://api.x.ai/v1', 'xai', 'x_ai', 'api.x.ai'],
    ['https://api.together.xyz/v1', 'together', 'together', 'api.together.xyz'],
    ['https://api.fireworks.ai/inference/v1', 'fireworks', 'fireworks', 'api.fireworks.ai'],
    ['https://api.perplexity.ai', 'perplexity', 'perplexity', 'api.perplexity.ai'],
  ];

  it.each(table)('%s → %s', (url, id, semconvName, serverAddress) => {
    expect(createProviderResolver([])(url)).toEqual({
      id,
      semconvName,
      serverAddress,
      serverPort: 443,
    });
  });

  it('labels any other host openai_compatible, with the explicit or scheme port', () => {
    const resolve = createProviderResolver([]);
    expect(resolve('http://localhost:11434/v1')).toEqual({
      id: 'openai_compatible',
      semconvName: 'openai_compatible',
      serverAddress: 'localhost',
      serverPort: 11434,
    });
    expect(resolve('http://vllm.internal/v1')).toMatchObject({
      id: 'openai_compatible',
      serverPort: 80,
    });
    // Look-alike hosts are not the provider.
    expect(resolve('https://api.openai.com.evil.example/v1').id).toBe('openai_compatible');
    expect(resolve('https://openai.azure.com.evil.example/').id).toBe('openai_compatible');
  });

  it('treats an undefined base URL as the SDK default, api.openai.com', () => {
    expect(createProviderResolver([])(undefined)).toEqual({
      id: 'openai',
      semconvName: 'openai',
      serverAddress: 'api.openai.com',
      serverPort: 443,
    });
  });

  it('lets declared providers win over the table and match host or host:port', () => {
    const resolve = createProviderResolver([
      { id: 'relay', hosts: ['relay.internal:8443'], pricesFrom: 'openai' },
      { id: 'gw', hosts: ['GW.internal'] },
      { id: 'corp-openai', hosts: ['api.openai.com'] },
      { id: 'local', hosts: ['[::1]:8000'] },
      { id: 'tls-default', hosts: ['secure.internal:443'] },
    ]);
    expect(resolve('https://relay.internal:8443/v1')).toEqual({
      id: 'relay',
      semconvName: 'relay',
      serverAddress: 'relay.internal',
      serverPort: 8443,
    });
    expect(resolve('https://relay.internal/v1').id).toBe('openai_compatible');
    expect(resolve('http://gw.internal:9000/v1')).toMatchObject({ id: 'gw', serverPort: 9000 });
    expect(resolve('https://api.openai.com/v1')).toMatchObject({
      id: 'corp-openai',
      semconvName: 'corp-openai',
    });
    expect(resolve('http://[::1]:8000/v1')).toMatchObject({
      id: 'local',
      serverAddress: '::1',
      serverPort: 8000,
    });
    expect(resolve('https://secure.internal/v1').id).toBe('tls-default');
  });

  it('does not throw on a malformed URL', () => {
    const resolve = createProviderResolver([{ id: 'relay', hosts: ['relay.internal'] }]);
    for (const bad of ['not a url', '', 'http://', '://relay.internal']) {
      expect(resolve(bad)).toEqual({ id: 'openai_compatible', semconvName: 'openai_compatible' });
    }
  });

  it('caches per base URL string and hands out frozen results', () => {
    const resolve = createProviderResolver([]);
    const first = resolve('https://api.groq.com/openai/v1');
    expect(resolve('https://api.groq.com/openai/v1')).toBe(first);
    expect(Object.isFrozen(first)).toBe(true);
    expect(resolve('https://api.groq.com/openai/v1/')).not.toBe(first);
  });
});

describe('flat-rate fast path', () => {
  it('gives exactly what calcPrice gives, for flat and tiered catalog prices', async () => {
    const { calcPrice } = await import('@pydantic/genai-prices');
    const book = new PriceBook({});
    const usage = {
      input: 123_457,
      cacheRead: 54_321,
      cacheWrite: 0,
      output: 9_876,
      reasoning: 100,
    };
    const cases: Array<[string, string, string]> = [
      ['openai', 'gpt-4.1', 'openai'],
      ['openai', 'gpt-4.1-mini', 'openai'],
      ['openai', 'gpt-4o', 'openai'],
      ['openai', 'text-embedding-3-small', 'openai'],
      ['google', 'gemini-2.5-pro', 'google'],
      ['anthropic', 'claude-sonnet-4-20250514', 'anthropic'],
    ];
    for (const [provider, model, catalogProvider] of cases) {
      const expected = calcPrice(
        {
          input_tokens: usage.input + usage.cacheRead + usage.cacheWrite,
          cache_read_tokens: usage.cacheRead,
          cache_write_tokens: usage.cacheWrite,
          output_tokens: usage.output,
        },
        model,
        { providerId: catalogProvider },
      );
      expect(expected, `${provider}/${model} in the catalog`).not.toBeNull();
      // Twice: the first call resolves, the second takes whichever path was cached.
      book.price(provider, model, usage);
      expect(book.price(provider, model, usage).usd).toBeCloseTo(expected!.total_price, 12);
    }
  });
});

describe('price plans (the cached price decision)', () => {
  // Usages across every kind a plan prices, below and above the 200k-token tier
  // (Gemini Pro, Claude), with Anthropic-style cache writes, audio with and without
  // cache reads (Gemini Flash prices cached audio only jointly), and a kind no plan
  // covers (searches): whatever path the book takes, the dollars are calcPrice's.
  const usages: NormalizedUsage[] = [
    usage({ input: 20, output: 7 }),
    usage({ input: 1_234, cacheRead: 5_678, cacheWrite: 0, output: 910, reasoning: 300 }),
    usage({ input: 150_001, cacheRead: 49_999, output: 1 }), // 200 000: not above the tier
    usage({ input: 150_001, cacheRead: 50_000, output: 1 }), // 200 001: above it
    usage({ input: 12_345, cacheWrite: 240_000, output: 6_789 }),
    usage({ input: 310_000, cacheRead: 90_001, cacheWrite: 5_003, output: 40_000, reasoning: 7 }),
    usage({ input: 900, inputAudio: 3_100, output: 80, outputAudio: 1_200 }),
    usage({ input: 900, cacheRead: 400, inputAudio: 3_100, output: 80 }),
    usage({ input: 250_000, inputAudio: 1_000, output: 10 }),
    usage({ input: 500, output: 50, other: { web_searches: 2 } }),
  ];
  const models: Array<[string, string, string]> = [];
  for (const { id, catalogId } of BUILTIN_PROVIDERS) {
    if (models.some(([p]) => p === id)) continue;
    for (const m of findProvider({ providerId: catalogId })?.models ?? []) {
      models.push([id, m.id, catalogId]);
    }
  }

  it('gives what calcPrice gives for every catalog model of every built-in provider', async () => {
    const { calcPrice } = await import('@pydantic/genai-prices');
    const { toCatalogUsage } = await import('../src/pricing/usage.js');
    const book = new PriceBook({});
    let compared = 0;
    for (const [provider, model, catalogId] of models) {
      for (const u of usages) {
        let expected: number | undefined;
        try {
          expected = calcPrice(toCatalogUsage(u), model, { providerId: catalogId })?.total_price;
        } catch {
          expected = undefined; // calcPrice refuses the mix: the book must not price it either
        }
        // Twice: the first call resolves the model, the second takes the cached decision.
        book.price(provider, model, u);
        const got = book.price(provider, model, u);
        const what = `${provider}/${model} ${JSON.stringify(u)}`;
        if (expected === undefined) {
          expect(got.priced, what).toBe(false);
          continue;
        }
        expect(got.priced, what).toBe(true);
        expect(Math.abs(got.usd - expected), what).toBeLessThanOrEqual(
          1e-12 * Math.max(1, expected),
        );
        compared++;
      }
    }
    expect(compared).toBeGreaterThan(1000);
  });

  it('covers tiered Claude and Gemini Pro prices, and Gemini Flash text and audio apart', async () => {
    const { ratePlan } = await import('../src/pricing/rate-plan.js');
    const planOf = (catalogId: string, model: string) => {
      const resolved = resolveCatalogPrice(catalogId, model)!;
      return ratePlan(resolved.model, resolved.provider, model);
    };
    const sonnet = planOf('anthropic', 'claude-sonnet-4-5');
    expect(sonnet?.starts).toEqual([200_000]);
    expect(sonnet?.regions.map((r) => [r.input, r.cacheWrite, r.cacheRead, r.output])).toEqual([
      [3, 3.75, 0.3, 15],
      [6, 7.5, 0.6, 22.5],
    ]);
    expect(planOf('google', 'gemini-2.5-pro')?.starts).toEqual([200_000]);
    const flash = planOf('google', 'gemini-2.5-flash');
    expect(flash).toMatchObject({ starts: [], audio: true, mixed: false });
    expect(flash?.regions[0]).toMatchObject({ input: 0.3, cacheRead: 0.03, inputAudio: 1 });
  });
});

describe('compiled usage extractors', () => {
  it("read exactly what the catalog's extractUsage reads, for every usage-rooted extractor", async () => {
    const { extractUsage } = await import('@pydantic/genai-prices');
    const { planFor } = await import('../src/pricing/usage/catalog-plan.js');
    const { runCompiled } = await import('../src/pricing/usage/compiled-extractor.js');
    const rand = seeded(12345);
    const values = [0, 7, 1_000, 123_456, -1, 2.5, 1e308, Number.NaN, '12', null, {}, [3]];
    const extractors = new Map<string, NonNullable<ReturnType<typeof planFor>>['primary']>();
    for (const { catalogId } of BUILTIN_PROVIDERS) {
      for (const flavor of ['chat', 'responses', 'default'] as const) {
        const plan = planFor(catalogId, flavor);
        for (const e of [plan?.primary, plan?.secondary]) {
          if (e) extractors.set(`${e.provider.id}/${e.flavor}`, e);
        }
      }
    }
    expect([...extractors.keys()]).toEqual(
      expect.arrayContaining(['openai/chat', 'openai/responses', 'anthropic/default']),
    );
    let compared = 0;
    for (const [name, e] of extractors) {
      expect(e.compiled, `${name} compiled`).toBeDefined();
      for (let n = 0; n < 300; n++) {
        const usage = randomUsage(e.fields, rand, values);
        let expected: unknown;
        try {
          expected = extractUsage(e.provider, { usage }, e.flavor).usage;
        } catch {
          expected = {};
        }
        const got = runCompiled(e.compiled!, usage);
        expect(Object.entries(got), `${name} ${JSON.stringify(usage)}`).toEqual(
          Object.entries(expected as object),
        );
        compared++;
      }
    }
    expect(compared).toBeGreaterThan(1000);
  });
});

describe('usage read once', () => {
  it('the compiled extractor sums the values the field check read, as if it read every path itself', async () => {
    const { planFor } = await import('../src/pricing/usage/catalog-plan.js');
    const { runCompiled, runCompiledOn } = await import(
      '../src/pricing/usage/compiled-extractor.js'
    );
    const rand = seeded(777);
    const values = [0, 7, 1_000, 123_456, -1, 2.5, Number.NaN, '12', null, {}, [3]];
    let compared = 0;
    for (const { catalogId } of BUILTIN_PROVIDERS) {
      for (const flavor of ['chat', 'responses', 'default'] as const) {
        const plan = planFor(catalogId, flavor);
        if (plan?.primary.compiled === undefined) continue;
        expect(plan.primaryFields, `${catalogId}/${flavor}`).toHaveLength(
          plan.primary.compiled.mappings.length,
        );
        for (let n = 0; n < 100; n++) {
          const usage = randomUsage(
            plan.fields.map((f) => f.path),
            rand,
            values,
          );
          // Read as fromCatalogUsage reads each field: key by key, a non-mapping ends the walk.
          const read = plan.fields.map(({ path }) => {
            let v: unknown = usage;
            for (const key of path) {
              if (typeof v !== 'object' || v === null || Array.isArray(v)) return undefined;
              v = (v as Record<string, unknown>)[key];
            }
            return v;
          });
          expect(
            Object.entries(runCompiledOn(plan.primary.compiled, read, plan.primaryFields!)),
            `${catalogId}/${flavor} ${JSON.stringify(usage)}`,
          ).toEqual(Object.entries(runCompiled(plan.primary.compiled, usage)));
          compared++;
        }
      }
    }
    expect(compared).toBeGreaterThan(500);
  });
});

/** A fixed pseudo-random sequence in [0, 1): the same usages on every run. */
function seeded(seed: number): () => number {
  return () => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed / 2 ** 31;
  };
}

/**
 * A usage object reporting about 70% of `paths`, each with a value drawn from `values`; now and
 * then a parent on the way is a number instead of a mapping (the path is then cut there).
 */
function randomUsage(
  paths: readonly (readonly string[])[],
  rand: () => number,
  values: readonly unknown[],
): Record<string, unknown> {
  const usage: Record<string, unknown> = {};
  for (const path of paths) {
    if (rand() < 0.3) continue;
    let at = usage;
    for (const key of path.slice(0, -1)) {
      if (typeof at[key] !== 'object' || at[key] === null) at[key] = rand() < 0.05 ? 5 : {};
      if (typeof at[key] !== 'object') break;
      at = at[key] as Record<string, unknown>;
    }
    at[path[path.length - 1]!] = values[Math.floor(rand() * values.length)];
  }
  return usage;
}
