// Leases of per-value budgets' values on a real redis-server: a value forgotten by the
// board (its window ended) gives its leased room back and leaves the lease book, and so
// does a value left idle for a lease TTL, so many values over time keep the book bounded
// and no room reserved in Redis.
import { describe, expect, it, vi } from 'vitest';
import { type Budget, normalizeBudget } from '../src/budgets/budget.js';
import { instanceBudget } from '../src/budgets/per-value.js';
import { resolveConfig } from '../src/config/resolved-config.js';
import { RedisFuseStore } from '../src/fuses/stores/redis/store.js';
import { useRedisServer } from './helpers/redis.js';

const redis = useRedisServer();
let prefixes = 0;

const template = normalizeBudget({
  name: 'per-user',
  per: 'user',
  window: 'day',
  limit: { tokens: 1_000_000 },
});
const amounts = { tokens: 150, usd: 0, requests: 1 };
const WRITTEN = { timeout: 10_000, interval: 20 };

function storeAt(prefix: string, ttlMs: number): RedisFuseStore {
  return new RedisFuseStore(
    resolveConfig(
      { ledger: { store: 'redis', url: redis.url, keyPrefix: prefix, leases: { ttlMs } } },
      { env: {} },
    ).ledger,
  );
}

/** Leases in the store's book (its private map). */
const leaseCount = (store: RedisFuseStore) =>
  (store as unknown as { leases: { leases: Map<string, unknown> } }).leases.leases.size;

/** Settled tokens and reserved tokens (calls' and leases'), summed over every account in Redis. */
async function inRedis(prefix: string): Promise<[number, number]> {
  const admin = redis.client();
  let spent = 0;
  let reserved = 0;
  for (const key of await admin.keys(`${prefix}a:*`)) {
    const h = await admin.hgetall(key);
    spent += Number(h['s:t'] ?? 0);
    reserved += Number(h['r:t'] ?? 0);
  }
  return [spent, reserved];
}

/** One call per value, admitted (leasing room) and settled at 100 tokens. */
async function callEach(store: RedisFuseStore, values: readonly Budget[]): Promise<void> {
  for (const budget of values) {
    const now = Date.now();
    const r = await store.admit({ now, entries: [{ budget, amounts }] });
    if (r.kind !== 'decided' || !r.admitted) throw new Error('expected admission');
    void store.settle({
      now,
      budgets: [budget],
      ticket: r.ticket,
      actual: { tokens: 100, usd: 0, requests: 1 },
    });
  }
}

describe('leases of per-value values', () => {
  it('a forgotten value gives its leased room back and leaves the book: many values over time, a bounded book', async () => {
    const prefix = `tf-lease-values-${process.pid}-${++prefixes}:`;
    // Long TTL: only forgetting gives the room back here.
    const store = storeAt(prefix, 60_000);
    try {
      for (let round = 0; round < 4; round++) {
        const values = Array.from({ length: 25 }, (_, i) =>
          instanceBudget(template, `u${round}-${i}`),
        );
        await callEach(store, values);
        expect(leaseCount(store)).toBe(25);
        await vi.waitFor(async () => {
          const [spent, reserved] = await inRedis(prefix);
          expect(spent).toBe(2_500 * (round + 1));
          // Each value's lease holds a slice of its room.
          expect(reserved).toBeGreaterThan(0);
        }, WRITTEN);
        // As the board does when the values' window ended.
        store.forget(values);
        await vi.waitFor(async () => {
          expect(await inRedis(prefix)).toEqual([2_500 * (round + 1), 0]);
          expect(leaseCount(store)).toBe(0);
        }, WRITTEN);
        // Nor does the store keep their last-seen numbers, noted again by the last write.
        const cache = (store as unknown as { cache: Map<string, unknown> }).cache;
        expect(cache.size).toBe(0);
      }
    } finally {
      await store.close();
    }
    expect(await inRedis(prefix)).toEqual([10_000, 0]);
  });

  it('a value idle for a lease TTL gives its room back and leaves the book; its next call leases again', async () => {
    const prefix = `tf-lease-values-${process.pid}-${++prefixes}:`;
    const store = storeAt(prefix, 1_000);
    try {
      const values = Array.from({ length: 10 }, (_, i) => instanceBudget(template, `idle${i}`));
      await callEach(store, values);
      expect(leaseCount(store)).toBe(10);
      await vi.waitFor(async () => {
        expect(await inRedis(prefix)).toEqual([1_000, 0]);
        expect(leaseCount(store)).toBe(0);
      }, WRITTEN);
      await callEach(store, values.slice(0, 1));
      expect(leaseCount(store)).toBe(1);
      await vi.waitFor(async () => expect((await inRedis(prefix))[0]).toBe(1_100), WRITTEN);
    } finally {
      await store.close();
    }
    expect(await inRedis(prefix)).toEqual([1_100, 0]);
  });
});
