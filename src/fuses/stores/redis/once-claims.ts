import { createRequire } from 'node:module';
import { diag } from '@opentelemetry/api';
import type { Redis, RedisOptions } from 'ioredis';
import type { ResolvedConfig } from '../../../config/resolved-config.js';
import { ledgerHost } from './store.js';

type LedgerConfig = ResolvedConfig['ledger'];

/** How long a once-only mark lives (OpenAI keeps batch result files 30 days). */
export const ONCE_TTL_MS = 31 * 24 * 60 * 60_000;

/**
 * Fleet-wide "count this once" marks in the Redis ledger: `SET key NX PX ttl`.
 * Used off the call path only (reading batch results), so it has its own
 * connection, opened at the first claim, with a timeout suited to that.
 */
export class RedisOnceClaims {
  private redis: Redis | undefined;

  constructor(private readonly config: LedgerConfig) {}

  /** True when no one has claimed `key` before (this caller now owns it). Rejects when Redis fails. */
  async claim(key: string): Promise<boolean> {
    const reply = await this.client().set(
      `${this.config.keyPrefix}${key}`,
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
    if (this.redis !== undefined) return this.redis;
    const config = this.config;
    const require = createRequire(import.meta.url);
    const { Redis: RedisClient } = require('ioredis') as typeof import('ioredis');
    const options: RedisOptions = {
      // Off the call path: a few seconds are fine, hanging forever is not.
      commandTimeout: Math.max(2000, config.timeoutMs),
      connectTimeout: Math.max(2000, config.timeoutMs * 4),
      maxRetriesPerRequest: 1,
      keyPrefix: '',
    };
    if (config.username !== undefined) options.username = config.username;
    if (config.password !== undefined) options.password = config.password;
    if (config.tls !== undefined && config.tls !== false)
      options.tls = config.tls === true ? {} : (config.tls as RedisOptions['tls']);
    const redis = new RedisClient(config.url ?? '', options);
    const host = ledgerHost(config.url ?? '');
    let lastLogged = 0;
    redis.on('error', (err: Error) => {
      if (Date.now() - lastLogged < 30_000) return;
      lastLogged = Date.now();
      diag.warn(`tokenfuse: batch results ledger at ${host}: ${err.message}`);
    });
    // The connection must not keep an app alive.
    redis.on('connect', () => (redis.stream as { unref?: () => void } | undefined)?.unref?.());
    this.redis = redis;
    return redis;
  }
}
