// Leases through the public `fuses` API (the board's fast path, `admitClear`), on a real
// redis-server: calls admitted from a lease are decided synchronously, settlements with
// nothing to report do not wait for the background write, and still every call's spend
// lands in Redis once, thresholds fire once fleet-wide, and the limit holds.
import { describe, expect, it, type MockInstance, vi } from 'vitest';
import { normalizeBudget } from '../src/budgets/budget.js';
import { resolveConfig } from '../src/config/resolved-config.js';
import { RedisFuseStore } from '../src/fuses/stores/redis/store.js';
import { createTokenfuse, type ThresholdEvent, type Tokenfuse } from '../src/index.js';
import { isPromise, RESERVES_150 } from './helpers/budget-calls.js';
import { perUserRedisBoard } from './helpers/per-user-board.js';
import { useRedisServer } from './helpers/redis.js';

const redis = useRedisServer();
let prefixes = 0;

/** Reserves 100 input + 50 output tokens. */
const call = RESERVES_150;
const RESERVATION = 150;

function replica(prefix: string, budget: Record<string, unknown>): Tokenfuse {
  return createTokenfuse({
    metrics: { exporter: 'none' },
    budgets: [{ name: 'fleet', window: 'day', ...budget } as never],
    ledger: { store: 'redis', url: redis.url, keyPrefix: prefix, timeoutMs: 5000, leases: true },
  });
}

/** Settled tokens and reservations of the budget, as Redis holds them. */
async function inRedis(prefix: string): Promise<[number, number]> {
  const admin = redis.client();
  const keys = await admin.keys(`${prefix}a:fleet:day:*`);
  if (keys.length === 0) return [0, 0];
  const h = await admin.hgetall(keys[0]!);
  return [Number(h['s:t'] ?? 0), Number(h['r:t'] ?? 0)];
}

// Background writes land a moment later: wait for the exact figure, and fail on it (with the
// last value read) rather than on the test's timeout.
const WRITTEN = { timeout: 10_000, interval: 20 };

describe('leases through the fuses API', () => {
  it('admits from the lease synchronously, writes every spend once, and fires a threshold once across replicas', async () => {
    const prefix = `tf-lease-board-${process.pid}-${++prefixes}:`;
    // A slice is a quarter of the room left: 60 calls fit in the first replica's.
    const budget = { limit: { tokens: 1_200_000 }, thresholds: [0.005] };
    const a = replica(prefix, budget);
    const b = replica(prefix, budget);
    try {
      const seen: string[] = [];
      const crossed = new Promise<void>((resolve) => {
        for (const [name, t] of [
          ['a', a],
          ['b', b],
        ] as const)
          t.fuses.onThreshold((e: ThresholdEvent) => {
            seen.push(`${name}:${e.threshold}:${e.spent}`);
            resolve();
          });
      });
      // The first call leases room: one round trip.
      const first = await a.fuses.admit(call);
      if (!('admitted' in first)) throw new Error('expected admission');
      a.fuses.settle(first.admitted, { tokens: 100, usd: 0 });
      await vi.waitFor(async () => expect((await inRedis(prefix))[0]).toBe(100), WRITTEN);
      // The next ones are decided from the lease, in this tick, and settled in it: one
      // background write carries all their spend (5,900 tokens: 6,000 crosses 0.5%).
      for (let i = 0; i < 59; i++) {
        const r = a.fuses.admit(call);
        expect(isPromise(r)).toBe(false);
        if (isPromise(r) || !('admitted' in r)) throw new Error('expected a local admission');
        a.fuses.settle(r.admitted, { tokens: 100, usd: 0 });
      }
      await crossed;
      expect(await inRedis(prefix)).toEqual([6000, expect.any(Number)]);
      // Another replica's calls: nothing new to report.
      for (let i = 0; i < 10; i++) {
        const r = await b.fuses.admit(call);
        if (!('admitted' in r)) throw new Error('expected admission');
        b.fuses.settle(r.admitted, { tokens: 100, usd: 0 });
      }
      await vi.waitFor(async () => expect((await inRedis(prefix))[0]).toBe(7000), WRITTEN);
      expect(seen).toEqual(['a:0.005:6000']);
    } finally {
      await a.fuses.close();
      await b.fuses.close();
    }
    // Closing gave every lease back: no room left reserved.
    expect(await inRedis(prefix)).toEqual([7000, 0]);
  });

  it('replicas racing to the limit through the fast path overshoot by at most one reservation', async () => {
    const prefix = `tf-lease-board-${process.pid}-${++prefixes}:`;
    const limit = 30_000;
    const replicas = Array.from({ length: 3 }, () => replica(prefix, { limit: { tokens: limit } }));
    let spent = 0;
    let admitted = 0;
    const loop = async (t: Tokenfuse, n: number) => {
      for (;;) {
        const r = await t.fuses.admit(call);
        if (!('admitted' in r)) {
          // Room held by another replica comes back: try again; a reached limit is final.
          if (r.blocked.reason === 'limit_reached') return;
          await new Promise((resolve) => setTimeout(resolve, 5));
          continue;
        }
        admitted++;
        const used = RESERVATION - (n % 3) * 25;
        spent += used;
        t.fuses.settle(r.admitted, { tokens: used, usd: 0 });
        if (admitted % 16 === 0) await new Promise((resolve) => setImmediate(resolve));
      }
    };
    try {
      await Promise.all(
        replicas.flatMap((t, i) => Array.from({ length: 8 }, (_, j) => loop(t, i * 8 + j))),
      );
    } finally {
      await Promise.all(replicas.map((t) => t.fuses.close()));
    }
    // Every call's spend is in Redis once, and no reservation or lease is left.
    expect(await inRedis(prefix)).toEqual([spent, 0]);
    expect(spent).toBeLessThanOrEqual(limit + RESERVATION);
    expect(spent).toBeGreaterThanOrEqual(limit - RESERVATION);
    expect(admitted).toBeGreaterThan(0);
  });
});

describe('lease settlements', () => {
  it('the first settlement after a write waits for the next and reports it; quiet ones after it answer at once', async () => {
    const prefix = `tf-lease-board-${process.pid}-${++prefixes}:`;
    const store = new RedisFuseStore(
      resolveConfig(
        { ledger: { store: 'redis', url: redis.url, keyPrefix: prefix, leases: true } },
        { env: {} },
      ).ledger,
    );
    const budget = normalizeBudget({ name: 'fleet', window: 'day', limit: { tokens: 1_000_000 } });
    const amounts = { tokens: RESERVATION, usd: 0, requests: 1 };
    try {
      const now = Date.now();
      const first = await store.admit({ now, entries: [{ budget, amounts }] });
      if (first.kind !== 'decided' || !first.admitted) throw new Error('expected admission');
      // From the lease, with nothing to look up: the fast path.
      const tickets = [
        first.ticket,
        ...Array.from({ length: 3 }, () => store.admitClear([budget], amounts, now)),
      ];
      expect(tickets.every((t) => t !== undefined)).toBe(true);
      const settle = (ticket: unknown, quiet: boolean) =>
        store.settle({
          now,
          budgets: [budget],
          ticket,
          actual: { tokens: 100, usd: 0, requests: 1 },
          quiet,
        });
      const reporter = settle(tickets[0], true);
      expect(isPromise(reporter)).toBe(true);
      // Nothing new for these to report: they do not wait for the write.
      expect(settle(tickets[1], true)).toBeUndefined();
      expect(settle(tickets[2], true)).toBeUndefined();
      // Not quiet: waits for the write and answers the budget's state.
      const loud = await settle(tickets[3], false);
      expect(loud?.states[0]?.spent.tokens).toBe(400);
      // A quiet settlement with no threshold and no transition answers nothing.
      expect(await reporter).toBeUndefined();
      expect(await inRedis(prefix)).toEqual([400, expect.any(Number)]);
    } finally {
      await store.close();
    }
    expect(await inRedis(prefix)).toEqual([400, 0]);
  });
});

describe('per-value budgets on leases', () => {
  it("the fast path notes each value as the full path would: the same decisions and summaries, call for call, with no round trip once a value's lease is held", async () => {
    const boardOn = (fast: boolean) => {
      let fullPath: MockInstance<RedisFuseStore['admit']> | undefined;
      const { board, store } = perUserRedisBoard(
        redis.url,
        { keyPrefix: `tf-lease-pv-${process.pid}-${++prefixes}:`, leases: true },
        (store) => {
          // The reference: no fast path, every call through the store's admit.
          if (!fast) Object.defineProperty(store, 'admitClear', { value: undefined });
          fullPath = vi.spyOn(store, 'admit');
        },
      );
      return { board, store, fullPath: fullPath! };
    };
    const fast = boardOn(true);
    const full = boardOn(false);
    const users = ['a', 'b', 'a', 'a', 'c', 'b', 'a', 'c', 'a'];
    let sync = 0;
    /** Per call, whether the fast board's store was asked to admit (the full path). */
    const viaAdmit: boolean[] = [];
    try {
      for (const [i, user] of users.entries()) {
        const answers: string[] = [];
        for (const b of [fast, full]) {
          const asked = b.fullPath.mock.calls.length;
          const pending = b.board.admit({ ...call, tags: { user } });
          if (b === fast) viaAdmit.push(b.fullPath.mock.calls.length > asked);
          if (b === fast && !isPromise(pending)) sync++;
          const r = await pending;
          if (!('admitted' in r)) throw new Error(`blocked: ${r.blocked.message}`);
          const { budgets, reserved } = r.admitted;
          answers.push(budgets.map((x, j) => `${x.name}:${reserved[j]!.tokens}`).join());
          b.board.settle(r.admitted, { tokens: 1000 * (i + 1), usd: 0 });
        }
        expect(answers).toEqual([`per-user[${user}]:150`, `per-user[${user}]:150`]);
        expect(fast.board.perValueSummaries(10)).toEqual(full.board.perValueSummaries(10));
      }
      // a: 1 + 3 + 4 + 7 + 9 thousand tokens; b: 2 + 6; c: 5 + 8, of 100,000 each.
      expect(fast.board.perValueSummaries(10)[0]!.top).toEqual([
        { key: 'a', utilization: 0.24 },
        { key: 'c', utilization: 0.13 },
        { key: 'b', utilization: 0.08 },
      ]);
      // The first call of each value leases room through admit (a round trip); the rest
      // were decided on the fast path from the lease, synchronously.
      expect(viaAdmit).toEqual(users.map((u, i) => users.indexOf(u) === i));
      expect(sync).toBe(users.length - 3);
      expect(full.fullPath.mock.calls.length).toBeGreaterThanOrEqual(users.length);
    } finally {
      await fast.store.close();
      await full.store.close();
    }
  });

  it("keeps a value's spend in its summary while the write of that spend is on its way", async () => {
    const { board, store } = perUserRedisBoard(redis.url, {
      keyPrefix: `tf-lease-pv-${process.pid}-${++prefixes}:`,
      leases: true,
    });
    const admin = redis.client();
    const utilization = () => board.perValueSummaries(10)[0]?.top[0]?.utilization;
    const spend = async (tokens: number) => {
      const r = await board.admit({ ...call, tags: { user: 'a' } });
      if (!('admitted' in r)) throw new Error(`blocked: ${r.blocked.message}`);
      board.settle(r.admitted, { tokens, usd: 0 });
    };
    try {
      // 2,000 tokens written, and seen back from Redis.
      await spend(2000);
      await vi.waitFor(async () => expect((await inRedisPerUser(admin))[0]).toBe(2000), WRITTEN);
      await spend(3000);
      expect(utilization()).toBe(0.05);
      // Redis holds every write for a while: the next background write of the 3,000 is sent
      // and waits for its answer.
      await admin.call('CLIENT', 'PAUSE', '600', 'WRITE');
      await new Promise((r) => setTimeout(r, 300));
      expect((await inRedisPerUser(admin))[0]).toBe(2000);
      // A call from the lease meanwhile notes the value again: 2,000 seen, 3,000 being
      // written, 1,000 its own.
      await spend(1000);
      expect(utilization()).toBe(0.06);
      // Answered: the same figure, from Redis.
      await vi.waitFor(async () => expect((await inRedisPerUser(admin))[0]).toBe(6000), WRITTEN);
      expect(utilization()).toBe(0.06);
    } finally {
      await admin.call('CLIENT', 'UNPAUSE');
      await store.close();
    }
  });
});

/** The per-user budget's settled tokens and reservations in Redis, summed over its values. */
async function inRedisPerUser(admin: ReturnType<typeof redis.client>): Promise<[number, number]> {
  let s = 0;
  let r = 0;
  for (const key of await admin.keys(`tf-lease-pv-${process.pid}-${prefixes}:*per-user*`)) {
    if ((await admin.type(key)) !== 'hash') continue;
    const h = await admin.hgetall(key);
    s += Number(h['s:t'] ?? 0);
    r += Number(h['r:t'] ?? 0);
  }
  return [s, r];
}
