// The Redis ledger at fleet scale, on real redis-servers: recovery after a stall
// under load. Stores are driven directly (as the fuse case table does): what is
// asserted is the ledger's own state and numbers, not an SDK's.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { LedgerOptions } from '../src/budget-options.js';
import { type Budget, normalizeBudget } from '../src/budgets/budget.js';
import { resolveConfig } from '../src/config/resolved-config.js';
import { RedisFuseStore } from '../src/fuses/stores/redis/store.js';
import { scriptCalls, useRedisServer } from './helpers/redis.js';
import { RedisCluster } from './helpers/redis-cluster.js';

const redis = useRedisServer();
let prefixes = 0;

function store(extra: LedgerOptions = {}, url = redis.url): RedisFuseStore {
  return new RedisFuseStore(
    resolveConfig(
      {
        ledger: {
          store: 'redis',
          url,
          keyPrefix: `tf-fleet-${process.pid}-${++prefixes}:`,
          ...extra,
        },
      },
      { env: {} },
    ).ledger,
  );
}

/** Settled spend and reservations of `budgets`, as Redis holds them. */
async function shared(s: RedisFuseStore, budgets: Budget[]) {
  const { states } = await s.read(budgets, Date.now());
  return states.map((st) => [st.spent.tokens, st.reserved.tokens, st.spent.requests]);
}

describe('recovery after a stall under load', () => {
  it('leaves local fallback once Redis answers again, whatever the backlog, with every call reconciled once', async () => {
    const budgets = Array.from({ length: 10 }, (_, i) =>
      normalizeBudget({ name: `b${i}`, window: 'day', limit: { tokens: 1e12 } }),
    );
    const s = store({ timeoutMs: 50 });
    const entries = budgets.map((budget) => ({
      budget,
      amounts: { tokens: 3, usd: 0, requests: 1 },
    }));
    let failures = 0;
    s.setListener({ transitions: () => undefined, ledgerError: () => void failures++ });
    let calls = 0;
    let stop = false;
    let stalled = false;
    let recoveredUnderLoad = false;
    const worker = async () => {
      while (!stop) {
        const now = Date.now();
        const outcome = await s.admit({ now, entries });
        if (outcome.kind !== 'decided' || !outcome.admitted) throw new Error('not admitted');
        calls++;
        await s.settle({
          now,
          budgets,
          ticket: outcome.ticket,
          actual: { tokens: 2, usd: 0, requests: 1 },
        });
        if (stalled && !s.degraded) recoveredUnderLoad = true;
        // The load goes on until the store is back, but not forever.
        if (recoveredUnderLoad || calls > 40_000) stop = true;
        await new Promise((r) => setImmediate(r));
      }
    };
    const load = Promise.all(Array.from({ length: 20 }, worker));
    while (calls < 500) await new Promise((r) => setTimeout(r, 10));
    // Redis stops answering for 300 ms while 20 callers keep calling; the test's own
    // PING is answered when the pause ends.
    await redis.client().call('CLIENT', 'PAUSE', '300', 'ALL');
    await redis.client().ping();
    stalled = true;
    await load;
    expect(failures).toBeGreaterThan(0);
    expect(s.degraded).toBe(false);
    expect(recoveredUnderLoad).toBe(true);
    await s.close();
    // Every call's spend is in Redis exactly once, and no reservation is left behind.
    const check = store({ keyPrefix: s.keyPrefix });
    expect(await shared(check, budgets)).toEqual(budgets.map(() => [2 * calls, 0, calls]));
    await check.close();
  });
});

describe('leases', () => {
  it('4 stores racing to the limit: no round trip per call, overshoot at most one reservation, no room left stranded', async () => {
    const limit = 200_000;
    const budget = normalizeBudget({ name: 'fleet', window: 'day', limit: { tokens: limit } });
    const first = store({ leases: { minSlice: 0.001, ttlMs: 5000 }, timeoutMs: 5000 });
    const stores = [
      first,
      ...Array.from({ length: 3 }, () =>
        store({ keyPrefix: first.keyPrefix, leases: true, timeoutMs: 5000 }),
      ),
    ];
    const admin = redis.client();
    const before = await scriptCalls(admin);
    const reservation = 40;
    let admitted = 0;
    let spent = 0;
    const worker = async (s: RedisFuseStore, n: number) => {
      for (;;) {
        const now = Date.now();
        const outcome = await s.admit({
          now,
          entries: [{ budget, amounts: { tokens: reservation, usd: 0, requests: 1 } }],
        });
        if (outcome.kind !== 'decided') throw outcome.error;
        if (!outcome.admitted) {
          const d = outcome.decisions[0]!;
          // Room held elsewhere comes back: try again; a reached limit is final.
          if (d.kind === 'block' && d.reason === 'limit_reached') return;
          await new Promise((r) => setTimeout(r, 5));
          continue;
        }
        admitted++;
        // Calls use what they reserved, or less.
        const used = reservation - (n % 3) * 10;
        spent += used;
        await s.settle({
          now,
          budgets: [budget],
          ticket: outcome.ticket,
          actual: { tokens: used, usd: 0, requests: 1 },
        });
      }
    };
    await Promise.all(
      stores.flatMap((s, i) => Array.from({ length: 10 }, (_, j) => worker(s, i * 10 + j))),
    );
    await Promise.all(stores.map((s) => s.close()));
    const check = store({ keyPrefix: first.keyPrefix });
    const [row] = await shared(check, [budget]);
    await check.close();
    // Every call's spend is in Redis once; every lease was given back.
    expect(row).toEqual([spent, 0, admitted]);
    // The guarantee: the limit is overshot by at most one call's reservation.
    expect(spent).toBeLessThanOrEqual(limit + reservation);
    // No replica stopped while another held room: the budget was used up.
    expect(spent).toBeGreaterThanOrEqual(limit);
    // Far fewer scripts than calls: admissions came from the leases.
    const scripts = (await scriptCalls(admin)) - before;
    expect(scripts).toBeLessThan(admitted / 4);
  });
});

describe('on a Redis Cluster of three masters', () => {
  let cluster: RedisCluster;
  beforeAll(async () => {
    cluster = await RedisCluster.start();
  }, 60_000);
  afterAll(async () => {
    await cluster?.stop();
  });

  // Generous timeouts: these cases check what lands in the cluster, not how fast; on a loaded
  // machine a store that gave up connecting would admit locally, which is not what they test.
  const clusterStore = (extra: LedgerOptions = {}) =>
    new RedisFuseStore(
      resolveConfig(
        {
          ledger: {
            store: 'redis',
            cluster: cluster.urls,
            timeoutMs: 5000,
            connectTimeoutMs: 30_000,
            ...extra,
          },
        },
        { env: {} },
      ).ledger,
    );

  it('keys are hash-tagged per budget; calls matching budgets in different slots admit, settle and block', async () => {
    const prefix = `tf-cl-${process.pid}-${++prefixes}:`;
    const names = ['alpha', 'beta', 'gamma', 'delta'];
    const budgets = names.map((name) =>
      normalizeBudget({ name, window: 'day', limit: { tokens: name === 'delta' ? 30 : 1000 } }),
    );
    // The budgets hash to different slots (so, with three masters, not all on one).
    const slots = await Promise.all(
      names.map((n) => cluster.cli('cluster', 'keyslot', `{${prefix}${n}}`)),
    );
    expect(new Set(slots).size).toBe(4);
    const s = clusterStore({ keyPrefix: prefix });
    const entries = budgets.map((budget) => ({
      budget,
      amounts: { tokens: 10, usd: 0, requests: 1 },
    }));
    for (let i = 0; i < 3; i++) {
      const now = Date.now();
      const outcome = await s.admit({ now, entries });
      if (outcome.kind !== 'decided') throw outcome.error;
      expect(outcome.admitted).toBe(true);
      await s.settle({
        now,
        budgets,
        ticket: outcome.ticket,
        actual: { tokens: 10, usd: 0, requests: 1 },
      });
    }
    // delta (30 tokens) is spent: the call is blocked, and what the others reserved is given back.
    const blocked = await s.admit({ now: Date.now(), entries });
    if (blocked.kind !== 'decided') throw blocked.error;
    expect(blocked.admitted).toBe(false);
    expect(blocked.decisions.map((d) => (d.kind === 'block' ? d.reason : d.kind))).toEqual([
      'admit',
      'admit',
      'admit',
      'limit_reached',
    ]);
    await vi.waitFor(async () =>
      expect(await shared(s, budgets)).toEqual(budgets.map(() => [30, 0, 3])),
    );
    // Every key of a budget is in its slot.
    const windowStart = Date.now() - (Date.now() % 86_400_000);
    expect(
      await cluster.cli('cluster', 'keyslot', `{${prefix}alpha}a:alpha:day:${windowStart}`),
    ).toBe(slots[0]);
    expect(await cluster.cli('hget', `{${prefix}alpha}a:alpha:day:${windowStart}`, 's:t')).toBe(
      '30',
    );
    await s.close();
  });

  // A cluster client's first connection races its nodes' handshakes: the slot map can arrive
  // while a node's connection is still saying HELLO, and the client's ready check (CLUSTER
  // INFO to a random node) used to be refused on it ("Connection is closed"); the client then
  // ended, and a late close of its node connections left it where it never reconnected: the
  // store stayed in local fallback for good. Clients starting together make that race likely.
  it('every cluster client connects when many start at once, and decides its calls in Redis', async () => {
    const prefix = `tf-cl-${process.pid}-${++prefixes}:`;
    const budget = normalizeBudget({ name: 'together', window: 'day', limit: { tokens: 1e9 } });
    let failures = 0;
    const stores = Array.from({ length: 12 }, () => {
      const s = clusterStore({ keyPrefix: prefix, onFailure: 'closed', connectTimeoutMs: 10_000 });
      s.setListener({ transitions: () => undefined, ledgerError: () => void failures++ });
      return s;
    });
    const outcomes = await Promise.all(
      stores.map((s) =>
        s.admit({
          now: Date.now(),
          entries: [{ budget, amounts: { tokens: 5, usd: 0, requests: 1 } }],
        }),
      ),
    );
    expect(outcomes.map((o) => (o.kind === 'decided' ? o.admitted : o.kind))).toEqual(
      stores.map(() => true),
    );
    expect(failures).toBe(0);
    expect(stores.map((s) => s.degraded)).toEqual(stores.map(() => false));
    await Promise.all(
      stores.map((s, i) => {
        const o = outcomes[i]!;
        if (o.kind !== 'decided') throw new Error('not decided');
        const actual = { tokens: 5, usd: 0, requests: 1 };
        return s.settle({ now: Date.now(), budgets: [budget], ticket: o.ticket, actual });
      }),
    );
    expect(await shared(stores[0]!, [budget])).toEqual([[60, 0, 12]]);
    await Promise.all(stores.map((s) => s.close()));
  });

  it('manual actions on budgets in different slots reach every replica through one journal', async () => {
    const prefix = `tf-cl-${process.pid}-${++prefixes}:`;
    const [alpha, beta] = ['alpha', 'beta'].map((name) =>
      normalizeBudget({ name, window: 'day', limit: { tokens: 1000 } }),
    ) as [Budget, Budget];
    expect(await cluster.cli('cluster', 'keyslot', `{${prefix}alpha}`)).not.toBe(
      await cluster.cli('cluster', 'keyslot', `{${prefix}beta}`),
    );
    const operator = clusterStore({ keyPrefix: prefix });
    const replica = clusterStore({ keyPrefix: prefix });
    const seen: unknown[] = [];
    const listener = (into: unknown[]) => ({
      transitions: () => undefined,
      ledgerError: () => undefined,
      manual: (entries: unknown[]) => void into.push(...entries),
    });
    const own: unknown[] = [];
    replica.setListener(listener(seen));
    operator.setListener(listener(own));
    // The replica has read the journal once before the actions (it follows from its start).
    await replica.read([alpha, beta], Date.now());
    const note = { by: 'alice', reason: 'INC-7' };
    await operator.control(alpha, 'isolate', Date.now(), { note });
    await operator.control(beta, 'raise', Date.now(), {
      amounts: { tokens: 50, usd: 0, requests: 0 },
      note,
    });
    await operator.control(alpha, 'reset', Date.now(), { note: { by: 'bob', reason: 'over' } });
    await replica.read([alpha, beta], Date.now());
    expect(seen).toEqual([
      { budget: 'alpha', action: 'isolate', from: 'closed', to: 'open', ...note },
      { budget: 'beta', action: 'raise', from: 'closed', to: 'closed', ...note },
      { budget: 'alpha', action: 'reset', from: 'open', to: 'closed', by: 'bob', reason: 'over' },
    ]);
    // The operator reported its own actions when it made them, not again from the journal.
    await operator.read([alpha, beta], Date.now());
    expect(own).toEqual([]);
    // One stream for the fleet, in a slot of its own; none in the budgets' slots.
    expect(await cluster.cli('xlen', `{${prefix}}manual`)).toBe('3');
    expect(await cluster.cli('exists', `{${prefix}alpha}manual`)).toBe('0');
    await Promise.all([operator.close(), replica.close()]);
  });

  it('leases on a cluster: replicas admit from their slices and the spend lands in each budget once', async () => {
    const prefix = `tf-cl-${process.pid}-${++prefixes}:`;
    const budgets = ['one', 'two'].map((name) =>
      normalizeBudget({ name, window: 'hour', limit: { tokens: 100_000 } }),
    );
    const stores = [0, 1].map(() => clusterStore({ keyPrefix: prefix, leases: true }));
    const entries = budgets.map((budget) => ({
      budget,
      amounts: { tokens: 50, usd: 0, requests: 1 },
    }));
    let calls = 0;
    await Promise.all(
      stores.flatMap((s) =>
        Array.from({ length: 5 }, async () => {
          for (let i = 0; i < 40; i++) {
            const now = Date.now();
            const outcome = await s.admit({ now, entries });
            if (outcome.kind !== 'decided' || !outcome.admitted) throw new Error('not admitted');
            calls++;
            await s.settle({
              now,
              budgets,
              ticket: outcome.ticket,
              actual: { tokens: 7, usd: 0, requests: 1 },
            });
          }
        }),
      ),
    );
    await Promise.all(stores.map((s) => s.close()));
    const check = clusterStore({ keyPrefix: prefix });
    expect(await shared(check, budgets)).toEqual(budgets.map(() => [7 * calls, 0, calls]));
    await check.close();
  });
});

describe('ledger.leases and ledger.cluster configuration', () => {
  const issues = (ledger: unknown, env: NodeJS.ProcessEnv = {}) => {
    try {
      return resolveConfig({ ledger } as never, { env }).ledger;
    } catch (e) {
      return (e as Error).message;
    }
  };

  it('resolves the defaults: leases off unless given, 0.001 of each limit, 10 s leases', () => {
    const url = 'redis://ledger:6379';
    expect(issues({ store: 'redis', url })).toMatchObject({
      leases: undefined,
      cluster: undefined,
    });
    expect(issues({ store: 'redis', url, leases: true })).toMatchObject({
      leases: { minSlice: 0.001, ttlMs: 10_000 },
    });
    expect(issues({ store: 'redis', url, leases: { minSlice: 0.01, ttlMs: 3000 } })).toMatchObject({
      leases: { minSlice: 0.01, ttlMs: 3000 },
    });
    expect(issues({ store: 'redis', url, leases: { enabled: false } })).toMatchObject({
      leases: undefined,
    });
    expect(issues({ store: 'redis', cluster: ['redis://a:7000', 'redis://b:7001'] })).toMatchObject(
      {
        url: undefined,
        cluster: ['redis://a:7000', 'redis://b:7001'],
      },
    );
  });

  it('rejects bad values, and combinations that cannot work, naming the field', () => {
    expect(
      issues({
        store: 'redis',
        url: 'redis://x',
        leases: { minSlice: 2, ttlMs: 10, slice: 1 },
        cluster: [],
      }),
    ).toBe(
      [
        'invalid tokenfuse configuration in code:',
        '  - ledger.cluster: expected a non-empty array of redis:// or rediss:// URLs (the cluster nodes to start from), got an empty array',
        '  - ledger.leases.minSlice: expected a fraction in (0, 1] (of each limit), got 2 (number)',
        '  - ledger.leases.ttlMs: expected an integer >= 1000 (ms), got 10 (number)',
        "  - ledger.leases: unknown field 'slice'",
      ].join('\n'),
    );
    expect(issues({ leases: true })).toBe(
      "invalid tokenfuse configuration in code:\n  - ledger.leases: needs ledger.store 'redis' (the in-memory store has no one to lease from)",
    );
    expect(
      issues(
        { store: 'redis', cluster: ['redis://a:7000'] },
        { TOKENFUSE_LEDGER_URL: 'redis://b:6379' },
      ),
    ).toBe(
      "invalid tokenfuse configuration in code:\n  - ledger.cluster: cannot be combined with TOKENFUSE_LEDGER_URL (give the cluster's nodes in ledger.cluster only)",
    );
  });
});
