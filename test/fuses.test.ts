import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { AlwaysOffSampler } from '@opentelemetry/sdk-trace';
import type OpenAIType from 'openai';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  type BudgetExceededError,
  isBlockedCallError,
  isBudgetExceededError,
  isModelNotAllowedError,
  type ModelNotAllowedError,
  type ResetEvent,
  type StateChangeEvent,
  type ThresholdEvent,
  withAttribution,
} from '../src/index.js';
import type { TokenfuseOptions } from '../src/types.js';
import { MARKETING_HOURLY_30, rejection, x } from './helpers/budget-calls.js';
import { LOCAL_RELAY, useFakeServerHarness } from './helpers/fake-server-harness.js';
import type { Harness } from './helpers/harness.js';
import { select, sum } from './helpers/prom-text.js';

const { llm, harness, client } = useFakeServerHarness();
let h: Harness | undefined;
let openai: OpenAIType;

afterEach(() => {
  vi.useRealTimers();
  h = undefined;
});

async function setup(
  options: TokenfuseOptions,
  at: string,
  extra?: Parameters<typeof harness>[1],
): Promise<Harness> {
  vi.useFakeTimers({ toFake: ['Date'], now: new Date(at) });
  h = await harness({ providers: [LOCAL_RELAY], ...options }, extra);
  openai = client(h);
  return h;
}

const marketing = <T>(fn: () => Promise<T>) => withAttribution({ department: 'marketing' }, fn);

describe('block at the limit', () => {
  it('opens the fuse when the hourly token limit is reached and blocks before any request', async () => {
    await setup(
      {
        budgets: [MARKETING_HOURLY_30],
      },
      '2026-11-23T10:40:00Z',
    );
    await marketing(() => openai.chat.completions.create(x(10))); // 14
    await marketing(() => openai.chat.completions.create(x(12))); // 30 → limit reached
    expect(llm.requests).toHaveLength(2);

    const err = (await rejection(
      marketing(() => openai.chat.completions.create(x(1))),
    )) as BudgetExceededError;
    expect(llm.requests).toHaveLength(2); // nothing left the process
    expect(isBudgetExceededError(err)).toBe(true);
    expect(isBlockedCallError(err)).toBe(true);
    expect({
      name: err.name,
      status: err.status,
      code: err.code,
      budget: err.budget,
      reason: err.reason,
      window: err.window,
      unit: err.unit,
      spent: err.spent,
      limit: err.limit,
      retryAfterSeconds: err.retryAfterSeconds,
    }).toEqual({
      name: 'BudgetExceededError',
      status: 429,
      code: 'budget_exceeded',
      budget: 'marketing-hourly',
      reason: 'limit_reached',
      window: 'hour',
      unit: 'tokens',
      spent: 30,
      limit: 30,
      retryAfterSeconds: 20 * 60, // the window ends at 11:00
    });
    expect(err.message).toBe(
      'tokenfuse: budget "marketing-hourly" blocked this call before it was sent: 30 of 30 tokens spent this hour; retry after 1200s',
    );

    // Other departments are not matched by the budget.
    await withAttribution({ department: 'support' }, () => openai.chat.completions.create(x(1)));
    expect(llm.requests).toHaveLength(3);

    const m = await h!.scrape();
    expect(
      sum(m, 'tokenfuse_requests_total', {
        department: 'marketing',
        outcome: 'blocked',
        budget: 'marketing-hourly',
      }),
    ).toBe(1);
    expect(sum(m, 'tokenfuse_requests_total', { department: 'marketing', outcome: 'ok' })).toBe(2);
    const fuseLabels = { budget: 'marketing-hourly', window: 'hour', department: 'marketing' };
    expect(sum(m, 'tokenfuse_fuse_state', fuseLabels)).toBe(2);
    expect(sum(m, 'tokenfuse_fuse_trips_total', fuseLabels)).toBe(1);
    expect(sum(m, 'tokenfuse_budget_limit', { ...fuseLabels, unit: 'tokens' })).toBe(30);
    expect(sum(m, 'tokenfuse_budget_spent', { ...fuseLabels, unit: 'tokens' })).toBe(30);
    expect(sum(m, 'tokenfuse_budget_utilization', { ...fuseLabels, unit: 'tokens' })).toBe(1);

    const blockedSpan = h!
      .spans()
      .find((s) => s.attributes['tokenfuse.budget.name'] !== undefined)!;
    expect(blockedSpan.attributes).toMatchObject({
      'tokenfuse.budget.name': 'marketing-hourly',
      'tokenfuse.block.reason': 'limit_reached',
      'error.type': 'BudgetExceededError',
      'tokenfuse.department': 'marketing',
    });
    expect(blockedSpan.status.code).toBe(2);
  });

  it('rejects streams and .withResponse() the same way, with the SDK promise intact', async () => {
    await setup(
      { budgets: [{ name: 'all', window: 'day', limit: { requests: 1 } }] },
      '2026-11-23T10:00:00Z',
    );
    await openai.chat.completions.create(x(1));
    const streamErr = await rejection(openai.chat.completions.create({ ...x(1), stream: true }));
    expect(isBudgetExceededError(streamErr)).toBe(true);
    const withResponseErr = await rejection(openai.chat.completions.create(x(1)).withResponse());
    expect(isBudgetExceededError(withResponseErr)).toBe(true);
    const embedErr = await rejection(
      openai.embeddings.create({ model: 'text-embedding-3-small', input: 'a' }),
    );
    expect((embedErr as BudgetExceededError).unit).toBe('requests');
    expect(llm.requests).toHaveLength(1);
  });

  it('closes the fuse when a new window begins', async () => {
    await setup(
      { budgets: [{ name: 'h', window: 'hour', limit: { tokens: 10 } }] },
      '2026-11-23T10:59:00Z',
    );
    const resets: ResetEvent[] = [];
    h!.tokenfuse.fuses.onReset((e) => resets.push(e));
    await openai.chat.completions.create(x(6)); // 10
    await rejection(openai.chat.completions.create(x(1)));
    expect(h!.tokenfuse.fuses.get('h').state).toBe('open');
    vi.setSystemTime(new Date('2026-11-23T11:00:00Z'));
    await openai.chat.completions.create(x(1));
    expect(resets.map((r) => r.cause)).toEqual(['window']);
    const fuse = h!.tokenfuse.fuses.get('h');
    expect(fuse.state).toBe('closed');
    expect(fuse.spent.tokens).toBe(5);
    expect(fuse.windowStart.toISOString()).toBe('2026-11-23T11:00:00.000Z');
  });

  it('rolls a monthly budget over at midnight on the 1st in its own time zone, not UTC', async () => {
    // New York is UTC-5 in December: local midnight of Dec 1 is 05:00 UTC.
    await setup(
      {
        budgets: [
          {
            name: 'monthly',
            window: 'month',
            timeZone: 'America/New_York',
            limit: { usd: 0.0001 },
          },
        ],
      },
      '2026-11-30T23:00:00-05:00',
    );
    await openai.chat.completions.create(x(20)); // (4 × 2 + 20 × 8) / 1e6 = $0.000168
    const before = (await rejection(openai.chat.completions.create(x(1)))) as BudgetExceededError;
    expect(before.unit).toBe('usd');
    expect(before.retryAfterSeconds).toBe(3600); // local midnight is an hour away

    vi.setSystemTime(new Date('2026-12-01T04:59:59Z')); // still Nov 30 in New York
    await rejection(openai.chat.completions.create(x(1)));
    vi.setSystemTime(new Date('2026-12-01T05:00:00Z')); // Dec 1, 00:00 in New York
    await openai.chat.completions.create(x(1));
    const fuse = h!.tokenfuse.fuses.get('monthly');
    expect(fuse.windowStart.toISOString()).toBe('2026-12-01T05:00:00.000Z');
    expect(fuse.windowEnd!.toISOString()).toBe('2027-01-01T05:00:00.000Z');
    expect(llm.requests).toHaveLength(2);
  });

  it('a monthly USD budget stays open until the month rolls over, or the limit is raised', async () => {
    await setup(
      { budgets: [{ name: 'monthly', window: 'month', limit: { usd: 0.0001 }, cooldown: '5m' }] },
      '2026-11-10T12:00:00Z',
    );
    await openai.chat.completions.create(x(20));
    vi.setSystemTime(new Date('2026-11-10T12:30:00Z')); // long past the cool-down
    const err = (await rejection(openai.chat.completions.create(x(1)))) as BudgetExceededError;
    expect(err.reason).toBe('limit_reached');
    expect(h!.tokenfuse.fuses.get('monthly').state).toBe('open');
    expect(llm.requests).toHaveLength(1);
  });
});

describe('a sampler that drops every span', () => {
  it('settles and blocks exactly as with every span recorded: the fuse does not read spans', async () => {
    await setup(
      {
        budgets: [MARKETING_HOURLY_30],
      },
      '2026-11-23T10:40:00Z',
      { sampler: new AlwaysOffSampler() },
    );
    await marketing(() => openai.chat.completions.create(x(10))); // 14
    await marketing(() => openai.chat.completions.create(x(12))); // 30 → limit reached
    expect((await h!.tokenfuse.fuses.read('marketing-hourly')).spent.tokens).toBe(30);
    const err = await rejection(marketing(() => openai.chat.completions.create(x(1))));
    expect(isBudgetExceededError(err)).toBe(true);
    expect(llm.requests).toHaveLength(2); // nothing left the process
    expect(h!.spans()).toHaveLength(0);
    const m = await h!.scrape();
    expect(sum(m, 'tokenfuse_requests_total', { department: 'marketing', outcome: 'ok' })).toBe(2);
    expect(
      sum(m, 'tokenfuse_requests_total', { department: 'marketing', outcome: 'blocked' }),
    ).toBe(1);
  });
});

describe('half-open probes', () => {
  it('open → half-open after the cool-down, N probes through, closed when they leave room, open again when they overspend', async () => {
    await setup(
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
    expect(h!.tokenfuse.fuses.get('r').state).toBe('open');

    vi.setSystemTime(new Date('2026-11-23T10:01:30Z')); // cool-down over, but the spend is still in the window
    expect(
      ((await rejection(openai.chat.completions.create(x(1)))) as BudgetExceededError).reason,
    ).toBe('limit_reached');

    vi.setSystemTime(new Date('2026-11-23T10:11:00Z')); // the spend has rolled out of the 10-minute window
    // Two probes in flight at once; the third is refused while they are out.
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
    expect(h!.tokenfuse.fuses.get('r').state).toBe('half_open');
    await vi.waitFor(() => expect(llm.requests).toHaveLength(3)); // both probes reached the server
    controller.abort();
    await Promise.all([p1, p2]);
    expect(h!.tokenfuse.fuses.get('r').state).toBe('closed');

    // A probe that overspends opens it again.
    await openai.chat.completions.create(x(20)); // 24 > 20
    expect(h!.tokenfuse.fuses.get('r').state).toBe('open');
    expect(changes).toEqual([
      'closed->open',
      'open->half_open',
      'half_open->closed',
      'closed->open',
    ]);
    expect(h!.tokenfuse.fuses.get('r').trips).toBe(2);
  });
});

describe('monitor mode', () => {
  it('never blocks, and records what it would have blocked', async () => {
    await setup(
      { budgets: [{ name: 'trial', window: 'day', limit: { tokens: 10 }, action: 'monitor' }] },
      '2026-11-23T10:00:00Z',
    );
    for (let i = 0; i < 3; i++) await openai.chat.completions.create(x(6));
    expect(llm.requests).toHaveLength(3);
    const m = await h!.scrape();
    expect(sum(m, 'tokenfuse_fuse_would_block_total', { budget: 'trial' })).toBe(2);
    expect(sum(m, 'tokenfuse_fuse_state', { budget: 'trial' })).toBe(2);
    expect(sum(m, 'tokenfuse_requests_total', { outcome: 'ok' })).toBe(3);
    expect(select(m, 'tokenfuse_requests_total', { outcome: 'blocked' })).toEqual([]);
    expect(h!.spans().map((s) => s.attributes['tokenfuse.budget.would_block'])).toEqual([
      undefined,
      ['trial'],
      ['trial'],
    ]);
  });
});

describe('model policies', () => {
  it('lets qa use only gpt-4.1-mini and deepseek-*; a denied model fails like a blocked call', async () => {
    await setup(
      {
        policies: [
          {
            name: 'qa-models',
            match: { department: 'qa' },
            allowModels: ['gpt-4.1-mini', 'deepseek-*'],
          },
        ],
      },
      '2026-11-23T10:00:00Z',
    );
    const qa = <T>(fn: () => Promise<T>) => withAttribution({ department: 'qa' }, fn);
    await qa(() => openai.chat.completions.create({ ...x(1), model: 'gpt-4.1-mini' }));
    await qa(() => openai.chat.completions.create({ ...x(1), model: 'deepseek-chat' }));
    const err = (await rejection(
      qa(() => openai.chat.completions.create(x(1))),
    )) as ModelNotAllowedError;
    expect(isModelNotAllowedError(err)).toBe(true);
    expect(isBudgetExceededError(err)).toBe(false);
    expect(err.status).toBe(403);
    expect(err.code).toBe('model_not_allowed');
    expect(err.message).toBe(
      'tokenfuse: policy "qa-models" does not allow model "gpt-4.1"; allowed: gpt-4.1-mini, deepseek-*; the call was not sent',
    );
    expect(llm.requests).toHaveLength(2);
    await openai.chat.completions.create(x(1)); // other departments: any model
    const m = await h!.scrape();
    expect(
      sum(m, 'tokenfuse_requests_total', {
        department: 'qa',
        outcome: 'blocked',
        budget: 'qa-models',
      }),
    ).toBe(1);
    const span = h!
      .spans()
      .find((s) => s.attributes['tokenfuse.block.reason'] === 'model_not_allowed');
    expect(span?.attributes['tokenfuse.budget.name']).toBe('qa-models');
  });
});

describe('concurrency bound', () => {
  it('200 concurrent calls racing for the last 1% of a budget overshoot by at most one reservation', async () => {
    const limit = 100_000;
    await setup(
      { budgets: [{ name: 'race', window: 'day', limit: { tokens: limit } }] },
      '2026-11-23T10:00:00Z',
    );
    // Spend 99% first: one call with a usage override.
    llm.enqueue({
      kind: 'usage',
      usage: { prompt_tokens: 98_000, completion_tokens: 1_000, total_tokens: 99_000 },
    });
    await openai.chat.completions.create(x(1));
    expect(h!.tokenfuse.fuses.get('race').spent.tokens).toBe(99_000);

    const results = await Promise.allSettled(
      Array.from({ length: 200 }, () => openai.chat.completions.create(x(50))),
    );
    const admitted = results.filter((r) => r.status === 'fulfilled').length;
    const blocked = results.filter(
      (r) => r.status === 'rejected' && isBudgetExceededError(r.reason),
    ).length;
    expect(admitted + blocked).toBe(200);
    // Each call reserves 3 × 1 char + framing 3 × 2 + 50 output = 59 tokens (it uses
    // 54). All 200 are admitted or refused before any settles: admission stops once
    // spent + reserved reaches the limit, so ceil(1000 / 59) = 17 get through.
    const reservation = 59;
    expect(admitted).toBe(Math.ceil((limit - 99_000) / reservation));
    const spent = h!.tokenfuse.fuses.get('race').spent.tokens;
    expect(spent).toBe(99_000 + admitted * 54);
    expect(spent).toBeLessThanOrEqual(limit + reservation);
    expect(llm.requests).toHaveLength(1 + admitted);
  });
});

describe('thresholds and notifications', () => {
  it('fires onThreshold once per threshold per window and posts Slack-shaped webhooks', async () => {
    const posts: unknown[] = [];
    const hook = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => {
        body += c;
      });
      req.on('end', () => {
        posts.push(JSON.parse(body));
        res.end('ok');
      });
    });
    await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
    try {
      await setup(
        {
          budgets: [{ name: 'ops', window: 'hour', limit: { tokens: 100 } }],
          webhooks: [
            {
              url: `http://127.0.0.1:${(hook.address() as AddressInfo).port}/hook`,
              format: 'slack',
            },
          ],
        },
        '2026-11-23T10:00:00Z',
      );
      const seen: ThresholdEvent[] = [];
      h!.tokenfuse.fuses.onThreshold((e) => seen.push(e));
      await openai.chat.completions.create(x(46)); // 50
      await openai.chat.completions.create(x(1)); // 55: no new threshold
      await openai.chat.completions.create(x(26)); // 85: crosses 0.75
      await openai.chat.completions.create(x(16)); // 105: crosses 0.9 and 1.0
      expect(seen.map((e) => [e.threshold, e.spent])).toEqual([
        [0.5, 50],
        [0.75, 85],
        [0.9, 105],
        [1, 105],
      ]);
      vi.setSystemTime(new Date('2026-11-23T11:00:00Z'));
      await openai.chat.completions.create(x(46)); // new window: 0.5 again
      expect(seen.map((e) => e.threshold)).toEqual([0.5, 0.75, 0.9, 1, 0.5]);
      await vi.waitFor(() => expect(posts).toHaveLength(6)); // 5 thresholds + 1 trip
      expect(posts[0]).toEqual({
        text: 'Budget "ops" reached 50% of its hour limit: 50 of 100 tokens.',
      });
      expect(posts).toContainEqual({
        text: 'Fuse of budget "ops" is open: calls are blocked; tokens limit 100 for this hour reached.',
      });
    } finally {
      await new Promise((r) => hook.close(r));
    }
  });
});

describe('manual control', () => {
  it('isolate() blocks until reset(); unknown names are named in the error', async () => {
    await setup(
      { budgets: [{ name: 'b', window: 'day', limit: { usd: 100 } }] },
      '2026-11-23T10:00:00Z',
    );
    const fuses = h!.tokenfuse.fuses;
    fuses.isolate('b');
    const err = (await rejection(openai.chat.completions.create(x(1)))) as BudgetExceededError;
    expect(err.reason).toBe('isolated');
    expect(fuses.list().map((f) => [f.budget, f.state, f.isolated])).toEqual([['b', 'open', true]]);
    fuses.reset('b');
    await openai.chat.completions.create(x(1));
    expect(fuses.get('b').state).toBe('closed');
    expect(() => fuses.get('nope')).toThrow('tokenfuse: no budget named "nope"; budgets are "b"');
    expect(llm.requests).toHaveLength(1);
  });
});

describe('stream cut-off', () => {
  it('ends a stream that pushes a cutOffStreams budget over its limit, and closes the request', async () => {
    await setup(
      { budgets: [{ name: 'hard', window: 'hour', limit: { tokens: 40 }, cutOffStreams: true }] },
      '2026-11-23T10:00:00Z',
    );
    const stream = await openai.chat.completions.create({
      model: 'gpt-4.1',
      messages: [{ role: 'user', content: 'x' }],
      max_tokens: 100,
      stream: true,
    });
    let words = 0;
    const err = await (async () => {
      for await (const chunk of stream) if (chunk.choices[0]?.delta?.content) words++;
    })().then(
      () => undefined,
      (e: unknown) => e,
    );
    // The length bound (9 + 100 output) does not fit in 40, so the prompt was tokenized:
    // 7 input tokens. The 34th word makes 41 > 40: the caller sees 33 words, then the error.
    expect(isBudgetExceededError(err)).toBe(true);
    expect((err as BudgetExceededError).budget).toBe('hard');
    expect(words).toBe(33);
    const span = h!.spans()[0]!;
    expect(span.attributes['tokenfuse.stream.cut_off']).toBe(true);
    expect(span.attributes['tokenfuse.usage.estimated']).toBe(true);
  });
});
