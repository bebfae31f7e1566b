/** The defaults of every option, in one place: no other module needs to know one. */
import { DEFAULT_METRIC_LABELS } from '../metrics/contract.js';

/** The defaults documented in `types.ts`. */
export const CONFIG_DEFAULTS = Object.freeze({
  enabled: true,
  attribution: Object.freeze({ headers: true, stripHeaders: true, baggage: true }),
  metrics: Object.freeze({
    exporter: 'prometheus' as const,
    // Loopback: the endpoint has no authentication; opening it is one variable away.
    host: '127.0.0.1',
    port: 9464,
    endpoint: '/metrics',
    labels: DEFAULT_METRIC_LABELS,
    maxValuesPerLabel: 100,
    maxLabelValueLength: 128,
    maxSeries: 2000,
    perValueTop: 10,
    withoutScopeInfo: false,
  }),
  content: Object.freeze({ capture: false }),
  webhookDelivery: Object.freeze({ concurrency: 4, maxQueue: 100, retries: 3, timeoutMs: 5000 }),
  pricing: Object.freeze({ catalog: 'bundled', prefer: 'catalog' as const }),
  ledger: Object.freeze({
    store: 'memory' as const,
    keyPrefix: 'tokenfuse:',
    timeoutMs: 50,
    onFailure: 'open' as const,
    connectTimeoutMs: 2000,
    shutdownTimeoutMs: 5000,
    restore: Object.freeze({ intervalSeconds: 0, timeoutMs: 5000 }),
    leases: Object.freeze({ minSlice: 0.001, ttlMs: 10_000 }),
  }),
});
