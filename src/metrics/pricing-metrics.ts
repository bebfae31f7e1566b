import type { Meter } from '@opentelemetry/api';
import type { PriceCatalog } from '../pricing/price-catalog.js';

/** Instrument names of the price data's health (part of the metrics contract). */
export const PRICING_METRIC = {
  // The OTel Prometheus exporter adds no unit suffix, so the unit is in the name.
  catalogAge: 'tokenfuse.price.catalog.age_seconds',
  catalogErrors: 'tokenfuse.price.catalog.errors',
} as const;

/** Instruments of {@link PRICING_METRIC} that are monotonic counters (`_total` in Prometheus). */
export const PRICING_COUNTERS: ReadonlySet<string> = new Set([PRICING_METRIC.catalogErrors]);

export const PRICING_METRIC_HELP: Record<
  (typeof PRICING_METRIC)[keyof typeof PRICING_METRIC],
  string
> = {
  [PRICING_METRIC.catalogAge]:
    'Seconds since the price data in use was loaded (bundled: since start; a file or URL: since its last successful read)',
  [PRICING_METRIC.catalogErrors]:
    'Failed loads and refreshes of pricing.catalog (the prices in use were kept)',
};

/**
 * Registers the price catalog's age and error count, observed at collection time,
 * so they cost nothing per call.
 */
export function registerPricingMetrics(meter: Meter, catalog: PriceCatalog): void {
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
