// A fuse board with one per-user daily budget of 100,000 tokens on a Redis store: the board
// the per-value suites on a real Redis (degraded, leases) drive call by call.
import { normalizeBudget } from '../../src/budgets/budget.js';
import { resolveConfig } from '../../src/config/resolved-config.js';
import { FuseBoard } from '../../src/fuses/fuse-board.js';
import { RedisFuseStore } from '../../src/fuses/stores/redis/store.js';
import { PriceBook } from '../../src/pricing/price-book.js';

/**
 * The board and its store. `ledger` is the config's `ledger` section beside `store: 'redis'`
 * and `url`; `prepare` runs on the store before the board is built around it (to take its
 * fast path away, or to spy on it).
 */
export function perUserRedisBoard(
  url: string,
  ledger: Record<string, unknown>,
  prepare?: (store: RedisFuseStore) => void,
): { board: FuseBoard; store: RedisFuseStore } {
  const store = new RedisFuseStore(
    resolveConfig({ ledger: { store: 'redis', url, ...ledger } }, { env: {} }).ledger,
  );
  prepare?.(store);
  const board = new FuseBoard({
    budgets: [
      normalizeBudget({ name: 'per-user', per: 'user', window: 'day', limit: { tokens: 100_000 } }),
    ],
    policies: [],
    prices: new PriceBook(),
    store,
  });
  return { board, store };
}
