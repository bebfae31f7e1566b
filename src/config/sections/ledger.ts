/** The `ledger` section: where budget state lives, and `ledger.restore` from Prometheus. */
import { z } from 'zod';
import {
  boolean,
  configObject,
  expecting,
  isHttpUrl,
  isRedisUrl,
  nonNegativeInteger,
  positiveInteger,
  text,
} from '../fields.js';
import { EXPECTED, prometheusUrlMessage } from '../messages.js';

/**
 * Fields of `ledger`. Exported so that later options extend it without restating
 * these: `configObject({ ...ledgerShape, restore: restoreSchema.optional() })`.
 */
export const ledgerShape = {
  store: z.enum(['memory', 'redis'], expecting(EXPECTED.ledgerStore)).optional(),
  url: z
    .string(expecting(EXPECTED.redisUrl))
    .refine(isRedisUrl, {
      // The value is not echoed: a Redis URL can hold a password.
      error: `expected ${EXPECTED.redisUrl}, got a string that is not one`,
    })
    .optional(),
  keyPrefix: text().optional(),
  timeoutMs: positiveInteger().optional(),
  onFailure: z.enum(['open', 'closed'], expecting(EXPECTED.onFailure)).optional(),
  connectTimeoutMs: positiveInteger().optional(),
  shutdownTimeoutMs: positiveInteger().optional(),
  tls: z.union([boolean(), z.record(z.string(), z.unknown())], expecting(EXPECTED.tls)).optional(),
  username: text().optional(),
  password: text().optional(),
  /** Seed nodes of a Redis Cluster (or Valkey cluster), instead of `url`. */
  cluster: z
    .array(
      z.string(expecting(EXPECTED.redisUrls)).refine(isRedisUrl, {
        // The value is not echoed: a Redis URL can hold a password.
        error: `expected ${EXPECTED.redisUrls}, got a string that is not one`,
      }),
      expecting(EXPECTED.redisUrls),
    )
    .min(1, expecting(EXPECTED.redisUrls))
    .optional(),
  /** Replicas admit from slices of each budget's room leased from Redis. */
  leases: z
    .union(
      [
        boolean(),
        configObject({
          enabled: boolean().optional(),
          minSlice: z
            .number(expecting(EXPECTED.minSlice))
            .gt(0, expecting(EXPECTED.minSlice))
            .max(1, expecting(EXPECTED.minSlice))
            .optional(),
          ttlMs: positiveInteger().min(1000, expecting(EXPECTED.leaseTtl)).optional(),
        }),
      ],
      expecting(EXPECTED.leases),
    )
    .optional(),
};

/** `ledger.restore`: spend read back from Prometheus (in-memory store only; the resolver checks that). */
const restoreSchema = configObject({
  prometheus: z
    .string({ error: (issue) => prometheusUrlMessage(issue.input) })
    .refine(isHttpUrl, { error: (issue) => prometheusUrlMessage(issue.input) }),
  intervalSeconds: nonNegativeInteger().optional(),
  timeoutMs: positiveInteger().optional(),
});

/** `ledger`. */
export const ledgerSchema = configObject({ ...ledgerShape, restore: restoreSchema.optional() });
