/**
 * The behaviour every instrumented SDK shares, registered once per driver
 * (`driver.ts`): exact tokens and dollars on `/metrics` (against `calcPrice` of the
 * catalog for the same usage, model and provider), span attributes, attribution from
 * all three sources, a fuse that blocks with no request sent, errors and aborts that
 * end spans and release reservations, and the stream cut-off. Every call goes
 * through the SDK's real client over HTTP to the fake server.
 */
import { calcPrice } from '@pydantic/genai-prices';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { type FakeOpenAI, startFakeOpenAI } from '../../examples/shared/fake-openai-server.mjs';
import {
  type BudgetExceededError,
  isBudgetExceededError,
  withAttribution,
} from '../../src/index.js';
import type { TokenfuseOptions } from '../../src/types.js';
import { createHarness, type Harness } from '../helpers/harness.js';
import { sum } from '../helpers/prom-text.js';
import type { CallSpec, CatalogUsage, DriverClient, SdkDriver } from './driver.js';

const DEFAULTS = { department: 'platform', project: 'core', environment: 'test' };
const words = (text: string) => text.split(/\s+/).filter(Boolean).length;

/** The error `p` rejects with; fails when it resolves. */
async function rejection(p: PromiseLike<unknown>): Promise<unknown> {
  return Promise.resolve(p).then(
    () => {
      throw new Error('expected the call to fail');
    },
    (err: unknown) => err,
  );
}

/** Registers the shared behaviour suite for one SDK. */
export function behaviourSuite(driver: SdkDriver): void {
  describe(driver.name, () => {
    let fake: FakeOpenAI;
    let h: Harness | undefined;
    let uninstall: (() => void) | undefined;
    const savedEnv = process.env.TOKENFUSE_ENVIRONMENT;

    beforeAll(async () => {
      fake = await startFakeOpenAI();
    });
    afterAll(async () => {
      await fake.close();
    });
    afterEach(async () => {
      vi.useRealTimers();
      if (savedEnv === undefined) delete process.env.TOKENFUSE_ENVIRONMENT;
      else process.env.TOKENFUSE_ENVIRONMENT = savedEnv;
      uninstall?.();
      uninstall = undefined;
      await h?.close();
      h = undefined;
      fake.reset();
    });

    async function setup(
      options: TokenfuseOptions = {},
      defaultHeaders?: Record<string, string>,
    ): Promise<DriverClient> {
      h = await createHarness({
        ...driver.harnessOptions,
        attribution: { defaults: DEFAULTS },
        ...options,
      });
      uninstall = driver.install(h);
      return driver.connect(
        driver.fakeListener === 'bedrock' ? fake.bedrockUrl : fake.url,
        defaultHeaders,
      );
    }

    const modelRequests = () => fake.requests.filter((r) => driver.isModelRequest(r.path)).length;
    const labels = (tags: Record<string, string> = {}) => ({
      ...DEFAULTS,
      ...tags,
      provider: driver.provider,
      model: driver.model,
    });
    const dollars = (usage: CatalogUsage) => {
      const price = calcPrice({ ...usage }, driver.model, { providerId: driver.catalogProvider });
      if (!price) throw new Error(`the catalog has no price for ${driver.model}`);
      return price.total_price;
    };

    /** The exact tokens by type and dollars of `usage`, read from /metrics. */
    async function expectCounted(
      usage: CatalogUsage,
      tags: Record<string, string> = {},
      calls = 1,
    ): Promise<void> {
      const m = await h!.scrape();
      const l = labels(tags);
      const cacheRead = usage.cache_read_tokens ?? 0;
      const cacheWrite = usage.cache_write_tokens ?? 0;
      expect({
        input: sum(m, 'tokenfuse_tokens_total', { ...l, type: 'input' }),
        cache_read: sum(m, 'tokenfuse_tokens_total', { ...l, type: 'cache_read' }),
        cache_write: sum(m, 'tokenfuse_tokens_total', { ...l, type: 'cache_write' }),
        output: sum(m, 'tokenfuse_tokens_total', { ...l, type: 'output' }),
        ok: sum(m, 'tokenfuse_requests_total', { ...l, outcome: 'ok' }),
        unpriced: sum(m, 'tokenfuse_unpriced_total'),
      }).toEqual({
        input: calls * (usage.input_tokens - cacheRead - cacheWrite),
        cache_read: calls * cacheRead,
        cache_write: calls * cacheWrite,
        output: calls * usage.output_tokens,
        ok: calls,
        unpriced: 0,
      });
      expect(sum(m, 'tokenfuse_cost_usd_total', l)).toBeCloseTo(calls * dollars(usage), 12);
    }

    function expectSpan(
      usage: CatalogUsage,
      spec: CallSpec,
      tags: Record<string, string> = {},
      streamed = false,
    ) {
      const spans = h!.spans();
      expect(spans).toHaveLength(1);
      expect(spans[0]!.attributes).toMatchObject({
        'tokenfuse.api': streamed ? (driver.streamApi ?? driver.api) : driver.api,
        'gen_ai.provider.name': driver.providerName,
        'gen_ai.request.model': driver.model,
        'gen_ai.request.max_tokens': spec.maxTokens,
        'gen_ai.usage.input_tokens': usage.input_tokens,
        'gen_ai.usage.output_tokens': usage.output_tokens,
        'tokenfuse.provider': driver.provider,
        'tokenfuse.department': tags.department ?? DEFAULTS.department,
        'tokenfuse.project': tags.project ?? DEFAULTS.project,
        'tokenfuse.usage.estimated': false,
        'tokenfuse.priced': true,
      });
      expect(spans[0]!.attributes['server.address']).toBe(
        (driver.capabilities?.serverAddress ?? true) ? '127.0.0.1' : undefined,
      );
      expect(spans[0]!.attributes['tokenfuse.cost.usd']).toBeCloseTo(dollars(usage), 15);
      expect(spans[0]!.status.code).not.toBe(2);
    }

    const spec: CallSpec = { prompt: 'name three autumn colours', maxTokens: 6 };

    it('counts a plain call: exact tokens and catalog dollars on /metrics, span attributes', async () => {
      const client = await setup();
      const result = await client.call(spec);
      // The fake replies one word per output token.
      expect(words(client.text(result))).toBe(driver.usage(spec).output_tokens);
      await expectCounted(driver.usage(spec));
      expectSpan(driver.usage(spec), spec);
      expect(modelRequests()).toBe(1);
    });

    it('counts a streamed call the same, read through the SDK stream', async () => {
      const client = await setup();
      const { text } = await client.stream(spec);
      expect(words(text)).toBe(driver.usage(spec).output_tokens);
      await expectCounted(driver.usage(spec));
      expectSpan(driver.usage(spec), spec, {}, true);
    });

    it('attributes by withAttribution, per-request X- headers, client headers, config and env defaults', async () => {
      const clientHeaders = driver.capabilities?.clientHeaders ?? true;
      const requestHeaders = driver.capabilities?.requestHeaders ?? true;
      process.env.TOKENFUSE_ENVIRONMENT = 'staging';
      const client = await setup({}, { 'X-Project': 'from-client' });
      await withAttribution({ department: 'marketing' }, () => client.call(spec));
      await client.call({ ...spec, headers: { 'X-Department': 'search' } });
      await withAttribution({ department: 'marketing' }, () =>
        client.call({ ...spec, headers: { 'X-Department': 'support', 'X-Project': 'faq' } }),
      );
      const usage = driver.usage(spec);
      // The environment variable wins over the configured default (`test`). Where the SDK
      // cannot have client-wide or per-request headers read (docs/limits.md), they tag
      // nothing: the context's or the configured default's tags stand.
      const env = { environment: 'staging' };
      const fromClient = clientHeaders ? 'from-client' : DEFAULTS.project;
      const expected = [
        { department: 'marketing', project: fromClient },
        requestHeaders
          ? { department: 'search', project: fromClient }
          : { department: DEFAULTS.department, project: fromClient },
        requestHeaders
          ? { department: 'support', project: 'faq' }
          : { department: 'marketing', project: fromClient },
      ];
      const calls = new Map<string, { department: string; project: string; n: number }>();
      for (const tags of expected) {
        const key = JSON.stringify(tags);
        const seen = calls.get(key) ?? { ...tags, n: 0 };
        seen.n++;
        calls.set(key, seen);
      }
      for (const { n, ...tags } of calls.values()) {
        await expectCounted(usage, { ...env, ...tags }, n);
      }
      // The attribution headers tokenfuse reads are never sent to the provider; headers it
      // cannot read are sent as they are, as documented.
      const sent = fake.requests.filter((r) => driver.isModelRequest(r.path));
      expect(sent).toHaveLength(3);
      expect(sent.map((r) => r.headers['x-department'])).toEqual(
        requestHeaders ? [undefined, undefined, undefined] : [undefined, 'search', 'support'],
      );
      expect(sent.map((r) => r.headers['x-project'])).toEqual([
        clientHeaders ? undefined : 'from-client',
        clientHeaders ? undefined : 'from-client',
        // The call's own X-Project wins over the client's where both are sent.
        requestHeaders ? (clientHeaders ? undefined : 'from-client') : 'faq',
      ]);
      expect(h!.spans().map((s) => s.attributes['tokenfuse.department'])).toEqual(
        expected.map((tags) => tags.department),
      );
    });

    it('blocks with a fuse: nothing is sent, the SDK promise type rejects with BudgetExceededError', async () => {
      vi.useFakeTimers({ toFake: ['Date'], now: new Date('2026-11-23T10:40:00Z') });
      const usage = driver.usage(spec);
      const perCall = usage.input_tokens + usage.output_tokens;
      const client = await setup({
        budgets: [
          {
            name: 'hourly',
            match: { department: 'platform' },
            window: 'hour',
            limit: { tokens: perCall },
          },
        ],
      });
      await client.call(spec);
      expect(modelRequests()).toBe(1);
      const returned = client.call(spec);
      expect(driver.isSdkPromise(returned)).toBe(true);
      const err = (await rejection(returned)) as BudgetExceededError;
      expect(isBudgetExceededError(err)).toBe(true);
      expect({
        budget: err.budget,
        reason: err.reason,
        spent: err.spent,
        limit: err.limit,
      }).toEqual({
        budget: 'hourly',
        reason: 'limit_reached',
        spent: perCall,
        limit: perCall,
      });
      const streamed = await rejection(client.stream(spec));
      expect(isBudgetExceededError(streamed)).toBe(true);
      expect(modelRequests()).toBe(1);
      const m = await h!.scrape();
      expect(sum(m, 'tokenfuse_requests_total', { outcome: 'blocked', budget: 'hourly' })).toBe(2);
      expect(h!.tokenfuse.fuses.get('hourly').reserved.tokens).toBe(0);
    });

    it('ends the span of a 429 as an error and releases its reservation', async () => {
      const client = await setup({
        budgets: [{ name: 'daily', window: 'day', limit: { tokens: 1_000_000 } }],
      });
      fake.enqueue({ kind: 'error', status: 429 });
      const err = await rejection(client.call(spec));
      expect(driver.statusOf(err)).toBe(429);
      const [span] = h!.spans();
      expect(span!.status.code).toBe(2);
      expect(span!.attributes['error.type']).toBe((err as object).constructor.name);
      expect(h!.tokenfuse.fuses.get('daily').reserved).toEqual({ tokens: 0, usd: 0, requests: 0 });
      const m = await h!.scrape();
      expect(sum(m, 'tokenfuse_requests_total', { ...labels(), outcome: 'error' })).toBe(1);
      expect(sum(m, 'tokenfuse_tokens_total', labels())).toBe(0);
    });

    it('ends the span of an aborted call and releases its reservation', async () => {
      const client = await setup({
        budgets: [{ name: 'daily', window: 'day', limit: { tokens: 1_000_000 } }],
      });
      fake.enqueue({ kind: 'hang' });
      const controller = new AbortController();
      const pending = rejection(client.call({ ...spec, signal: controller.signal }));
      await vi.waitFor(() => expect(modelRequests()).toBe(1));
      expect(h!.tokenfuse.fuses.get('daily').reserved.tokens).toBeGreaterThan(0);
      controller.abort();
      await pending;
      await vi.waitFor(() => expect(h!.spans()).toHaveLength(1));
      expect(h!.spans()[0]!.status.code).toBe(2);
      expect(h!.tokenfuse.fuses.get('daily').reserved).toEqual({ tokens: 0, usd: 0, requests: 0 });
    });

    it('ends an abandoned stream, counting what it read, and releases its reservation', async () => {
      const client = await setup({
        budgets: [{ name: 'daily', window: 'day', limit: { tokens: 1_000_000 } }],
      });
      await client.stream(spec, { stopAfter: 2 });
      await vi.waitFor(() => expect(h!.spans()).toHaveLength(1));
      if (driver.capabilities?.abandonOnBreak ?? true) {
        expect(h!.spans()[0]!.attributes['tokenfuse.stream.abandoned']).toBe(true);
      } else {
        // Read to its end below the caller's loop: a whole call, at the provider's usage.
        expect(h!.spans()[0]!.attributes['tokenfuse.stream.abandoned']).toBeUndefined();
        await expectCounted(driver.usage(spec));
      }
      expect(h!.tokenfuse.fuses.get('daily').reserved).toEqual({ tokens: 0, usd: 0, requests: 0 });
    });

    it('cuts off a stream that pushes a cutOffStreams budget over its limit', async () => {
      const long: CallSpec = { ...spec, maxTokens: 100 };
      // A running stream counts its admission's input estimate (a tokenizer's, not the
      // fake's count) plus one token per delta. A limit of half the reply alone is
      // crossed midway whatever that estimate, and nothing is spent at admission, so the
      // call is sent and then cut.
      const reply = driver.usage(long).output_tokens;
      expect(reply).toBeGreaterThan(1);
      const limit = Math.ceil(reply / 2);
      const client = await setup({
        budgets: [{ name: 'hard', window: 'hour', limit: { tokens: limit }, cutOffStreams: true }],
      });
      const err = await rejection(client.stream(long));
      // Sent and streaming when cut, not blocked at admission.
      expect(modelRequests()).toBe(1);
      expect(isBudgetExceededError(err)).toBe(true);
      expect((err as BudgetExceededError).budget).toBe('hard');
      await vi.waitFor(() => expect(h!.spans()).toHaveLength(1));
      expect(h!.spans()[0]!.attributes['tokenfuse.stream.cut_off']).toBe(true);
      expect(h!.tokenfuse.fuses.get('hard').reserved).toEqual({ tokens: 0, usd: 0, requests: 0 });
    });
  });
}
