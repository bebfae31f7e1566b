import type { Meter, ObservableResult } from '@opentelemetry/api';
import type { PriceCatalog } from '../pricing/price-catalog.js';
import { countersOf, METRIC_HELP, PRICING_METRIC } from './contract.js';

/** Instruments of {@link PRICING_METRIC} that are monotonic counters (`_total` in Prometheus). */
export const PRICING_COUNTERS: ReadonlySet<string> = countersOf(PRICING_METRIC);
export { PRICING_METRIC };

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
      description: METRIC_HELP[PRICING_METRIC.providerCost],
      unit: 'USD',
    })
    .addCallback(each((t) => t.provider));
  meter
    .createObservableCounter(PRICING_METRIC.providerCatalogCost, {
      description: METRIC_HELP[PRICING_METRIC.providerCatalogCost],
      unit: 'USD',
    })
    .addCallback(each((t) => t.catalog));
  meter
    .createObservableGauge(PRICING_METRIC.catalogAge, {
      description: METRIC_HELP[PRICING_METRIC.catalogAge],
      unit: 's',
    })
    .addCallback((result) => result.observe(catalog.ageSeconds()));
  meter
    .createObservableCounter(PRICING_METRIC.catalogErrors, {
      description: METRIC_HELP[PRICING_METRIC.catalogErrors],
      unit: '{error}',
    })
    .addCallback((result) => result.observe(catalog.errors));
}
