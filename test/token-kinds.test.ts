// Token kinds (issue 9, item 1): audio, cache writes reported in chat usage and
// provider-specific usage (Perplexity's citations, searches and reasoning) are priced
// as the catalog prices them. Realistic payloads go through the real SDK over HTTP,
// built for the provider's true host (so provider detection is the real one) and
// delivered to the local fake server. Every call's dollars, on /metrics and on the
// span, equal `calcPrice` of the usage the catalog's own `extractUsage` reads from the
// same response, for the same model and provider at the call's start time.

import { readFileSync } from 'node:fs';
import { hrTimeToMilliseconds } from '@opentelemetry/core';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import {
  calcPrice,
  extractUsage,
  findProvider,
  type Provider,
  type Usage,
  updatePrices,
  waitForUpdate,
} from '@pydantic/genai-prices';
import { describe, expect, it } from 'vitest';
import { TOKEN_TYPES } from '../src/metrics/series.js';
import { PriceBook } from '../src/pricing/price-book.js';
import { fromCatalogUsage, toCatalogUsage } from '../src/pricing/usage.js';
import { useFakeServerHarness } from './helpers/fake-server-harness.js';
import type { Harness } from './helpers/harness.js';
import { sum } from './helpers/prom-text.js';

const { llm, harness } = useFakeServerHarness();
let h: Harness;

/** An SDK client built for `baseURL` whose requests the fake server answers. */
function clientFor(baseURL: string) {
  const base = new URL(baseURL).pathname.replace(/\/$/, '');
  return new h.OpenAI({
    baseURL,
    apiKey: 'sk',
    maxRetries: 0,
    fetch: (url, init) => {
      const path = new URL(String(url)).pathname.slice(base.length);
      return fetch(`${llm.url}/v1${path}`, init);
    },
  });
}

/** What the catalog itself reads from a response of `flavor` at catalog provider `providerId`. */
function catalogUsage(providerId: string, flavor: string, usage: object, model: string): Usage {
  const provider = findProvider({ providerId });
  if (!provider) throw new Error(`catalog has no provider ${providerId}`);
  return extractUsage(provider, { model, usage }, flavor).usage;
}

/** The catalog's price of `usage` for the span's call, at the span's start time. */
function catalogPrice(span: ReadableSpan, usage: Usage, model: string, providerId: string) {
  const timestamp = new Date(hrTimeToMilliseconds(span.startTime));
  const r = calcPrice(usage, model, { providerId, timestamp });
  if (r === null) throw new Error(`catalog has no ${providerId}/${model}`);
  return r.total_price;
}

async function tokensByType(labels: Record<string, string>) {
  const m = await h.scrape();
  const out: Record<string, number> = {};
  for (const type of [
    'input',
    'cache_read',
    'cache_write',
    'output',
    'input_audio',
    'output_audio',
  ]) {
    out[type] = sum(m, 'tokenfuse_tokens_total', { ...labels, type });
  }
  return { m, tokens: out };
}

const CHAT = { messages: [{ role: 'user' as const, content: 'hi' }] };

describe('token kinds priced as the catalog prices them', () => {
  it('chat with audio in and out (gpt-audio at api.openai.com): audio at the audio rates', async () => {
    h = await harness({ budgets: [{ name: 'all', window: 'day', limit: { tokens: 1e6 } }] });
    const usage = {
      prompt_tokens: 1234,
      completion_tokens: 567,
      total_tokens: 1801,
      prompt_tokens_details: { cached_tokens: 0, audio_tokens: 900, image_tokens: 0 },
      completion_tokens_details: {
        reasoning_tokens: 0,
        audio_tokens: 480,
        accepted_prediction_tokens: 0,
        rejected_prediction_tokens: 0,
      },
    };
    llm.enqueue({ kind: 'usage', usage });
    await clientFor('https://api.openai.com/v1').chat.completions.create({
      model: 'gpt-audio',
      modalities: ['text', 'audio'],
      audio: { voice: 'alloy', format: 'wav' },
      ...CHAT,
    });

    const span = h.spans()[0]!;
    const extracted = catalogUsage('openai', 'chat', usage, 'gpt-audio');
    expect(extracted).toMatchObject({ input_audio_tokens: 900, output_audio_tokens: 480 });
    const expected = catalogPrice(span, extracted, 'gpt-audio', 'openai');
    // Audio really is priced apart from text here, so pricing it as text fails this test.
    const asText = catalogPrice(
      span,
      { input_tokens: 1234, output_tokens: 567 },
      'gpt-audio',
      'openai',
    );
    expect(expected).toBeGreaterThan(asText * 3);

    const labels = { provider: 'openai', model: 'gpt-audio' };
    const { m, tokens } = await tokensByType(labels);
    expect(sum(m, 'tokenfuse_cost_usd_total', labels)).toBeCloseTo(expected, 9);
    expect(span.attributes['tokenfuse.cost.usd']).toBeCloseTo(expected, 9);
    expect(tokens).toEqual({
      input: 334,
      cache_read: 0,
      cache_write: 0,
      output: 87,
      input_audio: 900,
      output_audio: 480,
    });
    expect(span.attributes['gen_ai.usage.input_tokens']).toBe(1234);
    expect(span.attributes['gen_ai.usage.output_tokens']).toBe(567);
    expect(span.attributes['tokenfuse.usage.estimated']).toBe(false);
    // Budgets count every token once, audio included.
    expect(sum(m, 'tokenfuse_budget_spent', { budget: 'all', unit: 'tokens' })).toBe(1801);
  });

  it('gpt-4o-audio-preview: audio counted by type even where the catalog prices it as text', async () => {
    h = await harness({});
    const usage = {
      prompt_tokens: 61,
      completion_tokens: 1052,
      total_tokens: 1113,
      prompt_tokens_details: { cached_tokens: 0, audio_tokens: 38, text_tokens: 23 },
      completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 823, text_tokens: 229 },
    };
    llm.enqueue({ kind: 'usage', usage });
    await clientFor('https://api.openai.com/v1').chat.completions.create({
      model: 'gpt-4o-audio-preview',
      modalities: ['text', 'audio'],
      audio: { voice: 'alloy', format: 'wav' },
      ...CHAT,
    });
    const span = h.spans()[0]!;
    const model = 'gpt-4o-audio-preview';
    const expected = catalogPrice(
      span,
      catalogUsage('openai', 'chat', usage, model),
      model,
      'openai',
    );
    const labels = { provider: 'openai', model };
    const { m, tokens } = await tokensByType(labels);
    expect(sum(m, 'tokenfuse_cost_usd_total', labels)).toBeCloseTo(expected, 9);
    expect(span.attributes['tokenfuse.cost.usd']).toBeCloseTo(expected, 9);
    expect(tokens).toEqual({
      input: 23,
      cache_read: 0,
      cache_write: 0,
      output: 229,
      input_audio: 38,
      output_audio: 823,
    });
  });

  it('OpenRouter anthropic model: cache writes reported in chat usage are priced as cache writes', async () => {
    h = await harness({});
    const usage = {
      prompt_tokens: 12_000,
      completion_tokens: 800,
      total_tokens: 12_800,
      cost: 0.0459,
      is_byok: false,
      prompt_tokens_details: { cached_tokens: 2000, cache_write_tokens: 8000, audio_tokens: 0 },
      cost_details: { upstream_inference_cost: null },
      completion_tokens_details: { reasoning_tokens: 0, image_tokens: 0 },
    };
    llm.enqueue({ kind: 'usage', usage });
    const model = 'anthropic/claude-sonnet-4';
    await clientFor('https://openrouter.ai/api/v1').chat.completions.create({ model, ...CHAT });

    const span = h.spans()[0]!;
    const extracted = catalogUsage('openrouter', 'chat', usage, model);
    expect(extracted).toMatchObject({ cache_write_tokens: 8000, cache_read_tokens: 2000 });
    const expected = catalogPrice(span, extracted, model, 'openrouter');
    const asInput = catalogPrice(
      span,
      { input_tokens: 12_000, cache_read_tokens: 2000, output_tokens: 800 },
      model,
      'openrouter',
    );
    expect(expected).toBeGreaterThan(asInput + 1e-4);

    const labels = { provider: 'openrouter', model };
    const { m, tokens } = await tokensByType(labels);
    expect(sum(m, 'tokenfuse_cost_usd_total', labels)).toBeCloseTo(expected, 9);
    expect(span.attributes['tokenfuse.cost.usd']).toBeCloseTo(expected, 9);
    expect(span.attributes['tokenfuse.cost.provider_usd']).toBe(0.0459);
    expect(span.attributes['gen_ai.usage.cache_creation.input_tokens']).toBe(8000);
    expect(tokens).toEqual({
      input: 2000,
      cache_read: 2000,
      cache_write: 8000,
      output: 800,
      input_audio: 0,
      output_audio: 0,
    });
  });

  it('Perplexity: citation and reasoning tokens, searches and the per-request fee are priced', async () => {
    h = await harness({});
    const deep = {
      prompt_tokens: 19,
      completion_tokens: 3847,
      total_tokens: 3866,
      citation_tokens: 8120,
      num_search_queries: 24,
      reasoning_tokens: 71_432,
      search_context_size: 'low',
      cost: { input_tokens_cost: 0, output_tokens_cost: 0.03, total_cost: 0.5 },
    };
    const sonar = {
      prompt_tokens: 8,
      completion_tokens: 412,
      total_tokens: 420,
      citation_tokens: 1500,
      num_search_queries: 1,
      search_context_size: 'low',
    };
    llm.enqueue({ kind: 'usage', usage: deep });
    llm.enqueue({ kind: 'usage', usage: sonar });
    const client = clientFor('https://api.perplexity.ai');
    await client.chat.completions.create({ model: 'sonar-deep-research', ...CHAT });
    await client.chat.completions.create({ model: 'sonar', ...CHAT });

    const [deepSpan, sonarSpan] = h.spans();
    const deepUsage = catalogUsage('perplexity', 'default', deep, 'sonar-deep-research');
    expect(deepUsage).toMatchObject({
      output_tokens: 3847 + 8120 + 71_432,
      output_citation_tokens: 8120,
      output_reasoning_tokens: 71_432,
      web_searches: 24,
    });
    const deepUsd = catalogPrice(deepSpan!, deepUsage, 'sonar-deep-research', 'perplexity');
    const sonarUsage = catalogUsage('perplexity', 'default', sonar, 'sonar');
    const sonarUsd = catalogPrice(sonarSpan!, sonarUsage, 'sonar', 'perplexity');
    // The search and request fees are real money next to the tokens.
    expect(deepUsd).toBeGreaterThan(
      catalogPrice(
        deepSpan!,
        { input_tokens: 19, output_tokens: 3847 },
        'sonar-deep-research',
        'perplexity',
      ) * 5,
    );

    const deepLabels = { provider: 'perplexity', model: 'sonar-deep-research' };
    const { m, tokens } = await tokensByType(deepLabels);
    expect(sum(m, 'tokenfuse_cost_usd_total', deepLabels)).toBeCloseTo(deepUsd, 9);
    expect(deepSpan!.attributes['tokenfuse.cost.usd']).toBeCloseTo(deepUsd, 9);
    expect(deepSpan!.attributes['gen_ai.usage.output_tokens']).toBe(3847 + 8120 + 71_432);
    expect(deepSpan!.attributes['gen_ai.usage.reasoning.output_tokens']).toBe(71_432);
    expect(tokens).toEqual({
      input: 19,
      cache_read: 0,
      cache_write: 0,
      output: 3847 + 8120 + 71_432,
      input_audio: 0,
      output_audio: 0,
    });
    const sonarLabels = { provider: 'perplexity', model: 'sonar' };
    expect(sum(m, 'tokenfuse_cost_usd_total', sonarLabels)).toBeCloseTo(sonarUsd, 9);
    expect(sonarSpan!.attributes['tokenfuse.cost.usd']).toBeCloseTo(sonarUsd, 9);
    expect(sum(m, 'tokenfuse_tokens_total', { ...sonarLabels, type: 'output' })).toBe(412 + 1500);
  });

  it('Responses API with cached input and reasoning (o4-mini at api.openai.com)', async () => {
    h = await harness({});
    const usage = {
      input_tokens: 5210,
      input_tokens_details: { cached_tokens: 4096 },
      output_tokens: 1536,
      output_tokens_details: { reasoning_tokens: 1216 },
      total_tokens: 6746,
    };
    llm.enqueue({ kind: 'usage', usage });
    await clientFor('https://api.openai.com/v1').responses.create({
      model: 'o4-mini',
      input: 'hi',
    });

    const span = h.spans()[0]!;
    const expected = catalogPrice(
      span,
      catalogUsage('openai', 'responses', usage, 'o4-mini'),
      'o4-mini',
      'openai',
    );
    const labels = { provider: 'openai', model: 'o4-mini' };
    const { m, tokens } = await tokensByType(labels);
    expect(sum(m, 'tokenfuse_cost_usd_total', labels)).toBeCloseTo(expected, 9);
    expect(span.attributes['tokenfuse.cost.usd']).toBeCloseTo(expected, 9);
    expect(span.attributes['gen_ai.usage.reasoning.output_tokens']).toBe(1216);
    expect(tokens).toEqual({
      input: 1114,
      cache_read: 4096,
      cache_write: 0,
      output: 1536,
      input_audio: 0,
      output_audio: 0,
    });
  });
});

describe('the extra kinds keep the guarantees on hostile counts', () => {
  it('rejects a bad audio, cache-write or citation count: counted, logged as invalid, never priced or budgeted', async () => {
    h = await harness({
      budgets: [{ name: 'team', window: 'day', limit: { tokens: 1_000_000 } }],
    });
    llm.enqueue({
      kind: 'usage',
      usage: {
        prompt_tokens: 100,
        completion_tokens: 50,
        prompt_tokens_details: { cached_tokens: 0, audio_tokens: -40, cache_write_tokens: 1e12 },
        completion_tokens_details: { audio_tokens: 'lots', reasoning_tokens: 0 },
      },
    });
    llm.enqueue({
      kind: 'usage',
      usage: {
        prompt_tokens: 10,
        completion_tokens: 20,
        citation_tokens: 1.5,
        num_search_queries: Number.MAX_SAFE_INTEGER,
        reasoning_tokens: 30,
      },
    });
    await clientFor('https://openrouter.ai/api/v1').chat.completions.create({
      model: 'anthropic/claude-sonnet-4',
      ...CHAT,
    });
    await clientFor('https://api.perplexity.ai').chat.completions.create({
      model: 'sonar-deep-research',
      ...CHAT,
    });

    const [orSpan, pplxSpan] = h.spans();
    const orUsd = catalogPrice(
      orSpan!,
      { input_tokens: 100, output_tokens: 50 },
      'anthropic/claude-sonnet-4',
      'openrouter',
    );
    const pplxUsd = catalogPrice(
      pplxSpan!,
      { input_tokens: 10, output_tokens: 50, output_reasoning_tokens: 30 },
      'sonar-deep-research',
      'perplexity',
    );
    const m = await h.scrape();
    const or = { provider: 'openrouter', model: 'anthropic/claude-sonnet-4' };
    const pplx = { provider: 'perplexity', model: 'sonar-deep-research' };
    expect(sum(m, 'tokenfuse_cost_usd_total', or)).toBeCloseTo(orUsd, 9);
    expect(sum(m, 'tokenfuse_cost_usd_total', pplx)).toBeCloseTo(pplxUsd, 9);
    expect(orSpan!.attributes['tokenfuse.usage.estimated']).toBe(true);
    const invalid = (labels: Record<string, string>, field: string) =>
      sum(m, 'tokenfuse_usage_invalid_total', { ...labels, field });
    expect(invalid(or, 'prompt_tokens_details.audio_tokens')).toBe(1);
    expect(invalid(or, 'prompt_tokens_details.cache_write_tokens')).toBe(1);
    expect(invalid(or, 'completion_tokens_details.audio_tokens')).toBe(1);
    expect(invalid(pplx, 'citation_tokens')).toBe(1);
    expect(invalid(pplx, 'num_search_queries')).toBe(1);
    expect(sum(m, 'tokenfuse_tokens_total', or)).toBe(150);
    expect(sum(m, 'tokenfuse_tokens_total', pplx)).toBe(60);
    expect(sum(m, 'tokenfuse_tokens_total', { ...or, type: 'cache_write' })).toBe(0);
    expect(sum(m, 'tokenfuse_tokens_total', { ...or, type: 'input_audio' })).toBe(0);
    expect(sum(m, 'tokenfuse_budget_spent', { budget: 'team', unit: 'tokens' })).toBe(210);
  });
});

/** The catalog `data` with OpenAI's chat extractor no longer reading cache reads. */
function withoutOpenAiChatCacheReads(data: Provider[]): Provider[] {
  return data.map((p) =>
    p.id !== 'openai'
      ? p
      : {
          ...p,
          extractors: p.extractors?.map((e) =>
            e.api_flavor !== 'chat'
              ? e
              : {
                  ...e,
                  mappings: e.mappings.filter((m) => m.dest !== 'cache_read_tokens'),
                },
          ),
        },
  );
}

describe('reading usage with the catalog’s extractors', () => {
  it('streams read the same kinds (OpenRouter cache writes in the final usage chunk)', async () => {
    h = await harness({});
    const usage = {
      prompt_tokens: 5000,
      completion_tokens: 120,
      total_tokens: 5120,
      prompt_tokens_details: { cached_tokens: 0, cache_write_tokens: 4500 },
      completion_tokens_details: { reasoning_tokens: 0 },
    };
    llm.enqueue({ kind: 'usage', usage });
    const model = 'anthropic/claude-sonnet-4';
    const stream = await clientFor('https://openrouter.ai/api/v1').chat.completions.create({
      model,
      stream: true,
      ...CHAT,
    });
    for await (const _ of stream) {
      // drain
    }
    const span = h.spans()[0]!;
    const expected = catalogPrice(
      span,
      catalogUsage('openrouter', 'chat', usage, model),
      model,
      'openrouter',
    );
    const labels = { provider: 'openrouter', model };
    const { m, tokens } = await tokensByType(labels);
    expect(sum(m, 'tokenfuse_cost_usd_total', labels)).toBeCloseTo(expected, 9);
    expect(span.attributes['tokenfuse.cost.usd']).toBeCloseTo(expected, 9);
    expect(tokens).toMatchObject({ input: 500, cache_write: 4500, output: 120 });
  });

  const base = { input: 0, cacheRead: 0, cacheWrite: 0, output: 0, reasoning: 0 };

  it('cuts parts to what their total has left, so nothing counts twice', () => {
    expect(
      fromCatalogUsage('openai', 'chat', {
        prompt_tokens: 100,
        completion_tokens: 10,
        prompt_tokens_details: { cached_tokens: 80, cache_write_tokens: 50, audio_tokens: 900 },
        completion_tokens_details: { audio_tokens: 11, reasoning_tokens: 12 },
      }),
    ).toEqual({
      ...base,
      cacheRead: 80,
      cacheWrite: 20,
      output: 0,
      outputAudio: 10,
      reasoning: 0,
    });
  });

  it('keeps what must differ from the catalog: DeepSeek’s cache-hit field, OpenAI’s fields for compatible endpoints', () => {
    expect(
      fromCatalogUsage('deepseek', 'chat', {
        prompt_tokens: 100,
        completion_tokens: 10,
        prompt_cache_hit_tokens: 60,
        prompt_cache_miss_tokens: 40,
      }),
    ).toEqual({ ...base, input: 40, cacheRead: 60, output: 10 });
    // The catalog's Anthropic chat extractor reads a top-level `cached_tokens`; the
    // compatible endpoint reports OpenAI's field.
    expect(
      fromCatalogUsage('anthropic', 'chat', {
        prompt_tokens: 100,
        completion_tokens: 5,
        prompt_tokens_details: { cached_tokens: 30 },
      }),
    ).toEqual({ ...base, input: 70, cacheRead: 30, output: 5 });
    // An endpoint the catalog does not know is read as OpenAI.
    expect(
      fromCatalogUsage(undefined, 'chat', {
        prompt_tokens: 50,
        completion_tokens: 40,
        prompt_tokens_details: { audio_tokens: 20 },
        completion_tokens_details: { audio_tokens: 30 },
      }),
    ).toEqual({ ...base, input: 30, inputAudio: 20, output: 10, outputAudio: 30 });
  });

  it('looks the catalog up once per response for a compatible endpoint, and reads it afresh after an update', async () => {
    const bundled = (await waitForUpdate())!;
    // Anthropic's compatible endpoint: its own chat extractor, OpenAI's for the cache reads.
    const usage = {
      prompt_tokens: 100,
      completion_tokens: 5,
      prompt_tokens_details: { cached_tokens: 30 },
    };
    // genai-prices runs its `onCalc` hook on every provider lookup.
    let lookups = 0;
    updatePrices(({ onCalc }) =>
      onCalc(() => {
        lookups++;
      }),
    );
    try {
      fromCatalogUsage('anthropic', 'chat', usage);
      lookups = 0;
      expect(fromCatalogUsage('anthropic', 'chat', usage)).toEqual({
        ...base,
        input: 70,
        cacheRead: 30,
        output: 5,
      });
      expect(lookups).toBe(1);
      // An update whose OpenAI chat extractor no longer reads cache reads: the endpoint's
      // usage is read with the new one at once.
      const changed = withoutOpenAiChatCacheReads(bundled);
      updatePrices(({ setProviderData }) => setProviderData(changed));
      expect(fromCatalogUsage('anthropic', 'chat', usage)).toEqual({
        ...base,
        input: 100,
        output: 5,
      });
    } finally {
      updatePrices(({ onCalc, setProviderData }) => {
        // No hook, as before (the library's own initial value).
        onCalc(null as unknown as () => void);
        setProviderData(bundled);
      });
    }
  });

  it('reads usage with an update handed over as a promise from the moment it is applied', async () => {
    const bundled = (await waitForUpdate())!;
    const usage = {
      prompt_tokens: 100,
      completion_tokens: 5,
      prompt_tokens_details: { cached_tokens: 30 },
    };
    const before = { ...base, input: 70, cacheRead: 30, output: 5 };
    // Read twice from the settled catalog: the provider lookups are remembered now.
    expect(fromCatalogUsage('anthropic', 'chat', usage)).toEqual(before);
    expect(fromCatalogUsage('anthropic', 'chat', usage)).toEqual(before);
    const changed = withoutOpenAiChatCacheReads(bundled);
    let apply: (data: typeof changed) => void = () => {};
    const pending = new Promise<typeof changed>((resolve) => {
      apply = resolve;
    });
    try {
      updatePrices(({ setProviderData }) => setProviderData(pending));
      // Not applied yet: the catalog in force is still the bundled one.
      expect(fromCatalogUsage('anthropic', 'chat', usage)).toEqual(before);
      await Promise.resolve();
      expect(fromCatalogUsage('anthropic', 'chat', usage)).toEqual(before);
      apply(changed);
      await waitForUpdate();
      expect(fromCatalogUsage('anthropic', 'chat', usage)).toEqual({
        ...base,
        input: 100,
        output: 5,
      });
      expect(fromCatalogUsage('anthropic', 'chat', usage)).toEqual({
        ...base,
        input: 100,
        output: 5,
      });
    } finally {
      updatePrices(({ setProviderData }) => setProviderData(bundled));
      await waitForUpdate();
    }
    expect(fromCatalogUsage('anthropic', 'chat', usage)).toEqual(before);
  });

  it('follows the catalog where a provider reports reasoning outside the completion (xAI)', () => {
    expect(
      fromCatalogUsage('x-ai', 'chat', {
        prompt_tokens: 10,
        completion_tokens: 20,
        completion_tokens_details: { reasoning_tokens: 300 },
      }),
    ).toEqual({ ...base, input: 10, output: 320, reasoning: 300 });
  });

  it('rejects a required count that is not a number instead of letting the catalog throw', () => {
    expect(
      fromCatalogUsage('openai', 'responses', {
        input_tokens: '100',
        output_tokens: -1,
        input_tokens_details: { cached_tokens: 5 },
      }),
    ).toEqual({
      ...base,
      invalid: [
        { field: 'input_tokens', value: '100' },
        { field: 'output_tokens', value: -1 },
      ],
    });
  });
});

it('the metrics reference (docs/metrics.md) lists exactly the token types exported', () => {
  const readme = readFileSync(new URL('../docs/metrics.md', import.meta.url), 'utf8');
  const bullet = readme.slice(readme.indexOf('- `tokenfuse_tokens_total`: tokens used, by `type`'));
  const text = bullet.slice(0, bullet.indexOf('\n- '));
  const documented = [...text.matchAll(/`([a-z_]+)` \(/g)].map((m) => m[1]);
  expect(documented.sort()).toEqual([...TOKEN_TYPES].sort());
});

it('a total summed from several fields stays within the bound of one', () => {
  const max = 1e9;
  const u = fromCatalogUsage('perplexity', 'chat', {
    prompt_tokens: 1,
    completion_tokens: max,
    citation_tokens: max,
    reasoning_tokens: max,
  });
  expect(u.output).toBe(max);
  expect(u.other).toEqual({ output_citation_tokens: max });
  expect(u.reasoning).toBe(0);
  expect(u.invalid).toBeUndefined();
  // Parts that fit their total: the catalog prices the call instead of throwing.
  const price = new PriceBook().price('perplexity', 'sonar-deep-research', u);
  expect(price.error).toBeUndefined();
  const expected = calcPrice(toCatalogUsage(u), 'sonar-deep-research', {
    providerId: 'perplexity',
  });
  expect(price.usd).toBeCloseTo(expected!.total_price, 9);
});
