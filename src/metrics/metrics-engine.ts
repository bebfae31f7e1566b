/**
 * tokenfuse's own aggregation of its per-call instruments (the three GenAI histograms
 * and the four `tokenfuse_*_total` counters), handed to the OpenTelemetry SDK as a
 * `MetricProducer`.
 *
 * The SDK's synchronous instruments sort and hash the attribute object of every
 * measurement, and its collection builds every data point of every instrument in one
 * piece: at 10,000 label sets that is seconds with the event loop held. Here each
 * attribute set is bound once to a point object (the caller keeps it, so a call adds
 * to plain fields with no lookup), and a collection builds its data points in slices,
 * handing the event loop back between them. Any reader given the producer (the
 * Prometheus endpoint, an OTLP or console reader, a user's own) receives the same
 * cumulative data the SDK's instruments gave it.
 */
import { type Attributes, diag, ValueType } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  AggregationTemporality,
  type CollectionResult,
  DataPointType,
  type HistogramMetricData,
  type MetricData,
  type MetricProducer,
  type SumMetricData,
} from '@opentelemetry/sdk-metrics';
import { type CardinalityCaps, cardinalityLimits, METER_NAME } from './cardinality.js';
import { METRIC, METRIC_HELP } from './contract.js';
import { DURATION_BUCKETS, HistogramInstrument, now, TOKEN_BUCKETS } from './histogram-points.js';
import {
  COUNTERS,
  CounterCursor,
  type CounterSpec,
  HistogramCursor,
  type PointCursor,
} from './lazy-points.js';
import { Series } from './series.js';

export {
  DURATION_BUCKETS,
  HistogramInstrument,
  HistogramPoint,
  OVERFLOW_ATTRIBUTE,
  TOKEN_BUCKETS,
} from './histogram-points.js';

/** Most time a collection holds the event loop before handing it back, in ms. */
const SLICE_MS = 4;
/** Data points built between two looks at the clock. */
const POINTS_PER_CLOCK = 256;

function help(name: string): string {
  return (METRIC_HELP as Readonly<Record<string, string>>)[name] ?? '';
}

/** The histograms tokenfuse records into per call. */
export interface EngineHistograms {
  tokenUsage: HistogramInstrument;
  operationDuration: HistogramInstrument;
  timeToFirstChunk: HistogramInstrument;
}

/**
 * What tokenfuse's own endpoint gets instead of data points: each metric's points are
 * read from the live aggregation while its text is written, so a scrape holds no copy
 * of them (copies that live through a long scrape are what made its GC pauses long).
 */
export interface LazyPoints {
  /** Whether the instrument has its `otel.metric.overflow` point. */
  overflow: boolean;
  /** A fresh cursor over the points (lazy-points.ts). */
  cursor(): PointCursor;
}

/** Metrics of a lazy collection (their `dataPoints` are empty) and their points. */
export const LAZY_METRICS = new WeakMap<MetricData, LazyPoints>();

/** The engine's producer; {@link collectLazily} asks it for a lazy collection. */
class EngineProducer implements MetricProducer {
  lazyNext = false;

  constructor(private readonly engine: MetricsEngine) {}

  collect(): Promise<CollectionResult> {
    this.engine.collections += 1;
    const lazy = this.lazyNext;
    this.lazyNext = false;
    return lazy ? Promise.resolve(this.engine.collectLazy()) : this.engine.collect();
  }
}

/**
 * Runs `start` (which collects through a reader holding `producer`) with the producer
 * answering lazily: the SDK's `MetricReader` asks its producers synchronously, within
 * the call. A reader that asks later gets ordinary data points, so the text written
 * is the same either way.
 */
export function collectLazily<T>(producer: MetricProducer, start: () => T): T {
  if (!(producer instanceof EngineProducer)) return start();
  producer.lazyNext = true;
  try {
    return start();
  } finally {
    producer.lazyNext = false;
  }
}

/** Where the engine's data points are reported, as the SDK's meter of that name would. */
export interface EngineScope {
  name: string;
  version?: string;
}

/**
 * The per-call metrics: histograms bound per attribute set, and the counters' running
 * totals per exported label set ({@link Series}). Its {@link producer} is what readers
 * collect them through.
 */
export class MetricsEngine {
  readonly histograms: EngineHistograms;
  private readonly totals = new Map<string, Series>();
  /** The same totals in the map's order, read by index (lazy-points.ts). */
  private readonly seriesList: Series[] = [];
  private readonly limits: Record<string, number>;
  private readonly startTime = now();
  /** Hand it to each reader (`metricProducers`): tokenfuse's per-call metrics. */
  readonly producer: MetricProducer;
  /** Collections through {@link producer} so far. */
  collections = 0;
  private warnedUnread = false;

  constructor(
    caps: CardinalityCaps = { maxSeries: Number.MAX_SAFE_INTEGER },
    private readonly scope: EngineScope = { name: METER_NAME },
  ) {
    this.limits = cardinalityLimits(caps);
    const histogram = (name: string, unit: string, boundaries: number[]) =>
      new HistogramInstrument(name, unit, boundaries, this.limits[name]!);
    this.histograms = {
      tokenUsage: histogram(METRIC.tokenUsage, '{token}', TOKEN_BUCKETS),
      operationDuration: histogram(METRIC.operationDuration, 's', DURATION_BUCKETS),
      timeToFirstChunk: histogram(METRIC.timeToFirstChunk, 's', DURATION_BUCKETS),
    };
    this.producer = new EngineProducer(this);
  }

  /**
   * Called from an observable callback of the meter, that is, within a reader's
   * collection: the SDK's `MetricReader` asks its producers in the same synchronous
   * step, so a reader holding the producer has asked it before the next turn of the
   * loop. One that has not lacks tokenfuse's per-call metrics: said once.
   */
  expectCollection(): void {
    if (this.warnedUnread) return;
    const seen = this.collections;
    setImmediate(() => {
      if (this.collections !== seen || this.warnedUnread) return;
      this.warnedUnread = true;
      diag.warn(
        `tokenfuse: a metric reader collected without tokenfuse's metric producer, so it has ` +
          `none of tokenfuse's per-call metrics (tokens, cost, requests, the GenAI ` +
          `histograms): build it with metricProducers: [tokenfuse.metricProducer] ` +
          `(tokenfuse/register and start() do so for their readers). Logged once.`,
      );
    });
  }

  /** The one running-totals object of an exported label set (names in a fixed order). */
  totalsOf(labels: Attributes): Series {
    const key = JSON.stringify(Object.entries(labels));
    let totals = this.totals.get(key);
    if (totals === undefined) {
      totals = new Series(labels);
      this.totals.set(key, totals);
      this.seriesList.push(totals);
    }
    return totals;
  }

  /**
   * Every recorded point, cumulative, built in slices of at most {@link SLICE_MS} with
   * the event loop handed back between them (by time, not by count: a slow machine's
   * slice is no longer, a fast one's no shorter). The reader keeps its own resource: the
   * one here is a placeholder the SDK's `MetricReader` replaces.
   */
  async collect(): Promise<CollectionResult> {
    const metrics: MetricData[] = [];
    const endTime = now();
    let built = 0;
    let sliceStart = performance.now();
    const slice = async () => {
      if (++built % POINTS_PER_CLOCK !== 0 || performance.now() - sliceStart < SLICE_MS) return;
      await new Promise<void>((r) => setImmediate(r));
      sliceStart = performance.now();
    };
    for (const instrument of Object.values(this.histograms)) {
      const dataPoints: HistogramMetricData['dataPoints'] = [];
      const cursor = new HistogramCursor(instrument);
      while (cursor.next()) {
        const { point } = cursor;
        dataPoints.push({
          attributes: point.attributes,
          startTime: point.startTime,
          endTime,
          value: {
            buckets: { boundaries: instrument.boundaries as number[], counts: [...point.counts] },
            count: point.count,
            sum: point.sum,
            min: point.min,
            max: point.max,
          },
        });
        await slice();
      }
      if (dataPoints.length > 0) metrics.push(histogramData(instrument, dataPoints));
    }
    for (const counter of COUNTERS) {
      const dataPoints: SumMetricData['dataPoints'] = [];
      const cursor = this.counterCursor(counter);
      while (cursor.next()) {
        const { attributes, value } = cursor;
        dataPoints.push({ attributes, startTime: this.startTime, endTime, value });
        await slice();
      }
      if (dataPoints.length > 0) metrics.push(counterData(counter, dataPoints));
    }
    return this.result(metrics);
  }

  /** The same metrics, each with no data points and its {@link LazyPoints} registered. */
  collectLazy(): CollectionResult {
    const metrics: MetricData[] = [];
    for (const instrument of Object.values(this.histograms)) {
      if (!new HistogramCursor(instrument).next()) continue;
      const data = histogramData(instrument, []);
      LAZY_METRICS.set(data, {
        overflow: instrument.hasOverflow(),
        cursor: () => new HistogramCursor(instrument),
      });
      metrics.push(data);
    }
    for (const counter of COUNTERS) {
      // A counting pass (reads only) says whether it has points and an overflow. The limits
      // sized from maxSeries hold every point the label sets can have: then the first
      // point says enough, and a scrape of 50,000 label sets does not start with a 20 ms
      // pass over all of them. An explicit, smaller cardinalityLimit needs the whole pass.
      const limit = this.limits[counter.name]!;
      const enough = this.seriesList.length * counter.slots < limit ? 1 : limit;
      const cursor = this.counterCursor(counter);
      let points = 0;
      while (points < enough && cursor.next()) points += 1;
      if (points === 0) continue;
      const data = counterData(counter, []);
      LAZY_METRICS.set(data, {
        overflow: points >= limit,
        cursor: () => this.counterCursor(counter),
      });
      metrics.push(data);
    }
    return this.result(metrics);
  }

  private result(metrics: MetricData[]): CollectionResult {
    const { name, version } = this.scope;
    return {
      resourceMetrics: {
        // A placeholder: the SDK's MetricReader reports its own resource.
        resource: PLACEHOLDER_RESOURCE,
        scopeMetrics:
          metrics.length > 0 ? [{ scope: { name, ...(version ? { version } : {}) }, metrics }] : [],
      },
      errors: [],
    };
  }

  private counterCursor(counter: CounterSpec): CounterCursor {
    return new CounterCursor(counter, this.seriesList, this.limits[counter.name]!);
  }
}

const PLACEHOLDER_RESOURCE = resourceFromAttributes({});

function histogramData(
  instrument: HistogramInstrument,
  dataPoints: HistogramMetricData['dataPoints'],
): HistogramMetricData {
  return {
    descriptor: {
      name: instrument.name,
      description: help(instrument.name),
      unit: instrument.unit,
      valueType: ValueType.DOUBLE,
    },
    aggregationTemporality: AggregationTemporality.CUMULATIVE,
    dataPointType: DataPointType.HISTOGRAM,
    dataPoints,
  };
}

function counterData(counter: CounterSpec, dataPoints: SumMetricData['dataPoints']): SumMetricData {
  return {
    descriptor: {
      name: counter.name,
      description: help(counter.name),
      unit: counter.unit,
      valueType: ValueType.DOUBLE,
    },
    aggregationTemporality: AggregationTemporality.CUMULATIVE,
    dataPointType: DataPointType.SUM,
    dataPoints,
    isMonotonic: true,
  };
}
