/**
 * The histogram points of tokenfuse's own aggregation (metrics-engine.ts): one object per
 * attribute set, bound once, recorded into with no lookup.
 */
import { type Attributes, diag, type HrTime } from '@opentelemetry/api';

// Bucket boundaries from the OpenTelemetry GenAI semantic conventions.
export const TOKEN_BUCKETS = [
  1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864,
];
export const DURATION_BUCKETS = [
  0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
];

/** The attribute the OpenTelemetry SDK puts on the series it folds attribute sets into. */
export const OVERFLOW_ATTRIBUTE = 'otel.metric.overflow';

export const OVERFLOW_ATTRIBUTES: Attributes = Object.freeze({ [OVERFLOW_ATTRIBUTE]: true });

export function now(): HrTime {
  const ms = performance.timeOrigin + performance.now();
  const seconds = Math.trunc(ms / 1000);
  return [seconds, Math.round((ms - seconds * 1000) * 1e6)];
}

/** One attribute set of one histogram: cumulative buckets, sum, count, min and max. */
export class HistogramPoint {
  readonly counts: number[];
  count = 0;
  sum = 0;
  min = Number.POSITIVE_INFINITY;
  max = Number.NEGATIVE_INFINITY;
  readonly startTime = now();
  /** Bytes of the point's Prometheus label text, made by the first scrape (series.ts `ExportedAttributes`). */
  labelBytes: Uint8Array | undefined = undefined;

  constructor(
    private readonly instrument: HistogramInstrument,
    readonly attributes: Attributes,
  ) {
    this.counts = new Array<number>(instrument.boundaries.length + 1).fill(0);
  }

  /** As the SDK's histogram records: negative values refused (and said), NaN ignored. */
  record(value: number): void {
    if (!(value >= 0)) {
      if (value < 0)
        diag.warn(`negative value provided to histogram ${this.instrument.name}: ${value}`);
      return;
    }
    this.count += 1;
    this.sum += value;
    if (value < this.min) this.min = value;
    if (value > this.max) this.max = value;
    // Upper bounds are inclusive: the first boundary >= value.
    const bounds = this.instrument.boundaries;
    let lo = 0;
    let hi = bounds.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (bounds[mid]! < value) lo = mid + 1;
      else hi = mid;
    }
    this.counts[lo]! += 1;
  }
}

/** One histogram: its bound points, at most `limit - 1` of them before its overflow point. */
export class HistogramInstrument {
  private readonly points = new Map<string, HistogramPoint>();
  /** The bound points in the order they were bound (the map's), read by index (lazy-points.ts). */
  readonly bound: HistogramPoint[] = [];
  /** Where attribute sets past the limit go, once one has. */
  overflowPoint: HistogramPoint | undefined;

  constructor(
    readonly name: string,
    readonly unit: string,
    readonly boundaries: readonly number[],
    private readonly limit: number,
  ) {}

  /**
   * The point of `attributes`, made on first use. Attribute sets are told apart by
   * content, as the SDK does, so two callers with equal objects share one point. Past
   * the limit, new sets go to one `otel.metric.overflow` point, as the SDK folds them.
   */
  bind(attributes: Attributes): HistogramPoint {
    const key = attributeKey(attributes);
    let point = this.points.get(key);
    if (point !== undefined) return point;
    if (this.points.size >= this.limit - 1) {
      this.overflowPoint ??= new HistogramPoint(this, OVERFLOW_ATTRIBUTES);
      return this.overflowPoint;
    }
    point = new HistogramPoint(this, attributes);
    this.points.set(key, point);
    this.bound.push(point);
    return point;
  }

  /** Whether attribute sets were folded into the overflow point. */
  hasOverflow(): boolean {
    return this.overflowPoint !== undefined && this.overflowPoint.count > 0;
  }

  /** Recorded points, the overflow point last. */
  *recorded(): Generator<HistogramPoint> {
    for (const point of this.points.values()) if (point.count > 0) yield point;
    if (this.overflowPoint !== undefined && this.overflowPoint.count > 0) yield this.overflowPoint;
  }
}

function attributeKey(attributes: Attributes): string {
  return JSON.stringify(
    Object.keys(attributes)
      .sort()
      .map((k) => [k, attributes[k]]),
  );
}
