/**
 * The `ledger` section resolved: the store, its Redis URL from the environment or
 * the options, and restoring spend from Prometheus with the checks it needs.
 */
import type { Budget } from '../budgets/budget.js';
import { ConfigError, type ConfigIssue } from '../errors/config-error.js';
import type { MetricLabel, TokenfuseOptions } from '../types.js';
import { CONFIG_DEFAULTS } from './defaults.js';
import type { EnvReader } from './environment.js';
import { EXPECTED } from './messages.js';

/** `ledger`, resolved. */
export interface ResolvedLedger {
  store: 'memory' | 'redis';
  /** Set (and a redis:// or rediss:// URL) when `store` is `redis`. */
  url: string | undefined;
  keyPrefix: string;
  timeoutMs: number;
  onFailure: 'open' | 'closed';
  connectTimeoutMs: number;
  shutdownTimeoutMs: number;
  tls: boolean | Record<string, unknown> | undefined;
  username: string | undefined;
  password: string | undefined;
  /** Spend read back from Prometheus (in-memory store only); undefined when off. */
  restore?: ResolvedRestore | undefined;
  /** Seed nodes of a Redis Cluster (store `redis`, instead of `url`); undefined for one Redis. */
  cluster?: string[] | undefined;
  /** Leased slices of each budget's room (store `redis`); undefined when off. */
  leases?: ResolvedLeases | undefined;
}

/** `ledger.leases`, resolved. */
export interface ResolvedLeases {
  /** Fraction of each limit. */
  minSlice: number;
  ttlMs: number;
}

/** `ledger.restore`, resolved. */
export interface ResolvedRestore {
  /** Base URL of the Prometheus API, without a trailing slash. */
  prometheus: string;
  /** 0: at startup only. */
  intervalSeconds: number;
  timeoutMs: number;
}

/** `ledger`: `TOKENFUSE_LEDGER_URL` wins over `ledger.url`; `store: redis` needs a URL from one of them. */
export function resolveLedger(
  ledger: NonNullable<TokenfuseOptions['ledger']>,
  env: EnvReader,
  source: string,
): ResolvedLedger {
  const store = ledger.store ?? CONFIG_DEFAULTS.ledger.store;
  const url = env.redisUrl('TOKENFUSE_LEDGER_URL') ?? ledger.url;
  const cluster = ledger.cluster;
  checkScale(ledger, store, url, source);
  if (store === 'redis' && url === undefined && cluster === undefined) {
    throw new ConfigError(source, [
      {
        path: 'ledger.url',
        message: `missing (expected ${EXPECTED.redisUrl} for store 'redis'; or set TOKENFUSE_LEDGER_URL)`,
      },
    ]);
  }
  return {
    store,
    url,
    keyPrefix: ledger.keyPrefix ?? CONFIG_DEFAULTS.ledger.keyPrefix,
    timeoutMs: ledger.timeoutMs ?? CONFIG_DEFAULTS.ledger.timeoutMs,
    onFailure: ledger.onFailure ?? CONFIG_DEFAULTS.ledger.onFailure,
    connectTimeoutMs: ledger.connectTimeoutMs ?? CONFIG_DEFAULTS.ledger.connectTimeoutMs,
    shutdownTimeoutMs: ledger.shutdownTimeoutMs ?? CONFIG_DEFAULTS.ledger.shutdownTimeoutMs,
    tls: ledger.tls,
    username: ledger.username,
    password: ledger.password,
    restore: resolveRestore(ledger, store, env, source),
    cluster,
    leases: resolveLeases(ledger.leases),
  };
}

/** `ledger.cluster` and `ledger.leases` need the Redis store; a cluster is given instead of one URL. */
function checkScale(
  ledger: NonNullable<TokenfuseOptions['ledger']>,
  store: 'memory' | 'redis',
  url: string | undefined,
  source: string,
): void {
  const issues: ConfigIssue[] = [];
  const on =
    ledger.leases === true ||
    (typeof ledger.leases === 'object' && ledger.leases.enabled !== false);
  if (store !== 'redis' && on)
    issues.push({
      path: 'ledger.leases',
      message: `needs ledger.store 'redis' (the in-memory store has no one to lease from)`,
    });
  if (store !== 'redis' && ledger.cluster !== undefined)
    issues.push({ path: 'ledger.cluster', message: `needs ledger.store 'redis'` });
  if (ledger.cluster !== undefined && url !== undefined)
    issues.push({
      path: 'ledger.cluster',
      message: `cannot be combined with ${ledger.url !== undefined ? 'ledger.url' : 'TOKENFUSE_LEDGER_URL'} (give the cluster's nodes in ledger.cluster only)`,
    });
  if (issues.length > 0) throw new ConfigError(source, issues);
}

function resolveLeases(
  leases: NonNullable<TokenfuseOptions['ledger']>['leases'],
): ResolvedLeases | undefined {
  if (leases === undefined || leases === false) return undefined;
  const given = leases === true ? {} : leases;
  if (given.enabled === false) return undefined;
  return {
    minSlice: given.minSlice ?? CONFIG_DEFAULTS.ledger.leases.minSlice,
    ttlMs: given.ttlMs ?? CONFIG_DEFAULTS.ledger.leases.ttlMs,
  };
}

/**
 * `ledger.restore`: `TOKENFUSE_RESTORE_PROMETHEUS` wins over `ledger.restore.prometheus`
 * (and turns restoring on by itself). Only for the in-memory store: the Redis store
 * keeps spend across restarts already, and seeding it from Prometheus would count
 * the fleet's spend twice.
 */
function resolveRestore(
  ledger: NonNullable<TokenfuseOptions['ledger']>,
  store: 'memory' | 'redis',
  env: EnvReader,
  source: string,
): ResolvedRestore | undefined {
  const fromEnv = env.prometheusUrl('TOKENFUSE_RESTORE_PROMETHEUS');
  const prometheus = fromEnv ?? ledger.restore?.prometheus;
  if (prometheus === undefined) return undefined;
  if (store === 'redis') {
    throw new ConfigError(source, [
      {
        path: 'ledger.restore',
        message:
          `cannot be combined with ledger.store 'redis' (Redis already keeps budget spend across restarts); ` +
          `remove ledger.restore${fromEnv !== undefined ? ' (set by TOKENFUSE_RESTORE_PROMETHEUS)' : ''} or use ledger.store 'memory'`,
      },
    ]);
  }
  return {
    prometheus: prometheus.replace(/\/+$/, ''),
    intervalSeconds:
      ledger.restore?.intervalSeconds ?? CONFIG_DEFAULTS.ledger.restore.intervalSeconds,
    timeoutMs: ledger.restore?.timeoutMs ?? CONFIG_DEFAULTS.ledger.restore.timeoutMs,
  };
}

/**
 * Restoring reads each budget's spend from the counters' labels, so every field a
 * budget matches on must be one of the exported labels (`metrics.labels`).
 */
export function checkRestorable(
  budgets: Budget[],
  labels: readonly MetricLabel[],
  source: string,
): void {
  const issues: ConfigIssue[] = [];
  budgets.forEach((budget, i) => {
    // Per-value budgets are not restored: no series per value to read back.
    if (budget.per !== undefined) return;
    for (const [field, value] of Object.entries(budget.match.spec)) {
      if (value === undefined || labels.includes(field as MetricLabel)) continue;
      issues.push({
        path: `budgets[${i}].match.${field}`,
        message:
          `ledger.restore reads spend by the metric label '${field}', which metrics.labels leaves out; ` +
          `add '${field}' to metrics.labels or turn ledger.restore off`,
      });
    }
  });
  if (issues.length > 0) throw new ConfigError(source, issues);
}
