/**
 * The Prometheus text of a collection, written as the OpenTelemetry Prometheus
 * exporter writes it (its default options: no prefix, no timestamps, scope labels,
 * `target_info`; or without the scope labels, its `withoutScopeInfo`), byte for
 * byte, but fast enough for tens of thousands of series and in pieces, so a scrape
 * can hand the event loop back between them.
 *
 * The exporter's serializer builds every line from `Object.entries`, three regular
 * expressions per label and a fresh object per histogram bucket, then copies the
 * whole text twice (`join`, `trim`): at 10,000 label sets that is seconds of work
 * and garbage in one stall. Here each data point's label text is built once per
 * attribute object (tokenfuse's own attribute objects are built once and never
 * changed, so its bytes are kept between scrapes for them) and lines go straight
 * into byte chunks (byte-chunks.ts): cached bytes and digits, no string per line.
 */
import { type Attributes, diag } from '@opentelemetry/api';
import {
  DataPointType,
  type Histogram,
  type MetricData,
  type ResourceMetrics,
} from '@opentelemetry/sdk-metrics';
import { ByteChunks } from './byte-chunks.js';
import {
  escapeString,
  escapeValue,
  keptLabelBytes,
  labelText,
  sanitizeName,
} from './label-bytes.js';
import type { PointCursor } from './lazy-points.js';
import { LAZY_METRICS } from './metrics-engine.js';

/** Scope whose attribute objects are immutable (ours), so their label text is kept between scrapes. */
const OWN_SCOPE = 'tokenfuse';

interface Family {
  help: string;
  unit: string;
  type: string;
  metrics: Array<{
    metric: MetricData;
    scope: { name: string; version?: string; schemaUrl?: string };
  }>;
}

const keptLabels = new WeakMap<Attributes, Uint8Array>();
function prometheusType(metric: MetricData): string {
  switch (metric.dataPointType) {
    case DataPointType.SUM:
      return metric.isMonotonic ? 'counter' : 'gauge';
    case DataPointType.GAUGE:
      return 'gauge';
    case DataPointType.HISTOGRAM:
      return 'histogram';
    default:
      return 'untyped';
  }
}

function metricName(metric: MetricData): string | undefined {
  let name = sanitizeName(escapeString(metric.descriptor.name));
  if (name === '' || name === '_') {
    diag.error(`Normalization for metric "${metric.descriptor.name}" resulted in an invalid name`);
    return undefined;
  }
  if (name[0]! >= '0' && name[0]! <= '9') name = `_${name}`;
  if (!name.endsWith('_total') && metric.dataPointType === DataPointType.SUM && metric.isMonotonic)
    name += '_total';
  return name;
}

/** Families by Prometheus name, as the exporter groups them (a type conflict drops the family). */
function families(resourceMetrics: ResourceMetrics): Map<string, Family | undefined> {
  const out = new Map<string, Family | undefined>();
  out.set('target_info', { help: 'Target metadata', unit: '', type: 'gauge', metrics: [] });
  for (const scopeMetrics of resourceMetrics.scopeMetrics) {
    for (const metric of scopeMetrics.metrics) {
      const name = metricName(metric);
      if (name === undefined) continue;
      const type = prometheusType(metric);
      if (!out.has(name)) {
        const { description, unit } = metric.descriptor;
        out.set(name, {
          help: description,
          unit,
          type,
          metrics: [{ metric, scope: scopeMetrics.scope }],
        });
        continue;
      }
      const family = out.get(name);
      if (family === undefined) continue;
      if (family.type !== type) {
        diag.warn(`Conflicting TYPE comments for metric "${name}"; dropping the metric.`);
        out.set(name, undefined);
        continue;
      }
      family.metrics.push({ metric, scope: scopeMetrics.scope });
    }
  }
  for (const family of out.values()) {
    if (family === undefined) continue;
    for (const { metric } of family.metrics) {
      const { description, unit } = metric.descriptor;
      if (description && !family.help) family.help = description;
      if (unit && !family.unit) family.unit = unit;
    }
  }
  return out;
}

/** Options of {@link prometheusChunks}, named as the OpenTelemetry exporter's. */
export interface PrometheusTextOptions {
  /** No `otel_scope_*` labels on the lines (the exporter's `withoutScopeInfo`). */
  withoutScopeInfo?: boolean | undefined;
}

/** A metric's constant bytes around the label text of each of its lines. */
interface LineParts {
  /** The name and `{`. */
  head: Uint8Array;
  /** After the labels: a comma, the labels after the point's own (scope, `le`), `} `. */
  tail: Uint8Array;
  /** For a point without labels: the name, and `{` when other labels follow. */
  headNoLabels: Uint8Array;
  /** For a point without labels: the other labels and `} `, or just ` ` without any. */
  tailNoLabels: Uint8Array;
}

const EMPTY = new Uint8Array(0);

/**
 * The bytes around a point's labels on a line of `name`, followed by `more` labels (the
 * scope's, a bucket's `le`, as `k="v"` joined by commas; '' for none). A line without any
 * label is `name value`, as the exporter writes it.
 */
function lineParts(name: string, more: string): LineParts {
  return {
    head: Buffer.from(`${name}{`),
    tail: Buffer.from(more ? `,${more}} ` : '} '),
    headNoLabels: Buffer.from(more ? `${name}{` : name),
    tailNoLabels: Buffer.from(more ? `${more}} ` : ' '),
  };
}

/** `a` and `b` joined by a comma, either of them possibly empty. */
function joined(a: string, b: string): string {
  return a && b ? `${a},${b}` : a || b;
}

function scopeLabels(
  scope: { name: string; version?: string; schemaUrl?: string },
  options: PrometheusTextOptions,
): string {
  if (options.withoutScopeInfo) return '';
  let text = `otel_scope_name="${escapeValue(scope.name)}"`;
  if (scope.schemaUrl) text += `,otel_scope_schema_url="${escapeValue(scope.schemaUrl)}"`;
  if (scope.version) text += `,otel_scope_version="${escapeValue(scope.version)}"`;
  return text;
}

/**
 * The Prometheus text of `resourceMetrics`, in chunks of UTF-8 whose concatenation is what
 * the OpenTelemetry exporter's `PrometheusSerializer.serialize` returns for it. A
 * generator, so the caller may write each chunk and yield before asking for the next.
 */
export function* prometheusChunks(
  resourceMetrics: ResourceMetrics,
  options: PrometheusTextOptions = {},
): Generator<Buffer, void, void> {
  const chunks = new ByteChunks();
  let wrote = false;
  for (const [name, family] of families(resourceMetrics)) {
    if (family === undefined) continue;
    let header = `# HELP ${name} ${escapeString(family.help || 'description missing')}${
      family.unit ? `\n# UNIT ${name} ${escapeString(family.unit)}` : ''
    }\n# TYPE ${name} ${family.type}\n`;
    if (name === 'target_info') {
      chunks.text(
        `${header}target_info${braced(labelText(resourceMetrics.resource.attributes))} 1\n`,
      );
      header = '';
    }
    for (const { metric, scope } of family.metrics) {
      const scopeText = scopeLabels(scope, options);
      const keep = scope.name === OWN_SCOPE;
      // tokenfuse's own per-call metrics, read from the live aggregation as they are written.
      const lazy = LAZY_METRICS.get(metric);
      const cursor = lazy?.cursor() ?? new DataPointsCursor(metric.dataPoints);
      const points = lazy ? 1 : metric.dataPoints.length;
      if (points === 0 && header === '') continue;
      // The exporter trims each metric's text: a metric without points is its header alone.
      chunks.text(header);
      header = '';
      wrote = true;
      if (metric.dataPointType === DataPointType.HISTOGRAM) {
        const writer = new HistogramWriter(name, scopeText);
        while (cursor.next()) {
          writer.write(chunks, labelsOf(cursor, keep), cursor.value as Histogram);
          if (chunks.ready) yield* chunks.take();
        }
      } else if (
        metric.dataPointType === DataPointType.SUM ||
        metric.dataPointType === DataPointType.GAUGE
      ) {
        const parts = lineParts(name, scopeText);
        while (cursor.next()) {
          const labels = labelsOf(cursor, keep);
          if (labels.length > 0)
            chunks.line(parts.head, labels, parts.tail, cursor.value as number);
          else chunks.line(parts.headNoLabels, labels, parts.tailNoLabels, cursor.value as number);
          if (chunks.ready) yield* chunks.take();
        }
      } else {
        diag.error(`Unrecognizable DataPointType: ${metric.dataPointType} for metric "${name}"`);
      }
    }
  }
  if (!wrote) chunks.text('# no registered metrics');
  yield* chunks.finish();
}

/** The whole text of {@link prometheusChunks}, as one string. */
export function prometheusText(
  resourceMetrics: ResourceMetrics,
  options: PrometheusTextOptions = {},
): string {
  return Buffer.concat([...prometheusChunks(resourceMetrics, options)]).toString('utf8');
}

function braced(labels: string): string {
  return labels ? `{${labels}}` : '';
}

/**
 * The UTF-8 label text of a point's attributes; kept between scrapes for tokenfuse's own
 * (immutable) ones: on the engine's point itself, else by attribute object.
 */
function labelsOf({ attributes, exported }: PointCursor, keep: boolean): Uint8Array {
  if (exported !== undefined) {
    exported.labelBytes ??= keptLabelBytes(attributes);
    return exported.labelBytes;
  }
  if (!keep) return textBytes(labelText(attributes));
  let bytes = keptLabels.get(attributes);
  if (bytes === undefined) {
    bytes = textBytes(labelText(attributes));
    keptLabels.set(attributes, bytes);
  }
  return bytes;
}

function textBytes(text: string): Uint8Array {
  return text.length === 0 ? EMPTY : Buffer.from(text);
}

/** An SDK metric's data points, read as the engine's are (prometheusChunks reads one kind). */
class DataPointsCursor implements PointCursor {
  attributes: Attributes = {};
  value: number | Histogram = 0;
  readonly exported = undefined;
  private index = 0;

  constructor(private readonly points: MetricData['dataPoints']) {}

  next(): boolean {
    const point = this.points[this.index++];
    if (point === undefined) return false;
    this.attributes = point.attributes;
    this.value = point.value as number | Histogram;
    return true;
  }
}

/** Writes one histogram metric's points: count, sum, then the cumulative buckets. */
class HistogramWriter {
  private readonly count: LineParts;
  private readonly sum: LineParts;
  private readonly bucketHead: Uint8Array;
  private boundaries: readonly number[] | undefined;
  private buckets = 0;
  private bucketTails: Uint8Array[] = [];
  private bucketTailsNoLabels: Uint8Array[] = [];

  constructor(
    private readonly name: string,
    private readonly scopeText: string,
  ) {
    this.count = lineParts(`${name}_count`, scopeText);
    this.sum = lineParts(`${name}_sum`, scopeText);
    this.bucketHead = Buffer.from(`${name}_bucket{`);
  }

  write(chunks: ByteChunks, labels: Uint8Array, histogram: Histogram): void {
    const labelled = labels.length > 0;
    const { count, sum } = this;
    if (labelled) chunks.line(count.head, labels, count.tail, histogram.count);
    else chunks.line(count.headNoLabels, labels, count.tailNoLabels, histogram.count);
    if (histogram.sum != null) {
      if (labelled) chunks.line(sum.head, labels, sum.tail, histogram.sum);
      else chunks.line(sum.headNoLabels, labels, sum.tailNoLabels, histogram.sum);
    }
    const { boundaries, counts } = histogram.buckets;
    if (boundaries !== this.boundaries || counts.length !== this.buckets)
      this.bucketsOf(boundaries, counts.length);
    const tails = labelled ? this.bucketTails : this.bucketTailsNoLabels;
    let cumulative = 0;
    for (let i = 0; i < tails.length; i++) {
      cumulative += counts[i]!;
      chunks.line(this.bucketHead, labels, tails[i]!, cumulative);
    }
  }

  /** The `le` suffix of each bucket line the exporter writes for these boundaries. */
  private bucketsOf(boundaries: readonly number[], buckets: number): void {
    const les: string[] = [];
    let infiniteSeen = false;
    for (let i = 0; i < buckets; i++) {
      const upper = boundaries[i];
      if (upper === undefined && infiniteSeen) break;
      if (upper === Number.POSITIVE_INFINITY) infiniteSeen = true;
      les.push(upper === undefined || upper === Number.POSITIVE_INFINITY ? '+Inf' : String(upper));
    }
    this.boundaries = boundaries;
    this.buckets = buckets;
    const parts = les.map((le) =>
      lineParts(`${this.name}_bucket`, joined(this.scopeText, `le="${le}"`)),
    );
    this.bucketTails = parts.map((p) => p.tail);
    this.bucketTailsNoLabels = parts.map((p) => p.tailNoLabels);
  }
}
