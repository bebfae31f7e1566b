/**
 * The composition: the one place that builds tokenfuse's parts and wires them
 * together. Beside `tokenfuse.ts` at the top layer; everything below receives its
 * parts, and nothing below imports this file.
 */
import { Accountant } from './accounting/accountant.js';
import { startAdminServer } from './admin/admin-server.js';
import { type ResolvedConfig, resolveConfig } from './config/resolved-config.js';
import { FuseBoard } from './fuses/fuse-board.js';
import type { FuseStore } from './fuses/fuse-store.js';
import { RedisOnceClaims } from './fuses/stores/redis/once-claims.js';
import { RedisFuseStore } from './fuses/stores/redis/store.js';
import { attachWebhooks } from './fuses/webhook-notifier.js';
import {
  type InstrumentationParts,
  LlmInstrumentation,
  type TokenfuseInstrumentationConfig,
} from './instrumentation/instrumentation.js';
import { registerFuseMetrics, registerWebhookMetrics } from './metrics/fuse-metrics.js';
import { registerInternalErrors } from './metrics/internal-errors.js';
import { MetricsEngine } from './metrics/metrics-engine.js';
import { OverflowWatch } from './metrics/overflow-watch.js';
import { registerPerValueMetrics } from './metrics/per-value-metrics.js';
import { PricingIssues } from './metrics/pricing-issues.js';
import { ProviderCostTotals, registerPricingMetrics } from './metrics/pricing-metrics.js';
import { genAiLatestOptedIn, SEMCONV_OPT_IN_VARIABLE } from './metrics/semconv-latest.js';
import { PriceBook } from './pricing/price-book.js';
import { BUNDLED_CATALOG, PriceCatalog } from './pricing/price-catalog.js';
import { PrometheusRestorer } from './restore/prometheus-restore.js';
import { enableRestore } from './restore/scheduler.js';
import { PACKAGE_NAME, PACKAGE_VERSION } from './version.js';

/** @internal what `createTokenfuse()` shares between the instrumentation and the span processor. */
export interface SharedParts extends InstrumentationParts {
  /** Where catalog prices come from, and its refreshes. */
  catalog: PriceCatalog;
  /** Counts the SDK's overflow series in what tokenfuse serves. */
  seriesOverflow: OverflowWatch;
  /** The per-call metrics tokenfuse aggregates itself, read by each reader through its producer. */
  engine: MetricsEngine;
}

/** @internal builds every part from one resolved configuration. */
export function createSharedParts(config: ResolvedConfig, clock?: () => number): SharedParts {
  const prices = new PriceBook({
    overrides: config.pricing.overrides,
    providers: config.providers,
  });
  const issues = new PricingIssues();
  const catalog = new PriceCatalog({
    // Turned off, tokenfuse reads nothing and changes no process-wide price data.
    source: config.enabled ? config.pricing.catalog : BUNDLED_CATALOG,
    refreshMs: config.enabled ? config.pricing.refreshMs : undefined,
    ...(clock ? { now: clock } : {}),
  });
  // New prices apply from the next call, not only to models first seen after them.
  catalog.onChange(() => prices.invalidate());
  // Limits sized from the caps as the SDK's views would be, with the instrumentation's scope.
  const engine = new MetricsEngine(config.metrics, {
    name: PACKAGE_NAME,
    version: PACKAGE_VERSION,
  });
  const accountant = new Accountant({
    engine,
    prices,
    labels: config.metrics.labels,
    maxValuesPerLabel: config.metrics.maxValuesPerLabel,
    serviceTiers: config.pricing.serviceTiers,
    issues,
    maxLabelValueLength: config.metrics.maxLabelValueLength,
    maxSeries: config.metrics.maxSeries,
    prefer: config.pricing.prefer,
    // Read once: every span and series of the process follows one set of conventions.
    genAiLatest: genAiLatestOptedIn(process.env[SEMCONV_OPT_IN_VARIABLE]),
  });
  const providerCosts = new ProviderCostTotals();
  const seriesOverflow = new OverflowWatch();
  // The shared ledger only matters when there is a budget to share.
  const store: FuseStore | undefined =
    config.ledger.store === 'redis' && config.budgets.length > 0
      ? new RedisFuseStore(config.ledger)
      : undefined;
  const board = new FuseBoard({
    budgets: config.budgets,
    policies: config.policies,
    prices,
    ...(store ? { store } : {}),
    ...(clock ? { now: clock } : {}),
  });
  const webhooks =
    config.webhooks.length > 0
      ? attachWebhooks(board, config.webhooks, config.webhookDelivery)
      : undefined;
  // Batch results are counted once per fleet when the fleet shares a ledger.
  const claims =
    config.ledger.store === 'redis' && config.ledger.url !== undefined
      ? new RedisOnceClaims(config.ledger)
      : undefined;
  // The operator's endpoint (`admin.port`): off unless configured.
  const admin = config.enabled ? startAdminServer(board, config.admin) : undefined;
  return {
    config,
    accountant,
    board,
    issues,
    catalog,
    providerCosts,
    seriesOverflow,
    engine,
    claimOnce: claims ? (key) => claims.claim(key) : undefined,
    async closeConnections() {
      admin?.close();
      admin?.closeAllConnections();
      await claims?.close();
    },
    setMeter(meter) {
      accountant.setMeter(meter);
      issues.setMeter(meter);
      registerInternalErrors(meter);
      registerFuseMetrics(meter, board);
      registerPerValueMetrics(meter, board, {
        top: config.metrics.perValueTop,
        maxLabelValueLength: config.metrics.maxLabelValueLength,
      });
      if (webhooks) registerWebhookMetrics(meter, webhooks);
      registerPricingMetrics(meter, catalog, providerCosts);
      seriesOverflow.register(meter, engine);
    },
  };
}

/**
 * @internal starts restoring the board's spend from Prometheus (`ledger.restore`,
 * with the in-memory ledger). The first restore starts now, in the background;
 * calls matching a budget wait for it (at most `timeoutMs`, see `enableRestore`).
 * Before the metrics are registered: restoring adds its error counter.
 */
export function startRestore(config: ResolvedConfig, board: FuseBoard): void {
  const restore = config.ledger.restore;
  if (config.enabled && restore !== undefined && config.ledger.store === 'memory')
    enableRestore(board, new PrometheusRestorer(restore.prometheus), restore);
}

/**
 * OpenTelemetry instrumentation of the `openai` SDK: a span per call with GenAI
 * semantic-convention attributes and tokenfuse's tags, and every call priced and
 * counted exactly once, sampled or not.
 *
 * Add it to your own `NodeSDK` (with {@link CostSpanProcessor} if other GenAI
 * instrumentations should be priced too), or let `tokenfuse/register` do it.
 */
export class TokenfuseInstrumentation extends LlmInstrumentation {
  /**
   * @param config OpenTelemetry's options, and tokenfuse's under `tokenfuse`.
   * @param shared @internal parts already composed by `createTokenfuse()`.
   */
  constructor(config: TokenfuseInstrumentationConfig = {}, shared?: SharedParts) {
    super(config, shared ?? createSharedParts(resolveConfig(config.tokenfuse)));
  }
}
