import type { Redis } from 'ioredis';
import { openClient, type RedisLedgerOptions } from './connection.js';

/** How long a once-only mark lives (OpenAI keeps batch result files 30 days). */
export const ONCE_TTL_MS = 31 * 24 * 60 * 60_000;

/**
 * Fleet-wide "count this once" marks in the Redis ledger: `SET key NX PX ttl`.
 * Used off the call path only (reading batch results), so it has its own
 * connection, opened at the first claim, with a timeout suited to that.
 */
export class RedisOnceClaims {
  private redis: Redis | undefined;

  /** @param options the `ledger` section of the resolved configuration. */
  constructor(private readonly options: RedisLedgerOptions) {}

  /** True when no one has claimed `key` before (this caller now owns it). Rejects when Redis fails. */
  async claim(key: string): Promise<boolean> {
    const reply = await this.client().set(
      `${this.options.keyPrefix}${key}`,
      String(Date.now()),
      'PX',
      ONCE_TTL_MS,
      'NX',
    );
    return reply === 'OK';
  }

  async close(): Promise<void> {
    const redis = this.redis;
    this.redis = undefined;
    if (redis !== undefined) await redis.quit().catch(() => redis.disconnect());
  }

  private client(): Redis {
    this.redis ??= openClient(
      this.options,
      {
        // Off the call path: a few seconds are fine, hanging forever is not.
        commandTimeout: Math.max(2000, this.options.timeoutMs),
        connectTimeout: Math.max(2000, this.options.timeoutMs * 4),
        maxRetriesPerRequest: 1,
        keyPrefix: '',
      },
      'batch results ledger',
    );
    return this.redis;
  }
}
