import { diag, type Meter } from '@opentelemetry/api';
import type { ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { PER_CALL_INSTRUMENTS } from './cardinality.js';
import { METRIC_HELP, SERIES_OVERFLOW_METRIC } from './contract.js';
import { LAZY_METRICS, type MetricsEngine, OVERFLOW_ATTRIBUTE } from './metrics-engine.js';

// Re-exported for existing importers.
export { OVERFLOW_ATTRIBUTE };

/**
 * Watches what tokenfuse serves for the SDK's overflow series: an instrument that
 * reached the meter provider's cardinality limit has its later attribute sets folded
 * into one series marked `otel_metric_overflow="true"`, whose sums are not theirs.
 * Each collection that finds it is counted in `tokenfuse_series_overflow_total
 * {instrument}`, and the first one is said once per instrument in the diag log.
 */
export class OverflowWatch {
  // The per-call instruments from the start, at 0: an alert or a rate() has a series to
  // read before the first overflow.
  private readonly counts = new Map<string, number>(PER_CALL_INSTRUMENTS.map((n) => [n, 0]));

  /** Looks through one collection's data points; cheap next to serializing them. */
  inspect(resourceMetrics: ResourceMetrics): void {
    for (const scope of resourceMetrics.scopeMetrics) {
      for (const metric of scope.metrics) {
        const lazy = LAZY_METRICS.get(metric);
        if (lazy !== undefined) {
          if (lazy.overflow) this.count(metric.descriptor.name);
          continue;
        }
        const points = metric.dataPoints as ReadonlyArray<{ attributes: Record<string, unknown> }>;
        // The SDK adds the overflow series once its limit is reached: near the end.
        let found = false;
        for (let i = points.length - 1; i >= 0; i--) {
          if (points[i]!.attributes[OVERFLOW_ATTRIBUTE] === true) {
            found = true;
            break;
          }
        }
        if (found) this.count(metric.descriptor.name);
      }
    }
  }

  /** Collections that found each instrument's overflow series. */
  overflows(): ReadonlyMap<string, number> {
    return this.counts;
  }

  /**
   * Registers `tokenfuse_series_overflow_total{instrument}` on `meter`; each collection of
   * it also checks that the collecting reader holds `engine`'s producer.
   */
  register(meter: Meter, engine?: MetricsEngine): void {
    const counter = meter.createObservableCounter(SERIES_OVERFLOW_METRIC.otel, {
      description: METRIC_HELP[SERIES_OVERFLOW_METRIC.otel],
      unit: '{collection}',
    });
    counter.addCallback((result) => {
      engine?.expectCollection();
      for (const [instrument, count] of this.counts) result.observe(count, { instrument });
    });
  }

  private count(instrument: string): void {
    const before = this.counts.get(instrument) ?? 0;
    this.counts.set(instrument, before + 1);
    if (before === 0)
      diag.warn(
        `tokenfuse: the meter provider's cardinality limit folded series of ${instrument} into ` +
          `its otel_metric_overflow="true" series: their sums are wrong from now on. Raise the ` +
          `limit (metrics.cardinalityLimit, or tokenfuseMetricViews() in your own NodeSDK) or ` +
          `lower metrics.maxSeries. Counted in tokenfuse_series_overflow_total; logged once ` +
          `per instrument.`,
      );
  }
}
