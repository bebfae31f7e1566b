// The ACL lines docs/operator-control.md documents ("Roles"), on real Redis users: each
// line names the ledger's keys both as they are on one Redis (`tokenfuse:…`) and as they
// are on a Redis Cluster (hash-tagged, `{tokenfuse:…}…`), so the same users work on both.
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LedgerOptions } from '../src/budget-options.js';
import { normalizeBudget } from '../src/budgets/budget.js';
import { resolveConfig } from '../src/config/resolved-config.js';
import { isLedgerPermissionError } from '../src/errors/ledger-control-error.js';
import { RedisFuseStore } from '../src/fuses/stores/redis/store.js';
import { RedisServer } from './helpers/redis.js';
import { RedisCluster } from './helpers/redis-cluster.js';

const COMMON = [
  '+@scripting',
  '-@dangerous',
  '+info',
  '+ping',
  '+client|setname',
  '+cluster|slots',
  '+cluster|info',
];
/** The documented lines, for `prefix` (`tokenfuse:` in the docs). */
const users = (prefix: string) => ({
  viewer: ['reset', 'on', '>viewer-secret', `%R~${prefix}*`, `%R~{${prefix}*`, '+@read', ...COMMON],
  app: [
    'reset',
    'on',
    '>app-secret',
    `~${prefix}*`,
    `~{${prefix}*`,
    '+@read',
    '+@write',
    ...COMMON,
  ],
});

async function setUsers(client: Redis, prefix: string): Promise<void> {
  for (const [name, rules] of Object.entries(users(prefix)))
    await client.call('ACL', 'SETUSER', name, ...rules);
}

const budget = normalizeBudget({ name: 'marketing', window: 'day', limit: { tokens: 1000 } });
const amounts = { tokens: 150, usd: 0, requests: 1 };

/** As the app: an admission from a lease and its settlement, written back; a reset. */
async function appWorks(store: RedisFuseStore): Promise<void> {
  const now = Date.now();
  const outcome = await store.admit({ now, entries: [{ budget, amounts }] });
  if (outcome.kind !== 'decided' || !outcome.admitted) throw new Error('expected admission');
  await store.settle({
    now,
    budgets: [budget],
    ticket: outcome.ticket,
    actual: { tokens: 120, usd: 0, requests: 1 },
  });
  expect(store.degraded).toBe(false);
  const reset = await store.control(budget, 'reset', Date.now(), { note: { by: 'ops' } });
  expect(reset.states[0]?.spent.tokens).toBe(120);
}

/** As the viewer: reads; a reset is refused, naming the user and the keys it needs. */
async function viewerReadsOnly(store: RedisFuseStore, keys: string): Promise<void> {
  const read = await store.inspect([budget], Date.now());
  expect(read.states[0]?.spent.tokens).toBe(120);
  const err = await store.control(budget, 'reset', Date.now()).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(isLedgerPermissionError(err)).toBe(true);
  expect((err as Error).message).toContain(
    `Redis user "viewer" may not reset budget "marketing" at 127.0.0.1:`,
  );
  expect((err as Error).message).toContain(`it needs write permission on the keys under "${keys}"`);
}

function store(ledger: LedgerOptions): RedisFuseStore {
  return new RedisFuseStore(
    resolveConfig(
      { ledger: { store: 'redis', timeoutMs: 5000, connectTimeoutMs: 30_000, ...ledger } },
      { env: {} },
    ).ledger,
  );
}

describe('the documented ACL users', () => {
  it('on one Redis: the app line admits, settles and resets; the viewer line reads only', async () => {
    const redis = await RedisServer.start();
    const prefix = `tf-acl-${process.pid}:`;
    try {
      await setUsers(redis.client(), prefix);
      const url = (user: string) => `redis://${user}:${user}-secret@127.0.0.1:${redis.port}`;
      const app = store({ url: url('app'), keyPrefix: prefix, leases: true });
      try {
        await appWorks(app);
      } finally {
        await app.close();
      }
      const viewer = store({ url: url('viewer'), keyPrefix: prefix });
      try {
        await viewerReadsOnly(viewer, prefix);
      } finally {
        await viewer.close();
      }
    } finally {
      await redis.stop();
    }
  });

  describe('on a Redis Cluster (hash-tagged keys)', () => {
    let cluster: RedisCluster;
    beforeAll(async () => {
      cluster = await RedisCluster.start();
    }, 60_000);
    afterAll(async () => {
      await cluster?.stop();
    });

    it('the same lines: the app admits, settles and resets; the viewer reads only', async () => {
      const prefix = `tf-acl-cl-${process.pid}:`;
      const { Redis } = await import('ioredis');
      // ACL users are per node: set on every master.
      for (const url of cluster.urls) {
        const node = new Redis(url);
        try {
          await setUsers(node, prefix);
        } finally {
          node.disconnect();
        }
      }
      const as = (user: string): LedgerOptions => ({
        cluster: cluster.urls,
        keyPrefix: prefix,
        username: user,
        password: `${user}-secret`,
      });
      const app = store({ ...as('app'), leases: true });
      try {
        await appWorks(app);
      } finally {
        await app.close();
      }
      const viewer = store(as('viewer'));
      try {
        await viewerReadsOnly(viewer, `{${prefix}`);
      } finally {
        await viewer.close();
      }
    });
  });
});
