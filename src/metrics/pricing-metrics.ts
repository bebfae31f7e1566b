import type { Meter, ObservableResult } from '@opentelemetry/api';
import type { PriceCatalog } from '../pricing/price-catalog.js';

/** Instrument names of the price data's health (part of the metrics contract). */
export const PRICING_METRIC = {
  // The OTel Prometheus exporter adds no unit suffix, so the unit is in the name.
  catalogAge: 'tokenfuse.price.catalog.age_seconds',
  catalogErrors: 'tokenfuse.price.catalog.errors',
  providerCost: 'tokenfuse.cost.provider.usd',
  providerCatalogCost: 'tokenfuse.cost.provider.catalog_usd',
} as const;

/** Instruments of {@link PRICING_METRIC} that are monotonic counters (`_total` in Prometheus). */
export const PRICING_COUNTERS: ReadonlySet<string> = new Set([
  PRICING_METRIC.catalogErrors,
  PRICING_METRIC.providerCost,
  PRICING_METRIC.providerCatalogCost,
]);

export const PRICING_METRIC_HELP: Record<
  (typeof PRICING_METRIC)[keyof typeof PRICING_METRIC],
  string
> = {
  [PRICING_METRIC.catalogAge]:
    'Seconds since the price data in use was loaded (bundled: since start; a file or URL: since its last successful read)',
  [PRICING_METRIC.catalogErrors]:
    'Failed loads and refreshes of pricing.catalog (the prices in use were kept)',
  [PRICING_METRIC.providerCost]:
    'Cost of LLM calls in US dollars as the provider reported it, over the calls whose response carried a cost',
  [PRICING_METRIC.providerCatalogCost]:
    'Cost of the same calls in US dollars by the catalog (or an override), to compare with tokenfuse_cost_provider_usd_total',
};

/**
 * Running totals, per provider id, of the calls whose provider reported its own
 * cost: its figure and the catalog's for the same calls. Two monotonic counters
 * rather than one signed drift, which a Prometheus counter cannot hold; the drift
 * is their difference. Only the provider label: the spans carry per-call detail,
 * and provider ids are a bounded set where model names may not be.
 */
export class ProviderCostTotals {
  private readonly totals = new Map<string, { provider: number; catalog: number }>();

  add(provider: string, providerUsd: number, catalogUsd: number): void {
    let t = this.totals.get(provider);
    if (t === undefined) {
      t = { provider: 0, catalog: 0 };
      this.totals.set(provider, t);
    }
    t.provider += providerUsd;
    t.catalog += catalogUsd;
  }

  /** @internal */
  entries(): IterableIterator<[string, { provider: number; catalog: number }]> {
    return this.totals.entries();
  }
}

/**
 * Registers the price catalog's age and error count, observed at collection time,
 * so they cost nothing per call.
 */
export function registerPricingMetrics(
  meter: Meter,
  catalog: PriceCatalog,
  providerCosts: ProviderCostTotals,
): void {
  const each =
    (pick: (t: { provider: number; catalog: number }) => number) => (result: ObservableResult) => {
      for (const [provider, t] of providerCosts.entries()) result.observe(pick(t), { provider });
    };
  meter
    .createObservableCounter(PRICING_METRIC.providerCost, {
      description: PRICING_METRIC_HELP[PRICING_METRIC.providerCost],
      unit: 'USD',
    })
    .addCallback(each((t) => t.provider));
  meter
    .createObservableCounter(PRICING_METRIC.providerCatalogCost, {
      description: PRICING_METRIC_HELP[PRICING_METRIC.providerCatalogCost],
      unit: 'USD',
    })
    .addCallback(each((t) => t.catalog));
  meter
    .createObservableGauge(PRICING_METRIC.catalogAge, {
      description: PRICING_METRIC_HELP[PRICING_METRIC.catalogAge],
      unit: 's',
    })
    .addCallback((result) => result.observe(catalog.ageSeconds()));
  meter
    .createObservableCounter(PRICING_METRIC.catalogErrors, {
      description: PRICING_METRIC_HELP[PRICING_METRIC.catalogErrors],
      unit: '{error}',
    })
    .addCallback((result) => result.observe(catalog.errors));
}
