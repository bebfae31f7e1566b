// The shared Redis ledger: one budget for a fleet. Runs against a real redis-server
// (test/helpers/redis.ts) and the local fake OpenAI server; the multi-process cases run
// the fixture app as a user would (`node --import tokenfuse/register`, config file), so
// they need `npm run build` first.
//
// Token arithmetic (fake server rules): a one-word user message is 1 + 3 = 4 prompt
// tokens; the reply has exactly max_tokens words. A call with content 'x' and
// max_tokens N uses 4 + N tokens and reserves 3 + 3 × 2 + N = 9 + N.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type OpenAIType from 'openai';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { calendarWindow } from '../src/budgets/window.js';
import { resolveConfig } from '../src/config/resolved-config.js';
import {
  type BudgetExceededError,
  ConfigError,
  createTokenfuse,
  isBlockedCallError,
  isBudgetExceededError,
  isLedgerUnavailableError,
  LedgerUnavailableError,
  type StateChangeEvent,
  type ThresholdEvent,
  type Tokenfuse,
  withAttribution,
} from '../src/index.js';
import { chatAdapter } from '../src/instrumentation/openai/chat.js';
import { estimateRequest } from '../src/instrumentation/sdk-adapter.js';
import type { TokenfuseOptions } from '../src/types.js';
import { MARKETING_HOURLY_30, rejection, x } from './helpers/budget-calls.js';
import { LOCAL_RELAY, useFakeServerHarness } from './helpers/fake-server-harness.js';
import type { Harness } from './helpers/harness.js';
import { App, childEnv } from './helpers/processes.js';
import { sum } from './helpers/prom-text.js';
import { useRedisServer } from './helpers/redis.js';

const redis = useRedisServer();
const { llm, harness, client } = useFakeServerHarness();
let h: Harness | undefined;
let openai: OpenAIType;
let prefixes = 0;
/** A key prefix of its own for each test: nothing is shared by accident. */
const freshPrefix = () => `tf-test-${process.pid}-${++prefixes}:`;

afterEach(() => {
  vi.useRealTimers();
  redis.resume();
  h = undefined;
});

type Store = 'memory' | 'redis';

function ledger(store: Store, extra: Partial<NonNullable<TokenfuseOptions['ledger']>> = {}) {
  return store === 'memory'
    ? {}
    : { ledger: { store, url: redis.url, keyPrefix: freshPrefix(), timeoutMs: 1000, ...extra } };
}

async function setup(store: Store, options: TokenfuseOptions, at?: string): Promise<Harness> {
  if (at) vi.useFakeTimers({ toFake: ['Date'], now: new Date(at) });
  h = await harness({ providers: [LOCAL_RELAY], ...ledger(store), ...options });
  openai = client(h);
  return h;
}

/** The fuse as stored (a Redis read for the shared ledger: after every settlement sent before it). */
const read = (name: string) => h!.tokenfuse.fuses.read(name);

const marketing = <T>(fn: () => Promise<T>) => withAttribution({ department: 'marketing' }, fn);

/** The Redis client inside a shared store, to wait for it to notice a dead server. */
function storeClient(t: Tokenfuse): { status: string } {
  return (t.fuses as unknown as { store: { redis: { status: string } } }).store.redis;
}

describe.each(['memory', 'redis'] as const)('the same behaviour with the %s store', (store) => {
  it('blocks at the limit with the exact error, before any request', async () => {
    await setup(
      store,
      {
        budgets: [MARKETING_HOURLY_30],
      },
      '2026-11-23T10:40:00Z',
    );
    await marketing(() => openai.chat.completions.create(x(10))); // 14
    await marketing(() => openai.chat.completions.create(x(12))); // 30 → limit reached
    const err = (await rejection(
      marketing(() => openai.chat.completions.create(x(1))),
    )) as BudgetExceededError;
    expect(llm.requests).toHaveLength(2);
    expect(isBudgetExceededError(err)).toBe(true);
    expect({ ...err, message: err.message }).toMatchObject({
      name: 'BudgetExceededError',
      status: 429,
      code: 'budget_exceeded',
      budget: 'marketing-hourly',
      reason: 'limit_reached',
      window: 'hour',
      unit: 'tokens',
      spent: 30,
      reserved: 0,
      limit: 30,
      retryAfterSeconds: 20 * 60,
      message:
        'tokenfuse: budget "marketing-hourly" blocked this call before it was sent: 30 of 30 tokens spent this hour; retry after 1200s',
    });
    const fuse = await read('marketing-hourly');
    expect([fuse.state, fuse.spent, fuse.reserved, fuse.trips]).toEqual([
      'open',
      { tokens: 30, usd: expect.closeTo(192e-6, 12), requests: 2 },
      { tokens: 0, usd: 0, requests: 0 },
      1,
    ]);
    const m = await h!.scrape();
    const labels = { budget: 'marketing-hourly', window: 'hour', department: 'marketing' };
    expect(sum(m, 'tokenfuse_fuse_state', labels)).toBe(2);
    expect(sum(m, 'tokenfuse_budget_spent', { ...labels, unit: 'tokens' })).toBe(30);
  });

  it('closes the fuse when a new window begins', async () => {
    await setup(
      store,
      { budgets: [{ name: 'h', window: 'hour', limit: { tokens: 10 } }] },
      '2026-11-23T10:59:00Z',
    );
    const resets: string[] = [];
    h!.tokenfuse.fuses.onReset((e) => resets.push(e.cause));
    await openai.chat.completions.create(x(6)); // 10
    await rejection(openai.chat.completions.create(x(1)));
    expect((await read('h')).state).toBe('open');
    vi.setSystemTime(new Date('2026-11-23T11:00:00Z'));
    await openai.chat.completions.create(x(1));
    const fuse = await read('h');
    expect(resets).toEqual(['window']);
    expect(fuse.state).toBe('closed');
    expect(fuse.spent.tokens).toBe(5);
    expect(fuse.windowStart.toISOString()).toBe('2026-11-23T11:00:00.000Z');
  });

  it('open → half-open after the cool-down, probes, closed when they leave room, open again when one overspends', async () => {
    await setup(
      store,
      {
        budgets: [
          {
            name: 'r',
            window: { rolling: '10m' },
            limit: { tokens: 20 },
            cooldown: '1m',
            probes: 2,
          },
        ],
      },
      '2026-11-23T10:00:00Z',
    );
    const changes: string[] = [];
    h!.tokenfuse.fuses.onStateChange((e: StateChangeEvent) => changes.push(`${e.from}->${e.to}`));
    await openai.chat.completions.create(x(16)); // 20 → open
    expect((await read('r')).state).toBe('open');

    vi.setSystemTime(new Date('2026-11-23T10:01:30Z')); // cool-down over, spend still in the window
    expect(
      ((await rejection(openai.chat.completions.create(x(1)))) as BudgetExceededError).reason,
    ).toBe('limit_reached');

    vi.setSystemTime(new Date('2026-11-23T10:11:00Z')); // the spend has rolled out
    llm.enqueue({ kind: 'hang' });
    llm.enqueue({ kind: 'hang' });
    const controller = new AbortController();
    const p1 = openai.chat.completions
      .create(x(1), { signal: controller.signal })
      .catch((e: unknown) => e);
    const p2 = openai.chat.completions
      .create(x(1), { signal: controller.signal })
      .catch((e: unknown) => e);
    const third = (await rejection(openai.chat.completions.create(x(1)))) as BudgetExceededError;
    expect(third.reason).toBe('probing');
    expect((await read('r')).state).toBe('half_open');
    await vi.waitFor(() => expect(llm.requests).toHaveLength(3));
    controller.abort();
    await Promise.all([p1, p2]);
    expect((await read('r')).state).toBe('closed');

    await openai.chat.completions.create(x(20)); // 24 > 20
    const fuse = await read('r');
    expect([fuse.state, fuse.trips]).toEqual(['open', 2]);
    expect(changes).toEqual([
      'closed->open',
      'open->half_open',
      'half_open->closed',
      'closed->open',
    ]);
  });

  it('200 concurrent calls racing for the last 1% overshoot by at most one reservation', async () => {
    const limit = 100_000;
    await setup(store, { budgets: [{ name: 'race', window: 'day', limit: { tokens: limit } }] });
    llm.enqueue({
      kind: 'usage',
      usage: { prompt_tokens: 98_000, completion_tokens: 1_000, total_tokens: 99_000 },
    });
    await openai.chat.completions.create(x(1));
    expect((await read('race')).spent.tokens).toBe(99_000);
    const results = await Promise.allSettled(
      Array.from({ length: 200 }, () => openai.chat.completions.create(x(50))),
    );
    const admitted = results.filter((r) => r.status === 'fulfilled').length;
    const blocked = results.filter(
      (r) => r.status === 'rejected' && isBudgetExceededError(r.reason),
    ).length;
    expect(admitted + blocked).toBe(200);
    // All 200 are decided before any settles: ceil(1000 / 59) get through.
    expect(admitted).toBe(Math.ceil((limit - 99_000) / 59));
    const fuse = await read('race');
    expect(fuse.spent.tokens).toBe(99_000 + admitted * 54);
    expect(fuse.reserved.tokens).toBe(0);
    expect(llm.requests).toHaveLength(1 + admitted);
  });

  it('isolate() blocks until reset()', async () => {
    await setup(store, { budgets: [{ name: 'b', window: 'day', limit: { usd: 100 } }] });
    await h!.tokenfuse.fuses.isolate('b');
    const err = (await rejection(openai.chat.completions.create(x(1)))) as BudgetExceededError;
    expect(err.reason).toBe('isolated');
    expect((await h!.tokenfuse.fuses.snapshot()).map((f) => [f.state, f.isolated])).toEqual([
      ['open', true],
    ]);
    await h!.tokenfuse.fuses.reset('b');
    await openai.chat.completions.create(x(1));
    expect((await read('b')).state).toBe('closed');
    expect(llm.requests).toHaveLength(1);
  });
});

describe('async admission keeps the SDK promise intact (Redis store)', () => {
  const budgets = [{ name: 'all', window: 'day' as const, limit: { tokens: 1_000_000 } }];

  it('await, .withResponse(), .asResponse(), parse(), streams, responses and embeddings', async () => {
    await setup('redis', { budgets });
    const plain = await openai.chat.completions.create(x(2));
    expect(plain.usage?.total_tokens).toBe(6);

    const { data, response, request_id } = await openai.chat.completions
      .create(x(3))
      .withResponse();
    expect(data.usage?.total_tokens).toBe(7);
    expect(response.status).toBe(200);
    expect(request_id).toBeTruthy();

    const raw = await openai.chat.completions.create(x(4)).asResponse();
    expect(((await raw.json()) as { usage: { total_tokens: number } }).usage.total_tokens).toBe(8);

    // parse() refuses truncated output, so no max_tokens: the fake replies with 5 words.
    const parsed = await openai.chat.completions.parse({
      model: 'gpt-4.1',
      messages: [{ role: 'user', content: 'x' }],
    });
    expect(parsed.choices[0]?.message.parsed).toBeNull();
    expect(parsed.usage?.total_tokens).toBe(9);

    const stream = await openai.chat.completions.create({ ...x(6), stream: true });
    let words = 0;
    for await (const chunk of stream) if (chunk.choices[0]?.delta?.content) words++;
    expect(words).toBe(6);

    const resp = await openai.responses.create({
      model: 'gpt-4.1',
      input: 'x',
      max_output_tokens: 7,
    });
    expect(resp.usage?.output_tokens).toBe(7);

    const emb = await openai.embeddings.create({ model: 'text-embedding-3-small', input: 'a b' });
    expect(emb.data).toHaveLength(1);

    const spans = h!.spans();
    expect(spans).toHaveLength(7);
    expect(spans.map((s) => s.attributes['gen_ai.usage.output_tokens'])).toEqual([
      2, 3, 4, 5, 6, 7, 0,
    ]);
    expect(spans.every((s) => s.attributes['tokenfuse.usage.estimated'] === false)).toBe(true);
    const fuse = await read('all');
    const used = spans.reduce(
      (n, s) =>
        n +
        Number(s.attributes['gen_ai.usage.input_tokens']) +
        Number(s.attributes['gen_ai.usage.output_tokens']),
      0,
    );
    expect(fuse.spent).toMatchObject({ tokens: used, requests: 7 });
    expect(fuse.reserved).toEqual({ tokens: 0, usd: 0, requests: 0 });
  });

  it('a blocked call rejects every way the SDK promise is used, and sends nothing', async () => {
    await setup('redis', { budgets: [{ name: 'one', window: 'day', limit: { requests: 1 } }] });
    await openai.chat.completions.create(x(1));
    const ways: Array<() => Promise<unknown>> = [
      () => openai.chat.completions.create(x(1)),
      () => openai.chat.completions.create(x(1)).withResponse(),
      () => openai.chat.completions.create(x(1)).asResponse(),
      () => openai.chat.completions.parse(x(1)),
      () => openai.chat.completions.create({ ...x(1), stream: true }),
      () => openai.responses.create({ model: 'gpt-4.1', input: 'x' }),
      () => openai.embeddings.create({ model: 'text-embedding-3-small', input: 'a' }),
    ];
    for (const way of ways) {
      const err = (await rejection(way())) as BudgetExceededError;
      expect(isBudgetExceededError(err)).toBe(true);
      expect([err.budget, err.unit, err.reason]).toEqual(['one', 'requests', 'limit_reached']);
    }
    expect(llm.requests).toHaveLength(1);
    const m = await h!.scrape();
    expect(sum(m, 'tokenfuse_requests_total', { outcome: 'blocked', budget: 'one' })).toBe(7);
  });
});

describe('fleet-wide events', () => {
  it('a threshold fires once across processes sharing the ledger, in the one that crossed it', async () => {
    const options: TokenfuseOptions = {
      budgets: [{ name: 'shared', window: 'day', limit: { tokens: 100 }, thresholds: [0.5, 0.75] }],
      ...ledger('redis'),
    };
    const a = createTokenfuse(options);
    const b = createTokenfuse(options);
    try {
      const seen: string[] = [];
      a.fuses.onThreshold((e: ThresholdEvent) => seen.push(`a:${e.threshold}:${e.spent}`));
      b.fuses.onThreshold((e: ThresholdEvent) => seen.push(`b:${e.threshold}:${e.spent}`));
      const spend = async (t: Tokenfuse, tokens: number) => {
        const r = await t.fuses.admit({
          tags: {},
          provider: 'openai',
          model: 'gpt-4.1',
          ...estimateRequest(chatAdapter, x(1)),
        });
        if (!('admitted' in r)) throw new Error('expected admission');
        t.fuses.settle(r.admitted, { tokens, usd: 0 });
        await t.fuses.read('shared'); // after the settlement
      };
      await spend(a, 60); // 60: crosses 0.5, in a
      await spend(b, 10); // 70: nothing new
      await spend(b, 10); // 80: crosses 0.75, in b
      await spend(a, 5); // 85: nothing new
      expect(seen).toEqual(['a:0.5:60', 'b:0.75:80']);
      expect((await a.fuses.read('shared')).spent.tokens).toBe(85);
    } finally {
      await a.fuses.close();
      await b.fuses.close();
    }
  });
});

describe('processes sharing one budget', { timeout: 120_000 }, () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'tokenfuse-ledger-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  function configFile(prefix: string, limitTokens: number): string {
    const path = join(dir, `${prefix.replace(/\W/g, '_')}.yaml`);
    writeFileSync(
      path,
      [
        'metrics: { exporter: none }',
        'providers:',
        '  - { id: local-relay, hosts: ["127.0.0.1"], pricesFrom: openai }',
        'budgets:',
        `  - { name: fleet, window: day, limit: { tokens: ${limitTokens} } }`,
        'ledger:',
        '  store: redis',
        `  keyPrefix: "${prefix}"`,
        // Generous: the bound holds while Redis answers; a busy CI machine must not time out.
        '  timeoutMs: 5000',
        '',
      ].join('\n'),
    );
    return path;
  }

  async function runApp(config: string, env: Record<string, string>) {
    const app = new App(
      ['--import', 'tokenfuse/register', 'test/fixtures/apps/ledger-app.mjs'],
      childEnv({
        TOKENFUSE_CONFIG: config,
        TOKENFUSE_LEDGER_URL: redis.url,
        LLM_BASE_URL: `${llm.url}/v1`,
        ...env,
      }),
    );
    try {
      const line = await app.firstLine(60_000);
      const { code } = await app.exited;
      expect(code, app.stderr).toBe(0);
      return JSON.parse(line) as {
        results: Array<{
          ok?: number;
          error?: string;
          blocked?: { name: string; reason: string; budget: string; message: string };
        }>;
      };
    } finally {
      await app.kill();
    }
  }

  /** A board on the same ledger, for the test's own reads and writes. */
  function observer(prefix: string, limitTokens: number): Tokenfuse {
    return createTokenfuse({
      budgets: [{ name: 'fleet', window: 'day', limit: { tokens: limitTokens } }],
      ledger: { store: 'redis', url: redis.url, keyPrefix: prefix, timeoutMs: 5000 },
    });
  }

  it('4 processes × 50 concurrent calls racing for the last 1% overshoot by at most one reservation', async () => {
    const prefix = freshPrefix();
    const limit = 100_000;
    const board = observer(prefix, limit);
    try {
      // 99% spent already.
      const r = await board.fuses.admit({
        tags: {},
        provider: 'local-relay',
        model: 'gpt-4.1',
        ...estimateRequest(chatAdapter, x(1)),
      });
      if (!('admitted' in r)) throw new Error('expected admission');
      board.fuses.settle(r.admitted, { tokens: 99_000, usd: 0 });
      expect((await board.fuses.read('fleet')).spent.tokens).toBe(99_000);

      const config = configFile(prefix, limit);
      const startAt = String(Date.now() + 3000);
      const outputs = await Promise.all(
        Array.from({ length: 4 }, () =>
          runApp(config, { MODE: 'concurrent', CALLS: '50', MAX_TOKENS: '50', START_AT: startAt }),
        ),
      );
      const results = outputs.flatMap((o) => o.results);
      expect(results.filter((r) => r.error)).toEqual([]);
      const admitted = results.filter((r) => r.ok !== undefined);
      const blocked = results.filter((r) => r.blocked?.name === 'BudgetExceededError');
      expect(admitted.length + blocked.length).toBe(200);
      expect(admitted.every((r) => r.ok === 54)).toBe(true);
      // The fake server received exactly the admitted calls.
      expect(llm.requests).toHaveLength(admitted.length);

      const fuse = await board.fuses.read('fleet');
      expect(fuse.spent.tokens).toBe(99_000 + admitted.length * 54);
      expect(fuse.spent.tokens).toBeLessThanOrEqual(limit + 59); // one call's reservation
      expect(fuse.reserved.tokens).toBe(0);
      expect(admitted.length).toBeGreaterThanOrEqual(Math.ceil(1000 / 59));
    } finally {
      await board.fuses.close();
    }
  });

  it("a fuse process A trips blocks process B's next call before any request", async () => {
    const prefix = freshPrefix();
    const config = configFile(prefix, 30);
    const a = await runApp(config, { MAX_TOKENS: '10,12' }); // 14 + 16 = 30: the limit
    expect(a.results).toEqual([{ ok: 14 }, { ok: 16 }]);
    expect(llm.requests).toHaveLength(2);

    const b = await runApp(config, { MAX_TOKENS: '1' });
    expect(b.results).toEqual([
      {
        blocked: {
          name: 'BudgetExceededError',
          code: 'budget_exceeded',
          reason: 'limit_reached',
          budget: 'fleet',
          message: expect.stringMatching(
            /^tokenfuse: budget "fleet" blocked this call before it was sent: 30 of 30 tokens spent this day; retry after \d+s$/,
          ),
        },
      },
    ]);
    expect(llm.requests).toHaveLength(2);
    const board = observer(prefix, 30);
    try {
      const fuse = await board.fuses.read('fleet');
      expect([fuse.state, fuse.trips, fuse.spent.tokens]).toEqual(['open', 1, 30]);
    } finally {
      await board.fuses.close();
    }
  });
});

describe('when Redis fails', () => {
  const budget = { name: 'shared', window: 'day' as const, limit: { tokens: 1_000_000 } };

  async function waitUntilNoticed() {
    await vi.waitFor(() => expect(storeClient(h!.tokenfuse).status).not.toBe('ready'), {
      timeout: 5000,
    });
  }

  it("onFailure 'open': calls go on, errors are counted, and the spend is reconciled when Redis is back", async () => {
    await setup('redis', { budgets: [budget], ...ledger('redis', { timeoutMs: 200 }) });
    const prefix = h!.tokenfuse.config.ledger.keyPrefix;
    await openai.chat.completions.create(x(1)); // 5, in Redis
    expect((await read('shared')).spent.tokens).toBe(5);

    await redis.kill();
    await waitUntilNoticed();
    for (const n of [5, 6, 7]) await openai.chat.completions.create(x(n)); // 9 + 10 + 11 = 30
    expect(llm.requests).toHaveLength(4);
    const m = await h!.scrape();
    expect(sum(m, 'tokenfuse_ledger_errors_total', { operation: 'admit' })).toBeGreaterThan(0);
    // The local stand-in started from the last shared numbers.
    expect(h!.tokenfuse.fuses.get('shared').spent.tokens).toBe(35);

    await redis.restart(); // empty: what was spent before is gone with it
    const windowStart = calendarWindow({ kind: 'day', timeZone: 'UTC' }, Date.now()).start;
    const key = `${prefix}a:shared:day:${windowStart}`;
    await vi.waitFor(async () => expect(await redis.client().hget(key, 's:t')).toBe('30'), {
      timeout: 10_000,
      interval: 100,
    });
    expect(await redis.client().hget(key, 's:q')).toBe('3');
    // Calls go to Redis again.
    await vi.waitFor(() => expect(h!.tokenfuse.fuses.get('shared').spent.tokens).toBe(30), {
      timeout: 5000,
    });
    await openai.chat.completions.create(x(1));
    expect((await read('shared')).spent.tokens).toBe(35);
    const after = await h!.scrape();
    expect(sum(after, 'tokenfuse_ledger_errors_total', { operation: 'admit' })).toBeGreaterThan(0);
  });

  it("onFailure 'closed': calls fail with LedgerUnavailableError and nothing is sent", async () => {
    await setup('redis', {
      budgets: [budget],
      ...ledger('redis', { timeoutMs: 200, onFailure: 'closed' }),
    });
    await openai.chat.completions.create(x(1));
    await redis.kill();
    await waitUntilNoticed();
    const err = (await rejection(openai.chat.completions.create(x(1)))) as LedgerUnavailableError;
    expect(isLedgerUnavailableError(err)).toBe(true);
    expect(isBlockedCallError(err)).toBe(true);
    expect(err).toBeInstanceOf(LedgerUnavailableError);
    expect([err.name, err.status, err.code, err.reason, err.budget]).toEqual([
      'LedgerUnavailableError',
      503,
      'ledger_unavailable',
      'ledger_unavailable',
      'shared',
    ]);
    expect(err.message).toBe(
      `tokenfuse: the budget ledger at 127.0.0.1:${redis.port} cannot be reached, so budget "shared" could not be checked and this call was not sent (ledger.onFailure: closed)`,
    );
    expect(llm.requests).toHaveLength(1);
    const m = await h!.scrape();
    expect(
      sum(m, 'tokenfuse_requests_total', { outcome: 'blocked', budget: 'shared' }),
    ).toBeGreaterThan(0);

    await redis.restart();
    await vi.waitFor(() => openai.chat.completions.create(x(1)), {
      timeout: 10_000,
      interval: 200,
    });
    expect(llm.requests).toHaveLength(2);
  });

  it('a hung Redis (SIGSTOP) does not hold a call much longer than timeoutMs; its late answers are undone', async () => {
    await setup('redis', { budgets: [budget], ...ledger('redis', { timeoutMs: 50 }) });
    await openai.chat.completions.create(x(1)); // 5
    redis.pause();
    for (const n of [2, 3]) {
      const started = performance.now();
      await openai.chat.completions.create(x(n)); // 6, 7
      expect(performance.now() - started).toBeLessThan(1000);
    }
    redis.resume();
    // The admission that timed out ran once Redis woke up; its reservation is released,
    // and the spend made meanwhile is added once.
    await vi.waitFor(
      async () => {
        const fuse = await read('shared');
        expect([fuse.spent.tokens, fuse.reserved.tokens]).toEqual([18, 0]);
      },
      { timeout: 10_000, interval: 100 },
    );
  });
});

describe('ledger configuration', () => {
  it('store redis needs a URL, from the options or TOKENFUSE_LEDGER_URL', () => {
    const err = (() => {
      try {
        resolveConfig({ ledger: { store: 'redis' } }, { env: {} });
      } catch (e) {
        return e as ConfigError;
      }
      throw new Error('expected a ConfigError');
    })();
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.message).toBe(
      "invalid tokenfuse configuration in code:\n  - ledger.url: missing (expected a redis:// or rediss:// URL for store 'redis'; or set TOKENFUSE_LEDGER_URL)",
    );
    const resolved = resolveConfig(
      { ledger: { store: 'redis', url: 'redis://file:6379' } },
      { env: { TOKENFUSE_LEDGER_URL: 'rediss://u:secret@env.example:6380/2' } },
    );
    expect(resolved.ledger).toEqual({
      store: 'redis',
      url: 'rediss://u:secret@env.example:6380/2',
      keyPrefix: 'tokenfuse:',
      timeoutMs: 50,
      onFailure: 'open',
      connectTimeoutMs: 2000,
      shutdownTimeoutMs: 5000,
      tls: undefined,
      username: undefined,
      password: undefined,
    });
  });

  it('rejects bad values with messages that never echo a URL', () => {
    const issues = (options: unknown, env: NodeJS.ProcessEnv = {}) => {
      try {
        resolveConfig(options as TokenfuseOptions, { env });
      } catch (e) {
        return (e as ConfigError).message;
      }
      return 'no error';
    };
    expect(
      issues({
        ledger: {
          store: 'redys',
          url: 'http://u:secret@host',
          timeoutMs: 0,
          onFailure: 'maybe',
          tls: 'yes',
          keyprefix: 'x',
        },
      }),
    ).toBe(
      [
        'invalid tokenfuse configuration in code:',
        `  - ledger.store: expected 'memory' or 'redis', got "redys" (string)`,
        '  - ledger.url: expected a redis:// or rediss:// URL, got a string that is not one',
        '  - ledger.timeoutMs: expected a positive integer, got 0 (number)',
        `  - ledger.onFailure: expected 'open' or 'closed', got "maybe" (string)`,
        '  - ledger.tls: expected true, false or an object of TLS options, got a string of 3 characters (hidden)',
        "  - ledger: unknown field 'keyprefix'; did you mean 'keyPrefix'?",
      ].join('\n'),
    );
    expect(issues({}, { TOKENFUSE_LEDGER_URL: 'http://u:secret@host' })).toBe(
      'invalid tokenfuse configuration in environment variable TOKENFUSE_LEDGER_URL:\n  - ledger.url: expected a redis:// or rediss:// URL, got a value that is not one',
    );
  });
});
