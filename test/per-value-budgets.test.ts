// Budgets that apply to each value of a tag (`per:`), the customer tag and API-key
// ids: through the real `openai` SDK over HTTP against the fake server, with the
// shared ledger on a real redis-server.
import { createHmac } from 'node:crypto';
import type OpenAIType from 'openai';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  type BudgetExceededError,
  createTokenfuse,
  isBudgetExceededError,
  type Tokenfuse,
  withAttribution,
} from '../src/index.js';
import { chatAdapter } from '../src/instrumentation/openai/chat.js';
import { estimateRequest } from '../src/instrumentation/sdk-adapter.js';
import type { TokenfuseOptions } from '../src/types.js';
import { rejection, x } from './helpers/budget-calls.js';
import { LOCAL_RELAY, useFakeServerHarness } from './helpers/fake-server-harness.js';
import type { Harness } from './helpers/harness.js';
import { select, sum } from './helpers/prom-text.js';
import { useRedisServer } from './helpers/redis.js';

const { llm, harness, client } = useFakeServerHarness();
const redis = useRedisServer();
let h: Harness | undefined;
let openai: OpenAIType;
let prefixes = 0;
const freshPrefix = () => `pv${++prefixes}-${process.pid}:`;

afterEach(() => {
  vi.useRealTimers();
  h = undefined;
});

const SECRET = 'per-value-test-secret-0123456789';
const idOf = (key: string) => createHmac('sha256', SECRET).update(key).digest('hex').slice(0, 16);

async function setup(options: TokenfuseOptions, at?: string): Promise<Harness> {
  if (at) vi.useFakeTimers({ toFake: ['Date'], now: new Date(at) });
  h = await harness({
    providers: [LOCAL_RELAY],
    apiKeys: { secret: SECRET },
    ...options,
  });
  // One retry: after the 10,000 blocked calls (no request for a while) a loaded machine can
  // hand the SDK a keep-alive socket the fake server has just closed (ECONNRESET). The
  // server never saw that request, so llm.requests stays exact; admission is per call.
  openai = client(h, { apiKey: 'sk-shared', maxRetries: 1 });
  return h;
}

const redisLedger = (keyPrefix: string) => ({
  ledger: { store: 'redis' as const, url: redis.url, keyPrefix, timeoutMs: 5000 },
});

const as = <T>(tags: Record<string, string>, fn: () => Promise<T>) => withAttribution(tags, fn);

describe('per-user budget on the shared ledger', () => {
  it('10,000 users: each is blocked at its own limit with no request sent; the others are not', async () => {
    const prefix = freshPrefix();
    await setup({
      budgets: [{ name: 'per-user', per: 'user', window: 'day', limit: { requests: 1 } }],
      ...redisLedger(prefix),
    });
    const USERS = 10_000;
    const users = Array.from({ length: USERS }, (_, i) => `u-${i}`);
    const inBatches = async (fn: (user: string) => Promise<unknown>) => {
      const out: unknown[] = [];
      for (let i = 0; i < users.length; i += 50)
        out.push(...(await Promise.all(users.slice(i, i + 50).map(fn))));
      return out;
    };

    // Every user's first call goes through: one user's spend never blocks another.
    const first = await inBatches((user) =>
      as({ user }, () => openai.chat.completions.create(x(1))).then((r) => r.usage?.total_tokens),
    );
    expect(first.every((tokens) => tokens === 5)).toBe(true);
    expect(llm.requests).toHaveLength(USERS);

    // Every user's second call is blocked by that user's own budget, before it is sent.
    const second = (await inBatches((user) =>
      rejection(as({ user }, () => openai.chat.completions.create(x(1)))),
    )) as BudgetExceededError[];
    expect(llm.requests).toHaveLength(USERS);
    expect(second.every(isBudgetExceededError)).toBe(true);
    expect(second.map((e) => e.budget)).toEqual(users.map((u) => `per-user[${u}]`));
    expect(
      second.every((e) => e.reason === 'limit_reached' && e.spent === 1 && e.limit === 1),
    ).toBe(true);
    expect(second[42]!.message).toMatch(
      /^tokenfuse: budget "per-user\[u-42\]" blocked this call before it was sent: 1 of 1 requests spent this day; retry after \d+s$/,
    );

    // A user not seen before still has the whole limit.
    await as({ user: 'u-new' }, () => openai.chat.completions.create(x(1)));
    expect(llm.requests).toHaveLength(USERS + 1);

    // One key set per value, each expiring with its window (the fuse too).
    const client = redis.client();
    const fuseTtl = await client.pttl(`${prefix}f:per-user[u-42]`);
    expect(fuseTtl).toBeGreaterThan(0);
    expect(fuseTtl).toBeLessThanOrEqual(24 * 3_600_000 + 10 * 60_000);
    // (KEYS takes a glob: the brackets of the name are escaped.)
    const accounts = await client.keys(`${prefix}a:per-user\\[u-42\\]:*`);
    expect(accounts).toHaveLength(1);
    expect(await client.pttl(accounts[0]!)).toBeGreaterThan(0);
    expect(await client.hget(accounts[0]!, 's:q')).toBe('1');

    // No series per user: the summaries count them.
    const m = await h!.scrape();
    expect(select(m, 'tokenfuse_budget_spent')).toEqual([]);
    expect(sum(m, 'tokenfuse_budget_values', { budget: 'per-user', state: 'tracked' })).toBe(
      USERS + 1,
    );
    // u-new has made its one call too: every value is at its limit, its fuse open.
    for (const state of ['near', 'over', 'open'])
      expect(sum(m, 'tokenfuse_budget_values', { budget: 'per-user', state })).toBe(USERS + 1);
    expect(select(m, 'tokenfuse_budget_top_utilization')).toHaveLength(10);
    // Blocked calls are labelled with the configured budget, never a value's.
    expect(sum(m, 'tokenfuse_requests_total', { outcome: 'blocked', budget: 'per-user' })).toBe(
      USERS,
    );
    expect(m.some((s) => s.labels.budget?.includes('['))).toBe(false);
  }, 300_000);
});

describe('per-value overrides', () => {
  it('a customer with an override gets its own limit; the others the budget limit', async () => {
    await setup({
      budgets: [
        {
          name: 'per-customer',
          per: 'customer',
          window: 'hour',
          limit: { tokens: 5, requests: 100 },
          overrides: { 'cust-42': { tokens: 15 } },
        },
      ],
    });
    const call = (customer: string) => as({ customer }, () => openai.chat.completions.create(x(1))); // 5 tokens
    await call('cust-7');
    const seven = (await rejection(call('cust-7'))) as BudgetExceededError;
    expect([seven.budget, seven.unit, seven.spent, seven.limit]).toEqual([
      'per-customer[cust-7]',
      'tokens',
      5,
      5,
    ]);
    await call('cust-42');
    await call('cust-42');
    await call('cust-42');
    const big = (await rejection(call('cust-42'))) as BudgetExceededError;
    expect([big.budget, big.unit, big.spent, big.limit]).toEqual([
      'per-customer[cust-42]',
      'tokens',
      15,
      15,
    ]);
    expect(llm.requests).toHaveLength(4);
  });
});

describe('two boards on one Redis share per-customer budgets', () => {
  it("one process's spend for a customer blocks the other's next call for it, not for other customers", async () => {
    const prefix = freshPrefix();
    const budgets: TokenfuseOptions['budgets'] = [
      { name: 'per-customer', per: 'customer', window: 'day', limit: { tokens: 10 } },
    ];
    await setup({ budgets, ...redisLedger(prefix) });
    const other: Tokenfuse = createTokenfuse({ budgets, ...redisLedger(prefix) });
    try {
      const admit = (customer: string) =>
        other.fuses.admit({
          tags: { customer },
          provider: 'local-relay',
          model: 'gpt-4.1',
          ...estimateRequest(chatAdapter, x(1)),
        });
      // This process spends acme's 10 tokens over the real SDK…
      await as({ customer: 'acme' }, () => openai.chat.completions.create(x(1)));
      await as({ customer: 'acme' }, () => openai.chat.completions.create(x(1)));
      // …and the other process is refused acme, not globex.
      const refused = await admit('acme');
      expect('blocked' in refused && refused.blocked.budget).toBe('per-customer[acme]');
      const globex = await admit('globex');
      if (!('admitted' in globex)) throw new Error('expected globex admitted');
      // The other process spends globex's room; this one is then blocked for globex.
      other.fuses.settle(globex.admitted, { tokens: 10, usd: 0 });
      await vi.waitFor(async () =>
        expect((await other.fuses.read('per-customer[globex]')).spent.tokens).toBe(10),
      );
      const err = (await rejection(
        as({ customer: 'globex' }, () => openai.chat.completions.create(x(1))),
      )) as BudgetExceededError;
      expect([err.budget, err.spent, err.limit]).toEqual(['per-customer[globex]', 10, 10]);
      expect(llm.requests).toHaveLength(2);
    } finally {
      await other.fuses.close();
    }
  }, 60_000);
});

describe('customer tag', () => {
  it('comes from the config defaults, the context and the X-Customer header (stripped), later wins', async () => {
    await setup({ attribution: { defaults: { customer: 'from-config' } } });
    await openai.chat.completions.create(x(1));
    await as({ customer: 'from-context' }, () => openai.chat.completions.create(x(1)));
    await as({ customer: 'from-context' }, () =>
      openai.chat.completions.create(x(1), { headers: { 'X-Customer': 'from-header' } }),
    );
    expect(h!.spans().map((s) => s.attributes['tokenfuse.customer'])).toEqual([
      'from-config',
      'from-context',
      'from-header',
    ]);
    expect(llm.requests.map((r) => r.headers['x-customer'])).toEqual([
      undefined,
      undefined,
      undefined,
    ]);
    // Span-only by default: no customer label on the metrics.
    const m = await h!.scrape();
    expect(select(m, 'tokenfuse_requests_total').some((s) => 'customer' in s.labels)).toBe(false);
  });

  it('is a metric label when metrics.labels allows it', async () => {
    await setup({ metrics: { labels: ['customer'] } });
    await as({ customer: 'acme' }, () => openai.chat.completions.create(x(1)));
    const m = await h!.scrape();
    expect(sum(m, 'tokenfuse_requests_total', { customer: 'acme', outcome: 'ok' })).toBe(1);
  });
});

describe('API key ids', () => {
  it('puts the keyed id of the client key on spans, never the key; an owner attributes a shared key', async () => {
    await setup({
      apiKeys: {
        secret: SECRET,
        owners: { [idOf('sk-shared')]: { name: 'search-svc', department: 'search' } },
      },
      budgets: [{ name: 'per-key', per: 'apiKey', window: 'hour', limit: { requests: 2 } }],
    });
    const other = new h!.OpenAI({ baseURL: `${llm.url}/v1`, apiKey: 'sk-other', maxRetries: 0 });
    await openai.chat.completions.create(x(1));
    await openai.chat.completions.create(x(1));
    const err = (await rejection(openai.chat.completions.create(x(1)))) as BudgetExceededError;
    expect(err.budget).toBe(`per-key[${idOf('sk-shared')}]`);
    // Another key has its own budget; and a context tag wins over the owner.
    await as({ department: 'ads' }, () => other.chat.completions.create(x(1)));
    expect(llm.requests).toHaveLength(3);

    const spans = h!.spans();
    expect(spans.map((s) => s.attributes['tokenfuse.api_key.id'])).toEqual([
      idOf('sk-shared'),
      idOf('sk-shared'),
      idOf('sk-shared'),
      idOf('sk-other'),
    ]);
    expect(spans.map((s) => s.attributes['tokenfuse.api_key.name'])).toEqual([
      'search-svc',
      'search-svc',
      'search-svc',
      undefined,
    ]);
    expect(spans.map((s) => s.attributes['tokenfuse.department'])).toEqual([
      'search',
      'search',
      'search',
      'ads',
    ]);
    expect(JSON.stringify(spans.map((s) => s.attributes))).not.toContain('sk-shared');
    const m = await h!.scrape();
    expect(sum(m, 'tokenfuse_requests_total', { department: 'search', outcome: 'ok' })).toBe(2);
    expect(sum(m, 'tokenfuse_requests_total', { department: 'search', outcome: 'blocked' })).toBe(
      1,
    );
  });
});

describe('top N values on /metrics', () => {
  it('exports the N values of highest utilisation, counts by state and calls with no value; forgets values when their window ends', async () => {
    await setup(
      {
        metrics: { perValueTop: 3 },
        budgets: [{ name: 'per-user', per: 'user', window: 'hour', limit: { tokens: 100 } }],
      },
      '2026-12-01T10:10:00Z',
    );
    // 5, 20, 50, 90 and 100 tokens: 4 + max_tokens each.
    for (const [user, max] of [
      ['a', 1],
      ['b', 16],
      ['c', 46],
      ['d', 86],
      ['e', 96],
    ] as const)
      await as({ user }, () => openai.chat.completions.create(x(max)));
    await openai.chat.completions.create(x(1)); // no user: not counted against it
    const m = await h!.scrape();
    const top = select(m, 'tokenfuse_budget_top_utilization')
      .map((s) => [s.labels.budget, s.labels.key, s.value])
      .sort((p, q) => Number(q[2]) - Number(p[2]));
    expect(top).toEqual([
      ['per-user', 'e', 1],
      ['per-user', 'd', 0.9],
      ['per-user', 'c', 0.5],
    ]);
    const counts = Object.fromEntries(
      select(m, 'tokenfuse_budget_values').map((s) => [s.labels.state, s.value]),
    );
    expect(counts).toEqual({ tracked: 5, near: 2, over: 1, open: 1 });
    expect(sum(m, 'tokenfuse_budget_unkeyed_total', { budget: 'per-user' })).toBe(1);

    // The next hour: the first call forgets the values whose window ended.
    vi.setSystemTime(new Date('2026-12-01T11:00:05Z'));
    await as({ user: 'f' }, () => openai.chat.completions.create(x(1)));
    const after = await h!.scrape();
    expect(
      Object.fromEntries(
        select(after, 'tokenfuse_budget_values').map((s) => [s.labels.state, s.value]),
      ),
    ).toEqual({ tracked: 1, near: 0, over: 0, open: 0 });
    // The OpenTelemetry SDK cannot withdraw a series: values that left the top read 0.
    expect(
      select(after, 'tokenfuse_budget_top_utilization')
        .map((s) => [s.labels.key, s.value])
        .sort(),
    ).toEqual([
      ['c', 0],
      ['d', 0],
      ['e', 0],
      ['f', 0.05],
    ]);
    // e's fuse went with its window: e starts the hour with the whole limit.
    await as({ user: 'e' }, () => openai.chat.completions.create(x(1)));
  });
});
