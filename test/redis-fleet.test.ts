// The Redis ledger at fleet scale, on real redis-servers: recovery after a stall
// under load. Stores are driven directly (as the fuse case table does): what is
// asserted is the ledger's own state and numbers, not an SDK's.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LedgerOptions } from '../src/budget-options.js';
import { type Budget, normalizeBudget } from '../src/budgets/budget.js';
import { resolveConfig } from '../src/config/resolved-config.js';
import { RedisFuseStore } from '../src/fuses/stores/redis/store.js';
import { RedisServer } from './helpers/redis.js';

let redis: RedisServer;
let prefixes = 0;
beforeAll(async () => {
  redis = await RedisServer.start();
});
afterAll(async () => {
  await redis?.stop();
});

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

/** EVALSHA and EVAL calls Redis has served (INFO commandstats). */
async function scriptCalls(admin: import('ioredis').Redis): Promise<number> {
  const info = await admin.info('commandstats');
  let calls = 0;
  for (const m of info.matchAll(/^cmdstat_(evalsha|eval):calls=(\d+)/gm)) calls += Number(m[2]);
  return calls;
}
