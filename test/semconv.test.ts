// The GenAI semantic conventions' stability opt-in (OTEL_SEMCONV_STABILITY_OPT_IN=
// gen_ai_latest_experimental): through the real `openai` and `@anthropic-ai/sdk` clients
// over HTTP against the fake server, with and without it, the exact span attributes and
// the exact series on /metrics. Without it nothing changes; with it the latest experimental
// token metrics appear beside today's histograms, and priced spans carry the proposed
// `gen_ai.usage.cost.*` attributes.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { calcPrice, type Usage } from '@pydantic/genai-prices';
import { afterEach, describe, expect, it } from 'vitest';
import { cardinalityLimits } from '../src/metrics/cardinality.js';
import { METRIC_NAMES } from '../src/metrics/contract.js';
import {
  SEMCONV_LATEST_CONTRACT_METRICS,
  SEMCONV_LATEST_METRIC,
} from '../src/metrics/contract-semconv-latest.js';
import {
  GEN_AI_LATEST_EXPERIMENTAL,
  genAiLatestOptedIn,
  SEMCONV_OPT_IN_VARIABLE,
} from '../src/metrics/semconv-latest.js';
import type { TokenfuseOptions } from '../src/types.js';
import { useFakeServerHarness } from './helpers/fake-server-harness.js';
import type { Harness } from './helpers/harness.js';
import { App, childEnv, freePort } from './helpers/processes.js';
import { parsePrometheusText, type Sample, select, sum } from './helpers/prom-text.js';
import { installAnthropic, loadAnthropic } from './sdk/drivers/anthropic.js';

const fake = useFakeServerHarness();
const { llm, client } = fake;
let uninstall: (() => void) | undefined;
afterEach(() => {
  uninstall?.();
  uninstall = undefined;
  delete process.env[SEMCONV_OPT_IN_VARIABLE];
});

/** Starts a harness with `OTEL_SEMCONV_STABILITY_OPT_IN` set to `optIn` (unset when undefined). */
async function start(optIn: string | undefined, options: TokenfuseOptions = {}): Promise<Harness> {
  if (optIn === undefined) delete process.env[SEMCONV_OPT_IN_VARIABLE];
  else process.env[SEMCONV_OPT_IN_VARIABLE] = optIn;
  return fake.harness({
    attribution: { defaults: { department: 'platform', project: 'core', environment: 'test' } },
    ...options,
  });
}

const OPT_IN = `http,${GEN_AI_LATEST_EXPERIMENTAL}`;
const port = () => Number(new URL(llm.url).port);
const ourSpans = (harness: Harness) =>
  harness.spans().filter((s) => s.instrumentationScope.name === 'tokenfuse');

/** The Prometheus series names on /metrics (from `# TYPE`), with their types. */
async function types(harness: Harness): Promise<Record<string, string>> {
  const text = await harness.metricsText();
  return Object.fromEntries(
    [...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)]
      .map((m) => [m[1]!, m[2]!])
      .filter(([name]) => name !== 'target_info'),
  );
}

const LATEST_NAMES = SEMCONV_LATEST_CONTRACT_METRICS.map((m) => m.name);
const series = {
  input: 'gen_ai_client_inference_usage_input_tokens_total',
  output: 'gen_ai_client_inference_usage_output_tokens_total',
  cacheRead: 'gen_ai_client_inference_usage_cache_read_input_tokens_total',
  cacheWrite: 'gen_ai_client_inference_usage_cache_write_input_tokens_total',
  reasoning: 'gen_ai_client_inference_usage_reasoning_output_tokens_total',
  opInput: 'gen_ai_client_inference_operation_input_tokens',
  opOutput: 'gen_ai_client_inference_operation_output_tokens',
  duration: 'gen_ai_client_inference_duration',
  firstChunk: 'gen_ai_client_inference_time_to_first_chunk',
} as const;

/** One sample's labels without the exporter's scope labels. */
function labelsOf(samples: Sample[]): Record<string, string>[] {
  return samples.map(({ labels }) => {
    const { otel_scope_name: _n, otel_scope_version: _v, ...rest } = labels;
    return rest;
  });
}

describe('reading the opt-in', () => {
  it('finds gen_ai_latest_experimental in a comma-separated list, ignoring other entries', () => {
    expect(genAiLatestOptedIn('gen_ai_latest_experimental')).toBe(true);
    expect(genAiLatestOptedIn(' http/dup , gen_ai_latest_experimental ')).toBe(true);
    expect(genAiLatestOptedIn('database,GEN_AI_LATEST_EXPERIMENTAL')).toBe(true);
    expect(genAiLatestOptedIn('http,database/dup')).toBe(false);
    expect(genAiLatestOptedIn('gen_ai_latest')).toBe(false);
    expect(genAiLatestOptedIn('')).toBe(false);
    expect(genAiLatestOptedIn(undefined)).toBe(false);
  });
});

describe('the SDK cardinality limit of the opt-in instruments', () => {
  it('is sized from metrics.maxSeries like the histograms beside them', () => {
    const limits = cardinalityLimits({ maxSeries: 2000 });
    // 2001 label sets times the attribute sets each exports, plus the SDK's overflow slot.
    expect(limits[SEMCONV_LATEST_METRIC.usageInputTokens]).toBe(2001 * 2 + 1);
    expect(limits[SEMCONV_LATEST_METRIC.usageReasoningTokens]).toBe(2001 * 2 + 1);
    expect(limits[SEMCONV_LATEST_METRIC.operationInputTokens]).toBe(2001 * 102 + 1);
    expect(limits[SEMCONV_LATEST_METRIC.duration]).toBe(2001 * 102 + 1);
    expect(limits[SEMCONV_LATEST_METRIC.timeToFirstChunk]).toBe(2002);
    const explicit = cardinalityLimits({ maxSeries: 2000, cardinalityLimit: 50 });
    for (const name of Object.values(SEMCONV_LATEST_METRIC)) expect(explicit[name]).toBe(50);
  });
});

describe('openai SDK: chat completions', () => {
  const MODEL = 'gpt-4.1';
  const relay = () => ({ id: 'relay', hosts: [new URL(llm.url).host], pricesFrom: 'openai' });
  // 1000 prompt tokens, 400 of them cached; 100 completion tokens, 30 of them reasoning.
  const USAGE = {
    prompt_tokens: 1000,
    completion_tokens: 100,
    total_tokens: 1100,
    prompt_tokens_details: { cached_tokens: 400 },
    completion_tokens_details: { reasoning_tokens: 30 },
  };
  const catalogUsd = () =>
    calcPrice({ input_tokens: 1000, cache_read_tokens: 400, output_tokens: 100 }, MODEL, {
      providerId: 'openai',
    })!.total_price;

  async function call(harness: Harness) {
    const openai = client(harness);
    llm.enqueue({ kind: 'usage', usage: USAGE });
    return openai.chat.completions.create({
      model: MODEL,
      messages: [{ role: 'user', content: 'name three colours' }],
      max_tokens: 50,
    });
  }

  /** The span attributes both modes share, exactly. */
  const common = (responseId: string) => ({
    'gen_ai.operation.name': 'chat',
    // A declared provider is named by its id.
    'gen_ai.provider.name': 'relay',
    'gen_ai.request.model': MODEL,
    'gen_ai.request.max_tokens': 50,
    'gen_ai.response.model': MODEL,
    'gen_ai.response.id': responseId,
    // A max_tokens limit is always used up at the fake.
    'gen_ai.response.finish_reasons': ['length'],
    'gen_ai.usage.input_tokens': 1000,
    'gen_ai.usage.output_tokens': 100,
    'gen_ai.usage.cache_read.input_tokens': 400,
    'gen_ai.usage.reasoning.output_tokens': 30,
    'openai.response.service_tier': 'default',
    'server.address': '127.0.0.1',
    'server.port': port(),
    'tokenfuse.api': 'chat.completions',
    'tokenfuse.provider': 'relay',
    'tokenfuse.department': 'platform',
    'tokenfuse.project': 'core',
    'tokenfuse.environment': 'test',
    'tokenfuse.api_key.fingerprint': expect.stringMatching(/^[0-9a-f]{8}$/),
    'tokenfuse.api_key.id': expect.stringMatching(/^[0-9a-f]{16}$/),
    'tokenfuse.usage.estimated': false,
    'tokenfuse.priced': true,
    'tokenfuse.cost.usd': expect.closeTo(catalogUsd(), 15),
  });

  it('without the opt-in: today’s span attributes and metrics, exactly, and none of the latest', async () => {
    const harness = await start(undefined, { providers: [relay()] });
    const completion = await call(harness);
    const [span] = ourSpans(harness);
    expect(span!.attributes).toEqual(common(completion.id));

    const exported = await types(harness);
    for (const name of LATEST_NAMES) expect(exported).not.toHaveProperty(name);
    expect(Object.keys(exported).every((name) => METRIC_NAMES.includes(name))).toBe(true);
    const m = await harness.scrape();
    expect(sum(m, 'gen_ai_client_token_usage_sum', { gen_ai_token_type: 'input' })).toBe(1000);
    expect(sum(m, 'gen_ai_client_token_usage_sum', { gen_ai_token_type: 'output' })).toBe(100);
    expect(sum(m, 'gen_ai_client_operation_duration_count')).toBe(1);
  });

  it('with the opt-in: the latest token counters and histograms beside today’s, and gen_ai.usage.cost.* on the span', async () => {
    const harness = await start(OPT_IN, { providers: [relay()] });
    const completion = await call(harness);
    const [span] = ourSpans(harness);
    expect(span!.attributes).toEqual({
      ...common(completion.id),
      'gen_ai.usage.cost.amount': expect.closeTo(catalogUsd(), 15),
      'gen_ai.usage.cost.currency': 'USD',
      'gen_ai.usage.cost.source': 'local',
    });
    expect(span!.attributes['gen_ai.usage.cost.amount']).toBe(
      span!.attributes['tokenfuse.cost.usd'],
    );

    const m = await harness.scrape();
    const semconv = {
      gen_ai_operation_name: 'chat',
      gen_ai_provider_name: 'relay',
      gen_ai_request_model: MODEL,
      department: 'platform',
      project: 'core',
      environment: 'test',
    };
    const unknown = { ...semconv, gen_ai_token_modality: 'unknown' };
    // One series each, modality `unknown` (the provider does not say text or image).
    expect(labelsOf(select(m, series.input))).toEqual([unknown]);
    expect(sum(m, series.input, unknown)).toBe(1000);
    expect(sum(m, series.output, unknown)).toBe(100);
    expect(sum(m, series.cacheRead, unknown)).toBe(400);
    expect(sum(m, series.cacheWrite, unknown)).toBe(0);
    expect(sum(m, series.reasoning, unknown)).toBe(30);
    // The per-operation histograms carry no modality.
    expect(labelsOf(select(m, `${series.opInput}_count`))).toEqual([semconv]);
    expect(sum(m, `${series.opInput}_sum`, semconv)).toBe(1000);
    expect(sum(m, `${series.opInput}_count`, semconv)).toBe(1);
    expect(sum(m, `${series.opOutput}_sum`, semconv)).toBe(100);
    expect(sum(m, `${series.duration}_count`, semconv)).toBe(1);
    expect(select(m, `${series.firstChunk}_count`)).toEqual([]);
    // Today's histograms and counters are still there, unchanged.
    expect(sum(m, 'gen_ai_client_token_usage_sum', { gen_ai_token_type: 'input' })).toBe(1000);
    expect(sum(m, 'gen_ai_client_token_usage_sum', { gen_ai_token_type: 'output' })).toBe(100);
    expect(sum(m, 'gen_ai_client_operation_duration_count')).toBe(1);
    expect(sum(m, 'tokenfuse_tokens_total', { type: 'input' })).toBe(600);
    expect(sum(m, 'tokenfuse_cost_usd_total')).toBeCloseTo(catalogUsd(), 15);
  });

  it('with the opt-in: exports the contract’s opt-in names, types and help, beside today’s', async () => {
    const harness = await start(OPT_IN, { providers: [relay()] });
    await call(harness);
    const openai = client(harness);
    const stream = await openai.chat.completions.create({
      model: MODEL,
      messages: [{ role: 'user', content: 'x' }],
      max_tokens: 3,
      stream: true,
    });
    for await (const _ of stream);
    const exported = await types(harness);
    expect(Object.keys(SEMCONV_LATEST_METRIC)).toHaveLength(LATEST_NAMES.length);
    for (const { name, type } of SEMCONV_LATEST_CONTRACT_METRICS)
      expect([name, exported[name]]).toEqual([name, type]);
    const text = await harness.metricsText();
    for (const { name, help } of SEMCONV_LATEST_CONTRACT_METRICS)
      expect(text).toContain(`# HELP ${name} ${help}\n`);
    // Everything else on /metrics is the contract's.
    const others = Object.keys(exported).filter((n) => !LATEST_NAMES.includes(n));
    expect(others.every((name) => METRIC_NAMES.includes(name))).toBe(true);
    expect(sum(await harness.scrape(), `${series.firstChunk}_count`)).toBe(1);
  });

  it('with the opt-in: a stream says so on its span, with its time to the first chunk, the same as the histogram’s', async () => {
    const harness = await start(OPT_IN, { providers: [relay()] });
    const openai = client(harness);
    const stream = await openai.chat.completions.create({
      model: MODEL,
      messages: [{ role: 'user', content: 'a b c' }],
      max_tokens: 4,
      stream: true,
    });
    for await (const _ of stream);
    const [span] = ourSpans(harness);
    expect(span!.attributes['gen_ai.request.stream']).toBe(true);
    const firstChunk = span!.attributes['gen_ai.response.time_to_first_chunk'];
    expect(typeof firstChunk).toBe('number');
    const m = await harness.scrape();
    expect(sum(m, `${series.firstChunk}_count`)).toBe(1);
    expect(sum(m, `${series.firstChunk}_sum`)).toBe(firstChunk);
    expect(sum(m, 'gen_ai_client_operation_time_to_first_chunk_sum')).toBe(firstChunk);
    // 3 words and the fake's 3 tokens of chat framing in; the limit's 4 out.
    expect(sum(m, series.input)).toBe(6);
    expect(sum(m, series.output)).toBe(4);
  });

  it('with the opt-in: audio tokens the provider reports apart are modality audio, on the span too', async () => {
    const harness = await start(OPT_IN);
    const usage = {
      prompt_tokens: 1234,
      completion_tokens: 567,
      total_tokens: 1801,
      prompt_tokens_details: { cached_tokens: 0, audio_tokens: 900 },
      completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 480 },
    };
    llm.enqueue({ kind: 'usage', usage });
    // At api.openai.com (the request goes to the fake), where gpt-audio prices audio apart.
    const openai = new harness.OpenAI({
      baseURL: 'https://api.openai.com/v1',
      apiKey: 'sk',
      maxRetries: 0,
      fetch: (url, init) => fetch(`${llm.url}/v1${new URL(String(url)).pathname.slice(3)}`, init),
    });
    await openai.chat.completions.create({
      model: 'gpt-audio',
      modalities: ['text', 'audio'],
      audio: { voice: 'alloy', format: 'wav' },
      messages: [{ role: 'user', content: 'hi' }],
    });
    const [span] = ourSpans(harness);
    expect(span!.attributes).toMatchObject({
      'gen_ai.usage.input_tokens': 1234,
      'gen_ai.usage.output_tokens': 567,
      'gen_ai.usage.audio.input_tokens': 900,
      'gen_ai.usage.audio.output_tokens': 480,
    });
    const m = await harness.scrape();
    const model = { gen_ai_request_model: 'gpt-audio' };
    expect(sum(m, series.input, { ...model, gen_ai_token_modality: 'audio' })).toBe(900);
    expect(sum(m, series.input, { ...model, gen_ai_token_modality: 'unknown' })).toBe(334);
    expect(sum(m, series.output, { ...model, gen_ai_token_modality: 'audio' })).toBe(480);
    expect(sum(m, series.output, { ...model, gen_ai_token_modality: 'unknown' })).toBe(87);
    // The per-operation histograms take the whole call.
    expect(sum(m, `${series.opInput}_sum`, model)).toBe(1234);
    expect(sum(m, `${series.opOutput}_sum`, model)).toBe(567);
    expect(span!.attributes['gen_ai.usage.cost.amount']).toBe(
      span!.attributes['tokenfuse.cost.usd'],
    );
  });

  it('with the opt-in: a failed call records 0 tokens, modality unknown, and error_type on the histograms', async () => {
    const harness = await start(OPT_IN, { providers: [relay()] });
    const openai = client(harness);
    await expect(
      openai.chat.completions.create({
        model: 'error-500',
        messages: [{ role: 'user', content: 'x' }],
      }),
    ).rejects.toThrow();
    const [span] = ourSpans(harness);
    expect(span!.attributes['error.type']).toBe('InternalServerError');
    for (const name of ['gen_ai.usage.cost.amount', 'tokenfuse.cost.usd'])
      expect(span!.attributes).not.toHaveProperty(name);

    const m = await harness.scrape();
    const semconv = {
      gen_ai_operation_name: 'chat',
      gen_ai_provider_name: 'relay',
      gen_ai_request_model: 'error-500',
      department: 'platform',
      project: 'core',
      environment: 'test',
    };
    const unknown = { ...semconv, gen_ai_token_modality: 'unknown' };
    for (const name of [series.input, series.output, series.cacheRead, series.cacheWrite]) {
      expect(labelsOf(select(m, name))).toEqual([unknown]);
      expect(sum(m, name)).toBe(0);
    }
    const failed = { ...semconv, error_type: 'InternalServerError' };
    expect(labelsOf(select(m, `${series.opInput}_count`))).toEqual([failed]);
    expect(sum(m, `${series.opInput}_count`, failed)).toBe(1);
    expect(sum(m, `${series.opInput}_sum`, failed)).toBe(0);
    expect(sum(m, `${series.opOutput}_count`, failed)).toBe(1);
    expect(sum(m, `${series.duration}_count`, failed)).toBe(1);
  });

  it('with the opt-in: embeddings get none of the inference metrics', async () => {
    const harness = await start(OPT_IN, { providers: [relay()] });
    const openai = client(harness);
    await openai.embeddings.create({ model: 'text-embedding-3-small', input: 'a b c' });
    const m = await harness.scrape();
    for (const name of LATEST_NAMES) expect(select(m, name)).toEqual([]);
    expect(sum(m, 'gen_ai_client_token_usage_count', { gen_ai_operation_name: 'embeddings' })).toBe(
      1,
    );
  });
});

describe('openai SDK: a provider’s own cost figure', () => {
  // OpenRouter's `usage.cost`, counted with pricing.prefer: provider.
  const ROUTER_USAGE = {
    prompt_tokens: 2000,
    completion_tokens: 400,
    total_tokens: 2400,
    cost: 0.0123,
  };

  it('says gen_ai.usage.cost.source "provider" when the figure is the response’s, "local" when the catalog’s', async () => {
    for (const [prefer, amount, source] of [
      ['provider', 0.0123, 'provider'],
      ['catalog', catalogOpenRouter(), 'local'],
    ] as const) {
      const harness = await start(OPT_IN, {
        providers: [{ id: 'router', hosts: [new URL(llm.url).host], pricesFrom: 'openrouter' }],
        pricing: { prefer },
      });
      const openai = client(harness);
      llm.enqueue({ kind: 'usage', usage: ROUTER_USAGE });
      await openai.chat.completions.create({
        model: 'openai/gpt-4o',
        messages: [{ role: 'user', content: 'hi' }],
      });
      const [span] = ourSpans(harness);
      expect(span!.attributes['tokenfuse.cost.provider_usd']).toBe(0.0123);
      expect(span!.attributes['gen_ai.usage.cost.amount']).toBeCloseTo(amount, 15);
      expect(span!.attributes['gen_ai.usage.cost.currency']).toBe('USD');
      expect(span!.attributes['gen_ai.usage.cost.source']).toBe(source);
      await harness.close();
    }
  });

  function catalogOpenRouter(): number {
    return calcPrice({ input_tokens: 2000, output_tokens: 400 }, 'openai/gpt-4o', {
      providerId: 'openrouter',
    })!.total_price;
  }

  it('writes no gen_ai.usage.cost.* on a call with no known price', async () => {
    const harness = await start(OPT_IN);
    const openai = client(harness);
    await openai.chat.completions.create({
      model: 'unpriced-model',
      messages: [{ role: 'user', content: 'hi' }],
    });
    const [span] = ourSpans(harness);
    expect(span!.attributes['tokenfuse.priced']).toBe(false);
    expect(span!.attributes['tokenfuse.cost.usd']).toBe(0);
    expect(Object.keys(span!.attributes).filter((k) => k.startsWith('gen_ai.usage.cost'))).toEqual(
      [],
    );
  });
});

describe('@anthropic-ai/sdk: messages with prompt caching', () => {
  const MODEL = 'claude-sonnet-4-5';
  // 20 words: with the message's 3 words, 29 prompt tokens at the fake: 8 uncached, 14
  // read from the cache, 7 written to it; 5 output tokens.
  const SYSTEM = 'one two three four five six seven eight nine ten '.repeat(2).trim();
  const body = {
    model: MODEL,
    max_tokens: 100,
    system: [{ type: 'text', text: SYSTEM, cache_control: { type: 'ephemeral', ttl: '5m' } }],
    messages: [{ role: 'user', content: 'name three colours' }],
  };
  const usage: Usage = {
    input_tokens: 29,
    cache_read_tokens: 14,
    cache_write_tokens: 7,
    cache_write_5m_tokens: 7,
    output_tokens: 5,
  };
  const catalogUsd = () => calcPrice(usage, MODEL, { providerId: 'anthropic' })!.total_price;

  async function call(harness: Harness) {
    uninstall = installAnthropic(harness, 'current');
    const { Anthropic } = loadAnthropic('current');
    const client = new Anthropic({
      baseURL: llm.url,
      apiKey: 'sk-ant-test',
      maxRetries: 0,
      openTelemetry: false,
    });
    return client.messages.create(body);
  }

  /** The span attributes both modes share, exactly. */
  const common = (responseId: string) => ({
    'gen_ai.operation.name': 'chat',
    'gen_ai.provider.name': 'anthropic',
    'gen_ai.request.model': MODEL,
    'gen_ai.request.max_tokens': 100,
    'gen_ai.response.model': MODEL,
    'gen_ai.response.id': responseId,
    'gen_ai.response.finish_reasons': ['end_turn'],
    'gen_ai.usage.input_tokens': 29,
    'gen_ai.usage.output_tokens': 5,
    'gen_ai.usage.cache_read.input_tokens': 14,
    'server.address': '127.0.0.1',
    'server.port': port(),
    'tokenfuse.api': 'messages',
    'tokenfuse.provider': 'anthropic',
    'tokenfuse.department': 'platform',
    'tokenfuse.project': 'core',
    'tokenfuse.environment': 'test',
    'tokenfuse.api_key.fingerprint': expect.stringMatching(/^[0-9a-f]{8}$/),
    'tokenfuse.api_key.id': expect.stringMatching(/^[0-9a-f]{16}$/),
    'tokenfuse.usage.estimated': false,
    'tokenfuse.priced': true,
    'tokenfuse.cost.usd': expect.closeTo(catalogUsd(), 15),
  });

  it('without the opt-in: cache writes as gen_ai.usage.cache_creation.input_tokens, no cost attributes', async () => {
    const harness = await start(undefined);
    const message = await call(harness);
    const [span] = ourSpans(harness);
    expect(span!.attributes).toEqual({
      ...common(message.id),
      'gen_ai.usage.cache_creation.input_tokens': 7,
    });
    const exported = await types(harness);
    for (const name of LATEST_NAMES) expect(exported).not.toHaveProperty(name);
  });

  it('with the opt-in: cache writes as gen_ai.usage.cache_write.input_tokens, cost attributes, counters by kind', async () => {
    const harness = await start(GEN_AI_LATEST_EXPERIMENTAL);
    const message = await call(harness);
    const [span] = ourSpans(harness);
    expect(span!.attributes).toEqual({
      ...common(message.id),
      'gen_ai.usage.cache_write.input_tokens': 7,
      'gen_ai.usage.cost.amount': expect.closeTo(catalogUsd(), 15),
      'gen_ai.usage.cost.currency': 'USD',
      'gen_ai.usage.cost.source': 'local',
    });

    const m = await harness.scrape();
    const unknown = {
      gen_ai_operation_name: 'chat',
      gen_ai_provider_name: 'anthropic',
      gen_ai_request_model: MODEL,
      department: 'platform',
      project: 'core',
      environment: 'test',
      gen_ai_token_modality: 'unknown',
    };
    // Input includes the cache reads and writes, as the conventions define it.
    expect(sum(m, series.input, unknown)).toBe(29);
    expect(sum(m, series.cacheRead, unknown)).toBe(14);
    expect(sum(m, series.cacheWrite, unknown)).toBe(7);
    expect(sum(m, series.output, unknown)).toBe(5);
    expect(sum(m, series.reasoning, unknown)).toBe(0);
    expect(sum(m, `${series.opInput}_sum`)).toBe(29);
    expect(sum(m, `${series.opOutput}_sum`)).toBe(5);
    expect(sum(m, 'tokenfuse_cost_usd_total')).toBeCloseTo(catalogUsd(), 15);
  });
});

describe('read once, at start', () => {
  it('keeps the conventions it started with when the variable changes later', async () => {
    const on = await start(OPT_IN);
    delete process.env[SEMCONV_OPT_IN_VARIABLE];
    const openai = client(on);
    await openai.chat.completions.create({
      model: 'gpt-4.1',
      messages: [{ role: 'user', content: 'hi' }],
    });
    expect(sum(await on.scrape(), series.input)).toBeGreaterThan(0);
    await on.close();

    const off = await start(undefined);
    process.env[SEMCONV_OPT_IN_VARIABLE] = GEN_AI_LATEST_EXPERIMENTAL;
    const again = client(off);
    await again.chat.completions.create({
      model: 'gpt-4.1',
      messages: [{ role: 'user', content: 'hi' }],
    });
    const exported = await types(off);
    for (const name of LATEST_NAMES) expect(exported).not.toHaveProperty(name);
    expect(ourSpans(off)[0]!.attributes).not.toHaveProperty('gen_ai.usage.cost.amount');
  });
});

// Needs `npm run build` first: `tokenfuse/register` resolves to dist/.
describe('under tokenfuse/register', () => {
  let app: App | undefined;
  let tmp: string | undefined;
  afterEach(async () => {
    await app?.kill();
    app = undefined;
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it.each([
    ['with', GEN_AI_LATEST_EXPERIMENTAL],
    ['without', undefined],
  ])('reads the opt-in from the environment at start (%s it)', async (_, optIn) => {
    tmp = mkdtempSync(join(tmpdir(), 'tokenfuse-semconv-'));
    const config = join(tmp, 'tokenfuse.config.yaml');
    writeFileSync(config, 'budgets: []\n');
    const port = await freePort();
    app = new App(
      ['--import', 'tokenfuse/register', 'test/fixtures/apps/anthropic-app.mjs'],
      childEnv({
        LLM_BASE_URL: llm.url,
        OTEL_EXPORTER_PROMETHEUS_PORT: String(port),
        TOKENFUSE_DEPARTMENT: 'platform',
        TOKENFUSE_CONFIG: config,
        ...(optIn === undefined ? {} : { [SEMCONV_OPT_IN_VARIABLE]: optIn }),
      }),
    );
    expect(JSON.parse(await app.firstLine())).toEqual({ ready: true, output: 5 });
    const m = parsePrometheusText(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text());
    // Two calls of "name three colours": 3 + 3 = 6 input tokens and 5 output each, one
    // attributed by default, one by its request header.
    const ours = { otel_scope_name: 'tokenfuse', gen_ai_token_modality: 'unknown' };
    for (const department of ['platform', 'research']) {
      const labels = { ...ours, department, gen_ai_provider_name: 'anthropic' };
      expect(sum(m, series.input, labels)).toBe(optIn === undefined ? 0 : 6);
      expect(sum(m, series.output, labels)).toBe(optIn === undefined ? 0 : 5);
    }
    const names = new Set(m.map((s) => s.name.replace(/_(bucket|sum|count)$/, '')));
    for (const name of LATEST_NAMES) expect(names.has(name)).toBe(optIn !== undefined);
    expect(sum(m, 'tokenfuse_tokens_total', { type: 'input' })).toBe(12);
  });
});
