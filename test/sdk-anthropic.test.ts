// @anthropic-ai/sdk through tokenfuse: 1.x (the installed major, with its own OpenTelemetry
// tracing) and 0.122 (the copy @langchain/anthropic installs under itself), each through its
// real client over HTTP against the fake server's Anthropic Messages endpoint.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { calcPrice, type Usage } from '@pydantic/genai-prices';
import { afterEach, describe, expect, it } from 'vitest';
import { isBudgetExceededError, withAttribution } from '../src/index.js';
import { fromCatalogUsage, fromGenAiAttributes, toCatalogUsage } from '../src/pricing/usage.js';
import type { TokenfuseOptions } from '../src/types.js';
import { rejection } from './helpers/budget-calls.js';
import { useFakeServerHarness } from './helpers/fake-server-harness.js';
import type { Harness } from './helpers/harness.js';
import { App, childEnv, freePort } from './helpers/processes.js';
import { parsePrometheusText, sum } from './helpers/prom-text.js';
import { behaviourSuite } from './sdk/behaviour.js';
import {
  type AnthropicCopy,
  anthropicDriver,
  installAnthropic,
  loadAnthropic,
} from './sdk/drivers/anthropic.js';

interface Major {
  title: string;
  copy: AnthropicCopy;
  /** 1.x traces its own calls. */
  traces: boolean;
}

const MAJORS: Major[] = [
  { title: '@anthropic-ai/sdk 1.x', copy: 'current', traces: true },
  {
    title: '@anthropic-ai/sdk 0.122 (under @langchain/anthropic)',
    copy: 'langchain',
    traces: false,
  },
];

// The shared behaviour suite (test/sdk/behaviour.ts), on both copies.
for (const { copy } of MAJORS) behaviourSuite(anthropicDriver(copy));

const MODEL = 'claude-sonnet-4-5';
// 20 words: with the message's 3 words, 20 + 3 + 3 + 3 = 29 prompt tokens at the fake.
const SYSTEM = 'one two three four five six seven eight nine ten '.repeat(2).trim();
const LABELS = {
  department: 'platform',
  project: 'core',
  environment: 'test',
  provider: 'anthropic',
  model: MODEL,
};
const BASE_OPTIONS: TokenfuseOptions = {
  // No provider declared for the fake's host (127.0.0.1): the SDK speaks Anthropic's own
  // protocol, so an unknown host is Anthropic.
  attribution: { defaults: { department: 'platform', project: 'core', environment: 'test' } },
};

/** A request whose system prompt is cached (`ttl` 5m or 1h): 8 input, 14 read, 7 written. */
function cachedBody(ttl: '5m' | '1h', extra: Record<string, unknown> = {}) {
  return {
    model: MODEL,
    max_tokens: 100,
    system: [{ type: 'text', text: SYSTEM, cache_control: { type: 'ephemeral', ttl } }],
    messages: [{ role: 'user', content: 'name three colours' }],
    ...extra,
  };
}
/** The fake's usage for `cachedBody`, in the catalog's keys (input INCLUDES the cache). */
function catalogUsage(ttl: '5m' | '1h'): Usage {
  return {
    input_tokens: 29,
    cache_read_tokens: 14,
    cache_write_tokens: 7,
    [ttl === '1h' ? 'cache_write_1h_tokens' : 'cache_write_5m_tokens']: 7,
    output_tokens: 5,
  };
}
const catalogUsd = (usage: Usage) =>
  calcPrice(usage, MODEL, { providerId: 'anthropic' })!.total_price;

const { llm, harness } = useFakeServerHarness();

describe.each(MAJORS)('$title', (major) => {
  let h: Harness;
  let uninstall: () => void;
  let Anthropic: any;
  let client: any;

  async function setup(options: TokenfuseOptions = {}, clientOptions: object = {}) {
    h = await harness({ ...BASE_OPTIONS, ...options });
    uninstall = installAnthropic(h, major.copy);
    Anthropic = loadAnthropic(major.copy).Anthropic;
    client = new Anthropic({
      baseURL: llm.url,
      apiKey: 'sk-ant-test',
      maxRetries: 0,
      // 1.x traces by default into the global provider; tests that do not look at its
      // spans keep it off, the tracing tests below give it the harness' provider.
      ...(major.traces ? { openTelemetry: false } : {}),
      ...clientOptions,
    });
  }
  afterEach(() => {
    uninstall?.();
  });

  const ourSpans = () => h.spans().filter((s) => s.instrumentationScope.name === 'tokenfuse');

  it('counts a call with 5-minute cache writes exactly, priced at the catalog rates, with semconv span attributes', async () => {
    await setup();
    const message = await client.messages.create(cachedBody('5m'));
    expect(message.usage).toMatchObject({
      input_tokens: 8,
      cache_read_input_tokens: 14,
      cache_creation_input_tokens: 7,
      output_tokens: 5,
    });
    const m = await h.scrape();
    expect(sum(m, 'tokenfuse_tokens_total', { ...LABELS, type: 'input' })).toBe(8);
    expect(sum(m, 'tokenfuse_tokens_total', { ...LABELS, type: 'cache_read' })).toBe(14);
    expect(sum(m, 'tokenfuse_tokens_total', { ...LABELS, type: 'cache_write' })).toBe(7);
    expect(sum(m, 'tokenfuse_tokens_total', { ...LABELS, type: 'output' })).toBe(5);
    // 8 × $3 + 14 × $0.30 + 7 × $3.75 + 5 × $15 per million.
    expect(catalogUsd(catalogUsage('5m'))).toBeCloseTo(129.45e-6, 15);
    expect(sum(m, 'tokenfuse_cost_usd_total', LABELS)).toBeCloseTo(
      catalogUsd(catalogUsage('5m')),
      15,
    );
    expect(sum(m, 'tokenfuse_requests_total', { ...LABELS, outcome: 'ok' })).toBe(1);
    expect(sum(m, 'tokenfuse_unpriced_total')).toBe(0);

    const spans = ourSpans();
    expect(spans).toHaveLength(1);
    expect(spans[0]!.name).toBe(`chat ${MODEL}`);
    expect(spans[0]!.attributes).toMatchObject({
      'gen_ai.operation.name': 'chat',
      'gen_ai.provider.name': 'anthropic',
      'gen_ai.request.model': MODEL,
      'gen_ai.request.max_tokens': 100,
      'gen_ai.response.model': MODEL,
      'gen_ai.response.id': message.id,
      'gen_ai.response.finish_reasons': ['end_turn'],
      'gen_ai.usage.input_tokens': 29,
      'gen_ai.usage.cache_read.input_tokens': 14,
      'gen_ai.usage.cache_creation.input_tokens': 7,
      'gen_ai.usage.output_tokens': 5,
      'tokenfuse.api': 'messages',
      'tokenfuse.provider': 'anthropic',
      'tokenfuse.department': 'platform',
      'tokenfuse.usage.estimated': false,
      'tokenfuse.priced': true,
    });
    expect(spans[0]!.attributes['tokenfuse.cost.usd']).toBeCloseTo(
      catalogUsd(catalogUsage('5m')),
      15,
    );
  });

  it('prices 1-hour cache writes at the 1-hour rate', async () => {
    await setup();
    const message = await client.messages.create(cachedBody('1h'));
    expect(message.usage.cache_creation).toEqual({
      ephemeral_5m_input_tokens: 0,
      ephemeral_1h_input_tokens: 7,
    });
    const m = await h.scrape();
    expect(sum(m, 'tokenfuse_tokens_total', { ...LABELS, type: 'cache_write' })).toBe(7);
    // 7 × $6 instead of 7 × $3.75.
    expect(catalogUsd(catalogUsage('1h'))).toBeCloseTo(145.2e-6, 15);
    expect(sum(m, 'tokenfuse_cost_usd_total', LABELS)).toBeCloseTo(
      catalogUsd(catalogUsage('1h')),
      15,
    );
  });

  it('reads a stream: input from message_start, the cumulative output from message_delta (not summed)', async () => {
    await setup();
    const stream = await client.messages.create(cachedBody('5m', { stream: true }));
    const types: string[] = [];
    let text = '';
    for await (const event of stream) {
      types.push(event.type);
      if (event.type === 'content_block_delta') text += event.delta.text ?? '';
    }
    expect(types[0]).toBe('message_start');
    expect(text.split(' ')).toHaveLength(5);
    const m = await h.scrape();
    expect(sum(m, 'tokenfuse_tokens_total', { ...LABELS, type: 'input' })).toBe(8);
    expect(sum(m, 'tokenfuse_tokens_total', { ...LABELS, type: 'cache_read' })).toBe(14);
    expect(sum(m, 'tokenfuse_tokens_total', { ...LABELS, type: 'cache_write' })).toBe(7);
    // message_start says 1, message_delta 5: 5, not 6.
    expect(sum(m, 'tokenfuse_tokens_total', { ...LABELS, type: 'output' })).toBe(5);
    expect(sum(m, 'tokenfuse_cost_usd_total', LABELS)).toBeCloseTo(
      catalogUsd(catalogUsage('5m')),
      15,
    );
    const [span] = ourSpans();
    expect(span!.attributes['gen_ai.response.finish_reasons']).toEqual(['end_turn']);
    expect(span!.attributes['tokenfuse.usage.estimated']).toBe(false);
  });

  it('counts messages.stream() and its finalMessage() once, through create', async () => {
    await setup();
    const final = await client.messages.stream(cachedBody('1h')).finalMessage();
    expect(final.usage.output_tokens).toBe(5);
    const m = await h.scrape();
    expect(sum(m, 'tokenfuse_requests_total', { ...LABELS, outcome: 'ok' })).toBe(1);
    expect(sum(m, 'tokenfuse_tokens_total', { ...LABELS, type: 'output' })).toBe(5);
    expect(sum(m, 'tokenfuse_cost_usd_total', LABELS)).toBeCloseTo(
      catalogUsd(catalogUsage('1h')),
      15,
    );
    expect(ourSpans()).toHaveLength(1);
    expect(llm.requests).toHaveLength(1);
  });

  it('counts messages.parse(), beta.messages.create() and withResponse() once each', async () => {
    await setup();
    const parsed = await client.messages.parse(cachedBody('5m'));
    expect(parsed.content[0].type).toBe('text');
    const beta = await client.beta.messages.create(cachedBody('5m'));
    expect(beta.usage.output_tokens).toBe(5);
    const { data, response } = await client.messages.create(cachedBody('5m')).withResponse();
    expect(data.usage.output_tokens).toBe(5);
    expect(response.status).toBe(200);
    const m = await h.scrape();
    expect(sum(m, 'tokenfuse_requests_total', { ...LABELS, outcome: 'ok' })).toBe(3);
    expect(sum(m, 'tokenfuse_tokens_total', { ...LABELS, type: 'input' })).toBe(24);
    expect(sum(m, 'tokenfuse_cost_usd_total', LABELS)).toBeCloseTo(
      3 * catalogUsd(catalogUsage('5m')),
      15,
    );
  });

  it('attributes by withAttribution and by per-request X-Department headers, stripped before sending', async () => {
    await setup();
    await withAttribution({ department: 'marketing' }, () =>
      client.messages.create(cachedBody('5m')),
    );
    await client.messages.create(cachedBody('5m'), {
      headers: { 'X-Department': 'sales', 'X-Project': 'leads' },
    });
    const m = await h.scrape();
    expect(
      sum(m, 'tokenfuse_requests_total', { ...LABELS, department: 'marketing', outcome: 'ok' }),
    ).toBe(1);
    expect(
      sum(m, 'tokenfuse_requests_total', {
        ...LABELS,
        department: 'sales',
        project: 'leads',
        outcome: 'ok',
      }),
    ).toBe(1);
    expect(llm.requests).toHaveLength(2);
    for (const request of llm.requests) {
      expect(request.headers['x-department']).toBeUndefined();
      expect(request.headers['x-project']).toBeUndefined();
    }
  });

  it('blocks a call over budget through the SDK APIPromise, with no request sent', async () => {
    await setup({ budgets: [{ name: 'all', window: 'day', limit: { requests: 1 } }] });
    await client.messages.create(cachedBody('5m'));
    const blocked = client.messages.create(cachedBody('5m'));
    expect(blocked).toBeInstanceOf(loadAnthropic(major.copy).APIPromise);
    const err = await rejection(blocked);
    expect(isBudgetExceededError(err)).toBe(true);
    // The stream helper fails the way the SDK fails it: an AnthropicError caused by ours.
    const streamErr = (await rejection(
      client.messages.stream(cachedBody('5m')).finalMessage(),
    )) as { cause?: unknown };
    expect(streamErr).toBeInstanceOf(loadAnthropic(major.copy).AnthropicError);
    expect(isBudgetExceededError(streamErr.cause)).toBe(true);
    const streamed = await rejection(client.messages.create(cachedBody('5m', { stream: true })));
    expect(isBudgetExceededError(streamed)).toBe(true);
    expect(llm.requests).toHaveLength(1);
    const m = await h.scrape();
    expect(sum(m, 'tokenfuse_requests_total', { ...LABELS, outcome: 'blocked' })).toBe(3);
  });

  it('reserves max_tokens, and a 429 ends the span and releases the reservation', async () => {
    await setup({ budgets: [{ name: 'all', window: 'day', limit: { tokens: 1_000_000 } }] });
    llm.enqueue({ kind: 'hang' });
    const controller = new AbortController();
    const pending = client.messages.create(cachedBody('5m', { max_tokens: 700 }), {
      signal: controller.signal,
    });
    pending.catch(() => undefined);
    while (llm.requests.length === 0) await new Promise((r) => setTimeout(r, 5));
    // The output reservation is max_tokens exactly, beside the input's.
    expect(h.tokenfuse.fuses.get('all').reserved.tokens).toBeGreaterThanOrEqual(700);
    controller.abort();
    const aborted = await rejection(pending);
    expect(aborted).toBeInstanceOf(loadAnthropic(major.copy).APIUserAbortError);
    expect(h.tokenfuse.fuses.get('all').reserved.tokens).toBe(0);

    llm.enqueue({ kind: 'error', status: 429 });
    const limited = await rejection(client.messages.create(cachedBody('5m')));
    expect(limited).toBeInstanceOf(loadAnthropic(major.copy).RateLimitError);
    expect(h.tokenfuse.fuses.get('all').reserved.tokens).toBe(0);
    const spans = ourSpans();
    expect(spans).toHaveLength(2);
    expect(spans.map((s) => s.attributes['error.type'])).toEqual([
      'APIUserAbortError',
      'RateLimitError',
    ]);
    const m = await h.scrape();
    expect(sum(m, 'tokenfuse_requests_total', { ...LABELS, outcome: 'error' })).toBe(2);
    expect(sum(m, 'tokenfuse_tokens_total', LABELS)).toBe(0);
  });

  it('an abandoned stream ends its span, counts what message_start said, and releases the reservation', async () => {
    await setup({ budgets: [{ name: 'all', window: 'day', limit: { tokens: 1_000_000 } }] });
    const stream = await client.messages.create(cachedBody('5m', { stream: true }));
    let deltas = 0;
    for await (const event of stream) {
      if (event.type === 'content_block_delta' && ++deltas === 3) break;
    }
    const [span] = ourSpans();
    expect(span!.attributes['tokenfuse.stream.abandoned']).toBe(true);
    expect(h.tokenfuse.fuses.get('all').reserved.tokens).toBe(0);
    const m = await h.scrape();
    expect(sum(m, 'tokenfuse_tokens_total', { ...LABELS, type: 'cache_read' })).toBe(14);
    // message_start's placeholder output (1) is no count: at least one token per delta read.
    expect(sum(m, 'tokenfuse_tokens_total', { ...LABELS, type: 'output' })).toBe(3);
  });

  it('a stream cut off by the server fails, and is still counted from message_start', async () => {
    await setup({ budgets: [{ name: 'all', window: 'day', limit: { tokens: 1_000_000 } }] });
    llm.enqueue({ kind: 'stream-cut', afterChunks: 4 });
    const stream = await client.messages.create(cachedBody('5m', { stream: true }));
    const err = await (async () => {
      for await (const _ of stream) {
      }
    })().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(Error);
    const [span] = ourSpans();
    expect(span!.status.code).toBe(2);
    expect(h.tokenfuse.fuses.get('all').reserved.tokens).toBe(0);
    const m = await h.scrape();
    expect(sum(m, 'tokenfuse_requests_total', { ...LABELS, outcome: 'error' })).toBe(1);
    expect(sum(m, 'tokenfuse_tokens_total', { ...LABELS, type: 'cache_read' })).toBe(14);
  });

  it('cuts off a stream that pushes a cutOffStreams budget over its limit', async () => {
    await setup({
      budgets: [{ name: 'hard', window: 'hour', limit: { tokens: 3 }, cutOffStreams: true }],
    });
    const stream = await client.messages.create({
      model: MODEL,
      max_tokens: 100,
      messages: [{ role: 'user', content: 'x' }],
      stream: true,
    });
    let words = 0;
    const err = await (async () => {
      for await (const event of stream) if (event.type === 'content_block_delta') words++;
    })().then(
      () => undefined,
      (e: unknown) => e,
    );
    // The input is tokenized to 1 token (no framing is assumed for Anthropic); the 3rd
    // word makes 1 + 3 = 4 > 3: the caller sees 2 words, then the budget error.
    expect(isBudgetExceededError(err)).toBe(true);
    expect(words).toBe(2);
    expect(ourSpans()[0]!.attributes['tokenfuse.stream.cut_off']).toBe(true);
  });

  it.runIf(major.traces)(
    "with the SDK's own tracing on, a call is counted once, whether the SDK span is our child (create) or our sibling (stream helper)",
    async () => {
      await setup();
      client = new Anthropic({
        baseURL: llm.url,
        apiKey: 'sk-ant-test',
        maxRetries: 0,
        openTelemetry: { tracerProvider: h.tracerProvider },
      });
      await client.messages.create(cachedBody('5m'));
      await client.messages.stream(cachedBody('1h')).finalMessage();
      const stream = await client.messages.create(cachedBody('5m', { stream: true }));
      for await (const _ of stream) {
      }

      const sdkSpans = h
        .spans()
        .filter((s) => s.instrumentationScope.name === 'com.anthropic.sdk.typescript');
      expect(sdkSpans.map((s) => s.name)).toEqual([
        'anthropic.messages.create',
        'anthropic.messages.create',
        'anthropic.messages.create',
      ]);
      // The SDK's spans carry their own usage, yet are not priced a second time.
      for (const span of sdkSpans) {
        expect(span.attributes['gen_ai.usage.output_tokens']).toBe(5);
        expect(span.attributes['tokenfuse.cost.usd']).toBeUndefined();
      }
      const ours = ourSpans();
      expect(ours).toHaveLength(3);
      // create(): the SDK span is ours' child; stream(): started before create, a sibling.
      const ids = new Set(ours.map((s) => s.spanContext().spanId));
      const parents = sdkSpans.map((s) => ids.has(s.parentSpanContext?.spanId ?? ''));
      expect(parents).toEqual([true, false, true]);

      const m = await h.scrape();
      expect(sum(m, 'tokenfuse_requests_total', { outcome: 'ok' })).toBe(3);
      expect(sum(m, 'tokenfuse_tokens_total', { type: 'output' })).toBe(15);
      expect(sum(m, 'tokenfuse_cost_usd_total')).toBeCloseTo(
        2 * catalogUsd(catalogUsage('5m')) + catalogUsd(catalogUsage('1h')),
        15,
      );
    },
  );

  it.runIf(major.traces)(
    "prices the SDK's own spans when tokenfuse does not instrument the call (once)",
    async () => {
      await setup();
      h.tokenfuse.instrumentation.disable();
      client = new Anthropic({
        baseURL: llm.url,
        apiKey: 'sk-ant-test',
        maxRetries: 0,
        openTelemetry: { tracerProvider: h.tracerProvider },
      });
      await client.messages.create(cachedBody('1h'));
      expect(ourSpans()).toHaveLength(0);
      const m = await h.scrape();
      expect(sum(m, 'tokenfuse_requests_total', { outcome: 'observed' })).toBe(1);
      // Read from the SDK span's `gen_ai.usage.cache_write.input_tokens`.
      expect(sum(m, 'tokenfuse_tokens_total', { type: 'cache_write' })).toBe(7);
      expect(sum(m, 'tokenfuse_tokens_total', { type: 'input' })).toBe(8);
    },
  );
});

describe('Anthropic usage normalisation', () => {
  it('keeps cache writes nested in the catalog order: a 1-hour split is clamped to the writes, not to the uncached input', () => {
    const u = fromCatalogUsage('anthropic', 'default', {
      input_tokens: 10,
      cache_creation_input_tokens: 1000,
      cache_creation: { ephemeral_1h_input_tokens: 1000 },
      output_tokens: 5,
    });
    expect(u).toEqual({
      input: 10,
      cacheRead: 0,
      cacheWrite: 1000,
      output: 5,
      reasoning: 0,
      other: { cache_write_1h_tokens: 1000 },
    });
    // 10 × $3 + 1000 × $6 + 5 × $15 per million.
    expect(
      calcPrice(toCatalogUsage(u), MODEL, { providerId: 'anthropic' })!.total_price,
    ).toBeCloseTo(6105e-6, 15);
  });

  it('reads input (excluding the cache), reads, writes and the 5m/1h split: nothing lost or counted twice', () => {
    const u = fromCatalogUsage('anthropic', 'default', {
      input_tokens: 21,
      cache_creation_input_tokens: 1200,
      cache_read_input_tokens: 3400,
      cache_creation: { ephemeral_5m_input_tokens: 1000, ephemeral_1h_input_tokens: 200 },
      output_tokens: 87,
    });
    expect(toCatalogUsage(u)).toEqual({
      input_tokens: 4621,
      cache_read_tokens: 3400,
      cache_write_tokens: 1200,
      cache_write_5m_tokens: 1000,
      cache_write_1h_tokens: 200,
      output_tokens: 87,
    });
    // 21 × 3 + 1000 × 3.75 + 200 × 6 + 3400 × 0.3 + 87 × 15 µ$.
    expect(
      calcPrice(toCatalogUsage(u), MODEL, { providerId: 'anthropic' })!.total_price,
    ).toBeCloseTo(7338e-6, 15);
  });

  it('clamps a split larger than the writes to them, 5 minutes first', () => {
    const u = fromCatalogUsage('anthropic', 'default', {
      input_tokens: 10,
      cache_creation_input_tokens: 100,
      cache_creation: { ephemeral_5m_input_tokens: 80, ephemeral_1h_input_tokens: 80 },
      output_tokens: 1,
    });
    expect(u.other).toEqual({ cache_write_5m_tokens: 80, cache_write_1h_tokens: 20 });
    expect(() => calcPrice(toCatalogUsage(u), MODEL, { providerId: 'anthropic' })).not.toThrow();
  });

  it('follows the nesting the catalog declares: calcPrice rejects each part larger than its total', () => {
    for (const [total, part] of [
      ['input_tokens', 'cache_write_tokens'],
      ['input_tokens', 'cache_read_tokens'],
      ['cache_write_tokens', 'cache_write_1h_tokens'],
    ] as const) {
      const usage: Usage = { input_tokens: 100, cache_write_tokens: 50, [total]: 10, [part]: 11 };
      expect(() => calcPrice(usage, MODEL, { providerId: 'anthropic' })).toThrow(
        `${part} (11) cannot exceed ${total} (10)`,
      );
    }
  });

  it('reads cache writes from gen_ai.usage.cache_write.input_tokens, the name Anthropic 1.x spans use', () => {
    expect(
      fromGenAiAttributes({
        'gen_ai.usage.input_tokens': 29,
        'gen_ai.usage.cache_read.input_tokens': 14,
        'gen_ai.usage.cache_write.input_tokens': 7,
        'gen_ai.usage.output_tokens': 5,
      }),
    ).toEqual({ input: 8, cacheRead: 14, cacheWrite: 7, output: 5, reasoning: 0 });
  });
});

// Needs `npm run build` first: `tokenfuse/register` resolves to dist/. The app has no tokenfuse
// code; register's NodeSDK is the global tracer provider, so 1.x traces its calls itself too.
describe.each([
  { variant: 'ESM, node --import', args: ['--import', 'tokenfuse/register'], file: 'mjs' },
  { variant: 'CJS, node --require', args: ['--require', 'tokenfuse/register'], file: 'cjs' },
])('@anthropic-ai/sdk 1.x under tokenfuse/register ($variant)', ({ args, file }) => {
  let app: App | undefined;
  let tmp: string;
  afterEach(async () => {
    await app?.kill();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('counts create() and stream().finalMessage() once each, attributed, beside the SDK own spans', async () => {
    llm.reset();
    tmp = mkdtempSync(join(tmpdir(), 'tokenfuse-anthropic-'));
    const config = join(tmp, 'tokenfuse.config.yaml');
    writeFileSync(config, 'budgets: []\n');
    const port = await freePort();
    app = new App(
      [...args, `test/fixtures/apps/anthropic-app.${file}`],
      childEnv({
        LLM_BASE_URL: llm.url,
        OTEL_EXPORTER_PROMETHEUS_PORT: String(port),
        TOKENFUSE_DEPARTMENT: 'platform',
        TOKENFUSE_CONFIG: config,
      }),
    );
    expect(JSON.parse(await app.firstLine())).toEqual({ ready: true, output: 5 });
    const m = parsePrometheusText(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text());
    const claude = { provider: 'anthropic', model: MODEL };
    // "name three colours": 3 + 3 = 6 input tokens, 5 output, per call.
    for (const department of ['platform', 'research']) {
      expect(sum(m, 'tokenfuse_requests_total', { ...claude, department, outcome: 'ok' })).toBe(1);
      expect(sum(m, 'tokenfuse_tokens_total', { ...claude, department, type: 'input' })).toBe(6);
      expect(sum(m, 'tokenfuse_tokens_total', { ...claude, department, type: 'output' })).toBe(5);
    }
    expect(sum(m, 'tokenfuse_requests_total')).toBe(2);
    expect(sum(m, 'tokenfuse_cost_usd_total')).toBeCloseTo(
      2 * catalogUsd({ input_tokens: 6, output_tokens: 5 }),
      15,
    );
    // The attribution header never reached the provider.
    expect(llm.requests.map((r) => r.headers['x-department'])).toEqual([undefined, undefined]);
  });
});
