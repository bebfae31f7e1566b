import { type Attributes, diag } from '@opentelemetry/api';
import {
  AggregationTemporality,
  DataPointType,
  type Histogram,
  type MetricData,
  MetricReader,
} from '@opentelemetry/sdk-metrics';
import { type ContractMetric, prometheusName } from './contract.js';
import type { OverflowWatch } from './overflow-watch.js';

/** The part of a prom-client `Registry` the bridge uses (prom-client v13–v15). */
export interface PromClientRegistryLike {
  registerMetric(metric: any): void;
  getSingleMetric?(name: string): unknown;
}

/** A metric known before it has data, so prom-client can declare its real type. */
export type KnownMetric = ContractMetric;

interface PromValue {
  value: number;
  labels: Record<string, string | number>;
  metricName?: string;
}

interface PromMetric {
  name: string;
  help: string;
  type: 'counter' | 'gauge' | 'histogram';
  values: PromValue[];
  aggregator: 'sum';
}

/**
 * A metric reader that serves tokenfuse's OpenTelemetry metrics through an
 * existing prom-client registry, so an app that already exposes `/metrics` with
 * prom-client shows ours on the same endpoint, with the same names the
 * OpenTelemetry Prometheus exporter uses (dots → underscores, `_total` on counters).
 *
 * `tokenfuse/register` creates one; {@link registerTokenfuseMetrics} attaches it
 * to your registry. With your own NodeSDK, add `new PromClientBridge()` to its
 * `metricReaders` and call `bridge.registerWith(registry)`.
 */
export class PromClientBridge extends MetricReader {
  private pending: Promise<Map<string, PromMetric>> | undefined;
  private readonly registries = new Set<PromClientRegistryLike>();
  private readonly registered = new Map<PromClientRegistryLike, Set<string>>();
  /** Type and help of metrics registered before their first data point. */
  private readonly known = new Map<string, KnownMetric>();

  /**
   * @param source a reader already attached to the meter provider (e.g. the Prometheus
   * exporter) to collect through, so the provider does not keep a second copy of every
   * metric for this bridge. Without it, add the bridge itself to `metricReaders`.
   * @param watch @internal told of every collection, to count the SDK's overflow series.
   */
  constructor(
    private readonly source?: Pick<MetricReader, 'collect'>,
    private readonly watch?: OverflowWatch,
  ) {
    super({ aggregationTemporalitySelector: () => AggregationTemporality.CUMULATIVE });
  }

  /**
   * Serves this reader's metrics on `registry`. Names already known are registered
   * now; instruments created later appear from the scrape after their first use.
   */
  registerWith(registry: PromClientRegistryLike, known: readonly KnownMetric[] = []): void {
    this.registries.add(registry);
    for (const metric of known) {
      this.known.set(metric.name, metric);
      this.ensureRegistered(registry, metric.name);
    }
  }

  protected override onForceFlush(): Promise<void> {
    return Promise.resolve();
  }

  protected override onShutdown(): Promise<void> {
    return Promise.resolve();
  }

  private ensureRegistered(registry: PromClientRegistryLike, name: string): void {
    let names = this.registered.get(registry);
    if (names === undefined) {
      names = new Set();
      this.registered.set(registry, names);
    }
    if (names.has(name)) return;
    names.add(name);
    const bridge = this;
    try {
      registry.registerMetric({
        name,
        help: name,
        async get(): Promise<PromMetric> {
          const all = await bridge.snapshot();
          const empty = bridge.known.get(name) ?? { name, help: name, type: 'gauge' as const };
          return all.get(name) ?? { ...empty, values: [], aggregator: 'sum' };
        },
        reset() {},
      });
    } catch (err) {
      diag.warn(`tokenfuse: cannot register ${name} on the prom-client registry`, err);
    }
  }

  /** One collection per scrape: prom-client asks each registered metric in the same tick. */
  private snapshot(): Promise<Map<string, PromMetric>> {
    if (this.pending === undefined) {
      this.pending = (this.source ?? this).collect().then(({ resourceMetrics, errors }) => {
        for (const error of errors) diag.warn('tokenfuse: metric collection error', error);
        this.watch?.inspect(resourceMetrics);
        const out = new Map<string, PromMetric>();
        for (const scope of resourceMetrics.scopeMetrics) {
          for (const metric of scope.metrics) {
            const converted = convert(metric);
            if (converted === undefined) continue;
            const existing = out.get(converted.name);
            if (existing) existing.values.push(...converted.values);
            else out.set(converted.name, converted);
          }
        }
        for (const registry of this.registries)
          for (const name of out.keys()) this.ensureRegistered(registry, name);
        return out;
      });
      const clear = () => {
        this.pending = undefined;
      };
      this.pending.then(() => setImmediate(clear), clear);
    }
    return this.pending;
  }
}

export { prometheusName };

function labelsOf(attributes: Attributes): Record<string, string> {
  const out: Record<string, string> = {};
  for (const key in attributes) {
    const value = attributes[key];
    if (value === undefined) continue;
    out[key.replace(/[^a-zA-Z0-9_]/g, '_')] = Array.isArray(value)
      ? JSON.stringify(value)
      : String(value);
  }
  return out;
}

function convert(metric: MetricData): PromMetric | undefined {
  const { descriptor } = metric;
  const help = descriptor.description || descriptor.name;
  switch (metric.dataPointType) {
    case DataPointType.SUM: {
      const counter = metric.isMonotonic;
      const name = prometheusName(descriptor.name, counter);
      return {
        name,
        help,
        type: counter ? 'counter' : 'gauge',
        aggregator: 'sum',
        values: metric.dataPoints.map((p) => ({ value: p.value, labels: labelsOf(p.attributes) })),
      };
    }
    case DataPointType.GAUGE: {
      const name = prometheusName(descriptor.name, false);
      return {
        name,
        help,
        type: 'gauge',
        aggregator: 'sum',
        values: metric.dataPoints.map((p) => ({ value: p.value, labels: labelsOf(p.attributes) })),
      };
    }
    case DataPointType.HISTOGRAM: {
      const name = prometheusName(descriptor.name, false);
      const values: PromValue[] = [];
      for (const point of metric.dataPoints) {
        const labels = labelsOf(point.attributes);
        const h = point.value as Histogram;
        let cumulative = 0;
        h.buckets.boundaries.forEach((le, i) => {
          cumulative += h.buckets.counts[i] ?? 0;
          values.push({
            value: cumulative,
            labels: { ...labels, le },
            metricName: `${name}_bucket`,
          });
        });
        values.push({
          value: h.count,
          labels: { ...labels, le: '+Inf' },
          metricName: `${name}_bucket`,
        });
        values.push({ value: h.sum ?? 0, labels, metricName: `${name}_sum` });
        values.push({ value: h.count, labels, metricName: `${name}_count` });
      }
      return { name, help, type: 'histogram', aggregator: 'sum', values };
    }
    default:
      return undefined;
  }
}
