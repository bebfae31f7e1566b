// GenAI spans from other instrumentations: contrib's `@opentelemetry/instrumentation-openai`
// beside tokenfuse on the same `openai` 7 module and tracer provider (each call counted
// once in either patch order: the instrumentation patched last replaces the other's
// wrapper, see below), contrib alone with tokenfuse's span processor (each call counted once from contrib's span, as observed
// spend, attributed from baggage), and a span written by hand to the current GenAI
// semantic conventions. Real `openai` SDK over HTTP against the fake server.
//
// contrib 0.22 declares `openai >=4.19.0 <7`, so its require hook leaves `openai` 7 alone;
// the tests apply its module definition by hand, as the harness does for tokenfuse's.
import { createRequire } from 'node:module';
import { context, diag, metrics, propagation } from '@opentelemetry/api';
import { OpenAIInstrumentation } from '@opentelemetry/instrumentation-openai';
import { calcPrice } from '@pydantic/genai-prices';
import type OpenAIType from 'openai';
import { afterEach, describe, expect, it } from 'vitest';
import { withAttribution } from '../src/index.js';
import { x } from './helpers/budget-calls.js';
import { captureDiag } from './helpers/diag.js';
import { LOCAL_RELAY, useFakeServerHarness } from './helpers/fake-server-harness.js';
import type { Harness } from './helpers/harness.js';
import { sum } from './helpers/prom-text.js';

const require = createRequire(import.meta.url);
const openaiModule = require('openai');
const OPENAI_VERSION: string = require('openai/version').VERSION;

const { llm, harness, client } = useFakeServerHarness();
let h: Harness | undefined;
let unwind: (() => void)[] = [];

/** The methods both instrumentations patch, as the SDK defines them (nothing patched yet). */
const PATCHED = [
  openaiModule.OpenAI.Chat.Completions.prototype,
  openaiModule.OpenAI.Embeddings.prototype,
  openaiModule.OpenAI.Responses.prototype,
].map((target) => ({ target, create: target.create }));

afterEach(() => {
  for (const undo of unwind) undo();
  unwind = [];
  // Whichever wrapper is left (each order leaves one), the SDK's own methods go back.
  for (const { target, create } of PATCHED) target.create = create;
});

type Definition = {
  name: string;
  patch?: (m: unknown, v?: string) => unknown;
  unpatch?: (m: unknown) => void;
};
const definitionsOf = (instrumentation: unknown): Definition[] =>
  (instrumentation as { getModuleDefinitions(): Definition[] })
    .getModuleDefinitions()
    .filter((def) => def.name === 'openai');

function patch(instrumentation: unknown): void {
  const defs = definitionsOf(instrumentation);
  for (const def of defs) def.patch?.(openaiModule, OPENAI_VERSION);
}

/** The harness patches tokenfuse in; take it out (its openai patch off, its span processor on). */
function unpatchTokenfuse(harness: Harness): void {
  for (const def of definitionsOf(harness.tokenfuse.instrumentation)) def.unpatch?.(openaiModule);
}

function contribInstrumentation(harness: Harness): OpenAIInstrumentation {
  // Off at construction so it registers no require hook: patched by hand below.
  const contrib = new OpenAIInstrumentation({ enabled: false });
  contrib.setTracerProvider(harness.tracerProvider);
  // As NodeSDK does; contrib 0.22 creates its histograms only then (a stream fails without).
  contrib.setMeterProvider(metrics.getMeterProvider());
  contrib.enable();
  // enable() hooks `require('openai')` for its declared range only; we patch the loaded module.
  unwind.push(() => contrib.disable());
  return contrib;
}

const BUDGET = {
  name: 'marketing-daily',
  match: { department: 'marketing' },
  window: 'day' as const,
  limit: { usd: 100 },
};

async function setup(): Promise<OpenAIType> {
  h = await harness({ providers: [LOCAL_RELAY], budgets: [BUDGET] });
  return client(h);
}

const price = (
  model: string,
  usage: { input_tokens: number; output_tokens?: number; cache_read_tokens?: number },
) => {
  const p = calcPrice(usage, model, { providerId: 'openai' });
  if (p === null) throw new Error(`the catalog has no openai/${model}`);
  return p.total_price;
};

/** Department from W3C baggage, as an upstream service sends it. */
function inBaggage<T>(department: string, fn: () => Promise<T>): Promise<T> {
  const baggage = propagation.createBaggage({ 'tokenfuse.department': { value: department } });
  return context.with(propagation.setBaggage(context.active(), baggage), fn);
}

/**
 * A plain chat (4 + 3 tokens), a stream (4 + 2, usage asked for, as contrib needs to see
 * any), and embeddings of three words (3 tokens): what each order below must count once.
 */
async function threeCalls(openai: OpenAIType): Promise<void> {
  await openai.chat.completions.create(x(3));
  const stream = await openai.chat.completions.create({
    ...x(2),
    stream: true,
    stream_options: { include_usage: true },
  });
  for await (const _ of stream);
  await openai.embeddings.create({ model: 'text-embedding-3-small', input: 'three words here' });
}

const CHAT_USD = price('gpt-4.1', { input_tokens: 4, output_tokens: 3 });
const STREAM_USD = price('gpt-4.1', { input_tokens: 4, output_tokens: 2 });
const EMBED_USD = price('text-embedding-3-small', { input_tokens: 3 });

async function expectEachCallOnce(outcome: 'ok' | 'observed'): Promise<void> {
  const m = await h!.scrape();
  const chat = { department: 'marketing', provider: 'local-relay', model: 'gpt-4.1' };
  const embed = { ...chat, model: 'text-embedding-3-small' };
  expect(sum(m, 'tokenfuse_requests_total', { ...chat, outcome })).toBe(2);
  expect(sum(m, 'tokenfuse_requests_total', { ...embed, outcome })).toBe(1);
  expect(sum(m, 'tokenfuse_requests_total')).toBe(3);
  expect(sum(m, 'tokenfuse_tokens_total', { ...chat, type: 'input' })).toBe(8);
  expect(sum(m, 'tokenfuse_tokens_total', { ...chat, type: 'output' })).toBe(5);
  expect(sum(m, 'tokenfuse_tokens_total', { ...embed, type: 'input' })).toBe(3);
  expect(sum(m, 'tokenfuse_cost_usd_total', chat)).toBeCloseTo(CHAT_USD + STREAM_USD, 12);
  expect(sum(m, 'tokenfuse_cost_usd_total', embed)).toBeCloseTo(EMBED_USD, 12);
  const fuse = await h!.tokenfuse.fuses.read('marketing-daily');
  expect(fuse.spent.tokens).toBe(7 + 6 + 3);
  expect(fuse.spent.requests).toBe(3);
  expect(fuse.spent.usd).toBeCloseTo(CHAT_USD + STREAM_USD + EMBED_USD, 12);
}

const contribSpans = () =>
  h!.spans().filter((s) => s.instrumentationScope.name === '@opentelemetry/instrumentation-openai');
const ourSpans = () => h!.spans().filter((s) => s.instrumentationScope.name === 'tokenfuse');

// Every OpenTelemetry instrumentation patches through `InstrumentationBase._wrap`, which
// first unwraps a method some other instrumentation wrapped: on one `create`, the one
// patched last replaces the other. No order nests contrib's span with tokenfuse's (that
// nesting, both ways, is covered with hand-made spans in observed-spend.test.ts), and no
// order counts a call twice; the order decides whether calls are admitted or only counted.
describe("contrib's OpenAIInstrumentation beside tokenfuse's on one openai module: each call counted once", () => {
  it("tokenfuse patched last replaces contrib's wrapper: counted by tokenfuse (ok), no contrib span", async () => {
    const openai = await setup();
    unpatchTokenfuse(h!);
    patch(contribInstrumentation(h!));
    patch(h!.tokenfuse.instrumentation);
    await withAttribution({ department: 'marketing' }, () => threeCalls(openai));

    expect(llm.requests).toHaveLength(3);
    expect(contribSpans()).toHaveLength(0);
    expect(ourSpans()).toHaveLength(3);
    await expectEachCallOnce('ok');
    // Our wrappers are in place: nothing replaced.
    const m = await h!.scrape();
    expect(sum(m, 'tokenfuse_instrumentation_replaced', { sdk: 'openai' })).toBe(0);
  });

  it("contrib patched last replaces tokenfuse's wrapper: counted once from contrib's spans (observed), never blocked", async () => {
    const openai = await setup();
    const logged = captureDiag();
    unwind.push(() => diag.disable());
    patch(contribInstrumentation(h!));
    await withAttribution({ department: 'marketing' }, () => threeCalls(openai));

    expect(llm.requests).toHaveLength(3);
    expect(ourSpans()).toHaveLength(0);
    const theirs = contribSpans();
    expect(theirs).toHaveLength(3);
    // contrib's chat and embeddings spans name the provider the older way, `gen_ai.system`.
    expect(theirs[0]!.attributes).toMatchObject({
      'gen_ai.operation.name': 'chat',
      'gen_ai.system': 'openai',
      'gen_ai.request.model': 'gpt-4.1',
      'gen_ai.usage.input_tokens': 4,
      'gen_ai.usage.output_tokens': 3,
      'server.address': '127.0.0.1',
    });
    expect(theirs[0]!.attributes['gen_ai.provider.name']).toBeUndefined();
    await expectEachCallOnce('observed');
    // Never silent: each replaced method is 1 on /metrics, and said once in the log.
    const m = await h!.scrape();
    const replaced = m.filter((sample) => sample.name === 'tokenfuse_instrumentation_replaced');
    expect(
      Object.fromEntries(replaced.map((sample) => [sample.labels.method, sample.value])),
    ).toEqual({
      'chat.completions.create': 1,
      'embeddings.create': 1,
      'responses.create': 1,
      // contrib does not wrap the Batch API's methods: tokenfuse's are still in place.
      'batches.create': 0,
      'files.content': 0,
    });
    await h!.scrape();
    const warnings = logged.filter((line) =>
      line.includes('re-wrapped by another instrumentation'),
    );
    expect(warnings).toHaveLength(3);
    expect(warnings[0]).toContain('budgets cannot block them');

    // The fuse is open, yet a call through the (now contrib-only) client still goes out.
    await h!.tokenfuse.fuses.isolate('marketing-daily');
    await withAttribution({ department: 'marketing' }, () => openai.chat.completions.create(x(1)));
    expect(llm.requests).toHaveLength(4);
  });
});

describe("contrib's OpenAIInstrumentation alone, with tokenfuse's span processor", () => {
  it('prices each call once from its span, as observed spend, in the department of its baggage', async () => {
    const openai = await setup();
    unpatchTokenfuse(h!);
    patch(contribInstrumentation(h!));
    await inBaggage('marketing', () => threeCalls(openai));

    expect(llm.requests).toHaveLength(3);
    expect(ourSpans()).toHaveLength(0);
    const theirs = contribSpans();
    expect(theirs.map((s) => s.attributes['tokenfuse.cost.usd'])).toEqual([
      CHAT_USD,
      STREAM_USD,
      EMBED_USD,
    ]);
    await expectEachCallOnce('observed');
    const m = await h!.scrape();
    expect(sum(m, 'tokenfuse_requests_total', { outcome: 'ok' })).toBe(0);
  });

  it('prices cached prompt tokens at the full input rate: contrib does not report cache reads', async () => {
    const openai = await setup();
    unpatchTokenfuse(h!);
    patch(contribInstrumentation(h!));
    // 5 + 3 = 8 prompt tokens, of which the fake server reports 4 as cached.
    const res = await inBaggage('marketing', () =>
      openai.chat.completions.create({
        model: 'gpt-4.1',
        messages: [{ role: 'user', content: 'one two three four five' }],
        max_tokens: 2,
        prompt_cache_key: 'k',
      }),
    );
    expect(res.usage?.prompt_tokens_details?.cached_tokens).toBe(4);
    const [span] = contribSpans();
    expect(span!.attributes['gen_ai.usage.cache_read.input_tokens']).toBeUndefined();
    const full = price('gpt-4.1', { input_tokens: 8, output_tokens: 2 });
    expect(full).toBeGreaterThan(
      price('gpt-4.1', { input_tokens: 8, cache_read_tokens: 4, output_tokens: 2 }),
    );
    expect(span!.attributes['tokenfuse.cost.usd']).toBe(full);
    const m = await h!.scrape();
    expect(sum(m, 'tokenfuse_tokens_total', { type: 'cache_read' })).toBe(0);
    expect(sum(m, 'tokenfuse_tokens_total', { type: 'input' })).toBe(8);
  });
});

describe('a span written by hand to the current GenAI semantic conventions', () => {
  // `gen_ai.system` is the name before `gen_ai.provider.name` (contrib's chat spans still use it).
  it.each(['gen_ai.provider.name', 'gen_ai.system'])(
    'is priced exactly from its response model, cache reads at the cache rate, and settled once (provider in %s)',
    async (providerAttr) => {
      await setup();
      const model = 'claude-sonnet-4-5-20250929';
      // Per semconv, input_tokens includes the cache reads: 3,000 uncached + 7,000 read.
      const usage = { input_tokens: 10_000, cache_read_tokens: 7_000, output_tokens: 500 };
      const catalog = calcPrice(usage, model, { providerId: 'anthropic' });
      if (catalog === null) throw new Error(`the catalog has no anthropic/${model}`);
      const uncachedOnly = calcPrice({ input_tokens: 10_000, output_tokens: 500 }, model, {
        providerId: 'anthropic',
      });
      expect(catalog.total_price).toBeLessThan(uncachedOnly!.total_price);

      await inBaggage('marketing', async () => {
        const span = h!.tracerProvider.getTracer('hand-made-genai').startSpan('chat', {
          attributes: { 'gen_ai.operation.name': 'chat', [providerAttr]: 'anthropic' },
        });
        // No request model: the span names only the model that answered.
        span.setAttributes({
          'gen_ai.response.model': model,
          'gen_ai.usage.input_tokens': usage.input_tokens,
          'gen_ai.usage.cache_read.input_tokens': usage.cache_read_tokens,
          'gen_ai.usage.output_tokens': usage.output_tokens,
        });
        span.end();
      });

      const [span] = h!.spans();
      expect(span!.attributes['tokenfuse.cost.usd']).toBe(catalog.total_price);
      expect(span!.attributes['tokenfuse.priced']).toBe(true);
      const m = await h!.scrape();
      const labels = { department: 'marketing', provider: 'anthropic', model };
      expect(sum(m, 'tokenfuse_requests_total', { ...labels, outcome: 'observed' })).toBe(1);
      expect(sum(m, 'tokenfuse_requests_total')).toBe(1);
      expect(sum(m, 'tokenfuse_tokens_total', { ...labels, type: 'input' })).toBe(3_000);
      expect(sum(m, 'tokenfuse_tokens_total', { ...labels, type: 'cache_read' })).toBe(7_000);
      expect(sum(m, 'tokenfuse_tokens_total', { ...labels, type: 'output' })).toBe(500);
      expect(sum(m, 'tokenfuse_cost_usd_total', labels)).toBe(catalog.total_price);
      const fuse = await h!.tokenfuse.fuses.read('marketing-daily');
      expect(fuse.spent).toEqual({ tokens: 10_500, usd: catalog.total_price, requests: 1 });
    },
  );
});

describe('a GenAI span with neither usage nor an error', () => {
  it('is not counted as a call, and is counted as a pricing issue and said once', async () => {
    await setup();
    const logged = captureDiag();
    unwind.push(() => diag.disable());
    const tracer = h!.tracerProvider.getTracer('hand-made-genai');
    for (let i = 0; i < 2; i++) {
      tracer
        .startSpan('chat', {
          attributes: {
            'gen_ai.operation.name': 'chat',
            'gen_ai.provider.name': 'openai',
            'gen_ai.request.model': 'gpt-4.1',
          },
        })
        .end();
    }
    const m = await h!.scrape();
    expect(sum(m, 'tokenfuse_requests_total')).toBe(0);
    expect(sum(m, 'tokenfuse_pricing_issues_total', { reason: 'span_without_usage' })).toBe(2);
    const said = logged.filter((line) => line.includes('no gen_ai.usage.* attributes'));
    expect(said).toEqual([
      'tokenfuse: a GenAI span from hand-made-genai ended with no gen_ai.usage.* attributes and no error status: its call is not counted or priced (tokenfuse_pricing_issues_total{reason="span_without_usage"} counts such spans; said once)',
    ]);
  });
});
