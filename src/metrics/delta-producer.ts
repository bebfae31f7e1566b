/**
 * tokenfuse's per-call metrics for a reader that asks for delta temporality (an OTLP
 * exporter with `OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE=delta` or
 * `lowmemory`, as many vendors want). The engine keeps cumulative aggregates; the SDK
 * turns its own instruments into deltas per reader, but a `MetricProducer`'s points
 * reach the exporter as they are, so this producer does for tokenfuse's what the SDK
 * does for its own: each collection reports what changed since the previous one.
 */
import type { HrTime } from '@opentelemetry/api';
import {
  AggregationTemporality,
  type CollectionResult,
  DataPointType,
  type Histogram,
  type IMetricReader,
  InstrumentType,
  type MetricData,
  type MetricProducer,
} from '@opentelemetry/sdk-metrics';

/** Whether `reader` wants deltas for instruments of `kind`. */
function asksDelta(reader: IMetricReader, kind: InstrumentType): boolean {
  return reader.selectAggregationTemporality(kind) === AggregationTemporality.DELTA;
}

/** Whether `reader` wants deltas for the kind of instrument `metric` came from. */
function wantsDelta(reader: IMetricReader, metric: MetricData): boolean {
  const histogram = metric.dataPointType === DataPointType.HISTOGRAM;
  return asksDelta(reader, histogram ? InstrumentType.HISTOGRAM : InstrumentType.COUNTER);
}

/** The producer `reader` should hold: `cumulative` itself, or deltas of it. */
export function producerFor(reader: IMetricReader, cumulative: MetricProducer): MetricProducer {
  const any =
    asksDelta(reader, InstrumentType.COUNTER) || asksDelta(reader, InstrumentType.HISTOGRAM);
  return any ? new DeltaProducer(reader, cumulative) : cumulative;
}

/** Last reported cumulative value of one point: a counter's sum or a histogram. */
type Previous = number | Histogram;

class DeltaProducer implements MetricProducer {
  /** metric name → point key → the cumulative value at the last collection. */
  private readonly previous = new Map<string, Map<string, Previous>>();
  private lastEnd: HrTime | undefined;

  constructor(
    private readonly reader: IMetricReader,
    private readonly cumulative: MetricProducer,
  ) {}

  async collect(): Promise<CollectionResult> {
    const result = await this.cumulative.collect();
    let end: HrTime | undefined;
    for (const scope of result.resourceMetrics.scopeMetrics) {
      const metrics: MetricData[] = [];
      for (const metric of scope.metrics) {
        if (!wantsDelta(this.reader, metric)) {
          metrics.push(metric);
          continue;
        }
        const delta = this.delta(metric);
        end ??= metric.dataPoints[0]?.endTime;
        if (delta.dataPoints.length > 0) metrics.push(delta);
      }
      scope.metrics = metrics;
    }
    if (end !== undefined) this.lastEnd = end;
    return result;
  }

  /**
   * The points that changed since the last collection, each with what was added; an
   * unchanged point is left out (as the SDK leaves out a series with no measurement).
   * A histogram's min and max cannot be known for an interval and are left unset.
   */
  private delta(metric: MetricData): MetricData {
    let seen = this.previous.get(metric.descriptor.name);
    if (seen === undefined) {
      seen = new Map();
      this.previous.set(metric.descriptor.name, seen);
    }
    const start = (own: HrTime) => this.lastEnd ?? own;
    if (metric.dataPointType === DataPointType.HISTOGRAM) {
      const dataPoints = [];
      for (const point of metric.dataPoints) {
        const key = JSON.stringify(point.attributes);
        const before = seen.get(key) as Histogram | undefined;
        const now = point.value;
        seen.set(key, { ...now, buckets: { ...now.buckets, counts: [...now.buckets.counts] } });
        const count = now.count - (before?.count ?? 0);
        if (count === 0) continue;
        dataPoints.push({
          ...point,
          startTime: before === undefined ? point.startTime : start(point.startTime),
          value: {
            buckets: {
              boundaries: now.buckets.boundaries,
              counts: now.buckets.counts.map((c, i) => c - (before?.buckets.counts[i] ?? 0)),
            },
            count,
            sum: (now.sum ?? 0) - (before?.sum ?? 0),
          },
        });
      }
      return { ...metric, aggregationTemporality: AggregationTemporality.DELTA, dataPoints };
    }
    if (metric.dataPointType === DataPointType.SUM) {
      const dataPoints = [];
      for (const point of metric.dataPoints) {
        const key = JSON.stringify(point.attributes);
        const before = seen.get(key) as number | undefined;
        seen.set(key, point.value);
        const value = point.value - (before ?? 0);
        if (value === 0) continue;
        dataPoints.push({
          ...point,
          startTime: before === undefined ? point.startTime : start(point.startTime),
          value,
        });
      }
      return { ...metric, aggregationTemporality: AggregationTemporality.DELTA, dataPoints };
    }
    return metric;
  }
}
