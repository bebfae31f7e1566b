// Cost truth (issue 9): every dollar tokenfuse reports equals what the catalog's own
// `calcPrice` gives for the same usage, model, provider and start time (to 1e-9),
// on /metrics and on the span, through the real SDK over HTTP.

import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { diag } from '@opentelemetry/api';
import {
  calcPrice,
  type Provider,
  type Usage,
  updatePrices,
  waitForUpdate,
} from '@pydantic/genai-prices';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { resolveConfig } from '../src/config/resolved-config.js';
import { ConfigError } from '../src/errors/config-error.js';
import { PriceCatalog } from '../src/pricing/price-catalog.js';
import type { TokenfuseOptions } from '../src/types.js';
import { captureDiag } from './helpers/diag.js';
import { useFakeServerHarness } from './helpers/fake-server-harness.js';
import type { Harness } from './helpers/harness.js';
import { sum } from './helpers/prom-text.js';

const fake = useFakeServerHarness();
const { llm, client } = fake;
let h: Harness | undefined;
/** genai-prices' bundled data: a loaded catalog replaces it process-wide, each test restores it. */
let bundled: Provider[];
beforeAll(async () => {
  bundled = (await waitForUpdate())!;
});
afterEach(() => {
  h?.tokenfuse.priceCatalog.stop();
  h = undefined;
  updatePrices(({ setProviderData }) => setProviderData(bundled));
  diag.disable();
});

/** The fake server's host, declared as a provider priced from catalog provider `pricesFrom`. */
function declared(id: string, pricesFrom: string) {
  return { id, hosts: [new URL(llm.url).host], pricesFrom };
}

/** `calcPrice`'s own total, or a failure naming what was not found. */
function catalogPrice(usage: Usage, model: string, providerId: string, at?: Date): number {
  const r = calcPrice(usage, model, { providerId, ...(at ? { timestamp: at } : {}) });
  if (r === null) throw new Error(`catalog has no ${providerId}/${model}`);
  return r.total_price;
}

async function start(options: TokenfuseOptions): Promise<Harness> {
  h = await fake.harness(options);
  return h;
}

const CHAT = { messages: [{ role: 'user' as const, content: 'hi' }] };

describe('the model priced is the one the provider says it ran', () => {
  it('prices an alias answered by an older snapshot at the snapshot’s price', async () => {
    const harness = await start({ providers: [declared('openai-fake', 'openai')] });
    llm.enqueue({
      kind: 'usage',
      model: 'gpt-4o-2024-05-13',
      usage: { prompt_tokens: 1200, completion_tokens: 300, total_tokens: 1500 },
    });
    await client(harness).chat.completions.create({ model: 'gpt-4o', ...CHAT });

    const snapshot = catalogPrice(
      { input_tokens: 1200, output_tokens: 300 },
      'gpt-4o-2024-05-13',
      'openai',
    );
    const alias = catalogPrice({ input_tokens: 1200, output_tokens: 300 }, 'gpt-4o', 'openai');
    expect(snapshot).toBeGreaterThan(alias * 1.5); // the two really differ, so this test can fail
    const m = await harness.scrape();
    expect(sum(m, 'tokenfuse_cost_usd_total', { model: 'gpt-4o' })).toBeCloseTo(snapshot, 9);
    const span = harness.spans()[0]!;
    expect(span.attributes['gen_ai.response.model']).toBe('gpt-4o-2024-05-13');
    expect(span.attributes['tokenfuse.cost.usd']).toBeCloseTo(snapshot, 9);
  });

  it('prices an Azure deployment name by the model the response names, via the catalog’s azure', async () => {
    const harness = await start({ providers: [declared('azure-east', 'azure')] });
    llm.enqueue({
      kind: 'usage',
      model: 'gpt-4o-2024-05-13',
      usage: { prompt_tokens: 1000, completion_tokens: 50, total_tokens: 1050 },
    });
    await client(harness).chat.completions.create({ model: 'prod-chat-deployment', ...CHAT });
    const expected = catalogPrice(
      { input_tokens: 1000, output_tokens: 50 },
      'gpt-4o-2024-05-13',
      'azure',
    );
    expect(sum(await harness.scrape(), 'tokenfuse_cost_usd_total')).toBeCloseTo(expected, 9);
  });

  it('falls back to the requested name when the response names a model the catalog does not know', async () => {
    const harness = await start({ providers: [declared('openai-fake', 'openai')] });
    llm.enqueue({
      kind: 'usage',
      model: 'gpt-4o-internal-canary',
      usage: { prompt_tokens: 1000, completion_tokens: 100, total_tokens: 1100 },
    });
    await client(harness).chat.completions.create({ model: 'gpt-4o', ...CHAT });
    const expected = catalogPrice({ input_tokens: 1000, output_tokens: 100 }, 'gpt-4o', 'openai');
    const m = await harness.scrape();
    expect(sum(m, 'tokenfuse_cost_usd_total')).toBeCloseTo(expected, 9);
    expect(sum(m, 'tokenfuse_unpriced_total')).toBe(0);
  });

  it('applies an override written for either name, the response model’s first', async () => {
    const harness = await start({
      providers: [declared('openai-fake', 'openai')],
      pricing: {
        overrides: [
          // For the requested name only: still wins over the catalog's snapshot price.
          { model: 'prod-chat', input_mtok: 1, output_mtok: 2 },
          // Both names of the second call match; the response model's override wins.
          { model: 'my-alias', input_mtok: 100, output_mtok: 100 },
          { model: 'my-snapshot-v2', input_mtok: 3, output_mtok: 4 },
        ],
      },
    });
    const openai = client(harness);
    llm.enqueue({
      kind: 'usage',
      model: 'gpt-4o-2024-05-13',
      usage: { prompt_tokens: 1000, completion_tokens: 1000, total_tokens: 2000 },
    });
    await openai.chat.completions.create({ model: 'prod-chat', ...CHAT });
    llm.enqueue({
      kind: 'usage',
      model: 'my-snapshot-v2',
      usage: { prompt_tokens: 1000, completion_tokens: 1000, total_tokens: 2000 },
    });
    await openai.chat.completions.create({ model: 'my-alias', ...CHAT });
    const m = await harness.scrape();
    expect(sum(m, 'tokenfuse_cost_usd_total', { model: 'prod-chat' })).toBeCloseTo(0.003, 12);
    expect(sum(m, 'tokenfuse_cost_usd_total', { model: 'my-alias' })).toBeCloseTo(0.007, 12);
  });
});

describe('a call is priced at its start time', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('prices a stream that starts before a dated price change and ends after it at the old price', async () => {
    const harness = await start({ providers: [declared('openai-fake', 'openai')] });
    // o3 in the bundled catalog: $10/$40 per MTok until 2025-06-10, then $2/$8.
    const before = new Date('2025-06-09T23:59:59.000Z');
    const after = new Date('2025-06-10T00:00:01.000Z');
    // Only Date is faked: the HTTP exchange and the SDK run on real timers.
    vi.useFakeTimers({ toFake: ['Date'], now: before });
    const stream = await client(harness).chat.completions.create({
      model: 'o3',
      ...CHAT,
      stream: true,
      stream_options: { include_usage: true },
    });
    let chunks = 0;
    for await (const _ of stream) {
      if (chunks++ === 0) vi.setSystemTime(after);
    }
    vi.useRealTimers();

    // The fake: prompt = 1 word + 3; completion = 10 reasoning + 5 reply words.
    const usage = { input_tokens: 4, output_tokens: 15 };
    const atStart = catalogPrice(usage, 'o3', 'openai', before);
    const atEnd = catalogPrice(usage, 'o3', 'openai', after);
    expect(atStart).toBeCloseTo(5 * atEnd, 12); // the boundary is real
    expect(sum(await harness.scrape(), 'tokenfuse_cost_usd_total')).toBeCloseTo(atStart, 9);
    expect(harness.spans()[0]!.attributes['tokenfuse.cost.usd']).toBeCloseTo(atStart, 9);
  });

  it('prices another instrumentation’s span at the span’s start time', async () => {
    const harness = await start({});
    // deepseek-chat in the bundled catalog: $0.27 input 00:30–16:30 UTC, $0.135 otherwise.
    const startTime = new Date('2026-01-05T16:25:00Z');
    const endTime = new Date('2026-01-05T16:35:00Z');
    const span = harness.tracerProvider
      .getTracer('other-genai-instrumentation')
      .startSpan('chat deepseek-chat', {
        startTime,
        attributes: {
          'gen_ai.operation.name': 'chat',
          'gen_ai.provider.name': 'deepseek',
          'gen_ai.request.model': 'deepseek-chat',
          'gen_ai.usage.input_tokens': 1_000_000,
          'gen_ai.usage.output_tokens': 1_000,
        },
      });
    span.end(endTime);
    const usage = { input_tokens: 1_000_000, output_tokens: 1_000 };
    const atStart = catalogPrice(usage, 'deepseek-chat', 'deepseek', startTime);
    expect(atStart).not.toBeCloseTo(catalogPrice(usage, 'deepseek-chat', 'deepseek', endTime), 6);
    expect(
      sum(await harness.scrape(), 'tokenfuse_cost_usd_total', { provider: 'deepseek' }),
    ).toBeCloseTo(atStart, 9);
    expect(harness.spans()[0]!.attributes['tokenfuse.cost.usd']).toBeCloseTo(atStart, 9);
  });
});

/** A catalog in genai-prices' own format with one OpenAI model at the given prices (USD/MTok). */
function catalogJson(input: number, output: number): string {
  const providers: Provider[] = [
    {
      id: 'openai',
      name: 'OpenAI',
      api_pattern: 'https://api\\.openai\\.com',
      models: [
        {
          id: 'gpt-4.1',
          match: { equals: 'gpt-4.1' },
          prices: { input_mtok: input, output_mtok: output },
        },
      ],
    },
  ];
  return JSON.stringify(providers);
}

/** A local HTTP server answering every GET with what `serve()` last set. */
async function catalogServer() {
  let status = 200;
  let body = '';
  let requests = 0;
  const server: Server = createServer((_req, res) => {
    requests += 1;
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/prices/data.json`,
    serve(nextStatus: number, nextBody: string) {
      status = nextStatus;
      body = nextBody;
    },
    get requests() {
      return requests;
    },
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}

// The fake's gpt-4.1 chat call: prompt = 1 word + 3 tokens, completion = 5 words.
const GPT41_USAGE = { input_tokens: 4, output_tokens: 5 };

async function callGpt41(harness: Harness): Promise<void> {
  await client(harness).chat.completions.create({ model: 'gpt-4.1', ...CHAT });
}

describe('pricing.catalog and pricing.refresh', () => {
  it('prices from a catalog served over HTTP, and at its new price after a refresh', async () => {
    const server = await catalogServer();
    try {
      server.serve(200, catalogJson(2, 8));
      const startedBefore = Date.now();
      const harness = await start({
        providers: [declared('openai-fake', 'openai')],
        pricing: { catalog: server.url },
      });
      const catalog = harness.tokenfuse.priceCatalog;
      expect(await catalog.ready).toBe(true);
      await callGpt41(harness);
      const first = (4 * 2 + 5 * 8) / 1e6;
      expect(catalogPrice(GPT41_USAGE, 'gpt-4.1', 'openai')).toBeCloseTo(first, 15);
      let m = await harness.scrape();
      expect(sum(m, 'tokenfuse_cost_usd_total')).toBeCloseTo(first, 12);
      const age = sum(m, 'tokenfuse_price_catalog_age_seconds');
      expect(age).toBeGreaterThanOrEqual(0);
      expect(age).toBeLessThanOrEqual((Date.now() - startedBefore) / 1000);

      server.serve(200, catalogJson(3, 12));
      const refreshedBefore = Date.now();
      expect(await catalog.refresh()).toBe(true);
      await callGpt41(harness);
      const second = (4 * 3 + 5 * 12) / 1e6;
      expect(catalogPrice(GPT41_USAGE, 'gpt-4.1', 'openai')).toBeCloseTo(second, 15);
      m = await harness.scrape();
      expect(sum(m, 'tokenfuse_cost_usd_total')).toBeCloseTo(first + second, 12);
      expect(harness.spans()[1]!.attributes['tokenfuse.cost.usd']).toBeCloseTo(second, 12);
      expect(sum(m, 'tokenfuse_price_catalog_age_seconds')).toBeLessThanOrEqual(
        (Date.now() - refreshedBefore) / 1000,
      );
      expect(sum(m, 'tokenfuse_price_catalog_errors_total')).toBe(0);
    } finally {
      await server.close();
    }
  });

  it('refreshes on its timer, off the call path', async () => {
    const server = await catalogServer();
    try {
      server.serve(200, catalogJson(2, 8));
      const harness = await start({
        providers: [declared('openai-fake', 'openai')],
        pricing: { catalog: server.url, refresh: '100ms' },
      });
      const catalog = harness.tokenfuse.priceCatalog;
      await catalog.ready;
      await callGpt41(harness);
      server.serve(200, catalogJson(3, 12));
      // A timed refresh answered before the change may still land first: wait for
      // the one that brings the new prices (each change is applied before listeners run).
      const second = (4 * 3 + 5 * 12) / 1e6;
      while (Math.abs(catalogPrice(GPT41_USAGE, 'gpt-4.1', 'openai') - second) > 1e-15) {
        await new Promise<void>((resolve) => {
          const off = catalog.onChange(() => {
            off();
            resolve();
          });
        });
      }
      await callGpt41(harness);
      expect(sum(await harness.scrape(), 'tokenfuse_cost_usd_total')).toBeCloseTo(
        (4 * 2 + 5 * 8 + 4 * 3 + 5 * 12) / 1e6,
        12,
      );
    } finally {
      await server.close();
    }
  });

  it('keeps the previous prices when a refresh fails, counting each failure and saying so once', async () => {
    const server = await catalogServer();
    try {
      server.serve(200, catalogJson(2, 8));
      const harness = await start({
        providers: [declared('openai-fake', 'openai')],
        pricing: { catalog: server.url },
      });
      const catalog = harness.tokenfuse.priceCatalog;
      await catalog.ready;
      const logs = captureDiag();

      server.serve(500, '{"error":"internal"}');
      expect(await catalog.refresh()).toBe(false);
      await callGpt41(harness);
      let m = await harness.scrape();
      expect(sum(m, 'tokenfuse_cost_usd_total')).toBeCloseTo((4 * 2 + 5 * 8) / 1e6, 12);
      expect(sum(m, 'tokenfuse_price_catalog_errors_total')).toBe(1);
      const warnings = () => logs.filter((l) => l.includes('price catalog'));
      expect(warnings()).toEqual([
        `tokenfuse: cannot load the price catalog ${server.url} (HTTP 500); the prices in use are kept; failures are counted in tokenfuse_price_catalog_errors_total`,
      ]);

      server.serve(200, '{"providers": [truncated');
      expect(await catalog.refresh()).toBe(false);
      server.serve(200, JSON.stringify({ not: 'a catalog' }));
      expect(await catalog.refresh()).toBe(false);
      await callGpt41(harness);
      m = await harness.scrape();
      expect(sum(m, 'tokenfuse_cost_usd_total')).toBeCloseTo((2 * (4 * 2 + 5 * 8)) / 1e6, 12);
      expect(sum(m, 'tokenfuse_price_catalog_errors_total')).toBe(3);
      expect(warnings()).toHaveLength(1);
      // The age is of the data in use, so it keeps growing while refreshes fail.
      expect(catalog.ageSeconds()).toBeGreaterThan(0);
    } finally {
      await server.close();
    }
  });

  it('reads a catalog file at start, so the first call is priced from it', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'tokenfuse-catalog-')), 'data.json');
    writeFileSync(file, catalogJson(5, 7));
    const harness = await start({
      providers: [declared('openai-fake', 'openai')],
      pricing: { catalog: file },
    });
    await callGpt41(harness);
    expect(sum(await harness.scrape(), 'tokenfuse_cost_usd_total')).toBeCloseTo(
      (4 * 5 + 5 * 7) / 1e6,
      12,
    );
    writeFileSync(file, catalogJson(1, 1));
    expect(await harness.tokenfuse.priceCatalog.refresh()).toBe(true);
    await callGpt41(harness);
    expect(sum(await harness.scrape(), 'tokenfuse_cost_usd_total')).toBeCloseTo(
      (4 * 5 + 5 * 7 + 4 + 5) / 1e6,
      12,
    );
  });

  it('gives up on a catalog URL that does not answer in time, keeping the prices in use', async () => {
    const sockets = new Set<import('node:net').Socket>();
    const silent = createServer(() => {}); // reads the request, never answers
    silent.on('connection', (socket) => sockets.add(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const logs = captureDiag();
    try {
      const url = `http://127.0.0.1:${(silent.address() as AddressInfo).port}/data.json`;
      const catalog = new PriceCatalog({ source: url, timeoutMs: 200, apply: () => {} });
      expect(await catalog.ready).toBe(false);
      expect(catalog.errors).toBe(1);
      expect(logs).toEqual([
        `tokenfuse: cannot load the price catalog ${url} (no complete answer within 200 ms); the prices in use are kept; failures are counted in tokenfuse_price_catalog_errors_total`,
      ]);
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });

  it('starts on the bundled prices when the catalog file cannot be read, and says so', async () => {
    const logs = captureDiag();
    const missing = join(tmpdir(), 'tokenfuse-no-such-dir', 'data.json');
    const harness = await start({
      providers: [declared('openai-fake', 'openai')],
      pricing: { catalog: missing },
    });
    expect(await harness.tokenfuse.priceCatalog.ready).toBe(false);
    await callGpt41(harness);
    const m = await harness.scrape();
    expect(sum(m, 'tokenfuse_cost_usd_total')).toBeCloseTo(
      catalogPrice(GPT41_USAGE, 'gpt-4.1', 'openai'),
      12,
    );
    expect(sum(m, 'tokenfuse_price_catalog_errors_total')).toBe(1);
    expect(logs.filter((l) => l.includes('price catalog'))).toHaveLength(1);
    expect(logs[0]).toContain(`cannot load the price catalog file ${missing} (ENOENT`);
  });

  it('rejects a catalog or refresh it cannot use, naming the field and the value', () => {
    const messageOf = (options: TokenfuseOptions) => {
      try {
        resolveConfig(options);
      } catch (err) {
        expect(err).toBeInstanceOf(ConfigError);
        return (err as Error).message;
      }
      throw new Error('expected a ConfigError');
    };
    // URL paths are shown by their shape only: they may carry a token.
    expect(messageOf({ pricing: { catalog: 'ftp://prices.example.com/data.json' } })).toContain(
      `pricing.catalog: expected 'bundled', a file path, or an http(s) URL of a genai-prices catalog JSON, got "ftp://prices.example.com/***" (string)`,
    );
    expect(
      messageOf({ pricing: { catalog: 'https://x.example.com/d.json', refresh: '1 hour' } }),
    ).toContain(
      `pricing.refresh: expected a duration such as '90s', '5m', '1h', '7d', got "1 hour" (string)`,
    );
    expect(messageOf({ pricing: { refresh: '1h' } })).toContain(
      'pricing.refresh: "1h" needs pricing.catalog to be a file path or an http(s) URL (the bundled catalog never changes)',
    );
  });
});

describe('provider-reported cost', () => {
  // OpenRouter answers `usage: { include: true }` with its own figure in `usage.cost`.
  const ROUTER_USAGE = {
    prompt_tokens: 2000,
    completion_tokens: 400,
    total_tokens: 2400,
    cost: 0.0123,
    is_byok: false,
    cost_details: { upstream_inference_cost: null },
  };
  const catalogFigure = () =>
    catalogPrice({ input_tokens: 2000, output_tokens: 400 }, 'openai/gpt-4o', 'openrouter');
  const routerBody = { model: 'openai/gpt-4o', ...CHAT, usage: { include: true } } as never;

  it('records the provider’s figure on the span and beside the catalog’s, counting the catalog’s by default', async () => {
    const harness = await start({ providers: [declared('router', 'openrouter')] });
    llm.enqueue({ kind: 'usage', usage: ROUTER_USAGE });
    await client(harness).chat.completions.create(routerBody);
    const catalog = catalogFigure();
    expect(catalog).not.toBeCloseTo(0.0123, 6);
    const m = await harness.scrape();
    expect(sum(m, 'tokenfuse_cost_usd_total', { provider: 'router' })).toBeCloseTo(catalog, 9);
    expect(sum(m, 'tokenfuse_cost_provider_usd_total', { provider: 'router' })).toBeCloseTo(
      0.0123,
      12,
    );
    expect(sum(m, 'tokenfuse_cost_provider_catalog_usd_total', { provider: 'router' })).toBeCloseTo(
      catalog,
      9,
    );
    const span = harness.spans()[0]!;
    expect(span.attributes['tokenfuse.cost.provider_usd']).toBe(0.0123);
    expect(span.attributes['tokenfuse.cost.usd']).toBeCloseTo(catalog, 9);
  });

  it('counts the provider’s figure in metrics and budgets with pricing.prefer: provider, streams too', async () => {
    const harness = await start({
      providers: [declared('router', 'openrouter')],
      pricing: { prefer: 'provider' },
      budgets: [{ name: 'router-daily', window: 'day', limit: { usd: 10 } }],
    });
    const openai = client(harness);
    llm.enqueue({ kind: 'usage', usage: ROUTER_USAGE });
    await openai.chat.completions.create(routerBody);
    llm.enqueue({ kind: 'usage', usage: { ...ROUTER_USAGE, cost: 0.0077 } });
    const stream = await openai.chat.completions.create({
      ...(routerBody as object),
      stream: true,
      stream_options: { include_usage: true },
    } as never);
    for await (const _ of stream as unknown as AsyncIterable<unknown>);

    const m = await harness.scrape();
    expect(sum(m, 'tokenfuse_cost_usd_total', { provider: 'router' })).toBeCloseTo(0.02, 12);
    expect(sum(m, 'tokenfuse_budget_spent', { budget: 'router-daily', unit: 'usd' })).toBeCloseTo(
      0.02,
      12,
    );
    expect(sum(m, 'tokenfuse_cost_provider_usd_total')).toBeCloseTo(0.02, 12);
    expect(sum(m, 'tokenfuse_cost_provider_catalog_usd_total')).toBeCloseTo(2 * catalogFigure(), 9);
    expect(harness.spans().map((s) => s.attributes['tokenfuse.cost.usd'])).toEqual([
      0.0123, 0.0077,
    ]);
    await harness.tokenfuse.fuses.close();
  });

  it('ignores a cost that is not a number of dollars, and prices from the catalog', async () => {
    const harness = await start({
      providers: [declared('router', 'openrouter')],
      pricing: { prefer: 'provider' },
    });
    llm.enqueue({ kind: 'usage', usage: { ...ROUTER_USAGE, cost: '0.0123' } });
    await client(harness).chat.completions.create(routerBody);
    const m = await harness.scrape();
    expect(sum(m, 'tokenfuse_cost_usd_total')).toBeCloseTo(catalogFigure(), 9);
    expect(sum(m, 'tokenfuse_cost_provider_usd_total')).toBe(0);
    expect(harness.spans()[0]!.attributes['tokenfuse.cost.provider_usd']).toBeUndefined();
  });
});
