// The Redis ledger while Redis is away, through the public `fuses` API, on a real
// redis-server (SIGSTOP): calls are decided by the local store on the board's fast path,
// their spend is queued as one update per budget however many calls there are, and once
// Redis answers again it is written once, in a few scripts.
import { describe, expect, it, vi } from 'vitest';
import { createTokenfuse } from '../src/index.js';
import { isPromise, RESERVES_150 } from './helpers/budget-calls.js';
import { perUserRedisBoard } from './helpers/per-user-board.js';
import { scriptCalls, useRedisServer } from './helpers/redis.js';

const redis = useRedisServer();

/** Reserves 100 input + 50 output tokens. */
const call = RESERVES_150;

describe('calls decided locally while Redis is away', () => {
  it('take the fast path, queue one update per budget, and are written once when Redis answers', async () => {
    const prefix = `tf-degraded-${process.pid}:`;
    const names = ['a', 'b', 'c'];
    const tf = createTokenfuse({
      metrics: { exporter: 'none' },
      budgets: names.map((name) => ({ name, window: 'day' as const, limit: { tokens: 1e9 } })),
      ledger: { store: 'redis', url: redis.url, keyPrefix: prefix, timeoutMs: 300 },
    });
    const spend = async (n: number) => {
      const r = await tf.fuses.admit(call);
      if (!('admitted' in r)) throw new Error('expected admission');
      tf.fuses.settle(r.admitted, { tokens: n, usd: 0 });
    };
    try {
      await spend(10); // in Redis
      redis.pause();
      await spend(10); // times out: local fallback from here
      // Decided locally, synchronously: no promise, no round trip.
      for (let i = 0; i < 1000; i++) {
        const r = tf.fuses.admit(call);
        expect(isPromise(r)).toBe(false);
        if (isPromise(r) || !('admitted' in r)) throw new Error('expected a local admission');
        tf.fuses.settle(r.admitted, { tokens: 1, usd: 0 });
      }
      redis.resume();
      const before = await scriptCalls(redis.client());
      // Redis holds every call's spend once: 10 + 10 + 1000 × 1 in each budget.
      const admin = redis.client();
      const spent = async () =>
        Promise.all(
          names.map(async (name) => {
            const [key] = await admin.keys(`${prefix}a:${name}:day:*`);
            return key === undefined ? 0 : Number((await admin.hget(key, 's:t')) ?? 0);
          }),
        );
      // Written in the background once Redis answers: wait for the exact figures, failing on
      // them (not on the test's timeout) if they never come.
      await vi.waitFor(async () => expect(await spent()).toEqual([1020, 1020, 1020]), {
        timeout: 10_000,
        interval: 20,
      });
      await tf.fuses.close();
      expect(await spent()).toEqual([1020, 1020, 1020]);
      // A thousand calls' spend went in a few scripts (one update per budget), not a thousand.
      expect((await scriptCalls(redis.client())) - before).toBeLessThan(20);
    } finally {
      redis.resume();
      await tf.fuses.close();
    }
  });
});

describe('per-value budgets while Redis is away', () => {
  it("values' summaries get their numbers from the local store's notes, on the fast path", async () => {
    const prefix = `tf-degraded-pv-${process.pid}:`;
    const { board, store } = perUserRedisBoard(redis.url, { keyPrefix: prefix, timeoutMs: 300 });
    const spend = (user: string, tokens: number, sync: boolean) => {
      const pending = board.admit({ ...call, tags: { user } });
      expect(isPromise(pending)).toBe(!sync);
      return Promise.resolve(pending).then((r) => {
        if (!('admitted' in r)) throw new Error(`blocked: ${r.blocked.message}`);
        board.settle(r.admitted, { tokens, usd: 0 });
      });
    };
    try {
      await spend('a', 10_000, false);
      // In Redis before it goes away: the settlement is not awaited, so wait for its write.
      await vi.waitFor(async () => expect(await settledInRedis(prefix)).toBe(10_000), {
        timeout: 10_000,
        interval: 20,
      });
      redis.pause();
      await spend('a', 20_000, false); // times out: the local store from here
      expect(store.degraded).toBe(true);
      // Decided by the local store on the fast path, in this tick: it notes each value.
      await spend('b', 5_000, true);
      await spend('a', 30_000, true);
      expect(board.perValueSummaries(10)[0]!.top).toEqual([
        { key: 'a', utilization: 0.6 },
        { key: 'b', utilization: 0.05 },
      ]);
      expect(board.perValueSummaries(10)[0]!.counts).toEqual({
        tracked: 2,
        near: 0,
        over: 0,
        open: 0,
      });
    } finally {
      redis.resume();
      await store.close();
    }
  });
});

/** Tokens settled in Redis under `prefix`, over every budget hash. */
async function settledInRedis(prefix: string): Promise<number> {
  const admin = redis.client();
  let tokens = 0;
  for (const key of await admin.keys(`${prefix}*`)) {
    if ((await admin.type(key)) === 'hash') tokens += Number((await admin.hget(key, 's:t')) ?? 0);
  }
  return tokens;
}
