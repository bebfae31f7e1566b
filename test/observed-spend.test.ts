// Spend seen only in spans: a GenAI span from a source tokenfuse does not wrap (here one
// an app records by hand, following the OpenTelemetry GenAI semantic conventions) is
// priced by the cost span processor and settled into every budget it matches, in memory
// and in the Redis ledger, exactly once. Such a call cannot be blocked, but it moves the
// budget, its thresholds and its fuse, so the next call through the instrumented `openai`
// client of the same department is blocked before any request is sent. Real SDK over
// HTTP against the fake server, real redis-server; the two-process case runs a fixture
// app as a user would (`node --import tokenfuse/register`), so it needs `npm run build`.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { context, propagation, type Span } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { TracerProvider } from '@opentelemetry/sdk-trace';
import { calcPrice } from '@pydantic/genai-prices';
import type OpenAIType from 'openai';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { normalizeBudget } from '../src/budgets/budget.js';
import { resolveConfig } from '../src/config/resolved-config.js';
import type { Reconciler } from '../src/fuses/stores/redis/reconciler.js';
import { RedisFuseStore } from '../src/fuses/stores/redis/store.js';
import {
  type BudgetExceededError,
  ConfigError,
  isBudgetExceededError,
  type ThresholdEvent,
  type TripEvent,
  withAttribution,
} from '../src/index.js';
import type { TokenfuseOptions } from '../src/types.js';
import { rejection, x } from './helpers/budget-calls.js';
import { LOCAL_RELAY, useFakeServerHarness } from './helpers/fake-server-harness.js';
import type { createHarness, Harness } from './helpers/harness.js';
import { App, childEnv } from './helpers/processes.js';
import { sum } from './helpers/prom-text.js';
import { useRedisServer } from './helpers/redis.js';

const fake = useFakeServerHarness();
const { llm } = fake;
const redis = useRedisServer();
let h: Harness | undefined;
let openai: OpenAIType;
let prefixes = 0;
const freshPrefix = () => `tf-observed-${process.pid}-${++prefixes}:`;

/** The hand-made span's usage: $0.12 at the catalog's claude-sonnet-4-5 prices. */
const INPUT = 20_000;
const OUTPUT = 4_000;
const catalogUsd = (input = INPUT, output = OUTPUT) => {
  const price = calcPrice({ input_tokens: input, output_tokens: output }, 'claude-sonnet-4-5', {
    providerId: 'anthropic',
  });
  if (price === null) throw new Error('the catalog has no anthropic/claude-sonnet-4-5');
  return price.total_price;
};

/** $0.10 a day for marketing: one hand-made span ($0.12) spends all of it. */
const MARKETING_DAILY = {
  name: 'marketing-daily',
  match: { department: 'marketing' },
  window: 'day' as const,
  limit: { usd: 0.1 },
};

async function setup(options: TokenfuseOptions, extra?: Parameters<typeof createHarness>[1]) {
  h = await fake.harness({ providers: [LOCAL_RELAY], ...options }, extra);
  openai = fake.client(h);
  return h;
}

/**
 * Records the span an app writes by hand around a call of a client tokenfuse does not
 * wrap, following the GenAI semantic conventions, with its department in W3C baggage
 * (as an upstream service would send it). Usage is set once the "call" has answered.
 */
function recordHandMadeSpan(harness: Harness, department = 'marketing', input = INPUT): void {
  const baggage = propagation.createBaggage({ 'tokenfuse.department': { value: department } });
  context.with(propagation.setBaggage(context.active(), baggage), () => {
    const span = harness.tracerProvider
      .getTracer('hand-made-genai')
      .startSpan('chat claude-sonnet-4-5', {
        attributes: {
          'gen_ai.operation.name': 'chat',
          'gen_ai.provider.name': 'anthropic',
          'gen_ai.request.model': 'claude-sonnet-4-5',
        },
      });
    span.setAttribute('gen_ai.response.model', 'claude-sonnet-4-5-20250929');
    span.setAttribute('gen_ai.usage.input_tokens', input);
    span.setAttribute('gen_ai.usage.output_tokens', OUTPUT);
    span.end();
  });
}

const marketing = <T>(fn: () => Promise<T>) => withAttribution({ department: 'marketing' }, fn);

describe('a hand-made GenAI span, with the in-memory ledger', () => {
  it('moves the matching budget exactly, fires its thresholds and trip, and the next wrapped call is blocked unsent', async () => {
    await setup({ budgets: [MARKETING_DAILY] });
    const thresholds: ThresholdEvent[] = [];
    const trips: TripEvent[] = [];
    h!.tokenfuse.fuses.onThreshold((e) => thresholds.push(e));
    h!.tokenfuse.fuses.onTrip((e) => trips.push(e));

    recordHandMadeSpan(h!);

    const fuse = await h!.tokenfuse.fuses.read('marketing-daily');
    expect(Math.abs(fuse.spent.usd - catalogUsd())).toBeLessThan(1e-9);
    expect(fuse.spent.tokens).toBe(INPUT + OUTPUT);
    expect(fuse.spent.requests).toBe(1);
    expect(fuse.state).toBe('open');
    expect(thresholds.map((e) => [e.budget, e.threshold, e.unit])).toEqual([
      ['marketing-daily', 0.5, 'usd'],
      ['marketing-daily', 0.75, 'usd'],
      ['marketing-daily', 0.9, 'usd'],
      ['marketing-daily', 1, 'usd'],
    ]);
    expect(trips.map((e) => [e.budget, e.unit, e.limit])).toEqual([
      ['marketing-daily', 'usd', 0.1],
    ]);

    const err = (await rejection(
      marketing(() => openai.chat.completions.create(x(1))),
    )) as BudgetExceededError;
    expect(llm.requests).toHaveLength(0);
    expect(isBudgetExceededError(err)).toBe(true);
    expect([err.budget, err.reason, err.unit, err.limit]).toEqual([
      'marketing-daily',
      'limit_reached',
      'usd',
      0.1,
    ]);
    expect(Math.abs(err.spent - catalogUsd())).toBeLessThan(1e-9);

    // Another department's calls are not matched.
    await withAttribution({ department: 'support' }, () => openai.chat.completions.create(x(1)));
    expect(llm.requests).toHaveLength(1);

    const m = await h!.scrape();
    const observed = { department: 'marketing', provider: 'anthropic', model: 'claude-sonnet-4-5' };
    expect(sum(m, 'tokenfuse_requests_total', { ...observed, outcome: 'observed' })).toBe(1);
    expect(sum(m, 'tokenfuse_requests_total', { ...observed, outcome: 'ok' })).toBe(0);
    expect(Math.abs(sum(m, 'tokenfuse_cost_usd_total', observed) - catalogUsd())).toBeLessThan(
      1e-9,
    );
    const fuseLabels = { budget: 'marketing-daily', window: 'day' };
    expect(sum(m, 'tokenfuse_fuse_trips_total', fuseLabels)).toBe(1);
    expect(sum(m, 'tokenfuse_fuse_state', fuseLabels)).toBe(2);
    expect(
      Math.abs(sum(m, 'tokenfuse_budget_spent', { ...fuseLabels, unit: 'usd' }) - catalogUsd()),
    ).toBeLessThan(1e-9);
    expect(
      sum(m, 'tokenfuse_requests_total', {
        department: 'marketing',
        outcome: 'blocked',
        budget: 'marketing-daily',
      }),
    ).toBe(1);
  });

  it("takes the environment from the span's resource, and a tag attribute on the span over its baggage", async () => {
    await setup({
      budgets: [
        {
          name: 'ops-staging',
          match: { department: 'ops', environment: 'staging' },
          window: 'day',
          limit: { usd: 1 },
        },
      ],
    });
    // An app's own tracer provider, whose resource names the environment.
    const withResource = new TracerProvider({
      resource: resourceFromAttributes({ 'deployment.environment.name': 'staging' }),
      spanProcessors: [h!.tokenfuse.spanProcessor],
    });
    const baggage = propagation.createBaggage({ 'tokenfuse.department': { value: 'marketing' } });
    context.with(propagation.setBaggage(context.active(), baggage), () => {
      const span = withResource.getTracer('hand-made-genai').startSpan('chat', {
        attributes: {
          'gen_ai.operation.name': 'chat',
          'gen_ai.provider.name': 'anthropic',
          'gen_ai.request.model': 'claude-sonnet-4-5',
          'gen_ai.usage.input_tokens': INPUT,
          'gen_ai.usage.output_tokens': OUTPUT,
          // As a call's X-Department header: wins over the baggage.
          'tokenfuse.department': 'ops',
        },
      });
      span.end();
    });
    const fuse = await h!.tokenfuse.fuses.read('ops-staging');
    expect(Math.abs(fuse.spent.usd - catalogUsd())).toBeLessThan(1e-9);
    expect(fuse.spent.requests).toBe(1);
  });

  it('leaves the span out of a budget with observedSpend: ignore, and still counts it on /metrics', async () => {
    await setup({
      budgets: [
        { ...MARKETING_DAILY, observedSpend: 'ignore' },
        { ...MARKETING_DAILY, name: 'marketing-daily-all', observedSpend: 'count' },
      ],
    });
    const thresholds: ThresholdEvent[] = [];
    h!.tokenfuse.fuses.onThreshold((e) => thresholds.push(e));
    recordHandMadeSpan(h!);

    const ignoring = await h!.tokenfuse.fuses.read('marketing-daily');
    expect(ignoring.spent).toEqual({ tokens: 0, usd: 0, requests: 0 });
    expect(ignoring.state).toBe('closed');
    const counting = await h!.tokenfuse.fuses.read('marketing-daily-all');
    expect(Math.abs(counting.spent.usd - catalogUsd())).toBeLessThan(1e-9);
    expect(new Set(thresholds.map((e) => e.budget))).toEqual(new Set(['marketing-daily-all']));

    const m = await h!.scrape();
    expect(
      sum(m, 'tokenfuse_requests_total', { department: 'marketing', outcome: 'observed' }),
    ).toBe(1);
  });

  it('a budget that ignores observed spend lets the next wrapped call through', async () => {
    await setup({ budgets: [{ ...MARKETING_DAILY, observedSpend: 'ignore' }] });
    recordHandMadeSpan(h!);
    await marketing(() => openai.chat.completions.create(x(1)));
    expect(llm.requests).toHaveLength(1);
    const fuse = await h!.tokenfuse.fuses.read('marketing-daily');
    // Only the wrapped call: 5 tokens of gpt-4.1.
    expect(fuse.spent.tokens).toBe(5);
    expect(fuse.spent.requests).toBe(1);
  });

  it('settles a span that ends recorded but unsampled (the sampler said RECORD): it reaches the processor', async () => {
    const { SamplingDecision } = await import('@opentelemetry/sdk-trace');
    await setup(
      { budgets: [MARKETING_DAILY] },
      {
        sampler: {
          shouldSample: () => ({ decision: SamplingDecision.RECORD }),
          toString: () => 'RecordOnly',
        },
      },
    );
    recordHandMadeSpan(h!);
    // Not exported (the exporter sees sampled spans only), but priced and settled.
    expect(h!.spans()).toHaveLength(0);
    const fuse = await h!.tokenfuse.fuses.read('marketing-daily');
    expect(Math.abs(fuse.spent.usd - catalogUsd())).toBeLessThan(1e-9);
  });

  it('a span the sampler drops never reaches the processor: its spend is not known', async () => {
    const { AlwaysOffSampler } = await import('@opentelemetry/sdk-trace');
    await setup({ budgets: [MARKETING_DAILY] }, { sampler: new AlwaysOffSampler() });
    recordHandMadeSpan(h!);
    const fuse = await h!.tokenfuse.fuses.read('marketing-daily');
    expect(fuse.spent).toEqual({ tokens: 0, usd: 0, requests: 0 });
    // Calls through the wrapped client are exact whatever the sampler.
    await marketing(() => openai.chat.completions.create(x(1)));
    expect((await h!.tokenfuse.fuses.read('marketing-daily')).spent.tokens).toBe(5);
  });
});

describe('a call seen both by our wrapper and by a foreign GenAI span moves the budget once', () => {
  const budgets = [
    {
      name: 'marketing-tokens',
      match: { department: 'marketing' },
      window: 'day' as const,
      limit: { tokens: 1000 },
    },
  ];

  it('when the foreign span wraps our call', async () => {
    await setup({ budgets });
    const tracer = h!.tracerProvider.getTracer('some-sdk-own-genai-spans');
    await marketing(() =>
      tracer.startActiveSpan(
        'chat gpt-4.1',
        { attributes: { 'gen_ai.operation.name': 'chat', 'gen_ai.request.model': 'gpt-4.1' } },
        async (outer: Span) => {
          await openai.chat.completions.create(x(3));
          outer.setAttribute('gen_ai.usage.input_tokens', 4);
          outer.setAttribute('gen_ai.usage.output_tokens', 3);
          outer.end();
        },
      ),
    );
    expect(h!.spans()).toHaveLength(2);
    const fuse = await h!.tokenfuse.fuses.read('marketing-tokens');
    expect(fuse.spent).toMatchObject({ tokens: 7, requests: 1 });
    const m = await h!.scrape();
    expect(sum(m, 'tokenfuse_requests_total', { department: 'marketing' })).toBe(1);
    expect(sum(m, 'tokenfuse_requests_total', { outcome: 'observed' })).toBe(0);
  });

  it('when the foreign span is inside our call (made by the fetch the SDK calls)', async () => {
    await setup({ budgets });
    const tracer = h!.tracerProvider.getTracer('fetch-level-genai');
    // A GenAI span started under the active context of the wrapped call.
    const fetchWithSpan: typeof fetch = async (input, init) => {
      const span = tracer.startSpan('chat gpt-4.1', {
        attributes: { 'gen_ai.operation.name': 'chat', 'gen_ai.request.model': 'gpt-4.1' },
      });
      const res = await fetch(input, init);
      span.setAttribute('gen_ai.usage.input_tokens', 4);
      span.setAttribute('gen_ai.usage.output_tokens', 3);
      span.end();
      return res;
    };
    const client = fake.client(h!, { fetch: fetchWithSpan });
    await marketing(() => client.chat.completions.create(x(3)));
    const spans = h!.spans();
    expect(spans).toHaveLength(2);
    const inner = spans.find((s) => s.instrumentationScope.name === 'fetch-level-genai')!;
    const ours = spans.find((s) => s !== inner)!;
    expect(inner.parentSpanContext?.spanId).toBe(ours.spanContext().spanId);
    const fuse = await h!.tokenfuse.fuses.read('marketing-tokens');
    expect(fuse.spent).toMatchObject({ tokens: 7, requests: 1 });
  });
});

describe('with the Redis ledger', () => {
  it('settles observed spend once per id, however often it is written', async () => {
    const store = new RedisFuseStore(
      resolveConfig(
        { ledger: { store: 'redis', url: redis.url, keyPrefix: freshPrefix(), timeoutMs: 5000 } },
        { env: {} },
      ).ledger,
    );
    try {
      const budget = normalizeBudget({ name: 'b', window: 'day', limit: { tokens: 100 } });
      const request = {
        now: Date.now(),
        budgets: [budget],
        id: 'span-1',
        actual: { tokens: 60, usd: 0.5, requests: 1 },
      };
      const first = await store.observe(request);
      expect(first?.states[0]?.spent).toEqual({ tokens: 60, usd: 0.5, requests: 1 });
      expect(first?.crossed).toEqual([[0.5]]);
      // A retry of the same write (its reply was lost) adds nothing.
      expect(await store.observe(request)).toBeUndefined();
      const other = await store.observe({ ...request, id: 'span-2' });
      expect(other?.states[0]?.spent).toEqual({ tokens: 120, usd: 1, requests: 2 });
      expect(other?.transitions).toEqual([
        { budget: 'b', from: 'closed', to: 'open', cause: 'trip' },
      ]);
    } finally {
      await store.close();
    }
  });

  it('observed spend whose write timed out on a hung Redis is written once when it answers again', async () => {
    await setup({
      budgets: [{ ...MARKETING_DAILY, limit: { usd: 100 } }],
      ledger: { store: 'redis', url: redis.url, keyPrefix: freshPrefix(), timeoutMs: 50 },
    });
    await marketing(() => openai.chat.completions.create(x(1))); // 5 tokens, in Redis
    expect((await h!.tokenfuse.fuses.read('marketing-daily')).spent.tokens).toBe(5);
    redis.pause();
    try {
      // Its SETTLE is sent and times out; it runs when Redis wakes, and the
      // reconciliation retries it under the same id.
      recordHandMadeSpan(h!);
      const store = (h!.tokenfuse.fuses as unknown as { store: { reconciler: Reconciler } }).store;
      await vi.waitFor(() => expect(store.reconciler.degraded).toBe(true), { timeout: 5000 });
      redis.resume();
      await vi.waitFor(
        () =>
          expect([store.reconciler.degraded, store.reconciler.unwritten()]).toEqual([false, false]),
        { timeout: 10_000, interval: 50 },
      );
    } finally {
      redis.resume();
    }
    const fuse = await h!.tokenfuse.fuses.read('marketing-daily');
    expect([fuse.spent.tokens, fuse.spent.requests]).toEqual([5 + INPUT + OUTPUT, 2]);
    const m = await h!.scrape();
    expect(sum(m, 'tokenfuse_ledger_errors_total', { operation: 'settle' })).toBeGreaterThan(0);
  });

  describe('across two processes', () => {
    let dir: string;
    beforeAll(() => {
      dir = mkdtempSync(join(tmpdir(), 'tokenfuse-observed-'));
    });
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it('a span recorded in one process blocks the next wrapped call of the department in another', {
      timeout: 120_000,
    }, async () => {
      const prefix = freshPrefix();
      const config = join(dir, 'observed.yaml');
      writeFileSync(
        config,
        [
          'metrics: { exporter: none }',
          'budgets:',
          '  - { name: marketing-daily, match: { department: marketing }, window: day, limit: { usd: 0.1 } }',
          'ledger:',
          '  store: redis',
          `  keyPrefix: "${prefix}"`,
          '  timeoutMs: 5000',
          '',
        ].join('\n'),
      );
      const app = new App(
        ['--import', 'tokenfuse/register', 'test/fixtures/apps/observed-app.mjs'],
        childEnv({ TOKENFUSE_CONFIG: config, TOKENFUSE_LEDGER_URL: redis.url }),
      );
      let line: string;
      try {
        line = await app.firstLine(60_000);
        const { code } = await app.exited;
        expect(code, app.stderr).toBe(0);
      } finally {
        await app.kill();
      }
      // The process that settled it saw the crossings (once fleet-wide) and the trip.
      expect(JSON.parse(line).events).toEqual([
        { threshold: 0.5, budget: 'marketing-daily' },
        { threshold: 0.75, budget: 'marketing-daily' },
        { threshold: 0.9, budget: 'marketing-daily' },
        { threshold: 1, budget: 'marketing-daily' },
        { trip: 'marketing-daily', unit: 'usd' },
      ]);

      // This process shares the ledger and never saw the span.
      await setup({
        budgets: [MARKETING_DAILY],
        ledger: { store: 'redis', url: redis.url, keyPrefix: prefix, timeoutMs: 5000 },
      });
      const fuse = await h!.tokenfuse.fuses.read('marketing-daily');
      expect(Math.abs(fuse.spent.usd - catalogUsd())).toBeLessThan(1e-9);
      expect(fuse.spent.requests).toBe(1);
      expect(fuse.state).toBe('open');
      const err = (await rejection(
        marketing(() => openai.chat.completions.create(x(1))),
      )) as BudgetExceededError;
      expect(isBudgetExceededError(err)).toBe(true);
      expect([err.budget, err.reason]).toEqual(['marketing-daily', 'limit_reached']);
      expect(llm.requests).toHaveLength(0);
    });
  });
});

describe('configuration', () => {
  it('names a bad observedSpend value and where it is', () => {
    expect(() =>
      resolveConfig(
        { budgets: [{ ...MARKETING_DAILY, observedSpend: 'skip' as 'count' }] },
        { env: {} },
      ),
    ).toThrow(ConfigError);
    expect(() =>
      resolveConfig(
        { budgets: [{ ...MARKETING_DAILY, observedSpend: 'skip' as 'count' }] },
        { env: {} },
      ),
    ).toThrow(/budgets\[0\]\.observedSpend.*'count' or 'ignore'/);
  });
});
